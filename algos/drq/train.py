"""DrQ-v2 (Yarats et al. 2022) as ``make_train(config, env, env_params)``: a CNN encoder, twin critics
and a deterministic actor, learning from randomly shifted images and ``n``-step returns.

The loop (acting, replay, warm-up, gradient steps per agent step) is the shared
:func:`jaxrl.offpolicy.make_train`; this is DrQ-v2's :class:`jaxrl.offpolicy.Agent`. One gradient step:

1. draw ``n``-step transitions (:meth:`jaxrl.replay.Replay.sample_n_step`; frames stored once, as
   uint8, stacks rebuilt at the draw) and shift every image by its own random offset
   (:func:`jaxrl.augment.random_shift`; the observation and the next one independently);
2. critics: regress ``Q(enc(aug(s)), a)`` on ``R^(n) + gamma^n min Q'(enc(aug(s_n)), mu(.) + clip(eps))``,
   the smoothing noise being the exploration std of the moment; the encoder learns from this loss
   ONLY (one optimiser over ``{"encoder", "critic"}``);
3. actor: TD3's loss on the updated critics, on the encoder's features with the gradient stopped;
4. a Polyak step of the target critics (the target has no encoder of its own: DrQ-v2 encodes the
   next observation with the online encoder).

Exploration: the actor's action plus Gaussian noise whose std moves linearly from
``explore_noise`` to ``explore_noise_final`` (TD3's :func:`jaxrl.algos.td3.losses.explore`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl import offpolicy
from jaxrl.augment import random_shift
from jaxrl.configs import ConfigError
from jaxrl.env import Env, require_spaces
from jaxrl.networks import check_image_fits
from jaxrl.optim import gradient_step, polyak
from jaxrl.trainer import Trainer
from jaxrl.algos.td3.losses import exploration_std, explore
from jaxrl.algos.drq import losses
from jaxrl.algos.drq.config import DrQConfig, as_hparams
from jaxrl.algos.drq.networks import Networks, make_networks


@struct.dataclass
class DrQAgentState:
    """Attributes: ``encoder``, ``actor``, ``critic`` (leaves ``[E, ...]``), ``target_critic`` (params),
    ``critic_opt`` (the optimiser of ``{"encoder", "critic"}``), ``actor_opt``, ``step`` (int32
    gradient steps taken)."""

    encoder: Any
    actor: Any
    critic: Any
    target_critic: Any
    critic_opt: Any
    actor_opt: Any
    step: jax.Array


def check_env(env: Env) -> None:
    """A flat, bounded Box action space; images ``[H, W, C]`` (or flat observations)."""
    require_spaces(env, "DrQ-v2", discrete=False, obs_ndims=(1, 3), bounded=True)


def augment(config: DrQConfig, pixels: bool, key, obs):
    """``obs[N, ...]`` randomly shifted (images with ``augment_pad > 0``), else as it is."""
    return random_shift(key, obs, config.augment_pad) if pixels else obs


def features(nets: Networks, agent: DrQAgentState, obs) -> jax.Array:
    """The encoder's features with the gradient stopped: what the actor sees (the actor's loss never
    reaches the encoder)."""
    return jax.lax.stop_gradient(nets.encoder.apply(agent.encoder, obs))


def critic_step(nets: Networks, spec, agent: DrQAgentState, hp, tx, obs, batch, next_obs, std, key):
    """One step of the encoder and the critics on the ``n``-step target (see the module docstring).
    Returns ``(agent, metrics, h)``, ``h`` the encoder's features of ``obs`` before the step."""
    h_next = features(nets, agent, next_obs)
    next_action = losses.smoothed_target_action(spec, nets.actor.apply(agent.actor, h_next), key, std, hp.noise_clip)
    target = losses.n_step_target(batch.reward, batch.discount, nets.critic.apply(agent.target_critic, h_next, next_action))

    def loss(p):
        h = nets.encoder.apply(p["encoder"], obs)
        value, metrics = losses.critic_loss(nets.critic.apply(p["critic"], h, batch.action), target, batch.valid)
        return value, (metrics, h)

    params, opt, (metrics, h) = gradient_step(tx, {"encoder": agent.encoder, "critic": agent.critic}, agent.critic_opt, loss)
    agent = agent.replace(encoder=params["encoder"], critic=params["critic"], critic_opt=opt)
    return agent, metrics, h  # a value of the step, outside any gradient: the actor cannot reach the encoder


def actor_step(nets: Networks, agent: DrQAgentState, tx, h, valid) -> tuple[DrQAgentState, dict]:
    """Improve the actor on features ``h`` (no gradient to the encoder) against the current critics."""
    params, opt, metrics = gradient_step(
        tx, agent.actor, agent.actor_opt,
        lambda p: losses.actor_loss(nets.critic.apply(agent.critic, h, nets.actor.apply(p, h)), valid))
    return agent.replace(actor=params, actor_opt=opt), metrics


def make_agent(config: DrQConfig, env: Env) -> offpolicy.Agent:
    """DrQ-v2's :class:`jaxrl.offpolicy.Agent` for ``env`` (images ``[H, W, C]`` or flat observations,
    a Box of actions)."""
    nets = make_networks(config, env)
    spec = env.action_spec
    pixels = len(env.observation_spec.shape) == 3
    obs0 = jnp.zeros((1,) + env.observation_spec.shape, env.observation_spec.dtype)
    act0 = jnp.zeros((1,) + spec.shape, jnp.float32)

    def init(key, hp, meta_params=None) -> DrQAgentState:
        enc_key, actor_key, critic_key = jax.random.split(key, 3)
        enc = nets.encoder.init(enc_key, obs0)
        h0 = nets.encoder.apply(enc, obs0)
        a, c = nets.actor.init(actor_key, h0), nets.critic.init(critic_key, h0, act0)
        tx = config.optimizer(hp, meta_params, config)
        return DrQAgentState(enc, a, c, c, tx.init({"encoder": enc, "critic": c}), tx.init(a), jnp.zeros((), jnp.int32))

    def progress(step):
        """The fraction of the run a gradient step falls in (for the noise schedule; the pretraining burst
        at the first learning update counts as that update)."""
        return (config.warmup_updates + jnp.maximum(step - config.pretrain_steps, 0) // config.grad_steps) / config.num_updates

    def learn(agent, hp, meta_params, batch, key):
        obs_key, next_key, noise_key = jax.random.split(key, 3)
        obs, next_obs = augment(config, pixels, obs_key, batch.obs), augment(config, pixels, next_key, batch.next_obs)
        tx = config.optimizer(hp, meta_params, config)
        std = exploration_std(hp, progress(agent.step))
        agent, critic_metrics, h = critic_step(nets, spec, agent, hp, tx, obs, batch, next_obs, std, noise_key)
        agent, actor_metrics = actor_step(nets, agent, tx, h, batch.valid)
        agent = agent.replace(target_critic=polyak(agent.target_critic, agent.critic, hp.tau), step=agent.step + 1)
        return agent, {**critic_metrics, **actor_metrics, "explore_std": std,
                       "loss": critic_metrics["critic_loss"] + actor_metrics["actor_loss"]}

    def act(agent, obs):
        return nets.actor.apply(agent.actor, nets.encoder.apply(agent.encoder, obs))

    return offpolicy.Agent(
        init=init,
        explore=offpolicy.stateless_explore(lambda agent, hp, key, obs, progress: explore(spec, act(agent, obs), key, hp, progress)),
        greedy=offpolicy.stateless_greedy(lambda agent, key, obs: act(agent, obs)),
        learn=learn,
        sample=lambda buf, replay, key, n, hp: buf.sample_n_step(replay, key, n, config.n_step, hp.gamma),
        sample_length=config.n_step + 1,
    )


def make_train(config: DrQConfig, env: Env, env_params: Any) -> Trainer:
    """Build DrQ-v2's pure training function.

    Args:
      config: static :class:`DrQConfig`.
      env: an unbatched env with images ``[H, W, C]`` (``jaxrl.envs.make(name, obs="pixels",
        frame_stack=3, action_repeat=2)``) or flat observations, and bounded Box actions.
      env_params: its params (closed over).

    Returns:
      A :class:`jaxrl.trainer.Trainer`: ``train(key, hparams, meta_params=None) -> (OffPolicyState,
      metrics)``; ``hparams`` a :class:`DrQHparams` (or dict), traced; metrics ``[num_updates]``:
      ``loss``, ``critic_loss``, ``q``, ``actor_loss``, ``explore_std`` (0 during warm-up),
      ``learning``, and the episode metrics.
    """
    if not isinstance(config, DrQConfig):
        raise ConfigError(f"config must be a DrQConfig, got {type(config).__name__}")
    check_env(env)
    check_image_fits("DrQ-v2", env.observation_spec.shape, config.conv_kernels, config.conv_strides)
    if len(env.observation_spec.shape) == 3 and config.augment_pad >= min(env.observation_spec.shape[:2]):
        raise ConfigError(f"DrQConfig.augment_pad (= {config.augment_pad}) must be smaller than the "
                          f"{env.observation_spec.shape[0]}x{env.observation_spec.shape[1]} images")
    return offpolicy.make_train(config, env, env_params, make_agent(config, env), as_hparams)
