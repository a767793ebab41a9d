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


def lambda_returns(
    rewards: jax.Array,
    next_values: jax.Array,
    discounts: jax.Array,
    lam: jax.Array | float,
    done: jax.Array | None = None,
) -> jax.Array:
    """TD(lambda) returns with a per-step discount, time-major ``[T, ...]``.

    ``G_t = r_t + d_t * ((1 - lam) * V'_t + lam * (V'_t if done_t or t = T - 1 else G_{t+1}))``

    Args:
      rewards: ``[T, ...]`` reward of each step.
      next_values: ``[T, ...]`` value of the state each step led to (the TRUE final state where an
        episode ended: truncation bootstraps from it).
      discounts: ``[T, ...]`` per-step discount ``d_t``: ``gamma * (1 - terminated_t)`` for an env,
        ``gamma * continue_t`` for a world model's predicted continuation.
      lam: lambda (scalar, may be traced): 1 gives n-step returns over the window, 0 one-step TD.
      done: ``[T, ...]`` bool, the episode ended after step ``t`` (terminated or truncated): the
        return does not reach past it. ``None``: no episode ends inside the window.

    Returns:
      ``[T, ...]`` the returns ``G_t``. With ``lam = 1`` and ``T = n`` this is the ``n``-step
      return of the first step, cut at an episode end.
    """
    rewards = jnp.asarray(rewards, jnp.float32)
    cut = jnp.zeros_like(rewards, jnp.bool_) if done is None else jnp.asarray(done, jnp.bool_)

    def backward(carry, xs):
        r, v, d, stop = xs
        ahead = jnp.where(stop, v, carry)
        g = r + d * ((1.0 - lam) * v + lam * ahead)
        return g, g

    _, out = jax.lax.scan(backward, next_values[-1], (rewards, next_values, discounts, cut), reverse=True)
    return out


def n_step_return(rewards: jax.Array, discounts: jax.Array, bootstrap: jax.Array, done: jax.Array | None = None) -> jax.Array:
    """The ``n``-step return of the FIRST step of windows ``[n, ...]``:
    ``sum_i (prod_{j<i} d_j) r_i + (prod_j d_j) V_n``, stopping after the first step where ``done``
    (bootstrapping from that step's next value). ``bootstrap`` is ``[n, ...]``: the value of the
    state each step led to (only the last one, and the ones after a ``done``, are used).
    Returns ``[...]``."""
    return lambda_returns(rewards, bootstrap, discounts, 1.0, done)[0]


def percentile_scale(scale, x, rate, low: float = 5.0, high: float = 95.0, mask=None) -> jax.Array:
    """One step of a running scale of ``x`` (any shape, all entries pooled): ``scale`` moves by
    ``rate`` toward ``max(1, P_high(x) - P_low(x))``, the spread between two percentiles (linear
    interpolation, as ``numpy.percentile``). TD-MPC2 divides its policy's Q by it (5th to 95th);
    DreamerV3 its returns. ``mask`` (``x``'s shape, bool): only those entries count; with none, the
    scale stays. Returns the new scale (a scalar; ``rate`` may be traced)."""
    x = jnp.ravel(x).astype(jnp.float32)
    mask = jnp.ones(x.shape, jnp.bool_) if mask is None else jnp.ravel(mask)
    x = jnp.where(mask, x, jnp.nan)
    spread = jnp.nanpercentile(x, high) - jnp.nanpercentile(x, low)
    return jnp.where(jnp.any(mask), scale + rate * (jnp.maximum(spread, 1.0) - scale), scale)
