"""Collect experience with one ``lax.scan`` over time."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax

from jaxrl.env import Env, TimeStep


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
    """

    obs: Any
    action: Any
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    next_obs: Any
    info: dict
    extras: Any


class RolloutState(NamedTuple):
    env_state: Any
    obs: Any


Policy = Callable[[jax.Array, Any], tuple[Any, Any]]  # (key, obs[B]) -> (action[B], extras)


def rollout(
    key: jax.Array, env: Env, env_params: Any, policy: Policy, state: RolloutState, num_steps: int
) -> tuple[RolloutState, Transition]:
    """Run ``policy`` in a batched, auto-resetting ``env`` for ``num_steps`` (static) steps.

    Args:
      key: PRNG key, split per step for the policy and the env.
      env: a batched env (e.g. :func:`jaxrl.wrappers.training_stack`) whose
        ``info`` carries ``final_obs`` (:class:`jaxrl.wrappers.AutoReset`).
      env_params: the env params pytree.
      policy: ``policy(key, obs[B, ...]) -> (action[B, ...], extras)``.
      state: env state and the current observation.

    Returns:
      The new :class:`RolloutState` and the time-major :class:`Transition` ``[T, B, ...]``.
    """

    def one_step(carry: RolloutState, step_key):
        policy_key, env_key = jax.random.split(step_key)
        action, extras = policy(policy_key, carry.obs)
        env_state, ts = env.step(env_key, carry.env_state, action, env_params)
        info = dict(ts.info)
        next_obs = info.pop("final_obs")
        tr = Transition(carry.obs, action, ts.reward, ts.terminated, ts.truncated, next_obs, info, extras)
        return RolloutState(env_state, ts.obs), tr

    return jax.lax.scan(one_step, state, jax.random.split(key, num_steps))


def reset(key: jax.Array, env: Env, env_params: Any) -> RolloutState:
    env_state, ts = env.reset(key, env_params)
    return RolloutState(env_state, ts.obs)


__all__ = ["Transition", "RolloutState", "rollout", "reset", "TimeStep"]
