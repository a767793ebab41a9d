"""TD-MPC2: a world model learned from replay windows, acting by MPPI in its latent space.

The world model (SimNorm latent, latent dynamics, two-hot reward and Q ensemble, a policy prior),
the planner, the MJX env and the replay buffer are one compiled program.

    from jaxrl.algos import tdmpc
    train = tdmpc.make_train(tdmpc.TDMPCConfig(), env, env_params)
    state, metrics = jax.jit(train)(key, tdmpc.default_hparams())
"""

from jaxrl.configs import ConfigError
from jaxrl.algos.tdmpc import losses
from jaxrl.algos.tdmpc.config import (TDMPCConfig, TDMPCHparams, as_hparams, default_hparams, discount_for, presets,
                                      validate_hparams)
from jaxrl.algos.tdmpc.networks import Networks, make_networks
from jaxrl.algos.tdmpc.train import Model, TDMPCAgentState, check_env, make_agent, make_train

Config = TDMPCConfig
Hparams = TDMPCHparams

__all__ = ["Config", "ConfigError", "Hparams", "Model", "Networks", "TDMPCAgentState", "TDMPCConfig", "TDMPCHparams",
           "as_hparams", "check_env", "default_hparams", "discount_for", "losses", "make_agent", "make_networks",
           "make_train", "presets", "validate_hparams"]
