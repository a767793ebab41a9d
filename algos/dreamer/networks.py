"""DreamerV3's networks: the RSSM, the observation encoder and decoder, reward, continue, actor and critic heads.

Shapes: a model state is :class:`RSSMState` ``(deter[..., deter], stoch[..., groups * classes])``
(the stochastic part one-hot per group, flattened); its features are their concatenation
``[..., deter + groups * classes]``. Observations are ``[..., d]`` (states: encoded and decoded in
symlog space) or ``[..., H, W, C]`` (pixels: the CNN torso, and a transposed CNN back to
``[..., H, W, C]`` in ``[-0.5, 0.5]``). Actions enter the RSSM as ``[..., A]`` (continuous, in
``[-1, 1]``) or one-hot (discrete). Every hidden layer is Dense + LayerNorm + SiLU; the reward and
critic output layers start at zero (every prediction starts at 0), as DreamerV3.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.distributions import Categorical, DiagGaussian, TanhGaussian, straight_through_onehot, unimix_logits
from jaxrl.networks import CONV_STYLES, MLP, ConvEncoder
from jaxrl.twohot import symlog


class RSSMState(NamedTuple):
    """The RSSM's state: ``deter[..., deter]`` (GRU) and ``stoch[..., groups * classes]`` (one-hot groups)."""

    deter: jax.Array
    stoch: jax.Array

    def features(self) -> jax.Array:
        return jnp.concatenate([self.deter, self.stoch], -1)


def zeros_state(shape: tuple, deter: int, stoch: int) -> RSSMState:
    """The state every episode starts from (zeros), leaves ``[*shape, ...]``."""
    return RSSMState(jnp.zeros((*shape, deter), jnp.float32), jnp.zeros((*shape, stoch), jnp.float32))


def _dense(features: int, name: str | None = None):
    return nn.Dense(features, kernel_init=nn.initializers.orthogonal(np.sqrt(2)), name=name)


class NormedDense(nn.Module):
    """Dense, LayerNorm, SiLU."""

    features: int

    @nn.compact
    def __call__(self, x):
        return nn.silu(nn.LayerNorm()(_dense(self.features)(x)))


class NormedGRU(nn.Module):
    """DreamerV3's GRU cell: the three gates from one Dense of ``[x, h]`` followed by LayerNorm;
    the update gate biased toward keeping ``h`` (``sigmoid(u - 1)``)."""

    features: int

    @nn.compact
    def __call__(self, x, h):
        parts = nn.LayerNorm()(nn.Dense(3 * self.features, use_bias=False)(jnp.concatenate([x, h], -1)))
        reset, cand, update = jnp.split(parts, 3, axis=-1)
        cand = jnp.tanh(jax.nn.sigmoid(reset) * cand)
        update = jax.nn.sigmoid(update - 1.0)
        return update * cand + (1.0 - update) * h


class BlockDense(nn.Module):
    """A block-diagonal Dense: ``[..., blocks * i] -> [..., features]``, block ``k``'s ``i`` inputs
    to its ``features / blocks`` outputs (kernel ``[blocks, i, features / blocks]``), plus a bias."""

    features: int
    blocks: int

    @nn.compact
    def __call__(self, x):
        k = self.blocks
        x = x.reshape((*x.shape[:-1], k, x.shape[-1] // k))
        # fan-in over all blocks' inputs (blocks x i), as DreamerV3's initialiser counts a block kernel's
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, x.shape[-1], self.features // k))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return jnp.einsum("...ki,kio->...ko", x, kernel).reshape((*x.shape[:-2], self.features)) + bias


class BlockGRU(nn.Module):
    """DreamerV3's current recurrent core (its code since 2024; ``blocks`` > 0): ``h``, ``z`` and ``a``
    each through Dense + LayerNorm + SiLU to ``hidden``; each of ``blocks`` blocks of ``h`` reads its own
    slice of ``h`` and all three inputs through a block-diagonal hidden layer (+ LayerNorm + SiLU over
    the whole state) and block-diagonal GRU gates, update gate biased toward keeping ``h``. The
    recurrent and gate weights are ``blocks`` times fewer than one GRU of that width's, so a wide ``h``
    stays cheap. Differences from DreamerV3's code: LayerNorm (eps 1e-6) for its RMS norm."""

    features: int
    hidden: int
    blocks: int

    @nn.compact
    def __call__(self, deter, stoch, action):
        g, lead = self.blocks, deter.shape[:-1]
        x = jnp.concatenate([NormedDense(self.hidden)(v) for v in (deter, stoch, action)], -1)
        x = jnp.broadcast_to(x[..., None, :], (*lead, g, x.shape[-1]))
        x = jnp.concatenate([deter.reshape((*lead, g, -1)), x], -1).reshape((*lead, -1))
        x = nn.silu(nn.LayerNorm()(BlockDense(self.features, g)(x)))
        gates = BlockDense(3 * self.features, g)(x).reshape((*lead, g, -1))
        reset, cand, update = (v.reshape(deter.shape) for v in jnp.split(gates, 3, -1))
        cand = jnp.tanh(jax.nn.sigmoid(reset) * cand)
        update = jax.nn.sigmoid(update - 1.0)
        return update * cand + (1.0 - update) * deter


class RSSM(nn.Module):
    """The recurrent state-space model.

    ``img_step(state, action, key) -> (state', prior_logits)``: ``h' = GRU(h, [z, a])`` (``blocks`` 0:
    DreamerV3 2023's :class:`NormedGRU` of ``Dense([z, a])``; ``blocks`` > 0: :class:`BlockGRU`), then
    ``z' ~ p(z' | h')`` (the prior). ``obs_step(state, action, embed, key) -> (state', post_logits,
    prior_logits)``: the same ``h'``, then ``z' ~ q(z' | h', embed)`` (the posterior). Logits are
    ``[..., groups, classes]`` after the uniform mix; samples are straight-through one-hots.
    """

    deter: int
    hidden: int
    groups: int
    classes: int
    unimix: float = 0.01
    blocks: int = 0

    def setup(self):
        if self.blocks:
            self.core = BlockGRU(self.deter, self.hidden, self.blocks)
        else:
            self.img_in = NormedDense(self.hidden)
            self.gru = NormedGRU(self.deter)
        self.prior_hidden = NormedDense(self.hidden)
        self.prior_out = _dense(self.groups * self.classes)
        self.post_hidden = NormedDense(self.hidden)
        self.post_out = _dense(self.groups * self.classes)

    def _logits(self, out):
        raw = out.reshape((*out.shape[:-1], self.groups, self.classes))
        return unimix_logits(raw, self.unimix)

    def _sample(self, key, logits):
        z = straight_through_onehot(key, logits)
        return z.reshape((*z.shape[:-2], self.groups * self.classes))

    def _deter(self, state: RSSMState, action):
        if self.blocks:
            return self.core(state.deter, state.stoch, action)
        return self.gru(self.img_in(jnp.concatenate([state.stoch, action], -1)), state.deter)

    def prior(self, deter):
        return self._logits(self.prior_out(self.prior_hidden(deter)))

    def img_step(self, state: RSSMState, action, key):
        deter = self._deter(state, action)
        logits = self.prior(deter)
        return RSSMState(deter, self._sample(key, logits)), logits

    def obs_step(self, state: RSSMState, action, embed, key):
        deter = self._deter(state, action)
        post = self._logits(self.post_out(self.post_hidden(jnp.concatenate([deter, embed], -1))))
        return RSSMState(deter, self._sample(key, post)), post, self.prior(deter)

    def __call__(self, state, action, embed, key):
        return self.obs_step(state, action, embed, key)


class Decoder(nn.Module):
    """Features ``[..., F]`` -> images ``[..., H, W, C]`` in ``[-0.5, 0.5]`` units: Dense to
    ``[H / 2^n, W / 2^n, channels[-1]]``, then ``n = len(channels)`` stride-2 transposed
    convolutions (kernel 4, SAME) through ``channels`` reversed, the last one to ``C``."""

    shape: tuple
    channels: tuple

    @nn.compact
    def __call__(self, feat):
        h, w, c = self.shape
        n = len(self.channels)
        lead = feat.shape[:-1]
        x = _dense(h // 2 ** n * w // 2 ** n * self.channels[-1])(feat.reshape((-1, feat.shape[-1])))
        x = x.reshape((-1, h // 2 ** n, w // 2 ** n, self.channels[-1]))
        outs = list(self.channels[::-1][1:]) + [c]
        for i, out in enumerate(outs):
            x = nn.ConvTranspose(out, (4, 4), strides=(2, 2), padding="SAME")(nn.silu(nn.LayerNorm()(x)) if i else x)
        return x.reshape((*lead, h, w, c))


class StateCoder(nn.Module):
    """Flat observations: encoder ``symlog(obs) -> embed`` (``out=None``) or decoder ``feat -> symlog(obs)``."""

    hidden: int
    layers: int
    out: int | None = None

    @nn.compact
    def __call__(self, x):
        if self.out is None:
            x = symlog(x)
        return MLP((self.hidden,) * self.layers, self.out, "silu", 1.0, True)(x)


class PixelEncoder(nn.Module):
    """Images ``[..., H, W, C]`` (uint8) -> the flattened maps of :class:`jaxrl.networks.ConvEncoder`
    in the layer style ``style`` (a key of :data:`jaxrl.networks.CONV_STYLES`)."""

    channels: tuple
    kernels: tuple
    strides: tuple
    style: str

    @nn.compact
    def __call__(self, obs):
        return ConvEncoder(self.channels, self.kernels, self.strides, None, **CONV_STYLES[self.style])(obs)


class Actor(nn.Module):
    """Features -> the action distribution: ``Categorical`` over ``n`` actions (uniform mix
    ``unimix``), or for ``dim`` continuous actions, with std in ``[min_std, max_std]``, either a
    ``TanhGaussian`` on ``[-1, 1]^A`` (``dist="tanh_normal"``) or DreamerV3's bounded normal
    (``dist="bounded_normal"``): a ``DiagGaussian`` whose mean is ``tanh`` of the output, so its mean
    and mode lie in ``[-1, 1]`` and its samples are clipped there to act."""

    hidden: int
    layers: int
    discrete: bool
    dim: int
    unimix: float
    min_std: float
    max_std: float
    dist: str = "tanh_normal"

    @nn.compact
    def __call__(self, feat):
        out = MLP((self.hidden,) * self.layers, self.dim if self.discrete else 2 * self.dim, "silu", 1.0, True)(feat)
        if self.discrete:
            return Categorical(unimix_logits(out, self.unimix))
        mean, raw = out[..., :self.dim], out[..., self.dim:]
        std = self.min_std + (self.max_std - self.min_std) * jax.nn.sigmoid(raw + 2.0)
        if self.dist == "bounded_normal":
            return DiagGaussian(jnp.tanh(mean), jnp.log(std))
        return TanhGaussian(mean, jnp.log(std), -jnp.ones((self.dim,)), jnp.ones((self.dim,)))


class Networks(NamedTuple):
    """The flax modules (``apply(params, ...)``); the world model's params are one tree
    ``{"encoder", "rssm", "decoder", "reward", "cont"}``, the actor's and the critic's their own."""

    encoder: nn.Module
    rssm: RSSM
    decoder: nn.Module
    reward: MLP
    cont: MLP
    actor: Actor
    critic: MLP


def make_networks(config, env, discrete: bool, action_dim: int) -> Networks:
    """DreamerV3's modules for ``env``: MLP encoder/decoder for flat observations, CNN ones for images."""
    obs_shape = env.observation_spec.shape
    if len(obs_shape) == 3:
        encoder = PixelEncoder(config.conv_channels, config.conv_kernels, config.conv_strides, config.conv_style)
        decoder = Decoder(tuple(obs_shape), config.conv_channels)
    else:
        encoder = StateCoder(config.hidden, config.layers)
        decoder = StateCoder(config.hidden, config.layers, int(np.prod(obs_shape)))
    heads = (config.hidden,) * config.layers
    return Networks(
        encoder=encoder,
        rssm=RSSM(config.deter, config.hidden, config.groups, config.classes, config.unimix, config.blocks),
        decoder=decoder,
        reward=MLP(heads, config.num_bins, "silu", 0.0, True),
        cont=MLP(heads, 1, "silu", 1.0, True),
        actor=Actor(config.hidden, config.layers, discrete, action_dim, config.unimix, config.min_std, config.max_std,
                    config.actor_dist),
        critic=MLP(heads, config.num_bins, "silu", 0.0, True),
    )
