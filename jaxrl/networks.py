"""Flax (linen) networks shared by the agents."""

from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "elu": nn.elu, "silu": nn.silu, "gelu": nn.gelu, "mish": jax.nn.mish}


def activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def kernel_init(init_std: float | None, gain: float):
    """A Dense kernel's initialiser: orthogonal with ``gain`` (``init_std=None``, jaxrl's default), or
    a normal of std ``init_std`` whatever the width (TD-MPC2's ``trunc_normal_(std=0.02)``, whose
    +-2 cut is absolute, so at that std nothing is cut). Behind LayerNorm only a layer's direction
    counts, and Adam moves each weight by about ``lr`` a step, so the smaller the initial weights,
    the faster such a layer learns at a given ``lr``."""
    return nn.initializers.orthogonal(gain) if init_std is None else nn.initializers.normal(init_std)


class MLP(nn.Module):
    """``[..., in] -> [..., out]``: Dense layers of ``hidden_sizes`` units, each followed by
    LayerNorm when ``layer_norm`` and the activation, then a Dense output layer (``out_size``;
    ``None``: no output layer, the last hidden features are returned). Orthogonal init (gain
    sqrt 2); the output layer's gain is ``out_gain`` (0: a zero-initialised output layer).
    ``init_std`` (static): every non-zero kernel drawn from a normal of that std instead
    (:func:`kernel_init`); ``None`` keeps the orthogonal init.

    ``dropout`` (static, in ``[0, 1)``): dropout of that rate on the FIRST hidden layer's Dense
    output, before its LayerNorm (TD-MPC2's Q functions, DroQ's critics). It is applied only when
    the ``apply`` call is given a ``"dropout"`` rng (``rngs={"dropout": key}``); without one the
    network is deterministic and equals the same network with ``dropout=0``. Rate 0 adds nothing."""

    hidden_sizes: Sequence[int]
    out_size: int | None
    activation: str = "tanh"
    out_gain: float = 1.0
    layer_norm: bool = False
    dropout: float = 0.0
    init_std: float | None = None

    @nn.compact
    def __call__(self, x):
        act = activation(self.activation)
        for i, size in enumerate(self.hidden_sizes):
            x = nn.Dense(size, kernel_init=kernel_init(self.init_std, np.sqrt(2)))(x)
            if i == 0 and self.dropout > 0:
                x = nn.Dropout(self.dropout, deterministic=not self.has_rng("dropout"))(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = act(x)
        if self.out_size is None:
            return x
        init = nn.initializers.zeros_init() if self.out_gain == 0 else kernel_init(self.init_std, self.out_gain)
        return nn.Dense(self.out_size, kernel_init=init)(x)


def ensemble(module: type[nn.Module], num: int) -> type[nn.Module]:
    """``num`` independently initialised copies of ``module`` evaluated together: the returned
    class takes ``module``'s fields; its call returns ``module``'s outputs stacked ``[num, ...]``
    (params gain a leading ``[num]`` axis; the inputs are shared; a ``"dropout"`` rng is split, so
    each copy draws its own mask). E.g. twin Q heads:
    ``ensemble(MLP, 2)(hidden_sizes=(256, 256), out_size=1)(x) -> [2, ..., 1]``."""
    return nn.vmap(module, variable_axes={"params": 0}, split_rngs={"params": True, "dropout": True}, in_axes=None,
                   out_axes=0, axis_size=num)


class QEnsemble(nn.Module):
    """``num_heads`` independent state-action value MLPs: ``(obs[..., d], action[..., a]) ->
    q[num_heads, ...]`` (the input is their concatenation; twin critics are ``num_heads=2``).
    ``out_size=k`` gives each head ``k`` outputs, ``q[num_heads, ..., k]`` (e.g. the logits of a
    two-hot value, :class:`jaxrl.twohot.Bins`); ``out_gain``, ``dropout`` and ``init_std`` as
    :class:`MLP`'s (each head draws its own dropout mask when the call is given a ``"dropout"`` rng)."""

    hidden_sizes: Sequence[int] = (256, 256)
    num_heads: int = 2
    activation: str = "relu"
    layer_norm: bool = False
    out_size: int | None = None
    out_gain: float = 1.0
    dropout: float = 0.0
    init_std: float | None = None

    @nn.compact
    def __call__(self, obs, action):
        x = jnp.concatenate([obs.astype(jnp.float32), action.astype(jnp.float32)], axis=-1)
        heads = ensemble(MLP, self.num_heads)(self.hidden_sizes, self.out_size or 1, self.activation, self.out_gain,
                                              self.layer_norm, self.dropout, self.init_std)
        q = heads(x)
        return q[..., 0] if self.out_size is None else q


def simnorm(x: jax.Array, group: int = 8) -> jax.Array:
    """Simplicial normalisation (TD-MPC2): ``x[..., d]`` split into ``d / group`` consecutive groups,
    each replaced by its softmax, so every group is a point on a simplex (sums to 1)."""
    d = x.shape[-1]
    if d % group:
        raise ValueError(f"simnorm needs features divisible by the group size {group}, got {d}")
    y = jax.nn.softmax(x.reshape(x.shape[:-1] + (d // group, group)), axis=-1)
    return y.reshape(x.shape)


class SimNormMLP(nn.Module):
    """``[..., in] -> [..., out_size]`` on simplices: an :class:`MLP` trunk (``hidden_sizes``, LayerNorm
    and ``activation`` after each layer; none: a linear map), then Dense, LayerNorm and
    :func:`simnorm` over groups of ``group`` (TD-MPC2's encoder and latent dynamics); ``init_std`` as
    :class:`MLP`'s (the Dense before LayerNorm too)."""

    hidden_sizes: Sequence[int]
    out_size: int
    activation: str = "mish"
    group: int = 8
    init_std: float | None = None

    @nn.compact
    def __call__(self, x):
        x = MLP(self.hidden_sizes, None, self.activation, 1.0, True, init_std=self.init_std)(x.astype(jnp.float32))
        x = nn.Dense(self.out_size, kernel_init=kernel_init(self.init_std, 1.0))(x)
        return simnorm(nn.LayerNorm()(x), self.group)


class QNetwork(nn.Module):
    """Q values over a discrete action set, ``obs[..., d] -> q[..., num_actions]``: an :class:`MLP`, or
    with ``dueling`` ``V(s) + A(s, a) - mean_a A(s, a)`` heads on a shared trunk (DQN, PQN)."""

    num_actions: int
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "relu"
    layer_norm: bool = False
    dueling: bool = False

    @nn.compact
    def __call__(self, obs):
        if not self.dueling:
            return MLP(self.hidden_sizes, self.num_actions, self.activation, 1.0, self.layer_norm)(obs)
        x = MLP(self.hidden_sizes, None, self.activation, 1.0, self.layer_norm)(obs)
        value = nn.Dense(1)(x)
        advantage = nn.Dense(self.num_actions)(x)
        return value + advantage - jnp.mean(advantage, axis=-1, keepdims=True)


CONV_GRADS = ("auto", "xla", "im2col")


def _im2col(x, k: int, s: int):
    """``[N, H, W, C] -> [N, H', W', k * k * C]``: the VALID ``k x k`` windows at stride ``s``,
    features ordered (row, column, channel) like a flattened HWIO kernel."""
    h, w = (x.shape[1] - k) // s + 1, (x.shape[2] - k) // s + 1
    return jnp.concatenate(
        [x[:, a:a + s * (h - 1) + 1:s, b:b + s * (w - 1) + 1:s, :] for a in range(k) for b in range(k)], axis=-1
    )


def _conv_xla(x, kernel, stride: int):
    return jax.lax.conv_general_dilated(x, kernel, (stride, stride), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))


PADDINGS = ("VALID", "SAME")


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(low, high) zeros that make a VALID convolution of one ``size``-pixel side SAME: ``ceil(size /
    stride)`` outputs, the odd zero on the high side (as XLA's and flax's ``"SAME"``)."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv_im2col_grad(x, kernel, stride: int):
    return _conv_xla(x, kernel, stride)


def _conv_im2col_fwd(x, kernel, stride):
    return _conv_xla(x, kernel, stride), (x, kernel)


def _conv_im2col_bwd(stride, residuals, g):
    x, kernel = residuals
    patches, pull_back = jax.vjp(lambda x: _im2col(x, kernel.shape[0], stride), x)
    flat_kernel = kernel.reshape(-1, kernel.shape[-1])  # [k * k * C, O]
    flat_g = g.reshape(-1, g.shape[-1])  # [N * H' * W', O]
    d_kernel = (flat_g.T @ patches.reshape(-1, patches.shape[-1])).T.reshape(kernel.shape)
    (d_x,) = pull_back(g @ flat_kernel.T)
    return d_x, d_kernel


_conv_im2col_grad.defvjp(_conv_im2col_fwd, _conv_im2col_bwd)


def conv2d(x: jax.Array, kernel: jax.Array, stride: int, grad: str = "auto", padding: str = "VALID") -> jax.Array:
    """2-D convolution, ``x[N, H, W, C]`` with ``kernel[k, k, C, O]`` -> ``[N, H', W', O]``: ``padding``
    ``"VALID"`` (``H' = (H - k) // stride + 1``) or ``"SAME"`` (``H' = ceil(H / stride)``; the input is
    zero-padded by :func:`same_pads`, then convolved VALID).

    The forward pass is always XLA's convolution. ``grad`` picks how its gradients are computed:
    ``"xla"`` differentiates the convolution as XLA does; ``"im2col"`` computes them as matrix
    products over the input's ``k x k`` windows (same numbers to float rounding). On XLA:CPU the
    backward convolutions are 10-25x slower inside a ``lax.scan`` body than outside one
    (jax-ml/jax#12868), and every SGD step of a jaxrl trainer runs inside one, so ``"auto"``
    (the default) picks ``"im2col"`` when the default backend is the CPU and ``"xla"`` elsewhere.
    ``grad``, ``stride`` and ``padding`` are static.
    """
    if grad not in CONV_GRADS:
        raise ValueError(f"unknown conv grad {grad!r}; choose one of {', '.join(CONV_GRADS)}")
    if padding not in PADDINGS:
        raise ValueError(f"unknown conv padding {padding!r}; choose one of {', '.join(PADDINGS)}")
    if padding == "SAME":
        k = kernel.shape[0]
        x = jnp.pad(x, ((0, 0), same_pads(x.shape[1], k, stride), same_pads(x.shape[2], k, stride), (0, 0)))
    if grad == "auto":
        grad = "im2col" if jax.default_backend() == "cpu" else "xla"
    return _conv_im2col_grad(x, kernel, stride) if grad == "im2col" else _conv_xla(x, kernel, stride)


class Conv(nn.Module):
    """A square, strided 2-D convolution (see :func:`conv2d`; ``padding`` VALID or SAME); params
    ``kernel[k, k, C, features]`` and, with ``use_bias``, ``bias[features]``, laid out like
    ``flax.linen.Conv``'s."""

    features: int
    kernel_size: int
    stride: int = 1
    grad: str = "auto"
    kernel_init: nn.initializers.Initializer = nn.initializers.orthogonal(np.sqrt(2))
    padding: str = "VALID"
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init, (self.kernel_size, self.kernel_size, x.shape[-1], self.features))
        y = conv2d(x, kernel, self.stride, self.grad, self.padding)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros_init(), (self.features,))
        return y


class ConvEncoder(nn.Module):
    """Images ``[..., H, W, C]`` (uint8 in ``[0, 255]`` or float) -> features ``[..., features]``.

    Pixels are scaled to ``[0, 1]`` (``center``: ``[-0.5, 0.5]``); then per entry of ``channels``,
    ``kernels``, ``strides`` a convolution (:class:`Conv`, ``padding`` VALID or SAME; its
    ``conv_grad`` says how gradients are computed), with ``norm`` a LayerNorm over its channels (the
    convolution then has no bias), then ``activation``; then a ReLU dense layer of ``features``
    units (``features=None``: no dense layer, the last convolution's maps flattened,
    ``H' * W' * channels[-1]`` features, as DrQ-v2's encoder). The defaults are jaxrl's CNN torso
    (ReLU, VALID, no norm); ``center=True, norm=True, padding="SAME", activation="silu"`` is
    DreamerV3's image encoder. Any leading batch axes; every field is static.
    """

    channels: Sequence[int] = (16, 32)
    kernels: Sequence[int] = (8, 4)
    strides: Sequence[int] = (4, 2)
    features: int | None = 128
    conv_grad: str = "auto"
    activation: str = "relu"
    norm: bool = False
    padding: str = "VALID"
    center: bool = False

    @nn.compact
    def __call__(self, x):
        lead, image = x.shape[:-3], x.shape[-3:]
        x = x.reshape((-1, *image)).astype(np.float32) / 255.0
        if self.center:
            x = x - 0.5
        act = activation(self.activation)
        for i, (c, k, s) in enumerate(zip(self.channels, self.kernels, self.strides)):
            x = Conv(c, k, s, self.conv_grad, padding=self.padding, use_bias=not self.norm, name=f"Conv_{i}")(x)
            x = act(nn.LayerNorm(name=f"LayerNorm_{i}")(x) if self.norm else x)
        x = x.reshape((x.shape[0], -1))
        if self.features is not None:
            x = nn.relu(nn.Dense(self.features, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
        return x.reshape((*lead, x.shape[-1]))


# :class:`ConvEncoder` layer styles by name (the fields each sets; configs pick one by name).
CONV_STYLES = {
    # jaxrl's CNN torso (DrQ-v2's, PPO's, TD-MPC2's): inputs in [0, 1], VALID convolutions with bias, ReLU
    "torso": dict(center=False, norm=False, padding="VALID", activation="relu"),
    "dreamerv3": dict(center=True, norm=True, padding="SAME", activation="silu"),
}


def conv_output_size(size: int, kernels: Sequence[int], strides: Sequence[int], padding: str = "VALID") -> int:
    """Side of the maps convolutions (``kernels``, ``strides``, ``padding``) leave of a ``size``-pixel
    side (< 1: the image is too small for VALID ones; SAME ones leave ``ceil(size / stride)``)."""
    for k, s in zip(kernels, strides):
        size = -(-size // s) if padding == "SAME" else (size - k) // s + 1
        if size < 1:
            return size
    return size


def check_image_fits(algo: str, shape: Sequence[int], kernels: Sequence[int], strides: Sequence[int],
                     padding: str = "VALID") -> None:
    """A one-line :class:`jaxrl.configs.ConfigError` when images of ``shape`` (``[H, W, C]``) are too
    small for a CNN of ``kernels``, ``strides`` and ``padding`` (SAME ones fit any image); flat
    observations pass."""
    from jaxrl.configs import ConfigError

    if len(shape) != 3:
        return
    h, w = shape[:2]
    if conv_output_size(min(h, w), kernels, strides, padding) < 1:
        raise ConfigError(f"{algo}'s CNN (kernels {tuple(kernels)}, strides {tuple(strides)}) does not fit {h}x{w} images: "
                          "use a larger image_size or smaller conv_kernels / conv_strides")


__all__ = ["MLP", "QEnsemble", "SimNormMLP", "simnorm", "QNetwork", "Conv", "ConvEncoder", "conv2d", "activation", "ensemble",
           "conv_output_size", "check_image_fits", "same_pads", "CONV_STYLES"]
