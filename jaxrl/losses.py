"""Loss pieces shared by the value-based learners (SAC, TD3, DQN, ...), over a replay batch ``[N]``.

Every mean is over the VALID draws of the batch (:func:`jaxrl.replay.masked_mean`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.replay import masked_mean


def td_target(reward: jax.Array, terminated: jax.Array, next_value: jax.Array, gamma, reward_scale=1.0) -> jax.Array:
    """One-step TD target ``[N]``: ``reward_scale * r + gamma * (1 - terminated) * V(s')``. ``s'`` is the
    TRUE next observation, so a truncated step bootstraps from its final state; a terminated one does not."""
    return reward * reward_scale + gamma * (1.0 - terminated.astype(jnp.float32)) * next_value


def ensemble_td_loss(q: jax.Array, target: jax.Array, valid: jax.Array, huber_delta: float | None = None) -> jax.Array:
    """``sum_e mean_n l(Q_e - y)`` over the heads ``q[E, N]`` (or one head ``q[N]``) and the valid draws,
    with ``l(x) = x^2 / 2`` (or the Huber loss with ``huber_delta``); the target gets no gradient."""
    err = q - jax.lax.stop_gradient(target)
    if huber_delta is None:
        per = 0.5 * jnp.square(err)
    else:
        a = jnp.abs(err)
        per = jnp.where(a <= huber_delta, 0.5 * jnp.square(err), huber_delta * (a - 0.5 * huber_delta))
    if per.ndim == valid.ndim:
        return masked_mean(per, valid)
    return jnp.sum(jax.vmap(masked_mean, in_axes=(0, None))(per, valid))


def critic_loss(q: jax.Array, target: jax.Array, valid: jax.Array) -> tuple[jax.Array, dict]:
    """An ensemble critic's regression on ``target``: ``(sum_e mean_n (Q_e - y)^2 / 2, {"critic_loss", "q"})``
    with ``q`` ``[E, N]``, ``target`` ``[N]`` (no gradient) and ``q`` the mean Q over heads and valid draws."""
    loss = ensemble_td_loss(q, target, valid)
    return loss, {"critic_loss": loss, "q": masked_mean(jnp.mean(q, 0), valid)}
