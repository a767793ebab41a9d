"""DrQ-v2's losses: the critics' ``n``-step TD regression with target smoothing, and TD3's actor loss
(:mod:`jaxrl.algos.td3.losses`) on features the actor cannot push gradients into.
Batches ``[N, ...]``; Q ``[E, N]``; features ``[N, F]``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.losses import critic_loss
from jaxrl.algos.td3.losses import actor_loss, smoothed_target_action

__all__ = ["actor_loss", "critic_loss", "n_step_target", "smoothed_target_action"]


def n_step_target(reward: jax.Array, discount: jax.Array, next_q: jax.Array) -> jax.Array:
    """``R^(n) + discount * min_e Q'_e(s_{t+n}, a')``: ``reward`` the discounted ``n``-step sum, ``discount``
    ``gamma^k`` (0 after a terminal step), ``next_q[E, N]`` the target heads (:class:`jaxrl.replay.NStepBatch`)."""
    return reward + discount * jnp.min(next_q, axis=0)
