"""The acting seam: a policy that may carry state from one env step to the next.

A planner warm-starts from its previous plan and a recurrent agent keeps its latent, so acting is
two pure functions rather than one::

    carry = policy.init_carry(batch)                                   # leaves [B, ...]
    action, carry, extras = policy.step(key, carry, obs, first)        # obs [B, ...], first [B] bool

``first[b]`` is True on the first step of an episode (after a reset, or an auto-reset inside a
rollout): a stateful policy resets its carry there. A stateless policy (PPO, SAC...) has the empty
carry ``()`` and ignores ``first``. The rollout (:mod:`jaxrl.rollout`), evaluation
(:mod:`jaxrl.evaluate`), video rendering (:mod:`jaxrl.video`) and every trainer's ``policy(state)``
use this one form. ``extras`` is whatever the policy reports beside the action (log-probabilities,
values; ``{}`` when nothing).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp


def no_carry(batch: int) -> tuple:
    """The carry of a stateless policy: ``()`` (no leaves, so it costs nothing in a state or checkpoint)."""
    return ()


@dataclasses.dataclass(frozen=True, eq=False)
class Policy:
    """A batched policy with a carry.

    Attributes:
      step: ``step(key, carry, obs[B, ...], first[B]) -> (action[B, ...], carry, extras)``.
      init_carry: ``init_carry(B) -> carry`` (``B`` static); default :func:`no_carry`.
    """

    step: Callable[[jax.Array, Any, Any, jax.Array], tuple[Any, Any, Any]]
    init_carry: Callable[[int], Any] = no_carry


def stateless(act: Callable[[jax.Array, Any], Any]) -> Policy:
    """A :class:`Policy` from ``act(key, obs[B, ...]) -> action[B, ...]`` (no carry, no extras)."""

    def step(key, carry, obs, first):
        return act(key, obs), carry, {}

    return Policy(step)


def as_policy(policy: Policy | Callable) -> Policy:
    """``policy`` itself, or :func:`stateless` of a plain ``act(key, obs) -> action`` function."""
    if isinstance(policy, Policy):
        return policy
    if callable(policy):
        return stateless(policy)
    raise TypeError(f"expected a jaxrl.policy.Policy or a function act(key, obs) -> action, got {type(policy).__name__}")


def reset_where(first: jax.Array, fresh: Any, carry: Any) -> Any:
    """``fresh`` where ``first[b]`` else ``carry``, leaf by leaf (leaves ``[B, ...]``): how a stateful
    policy restarts its carry at the first step of an episode."""

    def pick(a, b):
        c = jnp.reshape(first, first.shape + (1,) * (jnp.ndim(a) - first.ndim))
        return jnp.where(c, a, b)

    return jax.tree.map(pick, fresh, carry)


__all__ = ["Policy", "as_policy", "no_carry", "reset_where", "stateless"]
