"""DrQ-v2: data-regularised Q-learning from pixels (Yarats et al. 2022), in the same program as the env.

    from jaxrl import envs
    from jaxrl.algos import drq
    env, params = envs.make("cartpole_balance", obs="pixels", image_size=64, frame_stack=3, action_repeat=2)
    train = drq.make_train(drq.DrQConfig(), env, params)
    state, metrics = jax.jit(train)(key, drq.default_hparams())
"""

from jaxrl.configs import ConfigError
from jaxrl.algos.drq import losses
from jaxrl.algos.drq.config import DrQConfig, DrQHparams, as_hparams, default_hparams, presets, validate_hparams
from jaxrl.algos.drq.networks import Actor, Critic, Encoder, Networks, make_networks
from jaxrl.algos.drq.train import DrQAgentState, actor_step, check_env, critic_step, features, make_agent, make_train

Config = DrQConfig
Hparams = DrQHparams

__all__ = ["Actor", "Config", "ConfigError", "Critic", "DrQAgentState", "DrQConfig", "DrQHparams", "Encoder", "Hparams",
           "Networks", "actor_step", "as_hparams", "check_env", "critic_step", "default_hparams", "features", "losses",
           "make_agent", "make_networks", "make_train", "presets", "validate_hparams"]
