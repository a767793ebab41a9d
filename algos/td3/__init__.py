"""TD3: twin delayed deep deterministic policy gradients (Fujimoto et al. 2018).

    from jaxrl.algos import td3
    train = td3.make_train(td3.TD3Config(), env, env_params)
    state, metrics = jax.jit(train)(key, td3.default_hparams())
"""

from jaxrl.configs import ConfigError
from jaxrl.algos.td3 import losses
from jaxrl.algos.td3.config import TD3Config, TD3Hparams, as_hparams, default_hparams, presets, validate_hparams
from jaxrl.algos.td3.networks import DeterministicActor, make_networks
from jaxrl.algos.td3.train import TD3AgentState, check_env, make_agent, make_train

Config = TD3Config
Hparams = TD3Hparams

__all__ = ["Config", "ConfigError", "DeterministicActor", "Hparams", "TD3AgentState", "TD3Config", "TD3Hparams",
           "as_hparams", "check_env", "default_hparams", "losses", "make_agent", "make_networks", "make_train", "presets",
           "validate_hparams"]
