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
    """A box of real values.

    Attributes:
      shape: shape of one (unbatched) value.
      low, high: bounds, either a float for every element or a tuple with one
        float per element of the flattened value. ``-inf``/``inf`` mean unbounded.
    """

    shape: tuple[int, ...]
    low: float | tuple[float, ...] = -np.inf
    high: float | tuple[float, ...] = np.inf

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        for name in ("low", "high"):
            v = getattr(self, name)
            if isinstance(v, (list, tuple, np.ndarray)):
                v = tuple(float(x) for x in np.ravel(v))
                if len(v) != int(np.prod(self.shape)):
                    raise ValueError(f"Box.{name} has {len(v)} values for shape {self.shape}")
            else:
                v = float(v)
            object.__setattr__(self, name, v)

    @property
    def dtype(self):
        return jnp.float32

    def _array(self, bound) -> jax.Array:
        return jnp.broadcast_to(jnp.asarray(bound, jnp.float32), (math.prod(self.shape),)).reshape(self.shape)

    def low_array(self) -> jax.Array:
        """``low`` as a float32 array of ``shape``."""
        return self._array(self.low)

    def high_array(self) -> jax.Array:
        """``high`` as a float32 array of ``shape``."""
        return self._array(self.high)

    @property
    def bounded(self) -> bool:
        return bool(np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high)))

    def sample(self, key: jax.Array, batch_shape: tuple[int, ...] = ()) -> jax.Array:
        """Uniform sample for a bounded box, standard normal for an unbounded one."""
        shape = tuple(batch_shape) + self.shape
        if self.bounded:
            return jax.random.uniform(key, shape, minval=self.low_array(), maxval=self.high_array())
        return jax.random.normal(key, shape)

    def check(self, x: Any, what: str = "value", batch_shape: tuple[int, ...] = ()) -> None:
        """Raise SpecError unless ``x`` has shape ``batch_shape + self.shape`` and a float dtype."""
        expected = tuple(batch_shape) + self.shape
        if tuple(np.shape(x)) != expected or not jnp.issubdtype(jnp.result_type(x), jnp.floating):
            raise SpecError(
                f"{what} must be a float array of shape {expected}, got {_describe(x)}"
            )


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
