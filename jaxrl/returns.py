"""Return and advantage estimators, time-major ``[T, ...]``, written once for every algorithm.

Termination and truncation are kept apart: a terminated step does not
bootstrap (the MDP ended, the value of what follows is 0); a truncated step
bootstraps from the value of the TRUE final observation (the episode was cut,
the state still had a future). Both end the recursion across the episode
boundary, so nothing leaks from the next episode into this one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: jax.Array | float,
    lam: jax.Array | float,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation with truncation handled.

    Args:
      rewards: ``[T, ...]`` reward of each step.
      values: ``[T, ...]`` ``V(s_t)``, the value of the state the step was taken from.
      next_values: ``[T, ...]`` ``V(s'_t)``, the value of the state the step led
        to: the true final state on the last step of an episode (for a
        truncated episode this is what makes bootstrapping right), the next
        state otherwise. Its value on terminated steps is ignored.
      terminated: ``[T, ...]`` bool, the step reached a terminal state.
      truncated: ``[T, ...]`` bool, the episode was cut after this step.
      gamma, lam: discount and GAE lambda (scalars, may be traced).

    Returns:
      ``(advantages, value_targets)``, both ``[T, ...]``, with
      ``value_targets = advantages + values`` (the lambda-returns).

    Per step: ``delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t``
    and ``A_t = delta_t + gamma * lam * (1 - done_t) * A_{t+1}`` with
    ``done_t = terminated_t or truncated_t`` and ``A_T = 0``.
    """
    rewards = jnp.asarray(rewards, jnp.float32)
    not_term = 1.0 - jnp.asarray(terminated, jnp.float32)
    not_done = 1.0 - jnp.maximum(jnp.asarray(terminated, jnp.float32), jnp.asarray(truncated, jnp.float32))
    deltas = rewards + gamma * not_term * next_values - values

    def backward(carry, xs):
        delta, cont = xs
        adv = delta + gamma * lam * cont * carry
        return adv, adv

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(deltas[0]), (deltas, not_done), reverse=True
    )
    return advantages, advantages + values


def discounted_returns(
    rewards: jax.Array, terminated: jax.Array, truncated: jax.Array, gamma, bootstrap: jax.Array | None = None
) -> jax.Array:
    """Monte-Carlo discounted returns ``[T, ...]`` that restart at every episode boundary.

    ``bootstrap`` (``[T, ...]`` values of the next states) adds
    ``gamma * V(s'_t)`` on truncated steps and on the last step of the batch;
    without it the return after a cut is taken as 0. Equals :func:`gae` with
    ``lam = 1`` when given the same bootstrap values.
    """
    zeros = jnp.zeros_like(jnp.asarray(rewards, jnp.float32))
    next_values = zeros if bootstrap is None else bootstrap
    # GAE with lam=1 and V=0 telescopes to the discounted return.
    adv, _ = gae(rewards, zeros, next_values, terminated, truncated, gamma, 1.0)
    return adv
