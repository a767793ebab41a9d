"""Control flow that stays cheap under ``vmap``.

``lax.cond`` skips the branch it does not take only while its predicate is unbatched; under an
outer ``vmap`` with a batched predicate (a sweep's runs, each with its own state) it computes both
branches and selects. :func:`compute_if` keeps the skip for a batch whose elements agree (a sweep's
warm-up, TD3's delayed actor step, the envs' auto-reset), and differentiates as ``lax.cond`` does.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def compute_if(pred: jax.Array, fn: Callable, operands: tuple, otherwise: Any):
    """``fn(*operands)`` where ``pred`` (a traced bool scalar ``[]``), else ``otherwise``: a
    ``lax.cond(pred, ...)`` that also skips under ``vmap``, and differentiates as that cond does.

    ``otherwise`` is either a pytree of ``fn``'s output structure, shapes and dtypes (the value
    returned when ``pred`` is false), or a callable taking the same ``operands`` (``otherwise(*operands)``:
    the false branch, e.g. one that passes a state in ``operands`` through without a second copy of it
    among the cond's operands).

    Unbatched, and under ``vmap`` while ``pred`` is unbatched, it IS that ``lax.cond`` (the same
    program, the same numbers). With a batched ``pred`` ``vmap`` would turn a cond into a select that
    computes ``fn`` for every element at every call: a sweep's state is batched over its runs, the
    update index included (:func:`jaxrl.trainer.vmapped`), so every run of a sweep took (and
    discarded) its gradient steps in each warm-up update, TD3's runs their actor step at every
    critic step, and every env of a sweep its reset at every step (:class:`jaxrl.wrappers.AutoReset`).
    Here (a ``jax.custom_batching.custom_vmap`` rule) the batch computes ``fn`` under a cond on
    ``any(pred)`` and keeps the false branch's value where ``pred`` is false: the runs of a sweep warm
    up together and count their steps alike, so it computes for all of them or for none; and the
    episodes of DM Control tasks end together (fixed lengths), so a sweep resets rarely.

    ``fn`` (and a callable ``otherwise``) must take every traced value it uses through ``operands``
    (a tuple; ``custom_vmap`` cannot see values a closure captures from an outer ``vmap``).
    Derivatives (``jax.grad``, ``jax.jvp``, under ``vmap`` too) are those of the plain ``lax.cond``
    (a ``jax.custom_jvp`` rule: ``custom_vmap`` alone is not differentiable), so an MJX env stays
    differentiable through its resets; a differentiated batch computes both branches, as ``vmap`` of a
    cond does.
    """
    branch = otherwise if callable(otherwise) else None
    other_value = () if branch else otherwise

    def cond(pred, operands, other_value):
        if branch:
            return jax.lax.cond(pred, fn, branch, *operands)
        return jax.lax.cond(pred, lambda ops, _: fn(*ops), lambda _, other: other, operands, other_value)

    @jax.custom_batching.custom_vmap
    def run(pred, operands, other_value):
        return cond(pred, operands, other_value)

    @run.def_vmap
    def batched(axis_size, in_batched, pred, operands, other_value):
        pred_batched, ops_batched, other_batched = in_batched
        if not pred_batched:  # what vmap does to the cond itself
            out = jax.vmap(cond, in_axes=(None, _axes(ops_batched), _axes(other_batched)), axis_size=axis_size)(
                pred, operands, other_value)
        else:
            if branch:  # out_axes=0 broadcasts what the branch leaves unbatched
                other = jax.vmap(branch, in_axes=_axes(tuple(ops_batched)), axis_size=axis_size)(*operands)
            else:
                other = jax.tree.map(lambda x, b: x if b else _broadcast(x, axis_size), other_value, other_batched)

            def taken():
                new = jax.vmap(fn, in_axes=_axes(tuple(ops_batched)), axis_size=axis_size)(*operands)
                return jax.tree.map(lambda n, o: jax.lax.select(_expand(pred, n.shape), n, o), new, other)

            out = jax.lax.cond(jnp.any(pred), taken, lambda: other)
        return out, jax.tree.map(lambda _: True, out)

    @jax.custom_jvp
    def differentiable(pred, operands, other_value):
        return run(pred, operands, other_value)

    @differentiable.defjvp
    def _jvp(primals, tangents):
        return jax.jvp(cond, primals, tangents)

    return differentiable(pred, operands, other_value)


def _axes(batched_flags):
    """vmap ``in_axes`` from a pytree of custom_vmap's batched flags."""
    return jax.tree.map(lambda b: 0 if b else None, batched_flags)


def _broadcast(x, size: int):
    return jax.lax.broadcast(x, (size,))


def _expand(pred: jax.Array, shape: tuple) -> jax.Array:
    """``pred [B]`` broadcast to ``shape`` ``[B, ...]`` (for ``lax.select``)."""
    return jnp.broadcast_to(jnp.reshape(pred, pred.shape + (1,) * (len(shape) - 1)), shape)
