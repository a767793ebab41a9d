"""Learned update rules for PPO's ``optimizer`` slot: ``make(meta_params) -> optax.GradientTransformation``.

- ``lifetime_lr``: a lifetime-conditioned learned step size over Adam (PPO's default
  optimiser: clip + Adam + the optionally annealed lr; :func:`make_lifetime_lr` puts it over any
  optax optimiser). The meta-parameters are the log of a step-size multiplier at ``K`` evenly
  spaced points of the lifetime, interpolated linearly; zeros give PPO's optimiser bit for bit.
- ``open``: a per-parameter learned optimiser in the style of OPEN (Goldie et al. 2024): a
  small MLP reads, for every parameter, its gradient and momenta at five timescales (all
  normalised by Adam's second moment) and the lifetime progress, and outputs a per-parameter
  log step-size change and an additive term on Adam's direction. A zero output layer gives
  Adam (PPO's default optimiser) up to float rounding (~1e-9: XLA fuses the extra exact
  ``* 1 + 0`` differently). (OPEN's learned stochasticity, dormancy and
  layer-position inputs are left out.)

Progress inside an optimiser is ``min(count, total) / total`` with ``count`` the optimiser
steps taken and ``total = config.num_optimizer_steps`` (static), a finer-grained version of
PPO's ``update index / num_updates``. ``meta_params`` is keyed by rule name
(``{"lifetime_lr": {...}}``); a slot whose key is missing (or ``None``) is PPO's default optimiser.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxrl.optim import default_optimizer, learning_rate
from jaxrl.configs import register

LOG_LIMIT = 4.0  # learned log step-size changes are clipped to [-4, 4] (a factor of at most ~55)
OPEN_BETAS = (0.1, 0.5, 0.9, 0.99, 0.999)
OPEN_INPUTS = 2 + len(OPEN_BETAS)  # gradient, momenta, progress
_ADAM_B2 = 0.999  # optax.scale_by_adam's default


def _progress(count, total_steps: int):
    return jnp.minimum(count, total_steps).astype(jnp.float32) / total_steps


def _rule_params(meta_params: Any, name: str):
    return meta_params.get(name) if isinstance(meta_params, dict) else None


# ----------------------------------------------------------------------------- lifetime step size


def init_lifetime_lr(key=None, knots: int = 8) -> dict:
    """Initial meta-parameters: ``{"lifetime_lr": {"log_lr": zeros[knots]}}`` (multiplier 1 everywhere)."""
    return {"lifetime_lr": {"log_lr": jnp.zeros((knots,), jnp.float32)}}


def lr_multiplier(log_lr, progress):
    """``exp(clip(interp(progress, linspace(0, 1, K), log_lr), -4, 4))``: the step-size factor at ``progress``."""
    knots = jnp.linspace(0.0, 1.0, log_lr.shape[-1])
    return jnp.exp(jnp.clip(jnp.interp(progress, knots, log_lr), -LOG_LIMIT, LOG_LIMIT))


def lifetime_lr_scale(meta_params: dict, total_steps: int):
    """``count -> multiplier`` of ``meta_params["lifetime_lr"]["log_lr"]`` at the lifetime progress
    ``min(count, total_steps) / total_steps`` (``total_steps`` static)."""
    log_lr = meta_params["lifetime_lr"]["log_lr"]
    return lambda count: lr_multiplier(log_lr, _progress(count, total_steps))


def make_lifetime_lr(meta_params: dict, base: optax.GradientTransformation, total_steps: int) -> optax.GradientTransformation:
    """Any ``base`` optimiser followed by the learned lifetime multiplier (``make(meta_params)`` with
    ``functools.partial(make_lifetime_lr, base=..., total_steps=...)``)."""
    return optax.chain(base, optax.scale_by_schedule(lifetime_lr_scale(meta_params, total_steps)))


@register
def lifetime_lr_optimizer(hparams, meta_params, config) -> optax.GradientTransformation:
    """PPO optimizer slot: PPO's default optimiser with its learning rate times the learned multiplier.

    The multiplier scales the learning rate itself (not the update after it), so a multiplier
    of exactly 1 (zero meta-params) gives PPO's default optimiser bit for bit.
    """
    if _rule_params(meta_params, "lifetime_lr") is None:
        return default_optimizer(hparams, meta_params, config)
    return default_optimizer(hparams, meta_params, config, lr_scale=lifetime_lr_scale(meta_params, config.num_optimizer_steps))


# ----------------------------------------------------------------------------- OPEN-style


def init_open(key, hidden: int = 16) -> dict:
    """Initial meta-parameters (the output layer is zero, so the rule is Adam):
    ``{"open": {"w1": [7, H], "b1": [H], "w2": [H, 2], "b2": [2]}}`` float32."""
    k1, k2 = jax.random.split(key)
    return {"open": {
        "w1": jax.random.normal(k1, (OPEN_INPUTS, hidden), jnp.float32) / jnp.sqrt(float(OPEN_INPUTS)),
        "b1": 0.5 * jax.random.normal(k2, (hidden,), jnp.float32),
        "w2": jnp.zeros((hidden, 2), jnp.float32),
        "b2": jnp.zeros((2,), jnp.float32),
    }}


class OpenState(NamedTuple):
    adam: Any  # optax ScaleByAdamState
    momenta: tuple  # one params-shaped pytree per beta in OPEN_BETAS
    count: jax.Array  # int32 optimiser steps taken


def open_features(grad, momenta, nu, count, progress, eps: float):
    """``[..., 7]`` per-parameter inputs: the gradient and the momenta divided by Adam's
    bias-corrected RMS, and the progress."""
    correction = 1.0 - _ADAM_B2 ** count.astype(jnp.float32)
    inv_rms = 1.0 / (jnp.sqrt(nu / correction) + eps)
    parts = [grad * inv_rms] + [m * inv_rms for m in momenta] + [jnp.broadcast_to(progress, grad.shape)]
    return jnp.stack(parts, axis=-1)


def scale_by_open(theta: dict, total_steps: int, eps: float = 1e-5) -> optax.GradientTransformation:
    """Adam's direction ``d`` (optax ``scale_by_adam``) changed per parameter by the MLP
    ``(a, b) = w2 . tanh(features w1 + b1) + b2`` into ``d * exp(clip(a, -4, 4)) + b``."""
    adam = optax.scale_by_adam(eps=eps)

    def init_fn(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return OpenState(adam.init(params), tuple(zeros for _ in OPEN_BETAS), jnp.zeros((), jnp.int32))

    def update_fn(updates, state, params=None):
        direction, adam_state = adam.update(updates, state.adam, params)
        momenta = tuple(jax.tree.map(lambda m, g, b=b: b * m + (1.0 - b) * g, m_tree, updates)
                        for b, m_tree in zip(OPEN_BETAS, state.momenta))
        count = optax.safe_int32_increment(state.count)
        progress = _progress(state.count, total_steps)

        def leaf(d, g, nu, *ms):
            hidden = jnp.tanh(open_features(g, ms, nu, count, progress, eps) @ theta["w1"] + theta["b1"])
            out = hidden @ theta["w2"] + theta["b2"]
            return d * jnp.exp(jnp.clip(out[..., 0], -LOG_LIMIT, LOG_LIMIT)) + out[..., 1]

        new = jax.tree.map(leaf, direction, updates, adam_state.nu, *momenta)
        return new, OpenState(adam_state, momenta, count)

    return optax.GradientTransformation(init_fn, update_fn)


def make_open(meta_params: dict, *, max_grad_norm, lr, total_steps: int, eps: float = 1e-5) -> optax.GradientTransformation:
    """The OPEN-style optimiser of ``meta_params["open"]``: clip by global norm, :func:`scale_by_open`
    (its Adam statistics with ``eps``), then the learning rate ``lr`` (a number or a schedule ``count -> lr``)."""
    return optax.chain(
        optax.clip_by_global_norm(max_grad_norm),
        scale_by_open(meta_params["open"], total_steps, eps=eps),
        optax.scale_by_learning_rate(lr),
    )


@register
def open_optimizer(hparams, meta_params, config) -> optax.GradientTransformation:
    """PPO optimizer slot: the OPEN-style learned optimiser (PPO's default optimiser without ``meta_params["open"]``)."""
    if _rule_params(meta_params, "open") is None:
        return default_optimizer(hparams, meta_params, config)
    return make_open(meta_params, max_grad_norm=hparams.max_grad_norm, lr=learning_rate(hparams, config),
                     total_steps=config.num_optimizer_steps, eps=getattr(config, "adam_eps", 1e-5))


def maker(slot_fn, hparams, config):
    """``make(meta_params) -> GradientTransformation`` for a PPO optimizer slot function, its hparams and config."""
    return functools.partial(slot_fn, hparams, config=config)
