"""Policy objectives for PPO's ``objective`` slot: DPO's closed-form drift and LPO's learned drift.

An objective is ``objective(ratio[N], advantages[N], hparams, meta_params, progress) -> surrogate[N]``
(maximised; ``progress`` = update index / number of updates, a traced scalar in [0, 1)). In the
mirror-learning view (Kuba et al. 2022, used by Lu et al. 2022) a surrogate is
``r A - drift(r, A)`` with ``drift >= 0`` and ``drift(1, A) = 0``; PPO's clip is one such drift
(``r A - min(r A, clip(r) A)``).

``meta_params`` is a dict keyed by rule name (``{"lpo": {...}}``, ``{"dpo": {...}}``), so one
pytree can carry a learned objective and a learned optimiser at once; a slot whose key is
missing (or ``meta_params=None``) behaves as its documented default.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.algos.ppo.losses import clipped_surrogate
from jaxrl.configs import register

DPO_ALPHA = 2.0
DPO_BETA = 0.6
LPO_INPUTS = 8  # features of (r, A): r - 1, (r - 1)^2, log r, (log r)^2, and each of them times A


# ----------------------------------------------------------------------------- DPO


def dpo_drift(ratio, advantages, alpha=DPO_ALPHA, beta=DPO_BETA):
    """The drift discovered by Lu et al. (2022), ``[N]``, >= 0, zero at ``r = 1``.

    ``A >= 0``: ``relu((r - 1) A - alpha tanh((r - 1) A / alpha))``;
    ``A < 0``:  ``relu(log(r) A - beta tanh(log(r) A / beta))``.
    """
    up = (ratio - 1.0) * advantages
    down = jnp.log(ratio) * advantages
    return jnp.where(
        advantages >= 0,
        jax.nn.relu(up - alpha * jnp.tanh(up / alpha)),
        jax.nn.relu(down - beta * jnp.tanh(down / beta)),
    )


def init_dpo(key=None) -> dict:
    """DPO's two constants as meta-parameters (``{"dpo": {"alpha": 2.0, "beta": 0.6}}``, float32)."""
    return {"dpo": {"alpha": jnp.float32(DPO_ALPHA), "beta": jnp.float32(DPO_BETA)}}


@register
def dpo_objective(ratio, advantages, hparams, meta_params=None, progress=None):
    """``r A - dpo_drift(r, A)``; ``alpha``/``beta`` from ``meta_params["dpo"]`` if given, else 2 and 0.6."""
    mp = (meta_params or {}).get("dpo") if isinstance(meta_params, dict) else None
    alpha, beta = (mp["alpha"], mp["beta"]) if mp is not None else (DPO_ALPHA, DPO_BETA)
    return ratio * advantages - dpo_drift(ratio, advantages, alpha, beta)


# ----------------------------------------------------------------------------- LPO


def lpo_features(ratio, advantages):
    """``[N, 8]``: ``r - 1, (r - 1)^2, log r, (log r)^2`` and the same four times ``A``; all 0 at ``r = 1``."""
    r1, lr = ratio - 1.0, jnp.log(ratio)
    base = jnp.stack([r1, r1 * r1, lr, lr * lr], axis=-1)
    return jnp.concatenate([base, base * advantages[..., None]], axis=-1)


def init_lpo(key, hidden: int = 16) -> dict:
    """LPO's documented initial meta-parameters, which give EXACTLY PPO's clipped objective.

    ``{"lpo": {"w1": [8, H], "b1": [H], "w_progress": [H], "w2": [H]}}`` (float32): the hidden
    layer is random (``w1 ~ N(0, 1/8)``, ``b1, w_progress ~ N(0, 1/4)``), the output layer ``w2``
    is zero, so the learned drift is 0 and evolution perturbs it to first order from the start.
    All-zero meta-parameters also give PPO exactly.
    """
    k1, k2, k3 = jax.random.split(key, 3)
    return {"lpo": {
        "w1": jax.random.normal(k1, (LPO_INPUTS, hidden), jnp.float32) / jnp.sqrt(float(LPO_INPUTS)),
        "b1": 0.5 * jax.random.normal(k2, (hidden,), jnp.float32),
        "w_progress": 0.5 * jax.random.normal(k3, (hidden,), jnp.float32),
        "w2": jnp.zeros((hidden,), jnp.float32),
    }}


def lpo_correction(theta: dict, ratio, advantages, progress):
    """The learned part of the drift, ``[N]``: ``g(x, p) - g(0, p)`` with
    ``g(x, p) = w2 . tanh(x w1 + b1 + p w_progress)`` and ``x = lpo_features(r, A)``.

    Exactly 0 at ``r = 1`` (``x = 0``) and for ``w2 = 0``; ``progress`` makes it lifetime-aware
    (as TA-LPO, Jackson et al. 2024).
    """
    bias = theta["b1"] + jnp.asarray(progress, jnp.float32) * theta["w_progress"]
    hidden = jnp.tanh(lpo_features(ratio, advantages) @ theta["w1"] + bias)
    return (hidden - jnp.tanh(bias)) @ theta["w2"]


@register
def lpo_objective(ratio, advantages, hparams, meta_params=None, progress=0.0):
    """Learned Policy Optimisation: PPO's drift plus a learned correction, kept a valid drift.

    ``clip_obj - max(c, -d_ppo)`` with ``clip_obj`` PPO's clipped surrogate, ``d_ppo = r A -
    clip_obj >= 0`` its drift and ``c`` :func:`lpo_correction`; the total drift ``max(d_ppo + c, 0)``
    is >= 0 and 0 at ``r = 1``. With ``c = 0`` (``w2 = 0``, e.g. :func:`init_lpo`, or no
    ``meta_params["lpo"]``) it is PPO's objective bit for bit (the extra terms are exact zeros).
    """
    clip_obj = clipped_surrogate(ratio, advantages, hparams)
    theta = meta_params.get("lpo") if isinstance(meta_params, dict) else None
    if theta is None:
        return clip_obj
    ppo_drift = ratio * advantages - clip_obj
    return clip_obj - jnp.maximum(lpo_correction(theta, ratio, advantages, progress), -ppo_drift)


def drift_of(objective, ratio, advantages, hparams, meta_params=None, progress=0.0):
    """The drift ``r A - objective(r, A)`` of any objective, ``[N]`` (for plots and checks)."""
    return ratio * advantages - objective(ratio, advantages, hparams, meta_params, progress)
