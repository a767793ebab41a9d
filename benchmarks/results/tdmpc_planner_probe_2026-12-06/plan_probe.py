"""The TD-MPC2 Pendulum test's trained state (tests/test_offpolicy_learning.py, seed 0), evaluated with other
planners on the same model, then one failing episode's states and actions (16 episodes from key(1)).

    python benchmarks/results/tdmpc_planner_probe_2026-12-06/plan_probe.py   # from the repository root
"""
import dataclasses
import sys
import time

sys.path.insert(0, "tests")
import jax  # noqa: E402
import numpy as np  # noqa: E402
import test_offpolicy_learning as t  # noqa: E402

from jaxrl import envs, evaluate  # noqa: E402
from jaxrl.algos import tdmpc  # noqa: E402
from jaxrl.wrappers import VecEnv  # noqa: E402

cfg = tdmpc.TDMPCConfig(**t.TDMPC_PENDULUM)
hp = tdmpc.TDMPCHparams(lr=1e-3, gamma=tdmpc.discount_for(200))
env, params = envs.make("gymnax/Pendulum-v1")
trained, _, _, state = t._train_and_eval(tdmpc, cfg, hp, "gymnax/Pendulum-v1", 200, keep=1, with_state=True)
state = jax.tree.map(lambda x: x[0], state)
venv = VecEnv(env, num_envs=16)
print("test planner (3 x 64):", trained, flush=True)


def episodes(**over):
    policy = tdmpc.make_train(dataclasses.replace(cfg, **over), env, params).policy(state)
    return jax.jit(lambda k: evaluate.episode_scan(k, venv, params, policy, 200, record=lambda s: s))(jax.random.key(1))


for name, over in [("prior (no planning)", dict(plan=False)), ("3 x 64 (the test's)", {}), ("3 x 64, 0 pi trajs", dict(num_pi_trajs=0)),
                   ("6 x 512, 64 elites, 24 pi trajs (TD-MPC2's)", dict(iterations=6, num_samples=512, num_elites=64, num_pi_trajs=24)),
                   ("6 x 64", dict(iterations=6)), ("3 x 256, 32 elites", dict(num_samples=256, num_elites=32))]:
    t0 = time.time()
    out = episodes(**over)
    r = np.asarray(out["return"])
    print(f"{name}: mean {r.mean():.1f} min {r.min():.1f} max {r.max():.1f} (below -900: {(r < -900).sum()}/16) {time.time() - t0:.0f}s",
          np.round(r).astype(int).tolist(), flush=True)
    if over == {}:  # the worst episode of the test's planner, every 10th step
        bad = int(np.argmin(r))
        for path, x in jax.tree_util.tree_flatten_with_path(out["record"])[0]:
            if x.shape == (200, 16) and x.dtype.kind == "f":
                print(f"  episode {bad} {jax.tree_util.keystr(path)}:", np.round(np.asarray(x)[::10, bad], 2).tolist())
