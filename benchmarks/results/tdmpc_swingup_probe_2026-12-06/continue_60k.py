"""The probe's stuck seed carried on from 30k to 60k agent steps (``swingup_probe.py``'s state at 30k,
pickled to /tmp/swingup_probe_30000.pkl), with its 30k-step replay buffer (now FIFO); evaluations at
40k / 50k / 60k as in the probe (16 episodes from ``key(7)``, greedy planner and prior mean).
``--metrics``: no evaluations, the prior's and the model's metrics per 1k agent steps instead.
``python .../continue_60k.py sac`` instead runs SAC on the same key with the same 30k buffer from
scratch to 60k (its 10k-30k evaluations are those of sac_same_seed.log, the same program stopped at 30k).
``continue_60k_whole_buffer.py`` imports :func:`continue_tdmpc` and :func:`run_sac` for its variant.
"""
import dataclasses
import pickle
import sys
import time

import jax
import numpy as np

from jaxrl import envs, evaluate, runner
from jaxrl.algos import sac, tdmpc

env, params = envs.make("cartpole_swingup", action_repeat=2)


def show(name, r, t0):
    print(f"  {name}: mean {r.mean():.1f} min {r.min():.1f} max {r.max():.1f} {time.time() - t0:.0f}s",
          np.round(r).astype(int).tolist(), flush=True)


def run_sac(buffer_size: int = 30_000):
    """SAC on the run key ``key(0)`` from scratch to 60k, evaluated at every 10k."""
    config = sac.SACConfig(total_timesteps=60_000, num_envs=4, buffer_size=buffer_size, batch_size=256, learning_starts=2_500,
                           replay_ratio=1.0, hidden_sizes=(256, 256))
    trainer = sac.make_train(config, env, params)

    def on_progress(p):
        t0 = time.time()
        r = np.asarray(jax.jit(lambda k: evaluate.episode_returns(k, env, params, trainer.policy(p.state), 16))(jax.random.key(7)))
        print(f"{p.env_steps} agent steps ({p.elapsed_s:.0f} s)", flush=True)
        show("SAC", r, t0)

    runner.run(trainer, jax.random.key(0), sac.validate_hparams({}), chunk_updates=trainer.num_updates // 6, on_progress=on_progress)


def load_30k():
    with open("/tmp/swingup_probe_30000.pkl", "rb") as f:
        return jax.tree.map(jax.numpy.asarray, pickle.load(f))


def continue_tdmpc(cfg, state, evaluations: bool = True, metrics: bool = False):
    """TD-MPC2 (``cfg``, 60k agent steps) from ``state`` at 30k to 60k, evaluated at 40k / 50k / 60k
    (``evaluations``); ``metrics``: the prior's and the model's metrics per 1k agent steps at the end."""
    trainer = tdmpc.make_train(cfg, env, params)

    def episodes(state, **over):
        policy = tdmpc.make_train(dataclasses.replace(cfg, **over), env, params).policy(state)
        return np.asarray(jax.jit(lambda k: evaluate.episode_returns(k, env, params, policy, 16))(jax.random.key(7)))

    def on_progress(p):
        print(f"{p.env_steps} agent steps ({p.elapsed_s:.0f} s)", flush=True)
        for name, over in [("planner (greedy)", {}), ("prior mean", dict(plan=False))]:
            t0 = time.time()
            show(name, episodes(p.state, **over), t0)

    half = trainer.num_updates // 2
    res = runner.run(trainer, jax.random.key(0), tdmpc.validate_hparams({}), state=state, start_update=half,
                     chunk_updates=half // 3, on_progress=on_progress if evaluations else None)
    if metrics:  # mean per 1k agent steps (250 updates of 4 envs)
        for name in ("pi_loss", "entropy", "q_scale", "value_loss", "reward_loss", "episode_return"):
            v = np.asarray(res.metrics[name], np.float64)
            print(name, np.round(v[: len(v) // 250 * 250].reshape(-1, 250).mean(1), 3).tolist(), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["sac"]:
        run_sac()
    else:
        metrics_only = "--metrics" in sys.argv
        continue_tdmpc(tdmpc.TDMPCConfig(total_timesteps=60_000, buffer_size=30_000), load_30k(),
                       evaluations=not metrics_only, metrics=metrics_only)
