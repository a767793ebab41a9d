"""PQN: parallel Q-learning with LayerNorm and Q(lambda) returns, no replay buffer and no target network
(Gallici et al. 2024, "Simplifying Deep Temporal Difference Learning").

    from jaxrl.algos import pqn
    train = pqn.make_train(pqn.PQNConfig(), env, env_params)
    state, metrics = jax.jit(train)(key, pqn.default_hparams())
"""

from jaxrl.configs import ConfigError
from jaxrl.algos.pqn.config import PQNConfig, PQNHparams, as_hparams, default_hparams, presets, validate_hparams
from jaxrl.algos.pqn.train import PQNState, make_train, q_lambda_targets

Config = PQNConfig
Hparams = PQNHparams

__all__ = ["Config", "ConfigError", "Hparams", "PQNConfig", "PQNHparams", "PQNState", "as_hparams", "default_hparams",
           "make_train", "presets", "q_lambda_targets", "validate_hparams"]
