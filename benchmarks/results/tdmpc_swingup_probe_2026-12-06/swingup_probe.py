"""Why TD-MPC2's swing-up evaluations swing (issue 19): ONE seed of the ``default`` CPU preset on
``cartpole_swingup`` (action repeat 2), 30k agent steps; at 10k / 20k / 30k the 16 evaluation episodes'
returns one by one, for the greedy planner (the curve's evaluation) and for the prior's mean; then, on the
final state, the same 16 starts with other planners on the same model.

    python benchmarks/results/tdmpc_swingup_probe_2026-12-06/swingup_probe.py   # from the repository root
"""
import dataclasses
import pickle
import sys
import time

import jax
import numpy as np

from jaxrl import envs, evaluate, runner
from jaxrl.algos import tdmpc

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
env, params = envs.make("cartpole_swingup", action_repeat=2)
cfg = tdmpc.TDMPCConfig(total_timesteps=STEPS, buffer_size=STEPS)
hp = tdmpc.validate_hparams({})
trainer = tdmpc.make_train(cfg, env, params)
print(cfg, flush=True)


def episodes(state, key=jax.random.key(7), **over):
    policy = tdmpc.make_train(dataclasses.replace(cfg, **over), env, params).policy(state)
    return np.asarray(jax.jit(lambda k: evaluate.episode_returns(k, env, params, policy, 16))(key))


def show(name, r, t0):
    print(f"  {name}: mean {r.mean():.1f} min {r.min():.1f} max {r.max():.1f} {time.time() - t0:.0f}s",
          np.round(r).astype(int).tolist(), flush=True)


def on_progress(p):
    steps = p.env_steps
    print(f"{steps} agent steps ({p.elapsed_s:.0f} s)", flush=True)
    for name, over in [("planner (greedy, as the curves)", {}), ("prior mean", dict(plan=False))]:
        t0 = time.time()
        show(name, episodes(p.state, **over), t0)
    with open(f"/tmp/swingup_probe_{steps}.pkl", "wb") as f:
        pickle.dump(jax.device_get(p.state), f)


res = runner.run(trainer, jax.random.key(0), hp, chunk_updates=trainer.num_updates // 3, on_progress=on_progress)
state = res.state
print("final state: other planners on the same model, same 16 starts", flush=True)
for name, over in [("6 iterations", dict(iterations=6)), ("512 samples, 64 elites, 24 prior", dict(num_samples=512, num_elites=64, num_pi_trajs=24)),
                   ("no prior trajectories", dict(num_pi_trajs=0))]:
    t0 = time.time()
    show(name, episodes(state, **over), t0)
for name, t in [("temperature 10 (nearly always the best elite)", 10.0), ("temperature 0.05 (elites nearly uniform)", 0.05)]:
    t0 = time.time()
    show(name, episodes(state.replace(hparams=state.hparams.replace(temperature=np.float32(t)))), t0)
