"""Minibatch SGD epochs as nested ``lax.scan`` (epochs x minibatches)."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def flatten_time_batch(tree: Any) -> Any:
    """``[T, B, ...] -> [T * B, ...]`` on every leaf."""
    return jax.tree.map(lambda x: x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:]), tree)


# Up to this many samples, :func:`permutation` sorts packed words (>= 20 random bits per sample).
PACKED_SORT_MAX = 4096


def permutation(key: jax.Array, n: int) -> jax.Array:
    """A random permutation of ``range(n)`` (``n`` static), ``[n]`` int32, for minibatch shuffles.

    The same draws as ``jax.random.permutation(key, n)`` (split the key, one random 32-bit
    word per sample), sorted faster: for ``n <= PACKED_SORT_MAX`` the low ``b = ceil(log2 n)``
    bits of each word are replaced by the sample's index and the words are sorted as ONE
    uint32 operand; the low bits of the sorted words are the permutation. XLA:CPU sorts a
    single primitive operand with its native comparator, 4-10x faster than the key-value sort
    of ``jax.random.permutation`` (1.65 vs 7.33 ms for 64 vmapped shuffles of 500, 7.9 vs
    78.7 ms for 64 of 2048; ~8% of a PPO update on CartPole at 8-64 runs per program;
    benchmarks/RESULTS.md, sweep run 6). The order is the one
    ``jax.random.permutation`` gives except where two words agree on their top ``32 - b``
    (>= 20) bits, which then keep their index order (a pair that usually lands in the same
    minibatch anyway). Larger ``n`` use ``jax.random.permutation`` itself.
    """
    if n > PACKED_SORT_MAX:
        return jax.random.permutation(key, n)
    _, subkey = jax.random.split(key)  # the draw jax.random.permutation makes (one round)
    words = jax.random.bits(subkey, (n,), jnp.uint32)
    low = jnp.uint32((1 << max(1, (n - 1).bit_length())) - 1)
    packed = (words & ~low) | jnp.arange(n, dtype=jnp.uint32)
    return (jnp.sort(packed) & low).astype(jnp.int32)


def shuffled_minibatches(key: jax.Array, batch: Any, num_minibatches: int) -> Any:
    """Permute ``batch`` (leading axis ``N``) and split it into ``[M, N // M, ...]``.

    ``N`` must be divisible by ``num_minibatches`` (configs check this up front).
    """
    n = jax.tree.leaves(batch)[0].shape[0]
    if n % num_minibatches:
        raise ValueError(f"batch of {n} samples does not split into {num_minibatches} equal minibatches")
    perm = permutation(key, n)
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
