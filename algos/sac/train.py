"""SAC (twin or ensemble critics, automatic entropy temperature) as ``make_train(config, env, env_params)``.

The loop (acting, replay, warm-up, gradient steps per env step) is the shared
:func:`jaxrl.offpolicy.make_train`; this file is SAC's :class:`jaxrl.offpolicy.Agent`: its state,
its exploration (a sample of the policy) and one gradient step (:func:`learn_step`: the critics,
then the actor on the updated critics, then the temperature, then a Polyak step of the target critics).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl import offpolicy
from jaxrl.configs import ConfigError
from jaxrl.env import Env, require_spaces
from jaxrl.losses import critic_loss
from jaxrl.optim import apply_gradients, gradient_step, polyak
from jaxrl.trainer import Trainer
from jaxrl.algos.sac import losses
from jaxrl.algos.sac.config import SACConfig, as_hparams
from jaxrl.algos.sac.networks import make_networks


@struct.dataclass
class SACAgentState:
    """Attributes: ``actor``, ``critic``, ``target_critic`` (params; critic leaves ``[E, ...]``),
    ``log_alpha`` (scalar), their optimiser states, ``step`` (int32 gradient steps taken)."""

    actor: Any
    critic: Any
    target_critic: Any
    log_alpha: jax.Array
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any
    step: jax.Array


def check_env(env: Env) -> None:
    """A flat, bounded Box action space and flat observations."""
    require_spaces(env, "SAC", discrete=False, bounded=True)


def critic_step(nets, config, agent: SACAgentState, hp, tx, batch, key) -> tuple[SACAgentState, dict]:
    """Regress the critics on the soft TD target (next actions from the current policy; the minimum
    over all target heads, or over ``critic_subsample`` heads drawn at random)."""
    actor, critic = nets
    next_key, pick_key = jax.random.split(key)
    next_action, next_log_prob = actor.apply(agent.actor, batch.next_obs).sample_and_log_prob(next_key)
    next_q = critic.apply(agent.target_critic, batch.next_obs, next_action)  # [E, N]
    if config.critic_subsample:
        next_q = next_q[jax.random.choice(pick_key, config.num_critics, (config.critic_subsample,), replace=False)]
    target = losses.critic_target(batch, next_q, next_log_prob, jnp.exp(agent.log_alpha), hp)
    params, opt, metrics = gradient_step(tx, agent.critic, agent.critic_opt,
                                         lambda p: critic_loss(critic.apply(p, batch.obs, batch.action), target, batch.valid))
    return agent.replace(critic=params, critic_opt=opt), metrics


def actor_step(nets, agent: SACAgentState, hp, tx, batch, key, dim: int) -> tuple[SACAgentState, dict]:
    """Improve the policy against the (updated) critics, then tune the temperature toward an entropy
    of ``target_entropy * dim`` nats (the log-density includes the squash into the action box)."""
    actor, critic = nets
    alpha = jnp.exp(agent.log_alpha)

    def loss(p):
        action, log_prob = actor.apply(p, batch.obs).sample_and_log_prob(key)
        return losses.actor_loss(log_prob, critic.apply(agent.critic, batch.obs, action), alpha, batch.valid)

    params, opt, metrics = gradient_step(tx, agent.actor, agent.actor_opt, loss)
    alpha_grad = jax.grad(losses.temperature_loss)(agent.log_alpha, metrics["entropy"], hp.target_entropy * dim)
    log_alpha, alpha_opt = apply_gradients(tx, agent.log_alpha, agent.alpha_opt, alpha_grad)
    return agent.replace(actor=params, actor_opt=opt, log_alpha=log_alpha, alpha_opt=alpha_opt), metrics


def make_agent(config: SACConfig, env: Env) -> offpolicy.Agent:
    """SAC's :class:`jaxrl.offpolicy.Agent` for ``env`` (flat observations ``[d]``, a Box of ``a``
    actions): an actor ``obs[..., d] -> TanhGaussian``, ``num_critics`` Q heads, their targets."""
    nets = make_networks(config, env)
    actor, critic = nets
    obs0 = jnp.zeros(env.observation_spec.shape, jnp.float32)
    act0 = jnp.zeros(env.action_spec.shape, jnp.float32)
    dim = env.action_spec.shape[0]

    def init(key, hp, meta_params=None) -> SACAgentState:
        actor_key, critic_key = jax.random.split(key)
        a, c = actor.init(actor_key, obs0), critic.init(critic_key, obs0, act0)
        log_alpha = jnp.log(hp.init_alpha).astype(jnp.float32)
        tx = config.optimizer(hp, meta_params, config)
        return SACAgentState(a, c, c, log_alpha, tx.init(a), tx.init(c), tx.init(log_alpha), jnp.zeros((), jnp.int32))

    def learn(agent, hp, meta_params, batch, key):
        critic_key, actor_key = jax.random.split(key)
        tx = config.optimizer(hp, meta_params, config)
        agent, critic_metrics = critic_step(nets, config, agent, hp, tx, batch, critic_key)
        agent, actor_metrics = actor_step(nets, agent, hp, tx, batch, actor_key, dim)
        agent = agent.replace(target_critic=polyak(agent.target_critic, agent.critic, hp.tau), step=agent.step + 1)
        return agent, {**critic_metrics, **actor_metrics, "alpha": jnp.exp(agent.log_alpha),
                       "loss": critic_metrics["critic_loss"] + actor_metrics["actor_loss"]}

    return offpolicy.Agent(
        init=init,
        explore=offpolicy.stateless_explore(lambda agent, hp, key, obs, progress: actor.apply(agent.actor, obs).sample(key)),
        greedy=offpolicy.stateless_greedy(lambda agent, key, obs: actor.apply(agent.actor, obs).mode()),
        learn=learn,
    )


def make_train(config: SACConfig, env: Env, env_params: Any) -> Trainer:
    """Build SAC's pure training function.

    Args:
      config: static :class:`SACConfig`.
      env: an unbatched env with flat observations and bounded Box actions (``jaxrl.envs.make``).
      env_params: its params (closed over).

    Returns:
      A :class:`jaxrl.trainer.Trainer`: ``train(key, hparams, meta_params=None) -> (OffPolicyState,
      metrics)``; ``hparams`` a :class:`SACHparams` (or dict), traced; metrics ``[num_updates]``:
      ``loss``, ``critic_loss``, ``actor_loss``, ``q``, ``entropy``, ``alpha`` (0 during warm-up),
      ``learning``, and the episode metrics.
    """
    if not isinstance(config, SACConfig):
        raise ConfigError(f"config must be a SACConfig, got {type(config).__name__}")
    check_env(env)
    return offpolicy.make_train(config, env, env_params, make_agent(config, env), as_hparams)
