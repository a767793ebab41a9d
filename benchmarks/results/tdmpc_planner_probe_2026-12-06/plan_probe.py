"""The TD-MPC2 test's trained state, evaluated with other planners (same model): is the test's planner weak?"""
import dataclasses, sys, time
sys.path.insert(0, "/work/main/tests")
import jax, numpy as np
import test_offpolicy_learning as t
from jaxrl import envs, evaluate
from jaxrl.algos import tdmpc
cfg = tdmpc.TDMPCConfig(**t.TDMPC_PENDULUM)
hp = tdmpc.TDMPCHparams(lr=1e-3, gamma=tdmpc.discount_for(200))
env, params = envs.make("gymnax/Pendulum-v1")
trained, random, metrics, state = t._train_and_eval(tdmpc, cfg, hp, "gymnax/Pendulum-v1", 200, keep=1, with_state=True)
s = jax.tree.map(lambda x: x[0], state)
print("test planner (3 x 64):", trained, flush=True)
for name, over in [("prior (no planning)", dict(plan=False)), ("3 x 64, 0 pi trajs", dict(num_pi_trajs=0)),
                   ("6 x 512, 64 elites, 24 pi trajs (TD-MPC2's)", dict(iterations=6, num_samples=512, num_elites=64, num_pi_trajs=24)),
                   ("6 x 64", dict(iterations=6)), ("3 x 256, 32 elites", dict(num_samples=256, num_elites=32))]:
    t0 = time.time()
    pol = tdmpc.make_train(dataclasses.replace(cfg, **over), env, params).policy(s)
    r = evaluate.episode_returns(jax.random.key(1), env, params, pol, 16, 200)
    r = np.asarray(r)
    print(f"{name}: mean {r.mean():.1f} min {r.min():.1f} max {r.max():.1f} (n below -900: {(r < -900).sum()}/16) {time.time()-t0:.0f}s", flush=True)
