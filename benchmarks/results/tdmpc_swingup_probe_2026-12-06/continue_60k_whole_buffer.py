"""Stop 47's collapse at 60k, with the whole run in the buffer: the probe's stuck seed carried on
from 30k to 60k agent steps exactly as ``continue_60k.py`` does, but with TD-MPC2's usual buffer
(it holds the whole run: capacity 60k, the first 30k transitions copied in, oldest first) instead
of a 30k first-in first-out one. Same evaluations (16 episodes from ``key(7)``, greedy planner and
prior mean at 40k / 50k / 60k) and the same metrics per 1k agent steps as ``--metrics`` printed.
Separates "the prior forgot" from "the prior's Q scale jumped" (stop 47 could not).
``python .../continue_60k_whole_buffer.py sac``: the like-for-like baseline, SAC on the same run key from
scratch to 60k with the whole run in its buffer (``continue_60k.py sac`` with ``buffer_size=60_000``),
evaluated the same way at every 10k (log: ``continue_60k_whole_buffer_sac.log``)."""
import sys

import jax
import jax.numpy as jnp
import numpy as np
from continue_60k import continue_tdmpc, env, load_30k, params, run_sac

from jaxrl.algos import tdmpc


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


if __name__ == "__main__":
    if sys.argv[1:] == ["sac"]:
        run_sac(buffer_size=60_000)
    else:
        cfg = tdmpc.TDMPCConfig(total_timesteps=60_000, buffer_size=60_000)
        state = load_30k()
        like = jax.eval_shape(tdmpc.make_train(cfg, env, params).init, jax.random.key(0), tdmpc.validate_hparams({}))
        state = state.replace(replay=widen(state.replay, like.replay.obs.shape[1]))
        same = jax.tree.map(lambda a, b: a.shape == b.shape and a.dtype == b.dtype, like, state)
        assert all(jax.tree.leaves(same)), "the widened state does not match the 60k trainer's"
        continue_tdmpc(cfg, state, evaluations=True, metrics=True)
