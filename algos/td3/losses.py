"""TD3's pieces (the pixel agent reuses them): target policy smoothing, exploration noise, the actor loss.
Batches ``[N, ...]``; critic outputs ``[E, N]``; noise scales in units of half the action range."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.optim import linear_schedule
from jaxrl.replay import masked_mean
from jaxrl.spaces import Box
from jaxrl.algos.td3.networks import half_range


def _clip_to(spec: Box, action):
    return jnp.clip(action, spec.low_array(), spec.high_array())


def smoothed_target_action(spec: Box, action, key, std, clip):
    """``clip(mu'(s') + clip(eps, -clip, clip))``, ``eps ~ N(0, std^2)``: target policy smoothing (TD3:
    ``std = policy_noise``; DrQ-v2: the exploration std of the moment, clipped at 0.3)."""
    eps = jnp.clip(std * jax.random.normal(key, action.shape), -clip, clip)
    return _clip_to(spec, action + eps * half_range(spec))


def exploration_std(hparams, progress):
    """The exploration noise std at ``progress`` of the run (``explore_noise -> explore_noise_final``)."""
    return linear_schedule(hparams.explore_noise, hparams.explore_noise_final, hparams.explore_decay, progress)


def explore(spec: Box, action, key, hparams, progress):
    """``clip(mu(s) + N(0, std^2))`` with the scheduled std."""
    noise = exploration_std(hparams, progress) * jax.random.normal(key, action.shape)
    return _clip_to(spec, action + noise * half_range(spec))


def actor_loss(q: jax.Array, valid: jax.Array) -> tuple[jax.Array, dict]:
    """``-mean_n min_e Q_e(s, mu(s))`` (``q`` ``[E, N]``)."""
    loss = -masked_mean(jnp.min(q, axis=0), valid)
    return loss, {"actor_loss": loss}
