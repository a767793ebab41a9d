"""Recorded probe (stop 55; run from the repository root: python benchmarks/results/render_speed_2026-12-07/frame_profile.py TASK).
Per-kernel time of the acrobot frame (jax.profiler, perfetto json), top entries."""
import collections, glob, gzip, json, sys, time, os, shutil
import jax
task = sys.argv[1] if len(sys.argv) > 1 else "acrobot_swingup"
sys.argv = [sys.argv[0], task]
import importlib
from jaxrl import envs
from jaxrl.envs import pixels as P
from jaxrl.envs.mjx_env import mjx
N, S = 64, 64
env, params = envs.make(task)
inner, m = env.unwrapped, env.mj_model
cam = P.resolve_camera(m, inner.default_camera)
qpos = jax.jit(jax.vmap(lambda k: inner.initial_qpos_qvel(k, params)[0]))(jax.random.split(jax.random.key(0), N))
template = mjx.make_data(params.model, impl="jax")
def full(model, q):
    return P.render(m, model, P.update_poses(m, model, template.replace(qpos=q)), cam, S, S).rgb
f = jax.jit(jax.vmap(full, in_axes=(None, 0))).lower(params.model, qpos).compile()
for _ in range(3): jax.block_until_ready(f(params.model, qpos))
d = "/tmp/jaxrl_frame_trace"; shutil.rmtree(d, ignore_errors=True)
with jax.profiler.trace(d, create_perfetto_trace=True):
    for _ in range(5): jax.block_until_ready(f(params.model, qpos))
path = glob.glob(f"{d}/**/*.trace.json.gz", recursive=True)[0]
ev = json.load(gzip.open(path))["traceEvents"]
tot = collections.Counter(); cnt = collections.Counter()
for e in ev:
    if e.get("ph") == "X" and "dur" in e:
        tot[e["name"]] += e["dur"]; cnt[e["name"]] += 1
for name, us in tot.most_common(40):
    print(f"{us/5/1e3:8.2f} ms/call  x{cnt[name]//5:3d}  {name[:100]}")
open("/tmp/jaxrl_frame_hlo.txt", "w").write(f.as_text())
