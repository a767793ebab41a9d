"""Flax (linen) networks shared by the agents."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import numpy as np

from jaxrl import distributions
from jaxrl.spaces import Discrete, Spec

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "elu": nn.elu, "silu": nn.silu, "gelu": nn.gelu}


def activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class MLP(nn.Module):
    """``[..., in] -> [..., out]``; orthogonal init (gain sqrt 2), last layer gain ``out_gain``."""

    hidden_sizes: Sequence[int]
    out_size: int
    activation: str = "tanh"
    out_gain: float = 1.0

    @nn.compact
    def __call__(self, x):
        act = activation(self.activation)
        for size in self.hidden_sizes:
            x = act(nn.Dense(size, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
        return nn.Dense(self.out_size, kernel_init=nn.initializers.orthogonal(self.out_gain))(x)


class ConvEncoder(nn.Module):
    """Images ``[..., H, W, C]`` (uint8 in ``[0, 255]`` or float) -> features ``[..., features]``.

    Pixels are scaled to ``[0, 1]``; ReLU convolutions (``channels``, ``kernels``, ``strides``,
    VALID padding) then a ReLU dense layer of ``features`` units. Any leading batch axes.
    """

    channels: Sequence[int] = (16, 32)
    kernels: Sequence[int] = (8, 4)
    strides: Sequence[int] = (4, 2)
    features: int = 128

    @nn.compact
    def __call__(self, x):
        lead, image = x.shape[:-3], x.shape[-3:]
        x = x.reshape((-1, *image)).astype(np.float32) / 255.0
        for c, k, s in zip(self.channels, self.kernels, self.strides):
            x = nn.relu(nn.Conv(c, (k, k), strides=(s, s), padding="VALID",
                                kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
        x = nn.relu(nn.Dense(self.features, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x.reshape((x.shape[0], -1))))
        return x.reshape((*lead, self.features))


class ActorCritic(nn.Module):
    """Separate policy and value MLPs.

    ``__call__(obs[..., obs_dim]) -> (distribution over [...], value[...])``;
    :meth:`value` runs the value MLP alone (``[..., obs_dim] -> [...]``), e.g. to
    bootstrap from next observations without paying for the policy head.
    The action head follows ``action_spec``: logits for ``Discrete``, a mean
    and a state-independent learned ``log_std`` for ``Box``. With ``pixels=True``
    the observations are images ``[..., H, W, C]`` and one :class:`ConvEncoder`
    torso, shared by the two MLPs, turns them into features first.
    """

    action_spec: Spec
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0
    pixels: bool = False

    def setup(self):
        if self.pixels:
            self.torso = ConvEncoder()
        n_out = distributions.num_outputs(self.action_spec)
        self.actor = MLP(self.hidden_sizes, n_out, self.activation, out_gain=0.01)
        self.critic = MLP(self.hidden_sizes, 1, self.activation, out_gain=1.0)
        if not isinstance(self.action_spec, Discrete):
            self.log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (n_out,))

    def _features(self, obs):
        return self.torso(obs) if self.pixels else obs

    def __call__(self, obs):
        x = self._features(obs)
        log_std = None if isinstance(self.action_spec, Discrete) else self.log_std
        return distributions.for_spec(self.action_spec, self.actor(x), log_std), self.critic(x)[..., 0]

    def value(self, obs):
        return self.critic(self._features(obs))[..., 0]


__all__ = ["MLP", "ConvEncoder", "ActorCritic", "activation"]
