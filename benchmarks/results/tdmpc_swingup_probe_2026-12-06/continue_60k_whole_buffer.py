"""Stop 47's collapse at 60k, with the whole run in the buffer: the probe's stuck seed carried on
from 30k to 60k agent steps exactly as ``continue_60k.py`` does, but with TD-MPC2's usual buffer
(it holds the whole run: capacity 60k, the first 30k transitions copied in, oldest first) instead
of a 30k first-in first-out one. Same evaluations (16 episodes from ``key(7)``, greedy planner and
prior mean at 40k / 50k / 60k) and the same metrics per 1k agent steps as ``--metrics`` printed.
Separates "the prior forgot" from "the prior's Q scale jumped" (stop 47 could not).
``python .../continue_60k_whole_buffer.py sac``: the like-for-like baseline, SAC on the same run key from
scratch to 60k with the whole run in its buffer (``continue_60k.py sac`` with ``buffer_size=60_000``),
evaluated the same way at every 10k (log: ``continue_60k_whole_buffer_sac.log``)."""
import dataclasses
import pickle
import runpy
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import envs, evaluate, runner
from jaxrl.algos import tdmpc

if sys.argv[1:] == ["sac"]:  # continue_60k.py's SAC run, its buffer widened to the whole run
    from jaxrl.algos import sac

    real = sac.SACConfig
    sac.SACConfig = lambda **kw: real(**{**kw, "buffer_size": 60_000})
    runpy.run_path(__file__.replace("continue_60k_whole_buffer.py", "continue_60k.py"), run_name="__main__")
    raise SystemExit(0)

env, params = envs.make("cartpole_swingup", action_repeat=2)
cfg = tdmpc.TDMPCConfig(total_timesteps=60_000, buffer_size=60_000)
trainer = tdmpc.make_train(cfg, env, params)
with open("/tmp/swingup_probe_30000.pkl", "rb") as f:
    state = jax.tree.map(jnp.asarray, pickle.load(f))


def widen(replay, capacity):
    """The full 30k FIFO buffer as the first half of a ``capacity``-slot one, oldest slot first."""
    head = np.asarray(replay.head)
    assert np.all(np.asarray(replay.size) == replay.obs.shape[1]), "expected a full buffer"

    def grow(x):
        if x.ndim < 2:
            return x
        rolled = jnp.stack([jnp.roll(x[e], -int(head[e]), axis=0) for e in range(x.shape[0])])
        pad = jnp.zeros((x.shape[0], capacity - x.shape[1], *x.shape[2:]), x.dtype)
        return jnp.concatenate([rolled, pad], axis=1)

    old = replay.obs.shape[1]
    fields = {k: grow(getattr(replay, k)) for k in ("obs", "action", "reward", "terminated", "truncated", "first", "final")}
    return replay.replace(**fields, extras=jax.tree.map(grow, replay.extras),
                          head=jnp.full_like(replay.head, old), size=jnp.full_like(replay.size, old))


like = jax.eval_shape(trainer.init, jax.random.key(0), tdmpc.validate_hparams({}))
state = state.replace(replay=widen(state.replay, like.replay.obs.shape[1]))
assert jax.tree.map(lambda a, b: a.shape == b.shape, like, state) is not None


def show(name, r, t0):
    print(f"  {name}: mean {r.mean():.1f} min {r.min():.1f} max {r.max():.1f} {time.time() - t0:.0f}s",
          np.round(r).astype(int).tolist(), flush=True)


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
                 chunk_updates=half // 3, on_progress=on_progress)
for name in ("pi_loss", "entropy", "q_scale", "value_loss", "reward_loss", "episode_return"):
    v = np.asarray(res.metrics[name], np.float64)
    print(name, np.round(v[: len(v) // 250 * 250].reshape(-1, 250).mean(1), 3).tolist(), flush=True)
