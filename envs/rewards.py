"""Shaped-reward helpers in pure JAX (DM-Control style ``tolerance``).

``tolerance`` is 1 inside ``bounds`` and decays smoothly outside them, reaching
``value_at_margin`` at distance ``margin`` from the nearest bound. Every
argument except ``sigmoid`` may be a traced array, so reward shapes can live
in an env's params pytree and be randomised or swept without recompiling.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

SIGMOIDS = ("gaussian", "hyperbolic", "long_tail", "reciprocal", "cosine", "linear", "quadratic", "tanh_squared")
# Sigmoids that reach exactly 0 at finite distance may take value_at_margin == 0.
_ZERO_OK = ("cosine", "linear", "quadratic")


def _is_concrete(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _sigmoid(d: jax.Array, value_at_1, sigmoid: str) -> jax.Array:
    """A decreasing function of ``d >= 0`` with value 1 at 0 and ``value_at_1`` at 1."""
    v = jnp.asarray(value_at_1, d.dtype)
    if sigmoid == "gaussian":
        scale = jnp.sqrt(-2.0 * jnp.log(v))
        return jnp.exp(-0.5 * jnp.square(d * scale))
    if sigmoid == "hyperbolic":
        scale = jnp.arccosh(1.0 / v)
        return 1.0 / jnp.cosh(d * scale)
    if sigmoid == "long_tail":
        scale = jnp.sqrt(1.0 / v - 1.0)
        return 1.0 / (jnp.square(d * scale) + 1.0)
    if sigmoid == "reciprocal":
        scale = 1.0 / v - 1.0
        return 1.0 / (jnp.abs(d) * scale + 1.0)
    if sigmoid == "cosine":
        scale = jnp.arccos(2.0 * v - 1.0) / jnp.pi
        sx = d * scale
        return jnp.where(jnp.abs(sx) < 1.0, (1.0 + jnp.cos(jnp.pi * sx)) / 2.0, 0.0)
    if sigmoid == "linear":
        sx = d * (1.0 - v)
        return jnp.where(jnp.abs(sx) < 1.0, 1.0 - sx, 0.0)
    if sigmoid == "quadratic":
        sx = d * jnp.sqrt(1.0 - v)
        return jnp.where(jnp.abs(sx) < 1.0, 1.0 - jnp.square(sx), 0.0)
    if sigmoid == "tanh_squared":
        scale = jnp.arctanh(jnp.sqrt(1.0 - v))
        return 1.0 - jnp.square(jnp.tanh(d * scale))
    raise ValueError(f"unknown sigmoid {sigmoid!r}; choose one of {', '.join(SIGMOIDS)}")


def tolerance(
    x: jax.Array,
    bounds: tuple = (0.0, 0.0),
    margin=0.0,
    sigmoid: str = "gaussian",
    value_at_margin=0.1,
) -> jax.Array:
    """1 where ``bounds[0] <= x <= bounds[1]``, decaying outside (DM Control's ``tolerance``).

    Args:
      x: array of any shape ``[...]`` (float).
      bounds: ``(lower, upper)``, scalars or arrays broadcastable to ``x``; ``lower <= upper``.
        Infinite bounds are allowed (one-sided tolerance).
      margin: scalar ``>= 0``. The decay width outside the bounds: at distance
        ``margin`` from the nearest bound the value is ``value_at_margin``.
        ``margin == 0`` makes the result an indicator of the bounds (0 outside).
      sigmoid: static string, one of ``SIGMOIDS`` ("gaussian", "hyperbolic",
        "long_tail", "reciprocal", "cosine", "linear", "quadratic", "tanh_squared").
      value_at_margin: scalar in ``(0, 1)`` (``[0, 1)`` for "linear", "quadratic"
        and "cosine", which then reach 0 at ``margin`` and stay there).

    Returns:
      Array of ``x``'s shape ``[...]`` (float32 for float32 input), values in ``[0, 1]``.

    Python-number arguments are validated eagerly (``ValueError``); traced ones
    cannot be and are used as given (a traced ``margin <= 0`` gives the indicator).
    """
    if sigmoid not in SIGMOIDS:
        raise ValueError(f"unknown sigmoid {sigmoid!r}; choose one of {', '.join(SIGMOIDS)}")
    lower, upper = bounds
    if _is_concrete(lower) and _is_concrete(upper) and lower > upper:
        raise ValueError(f"tolerance bounds must satisfy lower <= upper, got {bounds}")
    if _is_concrete(margin) and margin < 0:
        raise ValueError(f"tolerance margin must be >= 0, got {margin}")
    if _is_concrete(value_at_margin):
        lo_ok = 0.0 <= value_at_margin if sigmoid in _ZERO_OK else 0.0 < value_at_margin
        if not (lo_ok and value_at_margin < 1.0):
            interval = "[0, 1)" if sigmoid in _ZERO_OK else "(0, 1)"
            raise ValueError(f"value_at_margin must be in {interval} for sigmoid {sigmoid!r}, got {value_at_margin}")

    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    lower = jnp.asarray(lower, x.dtype)
    upper = jnp.asarray(upper, x.dtype)
    in_bounds = (lower <= x) & (x <= upper)
    if _is_concrete(margin) and margin == 0:
        return jnp.where(in_bounds, 1.0, 0.0).astype(x.dtype)

    margin = jnp.asarray(margin, x.dtype)
    positive = margin > 0
    # Distance to the nearest bound in units of margin (only used outside the bounds).
    dist = jnp.where(x < lower, lower - x, x - upper)
    dist = jnp.where(in_bounds, 0.0, dist)  # keeps inf - inf out of one-sided bounds
    d = dist / jnp.where(positive, margin, 1.0)
    outside = jnp.where(positive, _sigmoid(d, value_at_margin, sigmoid), 0.0)
    return jnp.where(in_bounds, 1.0, outside).astype(x.dtype)
