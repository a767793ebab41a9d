"""Evaluate a policy: one episode in each of ``num_episodes`` parallel envs, as one ``lax.scan``."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxrl.env import Env
from jaxrl.wrappers import VecEnv


def episode_returns(
    key: jax.Array, env: Env, env_params: Any, act: Callable, num_episodes: int, max_steps: int | None = None
) -> jax.Array:
    """Undiscounted return of one episode per env, ``[num_episodes]``.

    Args:
      key: PRNG key (env resets and a stochastic ``act``).
      env: an UNBATCHED env without auto-reset (e.g. from ``jaxrl.envs.make``).
      act: ``act(key, obs[num_episodes, ...]) -> action[num_episodes, ...]``.
      num_episodes: episodes run in parallel (static).
      max_steps: steps to simulate (static); defaults to the env's time limit
        (``env.max_steps``). Rewards after an episode ends are not counted.
    """
    if max_steps is None:
        max_steps = getattr(env, "max_steps", None)
        if max_steps is None:
            raise ValueError(f"{env.name} has no time limit: pass max_steps to episode_returns")
    venv = VecEnv(env, num_envs=num_episodes)
    reset_key, key = jax.random.split(key)
    state, ts = venv.reset(reset_key, env_params)

    def one_step(carry, step_key):
        state, obs, ret, active = carry
        act_key, env_key = jax.random.split(step_key)
        state, ts = venv.step(env_key, state, act(act_key, obs), env_params)
        ret = ret + jnp.where(active, ts.reward, 0.0)
        return (state, ts.obs, ret, active & ~ts.done), None

    init = (state, ts.obs, jnp.zeros(num_episodes, jnp.float32), jnp.ones(num_episodes, jnp.bool_))
    (_, _, ret, _), _ = jax.lax.scan(one_step, init, jax.random.split(key, max_steps))
    return ret


def random_policy(action_spec) -> Callable:
    """``act(key, obs[n, ...]) -> action[n, ...]`` drawn uniformly from a bounded ``action_spec``
    (``spec.sample``: uniform in a bounded Box, any of a Discrete's actions): the baseline a
    learning test compares a trained policy with."""

    def act(key, obs):
        return action_spec.sample(key, (jax.tree.leaves(obs)[0].shape[0],))

    return act


def trained_and_random_returns(
    key: jax.Array, env: Env, env_params: Any, act: Callable, num_episodes: int, max_steps: int | None = None
) -> tuple[jax.Array, jax.Array]:
    """:func:`episode_returns` of ``act`` and of :func:`random_policy` on the same reset states
    (same ``key``), ``([num_episodes], [num_episodes])``, from ONE compiled program."""
    rand = random_policy(env.action_spec)

    def returns(key, use_random):
        def either(k, obs):
            return jax.lax.cond(use_random, rand, act, k, obs)

        return episode_returns(key, env, env_params, either, num_episodes, max_steps)

    f = jax.jit(returns)
    return f(key, False), f(key, True)
