"""PPO (clipped surrogate, GAE), discrete and continuous actions from one implementation.

    from jaxrl.algos import ppo
    train = ppo.make_train(ppo.PPOConfig(), env, env_params)
    state, metrics = jax.jit(train)(key, ppo.default_hparams())
"""

from jaxrl.algos.ppo.config import (
    ConfigError,
    PPOConfig,
    PPOHparams,
    as_hparams,
    default_hparams,
    hparam_names,
    presets,
    validate_hparams,
)
from jaxrl.algos.ppo.losses import Batch, clipped_surrogate, default_optimizer, ppo_loss
from jaxrl.algos.ppo.networks import ActorCritic
from jaxrl.algos.ppo.train import PPOParts, PPOState, check_env, make_network, make_parts, make_train

Config = PPOConfig
Hparams = PPOHparams

__all__ = [
    "ActorCritic", "Config", "ConfigError", "Hparams", "PPOConfig", "PPOHparams", "PPOParts", "PPOState", "Batch",
    "as_hparams", "check_env", "clipped_surrogate", "default_hparams", "default_optimizer", "hparam_names",
    "make_network", "make_parts", "make_train", "ppo_loss", "presets", "validate_hparams",
]
