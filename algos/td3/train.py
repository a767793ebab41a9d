"""TD3 (twin critics, target policy smoothing, delayed actor) as ``make_train(config, env, env_params)``.

The loop is :func:`jaxrl.offpolicy.make_train`; this is TD3's :class:`jaxrl.offpolicy.Agent`. One
gradient step updates the critics; every ``policy_delay``-th one also updates the actor (on the
updated critics) and moves the target actor and critics by Polyak averaging.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl import offpolicy
from jaxrl.configs import ConfigError
from jaxrl.env import Env, require_spaces
from jaxrl.losses import ensemble_td_loss, td_target
from jaxrl.optim import apply_gradients, polyak
from jaxrl.replay import masked_mean
from jaxrl.trainer import Trainer
from jaxrl.algos.td3 import losses
from jaxrl.algos.td3.config import TD3Config, as_hparams
from jaxrl.algos.td3.networks import make_networks


@struct.dataclass
class TD3AgentState:
    """Attributes: ``actor``, ``critic`` (leaves ``[E, ...]``) and their targets (params), their
    optimiser states, ``step`` (int32 gradient steps taken)."""

    actor: Any
    critic: Any
    target_actor: Any
    target_critic: Any
    actor_opt: Any
    critic_opt: Any
    step: jax.Array


def check_env(env: Env) -> None:
    """TD3 needs a flat, bounded Box action space and flat observations."""
    require_spaces(env, "TD3", discrete=False, bounded=True)


def make_agent(config: TD3Config, env: Env) -> offpolicy.Agent:
    actor, critic = make_networks(config, env)
    spec = env.action_spec
    obs0 = jnp.zeros(env.observation_spec.shape, jnp.float32)
    act0 = jnp.zeros(spec.shape, jnp.float32)

    def init(key, hp, meta_params=None) -> TD3AgentState:
        actor_key, critic_key = jax.random.split(key)
        a, c = actor.init(actor_key, obs0), critic.init(critic_key, obs0, act0)
        tx = config.optimizer(hp, meta_params, config)
        return TD3AgentState(a, c, a, c, tx.init(a), tx.init(c), jnp.zeros((), jnp.int32))

    def explore(agent, hp, key, obs, progress):
        return losses.explore(spec, actor.apply(agent.actor, obs), key, hp, progress)

    def greedy(agent, key, obs):
        return actor.apply(agent.actor, obs)

    def critic_step(agent, hp, tx, batch, key):
        next_action = losses.smoothed_target_action(spec, actor.apply(agent.target_actor, batch.next_obs), key, hp)
        next_q = jnp.min(critic.apply(agent.target_critic, batch.next_obs, next_action), axis=0)
        target = td_target(batch.reward, batch.terminated, next_q, hp.gamma, hp.reward_scale)

        def loss(p):
            q = critic.apply(p, batch.obs, batch.action)
            value = ensemble_td_loss(q, target, batch.valid)
            return value, {"critic_loss": value, "q": masked_mean(jnp.mean(q, 0), batch.valid)}

        grads, metrics = jax.grad(loss, has_aux=True)(agent.critic)
        params, opt = apply_gradients(tx, agent.critic, agent.critic_opt, grads)
        return agent.replace(critic=params, critic_opt=opt), metrics

    def actor_step(agent, hp, tx, batch):
        grads, metrics = jax.grad(lambda p: losses.actor_loss(critic.apply(agent.critic, batch.obs, actor.apply(p, batch.obs)),
                                                              batch.valid), has_aux=True)(agent.actor)
        params, opt = apply_gradients(tx, agent.actor, agent.actor_opt, grads)
        return agent.replace(actor=params, actor_opt=opt, target_actor=polyak(agent.target_actor, params, hp.tau),
                             target_critic=polyak(agent.target_critic, agent.critic, hp.tau)), metrics

    def learn(agent, hp, meta_params, batch, key):
        tx = config.optimizer(hp, meta_params, config)
        agent, critic_metrics = critic_step(agent, hp, tx, batch, key)
        skipped = {"actor_loss": jnp.zeros((), jnp.float32)}
        agent, actor_metrics = jax.lax.cond(agent.step % config.policy_delay == 0, lambda a: actor_step(a, hp, tx, batch),
                                            lambda a: (a, skipped), agent)
        metrics = {**critic_metrics, **actor_metrics, "loss": critic_metrics["critic_loss"] + actor_metrics["actor_loss"]}
        return agent.replace(step=agent.step + 1), metrics

    return offpolicy.Agent(init=init, explore=explore, greedy=greedy, learn=learn)


def make_train(config: TD3Config, env: Env, env_params: Any) -> Trainer:
    """Build TD3's pure training function (arguments and metrics as :func:`jaxrl.algos.sac.make_train`;
    metrics: ``loss``, ``critic_loss``, ``actor_loss`` (0 on the steps without an actor update), ``q``)."""
    if not isinstance(config, TD3Config):
        raise ConfigError(f"config must be a TD3Config, got {type(config).__name__}")
    check_env(env)
    return offpolicy.make_train(config, env, env_params, make_agent(config, env), as_hparams)
