"""SAC's networks: a tanh-squashed Gaussian actor and an ensemble of Q heads (``jaxrl.networks.QEnsemble``)."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxrl.distributions import TanhGaussian
from jaxrl.networks import MLP, QEnsemble
from jaxrl.spaces import Box


class GaussianActor(nn.Module):
    """``obs[..., d] -> TanhGaussian`` over ``action_spec``'s box; the log std is squashed into
    ``[log_std_min, log_std_max]`` by a tanh. ``init_std`` as :class:`jaxrl.networks.MLP`'s."""

    action_spec: Box
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    init_std: float | None = None

    @nn.compact
    def __call__(self, obs) -> TanhGaussian:
        dim = self.action_spec.shape[0]
        out = MLP(self.hidden_sizes, 2 * dim, self.activation, 1.0, self.layer_norm, init_std=self.init_std)(obs)
        mean, raw = out[..., :dim], out[..., dim:]
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (jnp.tanh(raw) + 1.0)
        return TanhGaussian(mean, log_std, self.action_spec.low_array(), self.action_spec.high_array())


def make_networks(config, env) -> tuple[GaussianActor, QEnsemble]:
    """``(actor, critic)`` for ``env``: ``actor.apply(p, obs) -> TanhGaussian``,
    ``critic.apply(p, obs, action) -> q[num_critics, ...]``."""
    actor = GaussianActor(env.action_spec, config.hidden_sizes, config.activation, config.layer_norm,
                          config.log_std_min, config.log_std_max)
    critic = QEnsemble(config.hidden_sizes, config.num_critics, config.activation, config.layer_norm)
    return actor, critic
