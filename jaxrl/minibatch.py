"""Minibatch SGD epochs as nested ``lax.scan`` (epochs x minibatches)."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def flatten_time_batch(tree: Any) -> Any:
    """``[T, B, ...] -> [T * B, ...]`` on every leaf."""
    return jax.tree.map(lambda x: x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:]), tree)


def shuffled_minibatches(key: jax.Array, batch: Any, num_minibatches: int) -> Any:
    """Permute ``batch`` (leading axis ``N``) and split it into ``[M, N // M, ...]``.

    ``N`` must be divisible by ``num_minibatches`` (configs check this up front).
    """
    n = jax.tree.leaves(batch)[0].shape[0]
    if n % num_minibatches:
        raise ValueError(f"batch of {n} samples does not split into {num_minibatches} equal minibatches")
    perm = jax.random.permutation(key, n)
    return jax.tree.map(
        lambda x: jnp.take(x, perm, axis=0).reshape((num_minibatches, n // num_minibatches) + x.shape[1:]), batch
    )


def sgd_epochs(
    key: jax.Array,
    carry: Any,
    batch: Any,
    step: Callable[[Any, Any], tuple[Any, Any]],
    num_epochs: int,
    num_minibatches: int,
) -> tuple[Any, Any]:
    """Run ``num_epochs`` passes of ``step`` over freshly shuffled minibatches.

    Args:
      key: PRNG key for the shuffles.
      carry: what ``step`` updates (params, optimiser state...).
      batch: pytree with a leading sample axis ``[N, ...]``.
      step: ``step(carry, minibatch[N // M, ...]) -> (carry, metrics)``.
      num_epochs, num_minibatches: static counts.

    Returns:
      The final carry and the metrics stacked ``[num_epochs, num_minibatches, ...]``.
    """

    def epoch(carry, epoch_key):
        return jax.lax.scan(step, carry, shuffled_minibatches(epoch_key, batch, num_minibatches))

    return jax.lax.scan(epoch, carry, jax.random.split(key, num_epochs))
