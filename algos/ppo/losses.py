"""PPO's losses and default update rule (the two meta-learnable slots)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


def clipped_surrogate(ratio, advantages, hparams, meta_params=None, progress=None):
    """PPO's clipped surrogate ``min(r A, clip(r, 1 - eps, 1 + eps) A)``, ``[N]``, to maximise."""
    eps = hparams.clip_eps
    return jnp.minimum(ratio * advantages, jnp.clip(ratio, 1.0 - eps, 1.0 + eps) * advantages)


def learning_rate(hparams, config):
    """PPO's step size: ``hparams.lr``, or if ``config.anneal_lr`` the schedule
    ``count -> lr * (1 - count / config.num_optimizer_steps)`` (linear decay to 0)."""
    total = config.num_optimizer_steps
    if config.anneal_lr:
        return lambda count: hparams.lr * (1.0 - jnp.minimum(count, total) / total)
    return hparams.lr


def default_optimizer(hparams, meta_params, config, lr_scale=None) -> optax.GradientTransformation:
    """Global-norm clipping then Adam; the learning rate decays linearly to 0 if ``config.anneal_lr``.

    ``lr_scale(count) -> factor`` (optional) multiplies the learning rate (a learned step-size
    rule); a factor of exactly 1 gives the same numbers as without it.
    """
    lr = learning_rate(hparams, config)
    if lr_scale is not None:
        base = lr
        lr = lambda count: (base(count) if callable(base) else base) * lr_scale(count)  # noqa: E731
    return optax.chain(
        optax.clip_by_global_norm(hparams.max_grad_norm),
        optax.scale_by_adam(eps=1e-5),
        optax.scale_by_learning_rate(lr),
    )


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
