"""Collect experience with one ``lax.scan`` over time, acting through :class:`jaxrl.policy.Policy`."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.configs import ConfigError, check_count, check_positive_ints

from jaxrl.env import Env, TimeStep
from jaxrl.policy import Policy, as_policy


class Transition(NamedTuple):
    """One step of a batch of envs. Stacked by :func:`rollout` into ``[T, B, ...]``.

    Attributes:
      obs: observation the action was chosen from.
      action: action taken.
      reward, terminated, truncated: as in :class:`jaxrl.env.TimeStep`.
      next_obs: the TRUE next observation (the final observation of the
        episode on its last step, from ``info["final_obs"]``), for bootstrapping.
      info: the env's info dict (episode statistics etc.), minus ``final_obs``.
      extras: whatever the policy returned beside the action (log-prob, value...).
      first: bool, ``obs`` is the first observation of an episode.
    """

    obs: Any
    action: Any
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    next_obs: Any
    info: dict
    extras: Any
    first: jax.Array = None


class RolloutState(NamedTuple):
    """Where a rollout continues from: the env states ``[B, ...]``, the current observations
    ``[B, ...]``, ``first[B]`` (the current observation starts an episode) and the policy's carry."""

    env_state: Any
    obs: Any
    first: jax.Array = None
    carry: Any = ()


def rollout(
    key: jax.Array, env: Env, env_params: Any, policy: Policy, state: RolloutState, num_steps: int
) -> tuple[RolloutState, Transition]:
    """Run ``policy`` in a batched, auto-resetting ``env`` for ``num_steps`` (static) steps.

    Args:
      key: PRNG key, split per step into the policy's key and the env's key.
      env: a batched env (e.g. :func:`jaxrl.wrappers.training_stack`) whose
        ``info`` carries ``final_obs`` (:class:`jaxrl.wrappers.AutoReset`).
      env_params: the env params pytree.
      policy: a :class:`jaxrl.policy.Policy` (``step(key, carry, obs[B], first[B]) -> (action[B],
        carry, extras)``), or a plain ``act(key, obs) -> action``.
      state: env states, current observations, ``first`` flags and the policy's carry.

    Returns:
      The new :class:`RolloutState` (its carry is the policy's after the last step) and the
      time-major :class:`Transition` ``[T, B, ...]``.
    """
    policy = as_policy(policy)

    def one_step(carry: RolloutState, step_key):
        policy_key, env_key = jax.random.split(step_key)
        action, policy_carry, extras = policy.step(policy_key, carry.carry, carry.obs, carry.first)
        env_state, ts = env.step(env_key, carry.env_state, action, env_params)
        info = dict(ts.info)
        next_obs = info.pop("final_obs")
        tr = Transition(carry.obs, action, ts.reward, ts.terminated, ts.truncated, next_obs, info, extras, carry.first)
        # An episode that ended was auto-reset: the next observation starts a new one.
        return RolloutState(env_state, ts.obs, jnp.logical_or(ts.terminated, ts.truncated), policy_carry), tr

    return jax.lax.scan(one_step, state, jax.random.split(key, num_steps))


def reset(key: jax.Array, env: Env, env_params: Any, policy: Policy | None = None) -> RolloutState:
    """Reset a batched ``env``: every observation is the first of an episode; the carry is
    ``policy.init_carry(B)`` (``()`` without a policy, or for a stateless one)."""
    env_state, ts = env.reset(key, env_params)
    batch = jax.tree.leaves(ts.obs)[0].shape[0]
    carry = () if policy is None else as_policy(policy).init_carry(batch)
    return RolloutState(env_state, ts.obs, jnp.ones((batch,), jnp.bool_), carry)


@dataclasses.dataclass(frozen=True)
class OnPolicyConfig:
    """Static settings of a learner that collects a rollout and takes minibatch epochs over it
    (PPO, PQN; their configs subclass this).

    Attributes:
      total_timesteps: env steps of the whole run; ``num_updates =
        total_timesteps // (num_envs * num_steps)``.
      num_envs: parallel envs per run.
      num_steps: rollout length per update (time axis ``T``).
      num_minibatches: minibatches per epoch; must divide ``num_envs * num_steps``.
      update_epochs: passes over each rollout.
    """

    total_timesteps: int = 524_288
    num_envs: int = 32
    num_steps: int = 64
    num_minibatches: int = 4
    update_epochs: int = 4

    def __post_init__(self):
        name = type(self).__name__
        check_positive_ints(self, ("total_timesteps", "num_envs", "num_steps", "num_minibatches", "update_epochs"))
        if self.batch_size % self.num_minibatches:
            raise ConfigError(f"{name}: num_envs * num_steps (= {self.batch_size}) must be divisible by "
                              f"num_minibatches (= {self.num_minibatches})")
        if self.total_timesteps < self.batch_size:
            raise ConfigError(f"{name}.total_timesteps (= {self.total_timesteps}) is less than one update's "
                              f"num_envs * num_steps (= {self.batch_size})")
        check_count(self, "num_envs * num_steps", self.batch_size)
        check_count(self, "the run's optimiser steps (updates x update_epochs x num_minibatches)", self.num_optimizer_steps)

    @property
    def batch_size(self) -> int:
        """Env steps per update, ``num_envs * num_steps``."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // self.batch_size

    @property
    def num_optimizer_steps(self) -> int:
        return self.num_updates * self.update_epochs * self.num_minibatches

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


__all__ = ["OnPolicyConfig", "Transition", "RolloutState", "rollout", "reset", "TimeStep"]
