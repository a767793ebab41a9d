"""TD-MPC2's networks: an encoder to a SimNorm latent, latent dynamics, a two-hot reward head, an
ensemble of two-hot Q heads (all LayerNorm + Mish) and a squashed-Gaussian policy prior.

Shapes: observations ``[..., d]`` (states) or ``[..., H, W, C]`` (pixels); latents ``[..., latent_dim]``
(``latent_dim / simnorm_dim`` simplices); actions ``[..., A]`` in ``[-1, 1]`` (the agent's own
units: :mod:`jaxrl.algos.tdmpc.train` maps them to the env's box); reward logits ``[..., num_bins]``;
Q logits ``[num_q, ..., num_bins]``. The reward and Q output layers start at zero (every
prediction starts at 0), as in TD-MPC2.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax.numpy as jnp

from jaxrl.networks import MLP, ConvEncoder, QEnsemble, SimNormMLP
from jaxrl.spaces import Box
from jaxrl.algos.sac.networks import GaussianActor


class PixelEncoder(nn.Module):
    """Images ``[..., H, W, C]`` -> a SimNorm latent: the shared CNN torso
    (:class:`jaxrl.networks.ConvEncoder`), then Dense, LayerNorm and SimNorm."""

    latent_dim: int
    group: int
    channels: tuple
    kernels: tuple
    strides: tuple
    features: int
    init_std: float | None = None

    @nn.compact
    def __call__(self, obs):
        x = ConvEncoder(self.channels, self.kernels, self.strides, self.features)(obs)
        return SimNormMLP((), self.latent_dim, "mish", self.group, self.init_std)(x)


class Dynamics(nn.Module):
    """``(z[..., latent], a[..., A]) -> z'[..., latent]`` on the simplices."""

    mlp_dim: int
    latent_dim: int
    group: int
    init_std: float | None = None

    @nn.compact
    def __call__(self, z, a):
        return SimNormMLP((self.mlp_dim, self.mlp_dim), self.latent_dim, "mish", self.group,
                          self.init_std)(jnp.concatenate([z, a], -1))


class RewardHead(nn.Module):
    """``(z, a) -> logits[..., num_bins]`` of the step's reward (two-hot, symlog space)."""

    mlp_dim: int
    num_bins: int
    init_std: float | None = None

    @nn.compact
    def __call__(self, z, a):
        return MLP((self.mlp_dim, self.mlp_dim), self.num_bins, "mish", 0.0, True,
                   init_std=self.init_std)(jnp.concatenate([z, a], -1))


class Networks(NamedTuple):
    """The flax modules (``apply(params, ...)``); params live in the agent state, one tree each."""

    encoder: nn.Module
    dynamics: Dynamics
    reward: RewardHead
    q: QEnsemble
    pi: GaussianActor


def make_networks(config, env) -> Networks:
    """TD-MPC2's modules for ``env``: an MLP encoder (flat observations) or the CNN one (images)."""
    group, init_std = config.simnorm_dim, config.init_std
    if len(env.observation_spec.shape) == 3:
        encoder = PixelEncoder(config.latent_dim, group, config.conv_channels, config.conv_kernels, config.conv_strides,
                               config.enc_dim, init_std)
    else:
        encoder = SimNormMLP((config.enc_dim,) * max(1, config.num_enc_layers - 1), config.latent_dim, "mish", group,
                             init_std)
    dim = env.action_spec.shape[0]
    unit_box = Box(low=-1.0, high=1.0, shape=(dim,))
    return Networks(
        encoder=encoder,
        dynamics=Dynamics(config.mlp_dim, config.latent_dim, group, init_std),
        reward=RewardHead(config.mlp_dim, config.num_bins, init_std),
        q=QEnsemble((config.mlp_dim, config.mlp_dim), config.num_q, "mish", True, config.num_bins, 0.0, config.dropout,
                    init_std),
        pi=GaussianActor(unit_box, (config.mlp_dim, config.mlp_dim), "mish", True, config.log_std_min, config.log_std_max,
                         init_std),
    )
