"""Recorded probe (stop 55; run from the repository root: python benchmarks/results/render_speed_2026-12-07/frame_parts.py TASK).
Where a light scene's frame goes: rays / nearest / cast / full render, acrobot, 64 envs, 64x64, interleaved."""
import statistics, sys, time
import jax, jax.numpy as jnp
from jaxrl import envs
from jaxrl.envs import pixels as P
from jaxrl.envs.mjx_env import mjx

task = sys.argv[1] if len(sys.argv) > 1 else "acrobot_swingup"
N, S, R = 64, 64, 7
env, params = envs.make(task)
inner, m = env.unwrapped, env.mj_model
cam = P.resolve_camera(m, inner.default_camera)
qpos = jax.jit(jax.vmap(lambda k: inner.initial_qpos_qvel(k, params)[0]))(jax.random.split(jax.random.key(0), N))
template = mjx.make_data(params.model, impl="jax")

def posed(model, q):
    return P.update_poses(m, model, template.replace(qpos=q))

def rays(model, q):
    d = posed(model, q); o, dirs = P._rays(model, d, cam, S, S)
    return sum(dirs) + o.sum()
def nearest(model, q):
    d = posed(model, q); o, dirs = P._rays(model, d, cam, S, S)
    rgba, _ = P.geom_colors(m, model)
    dist, slot = P._nearest(model, d, o, dirs, P._visible_groups(m), rgba[:, 3] != 0)
    return dist + slot
def cast(model, q):
    d = posed(model, q); o, dirs = P._rays(model, d, cam, S, S)
    h = P._cast(m, model, d, o, dirs)
    return h.dist + h.geom + sum(h.normal) + sum(h.material)
def full(model, q):
    return P.render(m, model, posed(model, q), cam, S, S).rgb

progs = {k: jax.jit(jax.vmap(f, in_axes=(None, 0))) for k, f in dict(rays=rays, nearest=nearest, cast=cast, full=full).items()}
comp, times = {}, {}
for k, f in progs.items():
    t = time.perf_counter(); comp[k] = f.lower(params.model, qpos).compile(); c = time.perf_counter() - t
    jax.block_until_ready(comp[k](params.model, qpos)); times[k] = []
    print(k, "compile", round(c, 1), flush=True)
for _ in range(R):
    for k in progs:
        t = time.perf_counter(); jax.block_until_ready(comp[k](params.model, qpos)); times[k].append(time.perf_counter() - t)
for k, v in times.items():
    med = statistics.median(v)
    print(f"{task} {k:8s} {med*1e3:7.1f} ms  {N/med:8.0f} frames/s", flush=True)
