"""Discrete regression in symlog space: symlog / symexp, two-hot targets over fixed bins, and their loss.

World models (TD-MPC2, DreamerV3) predict rewards and values whose scale differs by orders of
magnitude across tasks. They regress them as a CLASSIFICATION over ``num_bins`` evenly spaced bins
of ``symlog(y)`` between ``low`` and ``high``: the target is the "two-hot" vector that puts weight
on the two bins around ``symlog(y)`` (their weights sum to 1 and their weighted mean is
``symlog(y)``), the loss is the cross-entropy of the predicted logits against it, and a prediction
is ``symexp`` of the logits' expected bin value. A value outside ``[low, high]`` (in symlog space) is
clipped to the edge bin (``jax.nn.one_hot`` of an out-of-range index would silently give zeros).

    bins = Bins(num_bins=101, low=-10.0, high=10.0)             # static (hashable)
    target = bins.encode(y)                                      # [..., 101], rows sum to 1
    loss = bins.cross_entropy(logits, y)                         # [...]
    y_hat = bins.decode(logits)                                  # [...]
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


def symlog(x):
    """``sign(x) * log(1 + |x|)``: compresses large magnitudes, identity-like near 0."""
    return jnp.sign(x) * jnp.log1p(jnp.abs(x))


def symexp(x):
    """The inverse of :func:`symlog`: ``sign(x) * (exp(|x|) - 1)``."""
    return jnp.sign(x) * jnp.expm1(jnp.abs(x))


@dataclasses.dataclass(frozen=True)
class Bins:
    """``num_bins`` (static, >= 2) evenly spaced bins from ``low`` to ``high`` in symlog space
    (TD-MPC2: 101 bins on ``[-10, 10]``; DreamerV3: 255 on ``[-20, 20]``). ``symlog=False``
    regresses the raw value on the same bins."""

    num_bins: int = 101
    low: float = -10.0
    high: float = 10.0
    symlog: bool = True

    def __post_init__(self):
        if isinstance(self.num_bins, bool) or not isinstance(self.num_bins, (int, np.integer)) or self.num_bins < 2:
            raise ValueError(f"Bins.num_bins must be an integer >= 2, got {self.num_bins!r}")
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"Bins needs finite low < high, got {self.low!r} and {self.high!r}")

    @property
    def width(self) -> float:
        return (self.high - self.low) / (self.num_bins - 1)

    def centers(self) -> jax.Array:
        """``[num_bins]`` float32 bin values (in symlog space when ``symlog``)."""
        return jnp.linspace(self.low, self.high, self.num_bins, dtype=jnp.float32)

    def _to_space(self, y):
        y = jnp.asarray(y, jnp.float32)
        return symlog(y) if self.symlog else y

    def encode(self, y) -> jax.Array:
        """``y[...]`` -> two-hot ``[..., num_bins]``: weight ``1 - f`` on bin ``i`` and ``f`` on bin
        ``i + 1``, where ``symlog(y)`` (clipped to ``[low, high]``) is ``low + (i + f) * width``."""
        x = jnp.clip(self._to_space(y), self.low, self.high)
        pos = (x - self.low) / self.width
        i = jnp.clip(jnp.floor(pos), 0, self.num_bins - 2)
        f = pos - i
        lower = jax.nn.one_hot(i.astype(jnp.int32), self.num_bins)
        upper = jax.nn.one_hot(i.astype(jnp.int32) + 1, self.num_bins)
        return lower * (1.0 - f)[..., None] + upper * f[..., None]

    def decode(self, logits) -> jax.Array:
        """Logits ``[..., num_bins]`` -> the predicted value ``[...]``: ``symexp(sum softmax(logits) * centers)``."""
        x = jnp.sum(jax.nn.softmax(logits, axis=-1) * self.centers(), axis=-1)
        return symexp(x) if self.symlog else x

    def cross_entropy(self, logits, y) -> jax.Array:
        """``-sum_k encode(y)_k log softmax(logits)_k`` ``[...]``; the target gets no gradient."""
        target = jax.lax.stop_gradient(self.encode(y))
        return -jnp.sum(target * jax.nn.log_softmax(logits, axis=-1), axis=-1)


__all__ = ["Bins", "symexp", "symlog"]
