"""Observation and action specs.

Specs are frozen, hashable dataclasses holding only Python scalars and tuples,
so an env that owns them stays hashable (it is a static argument of every
compiled function). ``check`` validates an array's shape and dtype at trace
time, which turns a wrong action into a one-line error before XLA compiles.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


class SpecError(ValueError):
    """An array does not match the spec it was given to."""


def _describe(x: Any) -> str:
    return f"shape {tuple(np.shape(x))} and dtype {jnp.result_type(x)}"


@dataclasses.dataclass(frozen=True)
class Box:
    """A box of real (or, e.g. for images, integer) values.

    Attributes:
      shape: shape of one (unbatched) value.
      low, high: bounds, either a float for every element or a tuple with one
        float per element of the flattened value. ``-inf``/``inf`` mean unbounded.
      dtype: element type (a ``numpy.dtype``; default float32). An integer box
        (e.g. ``uint8`` pixels, ``Box((64, 64, 3), 0, 255, np.uint8)``) needs finite bounds.
    """

    shape: tuple[int, ...]
    low: float | tuple[float, ...] = -np.inf
    high: float | tuple[float, ...] = np.inf
    dtype: Any = np.float32

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        for name in ("low", "high"):
            v = getattr(self, name)
            if isinstance(v, (list, tuple, np.ndarray)):
                v = tuple(float(x) for x in np.ravel(v))
                if len(v) != int(np.prod(self.shape)):
                    raise ValueError(f"Box.{name} has {len(v)} values for shape {self.shape}")
            else:
                v = float(v)
            object.__setattr__(self, name, v)
        if not self.floating and not self.bounded:
            raise ValueError(f"Box of {self.dtype} needs finite low and high, got {self.low} and {self.high}")

    @property
    def floating(self) -> bool:
        return bool(jnp.issubdtype(self.dtype, jnp.floating))

    def _array(self, bound) -> jax.Array:
        return jnp.broadcast_to(jnp.asarray(bound, self.dtype), (math.prod(self.shape),)).reshape(self.shape)

    def low_array(self) -> jax.Array:
        """``low`` as an array of ``shape`` and ``dtype``."""
        return self._array(self.low)

    def high_array(self) -> jax.Array:
        """``high`` as an array of ``shape`` and ``dtype``."""
        return self._array(self.high)

    @property
    def bounded(self) -> bool:
        return bool(np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high)))

    def sample(self, key: jax.Array, batch_shape: tuple[int, ...] = ()) -> jax.Array:
        """Uniform sample for a bounded box (integers in ``[low, high]`` for an integer box), standard normal for an unbounded one."""
        shape = tuple(batch_shape) + self.shape
        if not self.floating:
            high = self.high_array().astype(jnp.int32) + 1
            return jax.random.randint(key, shape, self.low_array().astype(jnp.int32), high).astype(self.dtype)
        if self.bounded:
            return jax.random.uniform(key, shape, minval=self.low_array(), maxval=self.high_array())
        return jax.random.normal(key, shape)

    def check(self, x: Any, what: str = "value", batch_shape: tuple[int, ...] = ()) -> None:
        """Raise SpecError unless ``x`` has shape ``batch_shape + self.shape`` and a float dtype (``dtype`` for an integer box)."""
        expected = tuple(batch_shape) + self.shape
        kind_ok = jnp.issubdtype(jnp.result_type(x), jnp.floating) if self.floating else jnp.result_type(x) == self.dtype
        if tuple(np.shape(x)) != expected or not kind_ok:
            kind = "a float" if self.floating else f"a {self.dtype}"
            raise SpecError(
                f"{what} must be {kind} array of shape {expected}, got {_describe(x)}"
            )


def scale_action(spec: Box, x):
    """``x`` in ``[-1, 1]`` -> the box ``[low, high]`` (what a tanh-squashed or bounded actor's output
    becomes; shared by the TD3, TD-MPC2 and DreamerV3 actors)."""
    low, high = spec.low_array(), spec.high_array()
    return low + (x + 1.0) * 0.5 * (high - low)


def to_unit(spec: Box, action):
    """The inverse of :func:`scale_action`: env actions in the box ``[low, high]`` -> ``[-1, 1]`` (clipped)."""
    low, high = spec.low_array(), spec.high_array()
    return jnp.clip(2.0 * (action - low) / (high - low) - 1.0, -1.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Discrete:
    """One integer in ``[0, n)``."""

    n: int

    shape: tuple[int, ...] = dataclasses.field(default=(), init=False)

    def __post_init__(self):
        if int(self.n) < 1:
            raise ValueError(f"Discrete.n must be >= 1, got {self.n}")

    @property
    def dtype(self):
        return jnp.int32

    def sample(self, key: jax.Array, batch_shape: tuple[int, ...] = ()) -> jax.Array:
        return jax.random.randint(key, tuple(batch_shape), 0, self.n, dtype=jnp.int32)

    def check(self, x: Any, what: str = "value", batch_shape: tuple[int, ...] = ()) -> None:
        """Raise SpecError unless ``x`` is an integer array of shape ``batch_shape``."""
        expected = tuple(batch_shape)
        if tuple(np.shape(x)) != expected or not jnp.issubdtype(jnp.result_type(x), jnp.integer):
            raise SpecError(
                f"{what} must be an integer array of shape {expected} (values in [0, {self.n})), "
                f"got {_describe(x)}"
            )


Spec = Box | Discrete
