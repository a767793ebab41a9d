"""DQN: deep Q-learning with a replay buffer, a target network and double Q (Mnih et al. 2015; van Hasselt et al. 2016).

    from jaxrl.algos import dqn
    train = dqn.make_train(dqn.DQNConfig(), env, env_params)
    state, metrics = jax.jit(train)(key, dqn.default_hparams())
"""

from jaxrl.configs import ConfigError
from jaxrl.algos.dqn import losses
from jaxrl.algos.dqn.config import DQNConfig, DQNHparams, as_hparams, default_hparams, presets, validate_hparams
from jaxrl.networks import QNetwork
from jaxrl.algos.dqn.networks import make_network
from jaxrl.algos.dqn.train import DQNAgentState, check_env, epsilon, make_agent, make_train

Config = DQNConfig
Hparams = DQNHparams

__all__ = ["Config", "ConfigError", "DQNAgentState", "DQNConfig", "DQNHparams", "Hparams", "QNetwork", "as_hparams",
           "check_env", "default_hparams", "epsilon", "losses", "make_agent", "make_network", "make_train", "presets",
           "validate_hparams"]
