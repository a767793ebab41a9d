"""TD3 (twin critics, target policy smoothing, delayed actor) as ``make_train(config, env, env_params)``.

The loop is :func:`jaxrl.offpolicy.make_train`; this is TD3's :class:`jaxrl.offpolicy.Agent`. One
gradient step updates the critics; every ``policy_delay``-th one also updates the actor (on the
updated critics) and moves the target actor and critics by Polyak averaging. (The delay is
:func:`jaxrl.control_flow.compute_if`: the actor step runs only when due, in vmapped runs too.)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl import offpolicy
from jaxrl.configs import ConfigError
from jaxrl.control_flow import compute_if
from jaxrl.env import Env, require_spaces
from jaxrl.losses import critic_loss, td_target
from jaxrl.optim import gradient_step, polyak
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


def critic_step(nets, spec, agent: TD3AgentState, hp, tx, batch, key) -> tuple[TD3AgentState, dict]:
    """Regress the critics on ``r + gamma (1 - terminated) min_e Q'_e(s', smoothed mu'(s'))``."""
    actor, critic = nets
    next_action = losses.smoothed_target_action(spec, actor.apply(agent.target_actor, batch.next_obs), key,
                                                 hp.policy_noise, hp.noise_clip)
    next_q = jnp.min(critic.apply(agent.target_critic, batch.next_obs, next_action), axis=0)
    target = td_target(batch.reward, batch.terminated, next_q, hp.gamma, hp.reward_scale)
    params, opt, metrics = gradient_step(tx, agent.critic, agent.critic_opt,
                                         lambda p: critic_loss(critic.apply(p, batch.obs, batch.action), target, batch.valid))
    return agent.replace(critic=params, critic_opt=opt), metrics


def actor_step(nets, agent: TD3AgentState, hp, tx, batch) -> tuple[TD3AgentState, dict]:
    """Improve the actor against the critics, then move both targets by ``tau``."""
    actor, critic = nets
    params, opt, metrics = gradient_step(
        tx, agent.actor, agent.actor_opt,
        lambda p: losses.actor_loss(critic.apply(agent.critic, batch.obs, actor.apply(p, batch.obs)), batch.valid))
    return agent.replace(actor=params, actor_opt=opt, target_actor=polyak(agent.target_actor, params, hp.tau),
                         target_critic=polyak(agent.target_critic, agent.critic, hp.tau)), metrics


def make_agent(config: TD3Config, env: Env) -> offpolicy.Agent:
    """TD3's :class:`jaxrl.offpolicy.Agent` for ``env`` (flat observations ``[d]``, a Box of actions).
    The actor's optimiser takes ``1 / policy_delay`` of the gradient steps, and its learning-rate
    schedule (and a learned rule's lifetime progress) is sized for that."""
    nets = make_networks(config, env)
    actor, critic = nets
    spec = env.action_spec
    obs0 = jnp.zeros(env.observation_spec.shape, jnp.float32)
    act0 = jnp.zeros(spec.shape, jnp.float32)
    actor_config = offpolicy.optimizer_config(config, max(1, config.num_optimizer_steps // config.policy_delay))

    def init(key, hp, meta_params=None) -> TD3AgentState:
        actor_key, critic_key = jax.random.split(key)
        a, c = actor.init(actor_key, obs0), critic.init(critic_key, obs0, act0)
        return TD3AgentState(a, c, a, c, config.optimizer(hp, meta_params, actor_config).init(a),
                             config.optimizer(hp, meta_params, config).init(c), jnp.zeros((), jnp.int32))

    def actor_update(agent, hp, meta_params, batch):
        return actor_step(nets, agent, hp, config.optimizer(hp, meta_params, actor_config), batch)

    def learn(agent, hp, meta_params, batch, key):
        agent, critic_metrics = critic_step(nets, spec, agent, hp, config.optimizer(hp, meta_params, config), batch, key)
        due = agent.step % config.policy_delay == 0
        skipped = {"actor_loss": jnp.zeros((), jnp.float32)}
        agent, actor_metrics = compute_if(due, actor_update, (agent, hp, meta_params, batch), (agent, skipped))
        metrics = {**critic_metrics, **actor_metrics, "actor_updates": due.astype(jnp.float32),
                   "loss": critic_metrics["critic_loss"] + actor_metrics["actor_loss"]}
        return agent.replace(step=agent.step + 1), metrics

    return offpolicy.Agent(
        init=init,
        explore=offpolicy.stateless_explore(lambda agent, hp, key, obs, progress:
                                            losses.explore(spec, actor.apply(agent.actor, obs), key, hp, progress)),
        greedy=offpolicy.stateless_greedy(lambda agent, key, obs: actor.apply(agent.actor, obs)),
        learn=learn,
    )


def make_train(config: TD3Config, env: Env, env_params: Any) -> Trainer:
    """Build TD3's pure training function (arguments as :func:`jaxrl.algos.sac.make_train`). Metrics:
    ``loss``, ``critic_loss``, ``q``, ``actor_loss`` (averaged over the update's gradient steps, 0 on
    those without an actor update: divide by ``actor_updates``, their fraction, for the actor's own loss)."""
    if not isinstance(config, TD3Config):
        raise ConfigError(f"config must be a TD3Config, got {type(config).__name__}")
    check_env(env)
    return offpolicy.make_train(config, env, env_params, make_agent(config, env), as_hparams)
