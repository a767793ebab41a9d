"""PPO's losses; its two meta-learnable slots are the objective (here) and the optimizer
(default :func:`jaxrl.optim.default_optimizer`, re-exported here)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.optim import default_optimizer, learning_rate  # noqa: F401  (PPO's optimizer slot default)
from jaxrl.configs import register


@register
def clipped_surrogate(ratio, advantages, hparams, meta_params=None, progress=None):
    """PPO's clipped surrogate ``min(r A, clip(r, 1 - eps, 1 + eps) A)``, ``[N]``, to maximise."""
    eps = hparams.clip_eps
    return jnp.minimum(ratio * advantages, jnp.clip(ratio, 1.0 - eps, 1.0 + eps) * advantages)


class Batch(NamedTuple):
    """A flat PPO batch ``[N, ...]`` (``N = num_envs * num_steps``, or a minibatch of it)."""

    obs: jax.Array  # normalised observations
    action: jax.Array
    log_prob: jax.Array  # behaviour log-prob
    value: jax.Array  # behaviour value estimate
    advantage: jax.Array
    target: jax.Array  # value target (lambda-return)


def ppo_loss(params, apply_fn, batch: Batch, hparams, config, meta_params: Any = None, progress=0.0):
    """Scalar PPO loss and its diagnostics.

    ``apply_fn(params, obs[N, ...]) -> (dist, value[N])``. The policy term is
    ``-mean(config.objective(ratio, A, hparams, meta_params, progress))``.
    """
    dist, value = apply_fn(params, batch.obs)
    log_prob = dist.log_prob(batch.action)
    log_ratio = log_prob - batch.log_prob
    ratio = jnp.exp(log_ratio)
    adv = batch.advantage
    if config.normalize_advantages:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    policy_loss = -jnp.mean(config.objective(ratio, adv, hparams, meta_params, progress))

    value_err = jnp.square(value - batch.target)
    if config.clip_value_loss:
        clipped = batch.value + jnp.clip(value - batch.value, -hparams.clip_eps, hparams.clip_eps)
        value_err = jnp.maximum(value_err, jnp.square(clipped - batch.target))
    value_loss = 0.5 * jnp.mean(value_err)
    entropy = jnp.mean(dist.entropy())
    loss = policy_loss + hparams.vf_coef * value_loss - hparams.ent_coef * entropy
    metrics = {
        "loss": loss,
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        "approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
        "clip_frac": jnp.mean((jnp.abs(ratio - 1.0) > hparams.clip_eps).astype(jnp.float32)),
    }
    return loss, metrics
