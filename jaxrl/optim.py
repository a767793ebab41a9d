"""Update rules and target networks shared by every learner.

- :func:`default_optimizer`: the default of every learner's ``optimizer`` slot,
  ``optimizer(hparams, meta_params, config) -> optax.GradientTransformation``: clip by global
  norm (``hparams.max_grad_norm``), Adam, and ``hparams.lr`` (decayed linearly to 0 over
  ``config.num_optimizer_steps`` when ``config.anneal_lr``). A learned optimiser from
  ``jaxrl meta`` fills the same slot, so it trains any learner whose hparams have ``lr`` and
  ``max_grad_norm`` and whose config has ``anneal_lr`` and ``num_optimizer_steps``.
- :func:`polyak`: a soft target-network update; :func:`periodic`: a hard copy every ``period`` steps.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from jaxrl.configs import register


def learning_rate(hparams, config):
    """The step size: ``hparams.lr``, or if ``config.anneal_lr`` the schedule
    ``count -> lr * (1 - count / config.num_optimizer_steps)`` (linear decay to 0)."""
    total = config.num_optimizer_steps
    if config.anneal_lr:
        return lambda count: hparams.lr * (1.0 - jnp.minimum(count, total) / total)
    return hparams.lr


@register
def default_optimizer(hparams, meta_params, config, lr_scale=None) -> optax.GradientTransformation:
    """Global-norm clipping then Adam; the learning rate decays linearly to 0 if ``config.anneal_lr``.

    Adam's eps is ``config.adam_eps`` where the config (or a parameter group's view of it,
    :func:`jaxrl.offpolicy.optimizer_config`) sets one (static), else 1e-5.

    ``lr_scale(count) -> factor`` (optional) multiplies the learning rate (a learned step-size
    rule); a factor of exactly 1 gives the same numbers as without it.
    """
    lr = learning_rate(hparams, config)
    if lr_scale is not None:
        base = lr
        lr = lambda count: (base(count) if callable(base) else base) * lr_scale(count)  # noqa: E731
    return optax.chain(
        optax.clip_by_global_norm(hparams.max_grad_norm),
        optax.scale_by_adam(eps=getattr(config, "adam_eps", 1e-5)),
        optax.scale_by_learning_rate(lr),
    )


def apply_gradients(tx: optax.GradientTransformation, params: Any, opt_state: Any, grads: Any) -> tuple[Any, Any]:
    """One optimiser step: ``(new_params, new_opt_state)``."""
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def polyak(target: Any, online: Any, tau) -> Any:
    """``target + tau * (online - target)``, leaf by leaf (``tau`` may be traced; 1 copies)."""
    return optax.incremental_update(online, target, tau)  # optax takes the NEW parameters first


def periodic(target: Any, online: Any, step: jax.Array, period: int, tau=1.0) -> Any:
    """Every ``period`` (static) steps (where ``step % period == 0``) a Polyak step of rate ``tau``
    toward ``online`` (``tau = 1``: a hard copy); ``target`` unchanged otherwise."""
    due = (step % period) == 0
    moved = polyak(target, online, tau)
    return jax.tree.map(lambda t, m: jnp.where(due, m, t), target, moved)


def gradient_step(tx: optax.GradientTransformation, params: Any, opt_state: Any, loss_fn) -> tuple[Any, Any, dict]:
    """One step of ``tx`` on ``loss_fn(params) -> (loss, metrics)``: ``(params, opt_state, metrics)``."""
    grads, metrics = jax.grad(loss_fn, has_aux=True)(params)
    params, opt_state = apply_gradients(tx, params, opt_state, grads)
    return params, opt_state, metrics


def linear_schedule(start, end, fraction, progress) -> jax.Array:
    """``start`` moving linearly to ``end`` over the first ``fraction`` of the run, then ``end``
    (``progress`` in [0, 1]; all may be traced): exploration epsilons and noise scales."""
    t = jnp.clip(progress / jnp.maximum(fraction, 1e-8), 0.0, 1.0)
    return start + t * (end - start)
