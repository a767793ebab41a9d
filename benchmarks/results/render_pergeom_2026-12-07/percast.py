# Recorded probe (stop 57; run from the repository root: python benchmarks/results/render_pergeom_2026-12-07/percast.py TASK [REPEATS]).
"""Per-geom normal (no lookup of the winner's pose) vs the lookup: frames/s and equality."""
import statistics, sys, time
import numpy as np
import jax, jax.numpy as jnp
from jaxrl import envs
from jaxrl.envs import pixels as P
from jaxrl.envs.mjx_env import mjx

def cast_per_geom(mj_model, model, data, origin, dirs):
    groups, n = P._visible_groups(mj_model), dirs[0].shape[0]
    rgba, emission = P.geom_colors(mj_model, model)
    dist, slot = P._nearest(model, data, origin, dirs, groups, rgba[:, 3] != 0)
    t = jnp.where(jnp.isfinite(dist), dist, 0.0)
    point = tuple(origin[i] + t * dirs[i] for i in range(3))
    normal = mat = None
    k = 0
    for gtype, ids in groups:
        for g in ids:
            rot = data.geom_xmat[g].reshape(9)
            pos, size = data.geom_xpos[g], model.geom_size[g]
            x = tuple(point[i] - pos[i] for i in range(3))
            q = tuple(rot[j] * x[0] + rot[3 + j] * x[1] + rot[6 + j] * x[2] for j in range(3))
            local = P._unit(P._NORMAL[gtype](tuple(size[i] for i in range(3)), q))
            nw = tuple(rot[3 * i] * local[0] + rot[3 * i + 1] * local[1] + rot[3 * i + 2] * local[2] for i in range(3))
            m = (rgba[g, 0], rgba[g, 1], rgba[g, 2], emission[g], jnp.float32(g))
            if normal is None:
                normal, mat = nw, m
            else:
                sel = slot == k
                normal = tuple(jnp.where(sel, a, b) for a, b in zip(nw, normal))
                mat = tuple(jnp.where(sel, a, b) for a, b in zip(m, mat))
            k += 1
    flip = jnp.where(P._dot(normal, dirs) > 0, -1.0, 1.0)
    geom = jnp.where(jnp.isfinite(dist), jnp.round(mat[4]).astype(jnp.int32), -1)
    normal = tuple(c * flip for c in normal)
    return P._Hit(dist, geom, normal, tuple(jnp.broadcast_to(c, (n,)) for c in mat[:4]))

task = sys.argv[1] if len(sys.argv) > 1 else "cartpole_balance"
N, S, R = 64, 64, int(sys.argv[2]) if len(sys.argv) > 2 else 9
env, params = envs.make(task)
inner, m = env.unwrapped, env.mj_model
cam = P.resolve_camera(m, inner.default_camera)
qpos = jax.jit(jax.vmap(lambda k: inner.initial_qpos_qvel(k, params)[0]))(jax.random.split(jax.random.key(0), N))
template = mjx.make_data(params.model, impl="jax")
def posed(model, q):
    return P.update_poses(m, model, template.replace(qpos=q))
orig = P._cast
def full_lookup(model, q):
    P._cast = orig
    return P.render(m, model, posed(model, q), cam, S, S)
def full_pergeom(model, q):
    P._cast = cast_per_geom
    try:
        return P.render(m, model, posed(model, q), cam, S, S)
    finally:
        P._cast = orig
progs = dict(lookup=full_lookup, pergeom=full_pergeom)
comp, times, outs = {}, {}, {}
for k, f in progs.items():
    t = time.perf_counter(); comp[k] = jax.jit(jax.vmap(f, in_axes=(None, 0))).lower(params.model, qpos).compile(); c = time.perf_counter() - t
    outs[k] = jax.block_until_ready(comp[k](params.model, qpos)); times[k] = []
    print(k, "compile", round(c, 1), flush=True)
a, b = outs["lookup"], outs["pergeom"]
print("rgb equal", bool(np.array_equal(a.rgb, b.rgb)), "differing px", int((np.asarray(a.rgb) != np.asarray(b.rgb)).any(-1).sum()),
      "max", int(np.abs(np.asarray(a.rgb, np.int16) - np.asarray(b.rgb, np.int16)).max()),
      "geom equal", bool(np.array_equal(a.geom, b.geom)), "normal maxdiff", float(np.nanmax(np.abs(np.asarray(a.normal) - np.asarray(b.normal)))))
for _ in range(R):
    for k in progs:
        t = time.perf_counter(); jax.block_until_ready(comp[k](params.model, qpos)); times[k].append(time.perf_counter() - t)
meds = {k: statistics.median(v) for k, v in times.items()}
for k, med in meds.items():
    print(f"{task} {k:8s} {med*1e3:7.1f} ms  {N/med:8.0f} frames/s", flush=True)
print(f"{task} ratio pergeom/lookup speed {meds['lookup']/meds['pergeom']:.2f}")
