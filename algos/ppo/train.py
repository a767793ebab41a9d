"""PPO as a pure ``make_train(config, env, env_params) -> train``.

One implementation for discrete and continuous actions: the action
distribution comes from the env's action spec (``jaxrl.distributions``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl import rollout as rollout_lib
from jaxrl.env import Env
from jaxrl.minibatch import flatten_time_batch, sgd_epochs
from jaxrl.networks import ActorCritic
from jaxrl.returns import gae
from jaxrl.spaces import Box, Discrete
from jaxrl.trainer import Trainer
from jaxrl.wrappers import RunningMeanStd, training_stack
from jaxrl.algos.ppo.config import ConfigError, PPOConfig, as_hparams
from jaxrl.algos.ppo.losses import Batch, ppo_loss


@struct.dataclass
class PPOState:
    """The full PPO training state (everything a checkpoint needs).

    Attributes:
      params: network parameters.
      opt_state: optimiser state.
      obs_stats: observation normaliser statistics.
      rollout: env states ``[B, ...]`` and current observations ``[B, obs_dim]``.
      key: PRNG key.
      update_step: int32, updates done so far.
      hparams: the traced hyperparameters of this run.
      meta_params: the learned-rule parameters (``None`` for plain PPO).
    """

    params: Any
    opt_state: Any
    obs_stats: RunningMeanStd
    rollout: rollout_lib.RolloutState
    key: jax.Array
    update_step: jax.Array
    hparams: Any
    meta_params: Any = None


def _is_image(env: Env) -> bool:
    """Image observations ``[H, W, C]`` (e.g. ``make(name, obs="pixels")``): a CNN torso, no normaliser."""
    return len(env.observation_spec.shape) == 3


def _check_env(env: Env) -> None:
    spec = env.action_spec
    if not isinstance(spec, (Box, Discrete)) or (isinstance(spec, Box) and len(spec.shape) != 1):
        raise ConfigError(f"PPO needs a Discrete or flat Box action spec; {env.name} has {spec!r}")
    if len(env.observation_spec.shape) not in (1, 3):
        raise ConfigError(f"PPO needs flat observations [d] or images [H, W, C]; {env.name} has shape "
                          f"{env.observation_spec.shape}")


def make_network(config: PPOConfig, env: Env) -> ActorCritic:
    """The actor-critic PPO builds for ``env``: ``apply(params, obs[..., *obs_shape]) -> (dist, value[...])``
    (a CNN torso for image observations)."""
    return ActorCritic(env.action_spec, config.hidden_sizes, config.activation, config.init_log_std, pixels=_is_image(env))


def make_train(config: PPOConfig, env: Env, env_params: Any) -> Trainer:
    """Build PPO's pure training function.

    Args:
      config: static :class:`PPOConfig` (validated on construction).
      env: an unbatched env (``jaxrl.envs.make``); PPO wraps it in
        AutoReset -> EpisodeStats -> VecEnv(config.num_envs).
      env_params: its params pytree (closed over: constant for the run).

    Returns:
      A :class:`jaxrl.trainer.Trainer` ``train(key, hparams, meta_params=None) ->
      (PPOState, metrics)``; ``hparams`` is a :class:`PPOHparams` (or dict of its
      fields), traced; metrics are ``[num_updates]`` arrays.
    """
    if not isinstance(config, PPOConfig):
        raise ConfigError(f"config must be a PPOConfig, got {type(config).__name__}")
    _check_env(env)
    spec = env.action_spec
    venv = training_stack(env, config.num_envs)
    network = make_network(config, env)
    obs_shape = env.observation_spec.shape

    # Images are scaled by the CNN torso, never by running statistics.
    normalize_obs = config.normalize_obs and not _is_image(env)

    def normalize(stats, obs):
        return stats.normalize(obs) if normalize_obs else obs

    def to_env_action(action):
        if isinstance(spec, Box) and spec.bounded:
            return jnp.clip(action, spec.low_array(), spec.high_array())
        return action

    def init(key, hparams, meta_params=None) -> PPOState:
        hparams = as_hparams(hparams)
        net_key, env_key, key = jax.random.split(key, 3)
        params = network.init(net_key, jnp.zeros(obs_shape, jnp.float32))
        opt_state = config.optimizer(hparams, meta_params, config).init(params)
        return PPOState(
            params=params,
            opt_state=opt_state,
            obs_stats=RunningMeanStd.create(obs_shape if normalize_obs else ()),
            rollout=rollout_lib.reset(env_key, venv, env_params),
            key=key,
            update_step=jnp.zeros((), jnp.int32),
            hparams=hparams,
            meta_params=meta_params,
        )

    def update(state: PPOState):
        hp = state.hparams
        key, rollout_key, sgd_key = jax.random.split(state.key, 3)
        progress = state.update_step.astype(jnp.float32) / config.num_updates

        def policy(k, obs):
            dist, value = network.apply(state.params, normalize(state.obs_stats, obs))
            action = dist.sample(k)
            return to_env_action(action), {"action": action, "log_prob": dist.log_prob(action), "value": value}

        rollout_state, traj = rollout_lib.rollout(rollout_key, venv, env_params, policy, state.rollout, config.num_steps)
        obs = normalize(state.obs_stats, traj.obs)
        # Values of the true next observations (final ones on episode ends): the critic alone.
        next_values = network.apply(state.params, normalize(state.obs_stats, traj.next_obs), method=ActorCritic.value)
        advantages, targets = gae(
            traj.reward * hp.reward_scale, traj.extras["value"], next_values,
            traj.terminated, traj.truncated, hp.gamma, hp.gae_lambda,
        )
        batch = flatten_time_batch(
            Batch(obs, traj.extras["action"], traj.extras["log_prob"], traj.extras["value"], advantages, targets)
        )
        tx = config.optimizer(hp, state.meta_params, config)

        def sgd_step(carry, minibatch):
            params, opt_state = carry
            grads, metrics = jax.grad(ppo_loss, has_aux=True)(
                params, network.apply, minibatch, hp, config, state.meta_params, progress
            )
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return (params, opt_state), {**metrics, "grad_norm": optax.global_norm(grads)}

        (params, opt_state), sgd_metrics = sgd_epochs(
            sgd_key, (state.params, state.opt_state), batch, sgd_step, config.update_epochs, config.num_minibatches
        )
        obs_stats = state.obs_stats.update(traj.obs) if normalize_obs else state.obs_stats
        done = jnp.logical_or(traj.terminated, traj.truncated)
        n_done = jnp.sum(done)
        metrics = {k: jnp.mean(v) for k, v in sgd_metrics.items()}
        metrics.update(
            episode_return=jnp.sum(traj.info["episode_return"] * done) / jnp.maximum(n_done, 1),
            episode_length=jnp.sum(traj.info["episode_length"] * done) / jnp.maximum(n_done, 1),
            episodes=n_done,
            reward=jnp.mean(traj.reward),
        )
        new_state = state.replace(
            params=params, opt_state=opt_state, obs_stats=obs_stats, rollout=rollout_state,
            key=key, update_step=state.update_step + 1,
        )
        return new_state, metrics

    def deterministic_policy(state: PPOState):
        def act(key, obs):
            dist, _ = network.apply(state.params, normalize(state.obs_stats, obs))
            return to_env_action(dist.mode())

        return act

    return Trainer(
        init=init,
        update=update,
        num_updates=config.num_updates,
        steps_per_update=config.batch_size,
        policy=deterministic_policy,
        config=config,
    )
