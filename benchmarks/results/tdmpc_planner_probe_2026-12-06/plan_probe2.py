import dataclasses, sys
sys.path.insert(0, "/work/main/tests")
import jax, numpy as np
import test_offpolicy_learning as t
from jaxrl import envs, evaluate
from jaxrl.wrappers import VecEnv
from jaxrl.algos import tdmpc
cfg = tdmpc.TDMPCConfig(**t.TDMPC_PENDULUM)
hp = tdmpc.TDMPCHparams(lr=1e-3, gamma=tdmpc.discount_for(200))
env, params = envs.make("gymnax/Pendulum-v1")
_, _, _, state = t._train_and_eval(tdmpc, cfg, hp, "gymnax/Pendulum-v1", 200, keep=1, with_state=True)
s = jax.tree.map(lambda x: x[0], state)
venv = VecEnv(env, num_envs=16)
for name, c in [("planner", cfg), ("prior", dataclasses.replace(cfg, plan=False))]:
    pol = tdmpc.make_train(c, env, params).policy(s)
    out = jax.jit(lambda k: evaluate.episode_scan(k, venv, params, pol, 200, record=lambda st: st))(jax.random.key(1))
    ret = np.asarray(out["return"])
    print(name, np.round(ret).astype(int).tolist())
    leaves = jax.tree_util.tree_flatten_with_path(out["record"])[0]
    for path, x in leaves:
        if x.ndim == 2 and x.shape == (200, 16) and x.dtype.kind == "f":
            print("  ", jax.tree_util.keystr(path))
    if name == "planner":
        bad = int(np.argmin(ret)); good = int(np.argmax(ret))
        rec = {jax.tree_util.keystr(p): np.asarray(x) for p, x in leaves if x.ndim == 2 and x.shape == (200, 16)}
        for k, v in rec.items():
            print(k, "bad ep", bad, np.round(v[::10, bad], 2).tolist())
