"""SAC: soft actor-critic with twin (or ensemble) critics and an automatically tuned entropy temperature.

    from jaxrl.algos import sac
    train = sac.make_train(sac.SACConfig(), env, env_params)
    state, metrics = jax.jit(train)(key, sac.default_hparams())
"""

from jaxrl.configs import ConfigError
from jaxrl.algos.sac import losses
from jaxrl.algos.sac.config import SACConfig, SACHparams, as_hparams, default_hparams, presets, validate_hparams
from jaxrl.algos.sac.networks import GaussianActor, make_networks
from jaxrl.algos.sac.train import SACAgentState, check_env, make_agent, make_train

Config = SACConfig
Hparams = SACHparams

__all__ = ["Config", "ConfigError", "GaussianActor", "Hparams", "SACAgentState", "SACConfig", "SACHparams", "as_hparams",
           "check_env", "default_hparams", "losses", "make_agent", "make_networks", "make_train", "presets", "validate_hparams"]
