"""DreamerV3: a recurrent world model (RSSM with categorical latents) and an actor-critic trained on
its imagined rollouts (Hafner et al. 2023), in the same program as the env.

    from jaxrl import envs
    from jaxrl.algos import dreamer
    env, params = envs.make("cartpole_swingup")
    train = dreamer.make_train(dreamer.DreamerConfig(), env, params)
    state, metrics = jax.jit(train)(key, dreamer.default_hparams())
"""

from jaxrl.configs import ConfigError
from jaxrl.algos.dreamer import losses
from jaxrl.algos.dreamer.config import (DreamerConfig, DreamerHparams, as_hparams, default_hparams, paper_size, presets,
                                        validate_hparams)
from jaxrl.algos.dreamer.networks import RSSM, Networks, RSSMState, make_networks, zeros_state
from jaxrl.algos.dreamer.train import (DreamerAgentState, DreamerCarry, Imagined, WorldModel, check_env, make_agent,
                                       make_train, world_model)

Config = DreamerConfig
Hparams = DreamerHparams

__all__ = ["Config", "ConfigError", "DreamerAgentState", "DreamerCarry", "DreamerConfig", "DreamerHparams", "Hparams",
           "Imagined", "Networks", "RSSM", "RSSMState", "WorldModel", "as_hparams", "check_env", "default_hparams",
           "losses", "make_agent", "make_networks", "make_train", "paper_size", "presets", "validate_hparams", "world_model", "zeros_state"]
