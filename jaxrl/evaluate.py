"""Evaluate a policy: one episode in each of ``num_episodes`` parallel envs, as one ``lax.scan``.

:func:`episode_scan` is THE episode loop: evaluation (:func:`episode_returns`) and video rendering
(:func:`jaxrl.video.episode_qpos`) both run it, acting through :class:`jaxrl.policy.Policy`.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxrl.env import Env
from jaxrl.policy import Policy, as_policy
from jaxrl.wrappers import VecEnv


def _horizon(env: Env, max_steps: int | None) -> int:
    if max_steps is None:
        max_steps = getattr(env, "max_steps", None)
        if max_steps is None:
            raise ValueError(f"{env.name} has no time limit: pass max_steps to episode_returns")
    return int(max_steps)


def episode_scan(key: jax.Array, venv: Env, env_params: Any, policy: Policy | Callable, num_steps: int,
                 record: Callable[[Any], Any] | None = None) -> dict:
    """Run ONE episode in each env of a batched env WITHOUT auto-reset, for ``num_steps`` (static) steps.

    Args:
      key: split into ``(reset_key, key)``; ``key`` gives one key per step, split into the
        policy's key and the env's key.
      venv: a batched env without auto-reset (e.g. :class:`jaxrl.wrappers.VecEnv` of a task), ``B`` envs.
      policy: a :class:`jaxrl.policy.Policy` (its carry starts at ``init_carry(B)``, ``first`` is
        True on the first step only) or a plain ``act(key, obs[B]) -> action[B]``.
      record: ``record(env_state) -> pytree`` kept after every step (e.g. joint positions).

    Returns:
      ``{"return": [B] undiscounted, rewards after an episode ended not counted, "reward": [T, B]
      (0 once ended), "valid": [T, B] bool (the step belongs to the episode), "start": record of the
      reset state, "record": [T, B, ...]}`` (the last two only with ``record``).
    """
    policy = as_policy(policy)
    reset_key, key = jax.random.split(key)
    state, ts = venv.reset(reset_key, env_params)
    batch = jax.tree.leaves(ts.obs)[0].shape[0]

    def one_step(carry, step_key):
        state, obs, first, policy_carry, ret, active = carry
        act_key, env_key = jax.random.split(step_key)
        action, policy_carry, _ = policy.step(act_key, policy_carry, obs, first)
        state, ts = venv.step(env_key, state, action, env_params)
        reward = jnp.where(active, ts.reward, 0.0)
        out = {"reward": reward, "valid": active}
        if record is not None:
            out["record"] = record(state)
        return (state, ts.obs, jnp.zeros_like(first), policy_carry, ret + reward, active & ~ts.done), out

    init = (state, ts.obs, jnp.ones((batch,), jnp.bool_), policy.init_carry(batch),
            jnp.zeros(batch, jnp.float32), jnp.ones(batch, jnp.bool_))
    (_, _, _, _, ret, _), steps = jax.lax.scan(one_step, init, jax.random.split(key, num_steps))
    out = {"return": ret, **steps}
    if record is not None:
        out["start"] = record(state)
    return out


def episode_returns(
    key: jax.Array, env: Env, env_params: Any, policy: Policy | Callable, num_episodes: int, max_steps: int | None = None
) -> jax.Array:
    """Undiscounted return of one episode per env, ``[num_episodes]``.

    Args:
      key: PRNG key (env resets and a stochastic policy).
      env: an UNBATCHED env without auto-reset (e.g. from ``jaxrl.envs.make``).
      policy: a :class:`jaxrl.policy.Policy` (e.g. a trainer's ``policy(state)``) or a plain
        ``act(key, obs[num_episodes, ...]) -> action[num_episodes, ...]``.
      num_episodes: episodes run in parallel (static).
      max_steps: steps to simulate (static); defaults to the env's time limit
        (``env.max_steps``). Rewards after an episode ends are not counted.
    """
    horizon = _horizon(env, max_steps)
    return episode_scan(key, VecEnv(env, num_envs=num_episodes), env_params, policy, horizon)["return"]


def random_policy(action_spec) -> Policy:
    """A stateless policy drawing actions uniformly from a bounded ``action_spec`` (``spec.sample``:
    uniform in a bounded Box, any of a Discrete's actions): the baseline a learning test compares a
    trained policy with."""

    def act(key, obs):
        return action_spec.sample(key, (jax.tree.leaves(obs)[0].shape[0],))

    return as_policy(act)


def trained_and_random_returns(
    key: jax.Array, env: Env, env_params: Any, policy: Policy | Callable, num_episodes: int, max_steps: int | None = None
) -> tuple[jax.Array, jax.Array]:
    """:func:`episode_returns` of ``policy`` and of :func:`random_policy` on the same reset states
    (same ``key``), ``([num_episodes], [num_episodes])``, from ONE compiled program. The random
    policy keeps ``policy``'s carry untouched."""
    policy, rand = as_policy(policy), random_policy(env.action_spec)

    def returns(key, use_random):
        def step(k, carry, obs, first):
            def trained():
                action, new_carry, _ = policy.step(k, carry, obs, first)
                return action, new_carry

            def random():
                return rand.step(k, carry, obs, first)[0], carry

            action, carry = jax.lax.cond(use_random, random, trained)
            return action, carry, {}

        return episode_returns(key, env, env_params, Policy(step, policy.init_carry), num_episodes, max_steps)

    f = jax.jit(returns)
    return f(key, False), f(key, True)


def seed_keys(key: jax.Array, seeds: int, first_seed: int = 0) -> jax.Array:
    """Run keys ``[seeds]``: seeds ``first_seed .. first_seed + seeds - 1`` of ``split(key, first_seed +
    seeds)``. With JAX's default ``jax_threefry_partitionable=True`` the split gives key ``i`` the same
    value at any count, so seed ``i`` run alone (``first_seed=i, seeds=1``) has the key it has in a
    longer curve (tested); its numbers equal that run's to rounding (a vmap of another width rounds
    differently)."""
    if first_seed < 0 or seeds < 1:
        raise ValueError(f"seed_keys needs first_seed >= 0 and seeds >= 1, got {first_seed} and {seeds}")
    return jax.random.split(key, first_seed + seeds)[first_seed:]


def evaluated_run(trainer, env: Env, env_params: Any, hparams: Any, seeds: int, evals: int = 10, episodes: int = 16,
                  key: jax.Array | None = None, log: Callable[[str], None] | None = print, first_seed: int = 0) -> dict:
    """``seeds`` runs of ``trainer`` vmapped into one program, run in ``evals`` compiled chunks; after
    each chunk, every seed's deterministic policy is evaluated (mean return of ``episodes`` episodes,
    outside the timed run): the learning curves of benchmarks and slow tests.

    ``hparams`` are one run's (broadcast to every seed); the seeds' keys split from ``key``
    (default ``jax.random.key(0)``) by :func:`seed_keys` from ``first_seed`` on. Returns ``{"env_steps":
    [evals] (per run, env steps of the env as made), "returns": [evals, seeds], "compile_s", "run_s", "state"}``."""
    import numpy as np

    from jaxrl import runner, trainer as trainer_lib

    batched = trainer_lib.vmapped(trainer, seeds)
    evaluate_all = jax.jit(jax.vmap(lambda s, k: episode_returns(k, env, env_params, trainer.policy(s), episodes).mean(),
                                    in_axes=(0, None)))
    steps, returns = [], []

    def on_progress(p):
        steps.append(p.env_steps // seeds)
        returns.append(np.asarray(evaluate_all(p.state, jax.random.key(p.updates_done))))
        if log is not None:
            log(f"{steps[-1]:>8} steps of the env as made (x action repeat = control steps): eval "
                f"{returns[-1].round(1)}  ({p.elapsed_s:.0f} s)")

    hp = jax.tree.map(lambda x: np.full((seeds,), x, np.float32), hparams)
    keys = seed_keys(jax.random.key(0) if key is None else key, seeds, first_seed)
    res = runner.run(batched, keys, hp, chunk_updates=trainer.num_updates // evals, on_progress=on_progress)
    return {"env_steps": np.array(steps), "returns": np.stack(returns), "compile_s": res.compile_s, "run_s": res.run_s,
            "state": res.state}
