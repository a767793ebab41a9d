"""DQN's TD target and loss over a replay batch ``[N]`` (Q values ``[N, n_actions]``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.losses import ensemble_td_loss, td_target
from jaxrl.replay import Batch, masked_mean


def q_target(batch: Batch, next_q_online: jax.Array, next_q_target: jax.Array, hparams, double_q: bool) -> jax.Array:
    """``scale * r + gamma * (1 - terminated) * Q'(s', a*)`` with ``a* = argmax Q(s')`` (double Q, the
    online network picks) or ``argmax Q'(s')`` (the target network picks, i.e. ``max Q'``)."""
    picker = next_q_online if double_q else next_q_target
    best = jnp.take_along_axis(next_q_target, jnp.argmax(picker, axis=-1)[:, None], axis=-1)[:, 0]
    return td_target(batch.reward, batch.terminated, best, hparams.gamma, hparams.reward_scale)


def q_loss(q: jax.Array, batch: Batch, target: jax.Array, loss: str) -> tuple[jax.Array, dict]:
    """The TD loss of ``Q(s, a)`` (``q`` ``[N, n]``, the batch's actions) against ``target`` ``[N]``."""
    taken = jnp.take_along_axis(q, batch.action.astype(jnp.int32)[:, None], axis=-1)[:, 0]
    value = ensemble_td_loss(taken, target, batch.valid, huber_delta=1.0 if loss == "huber" else None)
    return value, {"loss": value, "q": masked_mean(taken, batch.valid)}
