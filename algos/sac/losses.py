"""SAC's three losses, each a scalar with diagnostics, averaged over the VALID draws of a replay batch.

Shapes: a batch ``[N, ...]`` (:class:`jaxrl.replay.Batch`); critic outputs ``[E, N]`` (E heads).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.losses import td_target
from jaxrl.replay import Batch, masked_mean


def critic_target(batch: Batch, next_q: jax.Array, next_log_prob: jax.Array, alpha, hparams) -> jax.Array:
    """Soft TD target ``[N]``: ``scale * r + gamma * (1 - terminated) * (min_e Q'_e(s', a') - alpha log pi(a'|s'))``.
    ``next_q`` ``[E', N]`` are the target heads the minimum is taken over; truncated steps bootstrap
    (``s'`` is the true final observation there), terminated ones do not."""
    soft = jnp.min(next_q, axis=0) - alpha * next_log_prob
    return td_target(batch.reward, batch.terminated, soft, hparams.gamma, hparams.reward_scale)


def actor_loss(log_prob: jax.Array, q: jax.Array, alpha, valid: jax.Array) -> tuple[jax.Array, dict]:
    """``mean_n(alpha log pi(a|s) - Q(s, a))``, ``a ~ pi`` reparameterised, ``q`` ``[E, N]``; ``Q`` is the
    minimum over twin heads (E <= 2) and the mean over a larger ensemble (REDQ's actor)."""
    value = jnp.min(q, axis=0) if q.shape[0] <= 2 else jnp.mean(q, axis=0)
    loss = masked_mean(alpha * log_prob - value, valid)
    return loss, {"actor_loss": loss, "entropy": -masked_mean(log_prob, valid)}


def temperature_loss(log_alpha: jax.Array, entropy: jax.Array, target_entropy: jax.Array) -> jax.Array:
    """``log_alpha * (H - H_target)`` with the policy entropy ``H`` held fixed: lowers the temperature
    while the entropy is above its target, raises it below."""
    return log_alpha * jax.lax.stop_gradient(entropy - target_entropy)
