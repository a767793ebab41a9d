"""jaxrl's SAC on the probe's seed (``jax.random.key(0)`` as the run's key, not a split of it), at the
settings of the slow swing-up test (tests/test_offpolicy_learning.py ``SWINGUP``: 4 envs, 256 x 256,
batch 256, one gradient step per agent step), 30k agent steps, the same 16 evaluation episodes
(``key(7)``) at 10k / 20k / 30k.

    python benchmarks/results/tdmpc_swingup_probe_2026-12-06/sac_same_seed.py
"""
import time

import jax
import numpy as np

from jaxrl import envs, evaluate, runner
from jaxrl.algos import sac

env, params = envs.make("cartpole_swingup", action_repeat=2)
config = sac.SACConfig(total_timesteps=30_000, num_envs=4, buffer_size=30_000, batch_size=256, learning_starts=2_500,
                       replay_ratio=1.0, hidden_sizes=(256, 256))
trainer = sac.make_train(config, env, params)


def on_progress(p):
    t0 = time.time()
    r = np.asarray(jax.jit(lambda k: evaluate.episode_returns(k, env, params, trainer.policy(p.state), 16))(jax.random.key(7)))
    print(f"{p.env_steps} agent steps ({p.elapsed_s:.0f} s): mean {r.mean():.1f} min {r.min():.1f} max {r.max():.1f} "
          f"({time.time() - t0:.0f} s)", np.round(r).astype(int).tolist(), flush=True)


runner.run(trainer, jax.random.key(0), sac.validate_hparams({}), chunk_updates=trainer.num_updates // 3, on_progress=on_progress)
