"""DrQ-v2's networks: a CNN encoder shared by the actor and the critics (trained by the critics'
loss only), and on top of it an actor and twin Q heads, each behind its own trunk (Dense,
LayerNorm, tanh) that cuts the encoder's wide features down to ``feature_dim``.

Shapes: observations ``[..., H, W, C]`` (uint8 images, frames stacked on C) or ``[..., d]``
(states: the encoder is the identity); features ``[..., F]``; actions ``[..., A]`` in the env's box;
Q ``[num_critics, ...]``.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxrl.networks import ConvEncoder, QEnsemble
from jaxrl.spaces import Box
from jaxrl.algos.td3.networks import DeterministicActor


class Encoder(nn.Module):
    """``[..., H, W, C]`` images -> ``[..., H' * W' * channels[-1]]`` (the shared CNN's flattened maps;
    ``pixels=False``: flat observations pass through as float32)."""

    pixels: bool
    channels: Sequence[int] = (32, 32, 32, 32)
    kernels: Sequence[int] = (3, 3, 3, 3)
    strides: Sequence[int] = (2, 1, 1, 1)

    @nn.compact
    def __call__(self, obs):
        if not self.pixels:
            return obs.astype(jnp.float32)
        return ConvEncoder(self.channels, self.kernels, self.strides, features=None)(obs)


class Trunk(nn.Module):
    """``[..., F_in] -> [..., feature_dim]``: Dense, LayerNorm, tanh."""

    feature_dim: int

    @nn.compact
    def __call__(self, h):
        return jnp.tanh(nn.LayerNorm()(nn.Dense(self.feature_dim)(h)))


class Actor(nn.Module):
    """``features[..., F] -> action[..., A]``: a trunk, then TD3's deterministic tanh actor."""

    action_spec: Box
    feature_dim: int
    hidden_sizes: Sequence[int]

    @nn.compact
    def __call__(self, h):
        return DeterministicActor(self.action_spec, self.hidden_sizes, "relu")(Trunk(self.feature_dim)(h))


class Critic(nn.Module):
    """``(features[..., F], action[..., A]) -> q[num_critics, ...]``: a trunk, then the Q ensemble."""

    feature_dim: int
    hidden_sizes: Sequence[int]
    num_critics: int

    @nn.compact
    def __call__(self, h, action):
        return QEnsemble(self.hidden_sizes, self.num_critics, "relu")(Trunk(self.feature_dim)(h), action)


class Networks(NamedTuple):
    encoder: Encoder
    actor: Actor
    critic: Critic


def make_networks(config, env) -> Networks:
    pixels = len(env.observation_spec.shape) == 3
    return Networks(Encoder(pixels, config.conv_channels, config.conv_kernels, config.conv_strides),
                    Actor(env.action_spec, config.feature_dim, config.hidden_sizes),
                    Critic(config.feature_dim, config.hidden_sizes, config.num_critics))
