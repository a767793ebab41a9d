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

    Unbatched, and under ``vmap`` while ``pred`` is unbatched, it computes what that ``lax.cond``
    computes (the same numbers). With a batched ``pred`` ``vmap`` would turn a cond into a select that
    computes ``fn`` for every element at every call: a sweep's state is batched over its runs, the
    update index included (:func:`jaxrl.trainer.vmapped`), so every run of a sweep took (and
    discarded) its gradient steps in each warm-up update, TD3's runs their actor step at every
    critic step, and every env of a sweep its reset at every step (:class:`jaxrl.wrappers.AutoReset`).
    Here the cond's predicate is ``pred`` reduced by ``any`` over every batch axis a ``vmap`` gives it
    (a ``jax.custom_batching.custom_vmap`` rule on the predicate alone), and the taken branch keeps
    the false branch's value where ``pred`` is false (a select): the batch computes ``fn`` for all
    its elements or for none. The runs of a sweep warm up together and count their steps alike, and
    the episodes of DM Control tasks end together (fixed lengths), so a sweep skips as often as one
    run does; an env whose episodes end at other times makes the whole batch compute ``fn`` then.

    ``fn`` and ``otherwise`` are ordinary branches of a ``lax.cond``: they may close over traced
    values, ``jax.grad`` / ``jax.jvp`` / ``vmap`` compose in any order with JAX's own rules for
    ``cond`` (the ``custom_vmap`` rules see only the boolean predicate, which has no derivative), and
    ``checkify`` checks inside them are reported (as under ``vmap`` of a ``lax.cond``, a batch that
    computes ``fn`` checks every element's operands). As JAX's batched cond does, the taken branch
    stops the gradient of its operands at the elements whose value it discards.
    """
    branch = otherwise if callable(otherwise) else None
    other_value = () if branch else otherwise

    def other_fn(ops, other):
        return branch(*ops) if branch else other

    def taken(ops, other):
        keep = _taken_mask(pred)  # True unbatched (the branch runs only where pred); per element under vmap
        new = fn(*_guard(keep, ops))
        return _select(keep, new, other_fn(*_guard(~keep, (ops, other))))

    return jax.lax.cond(_any_over_batch(pred), taken, other_fn, operands, other_value)


@jax.custom_batching.custom_vmap
def _any_over_batch(pred: jax.Array) -> jax.Array:
    """``pred`` itself; under ``vmap``, ``any`` over every batch axis it has (an unbatched predicate)."""
    return pred


@_any_over_batch.def_vmap
def _any_over_batch_rule(axis_size, in_batched, pred):
    # Handed to the level around this vmap again, so nested vmaps (runs around envs) reduce every axis.
    return _any_over_batch(jnp.any(pred) if in_batched[0] else pred), False


@jax.custom_batching.custom_vmap
def _taken_mask(pred: jax.Array) -> jax.Array:
    """Where the taken branch of :func:`compute_if` keeps its result: everywhere unbatched (the branch
    runs only where ``pred``; a constant, so the select folds away), ``pred`` per element under a
    ``vmap`` that batches it."""
    return jnp.ones_like(pred)


@_taken_mask.def_vmap
def _taken_mask_rule(axis_size, in_batched, pred):
    if in_batched[0]:
        return pred, True
    return _taken_mask(pred), False  # maybe batched by a vmap around this one


@jax.custom_jvp
def _guard(keep: jax.Array, tree):
    """``tree`` itself (no copy), whose float leaves carry no derivative where ``keep`` is false (JAX's
    guard in a batched cond: a discarded branch must not send NaN or inf back through ``grad``). An
    identity when not differentiated, so a sweep does not copy a replay buffer to guard it."""
    return tree


@_guard.defjvp
def _guard_jvp(primals, tangents):
    (keep, tree), (_, t_tree) = primals, tangents

    def mask(x, t):
        if not jnp.issubdtype(jnp.result_type(x), jnp.inexact):
            return t  # float0: no derivative anyway
        return jax.lax.select(_expand(keep, jnp.shape(x)), t, jnp.zeros_like(t))

    return tree, jax.tree.map(mask, tree, t_tree)


def _select(pred: jax.Array, on_true, on_false):
    """Leaf by leaf ``on_true`` where ``pred`` (``[]`` or the leaves' leading ``[B]``), else ``on_false``."""
    return jax.tree.map(lambda n, o: jax.lax.select(_expand(pred, n.shape), n, o), on_true, on_false)


def _expand(pred: jax.Array, shape: tuple) -> jax.Array:
    """``pred`` (``[]`` or ``[B]``) broadcast to ``shape`` (``[B, ...]``), for ``lax.select``."""
    return jnp.broadcast_to(jnp.reshape(pred, pred.shape + (1,) * (len(shape) - 1)), shape)
