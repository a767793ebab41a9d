"""SAC's three losses, each a scalar with diagnostics, averaged over the VALID draws of a replay batch.

Shapes: a batch ``[N, ...]`` (:class:`jaxrl.replay.Batch`); critic outputs ``[E, N]`` (E heads).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.losses import ensemble_td_loss, td_target
from jaxrl.replay import Batch, masked_mean


def critic_target(batch: Batch, next_q: jax.Array, next_log_prob: jax.Array, alpha, hparams) -> jax.Array:
    """Soft TD target ``[N]``: ``scale * r + gamma * (1 - terminated) * (min_e Q'_e(s', a') - alpha log pi(a'|s'))``.
    ``next_q`` ``[E', N]`` are the target heads the minimum is taken over; truncated steps bootstrap
    (``s'`` is the true final observation there), terminated ones do not."""
    soft = jnp.min(next_q, axis=0) - alpha * next_log_prob
    return td_target(batch.reward, batch.terminated, soft, hparams.gamma, hparams.reward_scale)


def critic_loss(q: jax.Array, target: jax.Array, valid: jax.Array) -> tuple[jax.Array, dict]:
    """``sum_e mean_n (Q_e - y)^2 / 2`` over the valid draws (``q`` ``[E, N]``, ``target`` ``[N]``, no gradient)."""
    loss = ensemble_td_loss(q, target, valid)
    return loss, {"critic_loss": loss, "q": masked_mean(jnp.mean(q, 0), valid)}


def actor_loss(log_prob: jax.Array, q: jax.Array, alpha, valid: jax.Array) -> tuple[jax.Array, dict]:
    """``mean_n(alpha log pi(a|s) - min_e Q_e(s, a))``, ``a ~ pi`` reparameterised (``q`` ``[E, N]``)."""
    loss = masked_mean(alpha * log_prob - jnp.min(q, axis=0), valid)
    return loss, {"actor_loss": loss, "entropy": -masked_mean(log_prob, valid)}


def temperature_loss(log_alpha: jax.Array, entropy: jax.Array, target_entropy: jax.Array) -> jax.Array:
    """``log_alpha * (H - H_target)`` with the policy entropy ``H`` held fixed: lowers the temperature
    while the entropy is above its target, raises it below."""
    return log_alpha * jax.lax.stop_gradient(entropy - target_entropy)
