"""PPO as a pure ``make_train(config, env, env_params) -> train``.

One implementation for discrete and continuous actions: the action distribution comes from the
env's action spec (``jaxrl.distributions``). An update is three named steps built from
:class:`PPOParts` (which the meta-gradient trainer reuses for its validation rollouts):
:meth:`PPOParts.collect` (a rollout of the sampling policy), :meth:`PPOParts.advantages` (GAE
from the true next observations) and the SGD epochs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl import rollout as rollout_lib
from jaxrl.env import Env
from jaxrl.minibatch import flatten_time_batch, sgd_epochs
from jaxrl.policy import Policy
from jaxrl.returns import gae
from jaxrl.spaces import Box, Discrete
from jaxrl.trainer import Trainer, episode_metrics
from jaxrl.wrappers import RunningMeanStd, training_stack
from jaxrl.algos.ppo.config import ConfigError, PPOConfig, as_hparams
from jaxrl.algos.ppo.losses import Batch, ppo_loss
from jaxrl.algos.ppo.networks import ActorCritic


@struct.dataclass
class PPOState:
    """The full PPO training state (everything a checkpoint needs).

    Attributes:
      params: network parameters.
      opt_state: optimiser state.
      obs_stats: observation normaliser statistics.
      rollout: env states ``[B, ...]``, current observations ``[B, ...]`` and ``first`` flags ``[B]``.
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


def check_env(env: Env) -> None:
    """PPO takes Discrete or flat Box actions and flat or image observations; a ConfigError otherwise."""
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


@dataclasses.dataclass(frozen=True, eq=False)
class PPOParts:
    """PPO's pieces for one env: network, batched env, observation normaliser, policies, collection.

    Attributes:
      config: the static :class:`PPOConfig`.
      network: :func:`make_network`'s actor-critic.
      venv: ``training_stack(env, config.num_envs)`` (auto-reset, episode statistics).
      env_params: the env's params (closed over).
      normalize_obs: observations are normalised by running statistics (never images).
    """

    config: PPOConfig
    env: Env
    env_params: Any
    network: ActorCritic
    venv: Env
    normalize_obs: bool

    def normalize(self, stats: RunningMeanStd, obs):
        """``obs`` as the network sees it (images are left alone: the CNN torso scales them)."""
        return stats.normalize(obs) if self.normalize_obs else obs

    def to_env_action(self, action):
        spec = self.env.action_spec
        if isinstance(spec, Box) and spec.bounded:
            return jnp.clip(action, spec.low_array(), spec.high_array())
        return action

    def behaviour(self, params, obs_stats) -> Policy:
        """The sampling policy; extras: the raw ``action``, its ``log_prob`` and the critic's ``value``."""

        def step(key, carry, obs, first):
            dist, value = self.network.apply(params, self.normalize(obs_stats, obs))
            action = dist.sample(key)
            return self.to_env_action(action), carry, {"action": action, "log_prob": dist.log_prob(action), "value": value}

        return Policy(step)

    def greedy(self, params, obs_stats) -> Policy:
        """The deterministic (mode) policy, for evaluation."""

        def step(key, carry, obs, first):
            dist, _ = self.network.apply(params, self.normalize(obs_stats, obs))
            return self.to_env_action(dist.mode()), carry, {}

        return Policy(step)

    def collect(self, state: PPOState, key) -> tuple[rollout_lib.RolloutState, rollout_lib.Transition]:
        """``config.num_steps`` steps of the sampling policy from ``state.rollout``: ``[T, B, ...]``."""
        policy = self.behaviour(state.params, state.obs_stats)
        return rollout_lib.rollout(key, self.venv, self.env_params, policy, state.rollout, self.config.num_steps)

    def advantages(self, state: PPOState, traj: rollout_lib.Transition, hparams) -> tuple[jax.Array, jax.Array]:
        """GAE ``(advantages, value_targets)`` ``[T, B]``, bootstrapping from the critic's values of the
        TRUE next observations (the final ones where an episode ended)."""
        next_obs = self.normalize(state.obs_stats, traj.next_obs)
        next_values = self.network.apply(state.params, next_obs, method=ActorCritic.value)
        return gae(traj.reward * hparams.reward_scale, traj.extras["value"], next_values,
                   traj.terminated, traj.truncated, hparams.gamma, hparams.gae_lambda)


def make_parts(config: PPOConfig, env: Env, env_params: Any) -> PPOParts:
    """Check ``env`` and build :class:`PPOParts` (nothing is compiled)."""
    if not isinstance(config, PPOConfig):
        raise ConfigError(f"config must be a PPOConfig, got {type(config).__name__}")
    check_env(env)
    return PPOParts(config, env, env_params, make_network(config, env), training_stack(env, config.num_envs),
                    config.normalize_obs and not _is_image(env))


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
    parts = make_parts(config, env, env_params)
    obs_shape = env.observation_spec.shape

    def init(key, hparams, meta_params=None) -> PPOState:
        hparams = as_hparams(hparams)
        net_key, env_key, key = jax.random.split(key, 3)
        params = parts.network.init(net_key, jnp.zeros(obs_shape, jnp.float32))
        return PPOState(
            params=params,
            opt_state=config.optimizer(hparams, meta_params, config).init(params),
            obs_stats=RunningMeanStd.create(obs_shape if parts.normalize_obs else ()),
            rollout=rollout_lib.reset(env_key, parts.venv, env_params),
            key=key,
            update_step=jnp.zeros((), jnp.int32),
            hparams=hparams,
            meta_params=meta_params,
        )

    def sgd(state: PPOState, key, batch: Batch, progress):
        hp, tx = state.hparams, config.optimizer(state.hparams, state.meta_params, config)

        def sgd_step(carry, minibatch):
            params, opt_state = carry
            grads, metrics = jax.grad(ppo_loss, has_aux=True)(
                params, parts.network.apply, minibatch, hp, config, state.meta_params, progress
            )
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return (params, opt_state), {**metrics, "grad_norm": optax.global_norm(grads)}

        return sgd_epochs(key, (state.params, state.opt_state), batch, sgd_step, config.update_epochs, config.num_minibatches)

    def update(state: PPOState):
        key, rollout_key, sgd_key = jax.random.split(state.key, 3)
        progress = state.update_step.astype(jnp.float32) / config.num_updates
        rollout_state, traj = parts.collect(state, rollout_key)
        advantages, targets = parts.advantages(state, traj, state.hparams)
        extras = traj.extras
        batch = flatten_time_batch(Batch(parts.normalize(state.obs_stats, traj.obs), extras["action"], extras["log_prob"],
                                         extras["value"], advantages, targets))
        (params, opt_state), sgd_metrics = sgd(state, sgd_key, batch, progress)
        obs_stats = state.obs_stats.update(traj.obs) if parts.normalize_obs else state.obs_stats
        metrics = {k: jnp.mean(v) for k, v in sgd_metrics.items()}
        metrics.update(episode_metrics(traj))
        new_state = state.replace(
            params=params, opt_state=opt_state, obs_stats=obs_stats, rollout=rollout_state,
            key=key, update_step=state.update_step + 1,
        )
        return new_state, metrics

    return Trainer(
        init=init,
        update=update,
        num_updates=config.num_updates,
        steps_per_update=config.batch_size,
        policy=lambda state: parts.greedy(state.params, state.obs_stats),
        config=config,
        trainable=lambda state: (state.params, state.opt_state, state.obs_stats),
    )
