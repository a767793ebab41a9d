"""DQN (double Q, target network, epsilon-greedy) as ``make_train(config, env, env_params)``.

The loop is :func:`jaxrl.offpolicy.make_train`; this is DQN's :class:`jaxrl.offpolicy.Agent`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl import offpolicy
from jaxrl.configs import ConfigError
from jaxrl.distributions import epsilon_greedy
from jaxrl.env import Env, require_spaces
from jaxrl.optim import gradient_step, linear_schedule, periodic
from jaxrl.trainer import Trainer
from jaxrl.algos.dqn import losses
from jaxrl.algos.dqn.config import DQNConfig, as_hparams
from jaxrl.algos.dqn.networks import make_network


@struct.dataclass
class DQNAgentState:
    """Attributes: ``params``, ``target_params``, ``opt_state``, ``step`` (int32 gradient steps taken)."""

    params: Any
    target_params: Any
    opt_state: Any
    step: jax.Array


def check_env(env: Env) -> None:
    """Discrete actions and flat observations."""
    require_spaces(env, "DQN", discrete=True)


def epsilon(hparams, progress):
    """The exploration epsilon at ``progress`` of the run."""
    return linear_schedule(hparams.eps_start, hparams.eps_end, hparams.eps_decay, progress)


def make_agent(config: DQNConfig, env: Env) -> offpolicy.Agent:
    """DQN's :class:`jaxrl.offpolicy.Agent` for ``env`` (flat observations ``[d]``, ``n`` discrete
    actions): a Q network ``obs[..., d] -> q[..., n]`` and its target."""
    net = make_network(config, env)
    obs0 = jnp.zeros(env.observation_spec.shape, jnp.float32)

    def init(key, hp, meta_params=None) -> DQNAgentState:
        params = net.init(key, obs0)
        return DQNAgentState(params, params, config.optimizer(hp, meta_params, config).init(params), jnp.zeros((), jnp.int32))

    def learn(agent, hp, meta_params, batch, key):
        next_q_target = net.apply(agent.target_params, batch.next_obs)
        next_q_online = net.apply(agent.params, batch.next_obs) if config.double_q else next_q_target
        target = losses.q_target(batch, next_q_online, next_q_target, hp, config.double_q)
        params, opt_state, metrics = gradient_step(config.optimizer(hp, meta_params, config), agent.params, agent.opt_state,
                                                   lambda p: losses.q_loss(net.apply(p, batch.obs), batch, target, config.loss))
        step = agent.step + 1
        target_params = periodic(agent.target_params, params, step, config.target_update_period, hp.tau)
        return DQNAgentState(params, target_params, opt_state, step), metrics

    return offpolicy.Agent(
        init=init,
        explore=offpolicy.stateless_explore(lambda agent, hp, key, obs, progress:
                                            epsilon_greedy(key, net.apply(agent.params, obs), epsilon(hp, progress))),
        greedy=offpolicy.stateless_greedy(lambda agent, key, obs: jnp.argmax(net.apply(agent.params, obs), axis=-1).astype(jnp.int32)),
        learn=learn,
    )


def make_train(config: DQNConfig, env: Env, env_params: Any) -> Trainer:
    """Build DQN's pure training function (arguments as :func:`jaxrl.algos.sac.make_train`); metrics:
    ``loss``, ``q`` (mean Q of the taken actions), and the episode metrics."""
    if not isinstance(config, DQNConfig):
        raise ConfigError(f"config must be a DQNConfig, got {type(config).__name__}")
    check_env(env)
    return offpolicy.make_train(config, env, env_params, make_agent(config, env), as_hparams)
