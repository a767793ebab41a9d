"""DreamerV3's losses, time-major.

World model, on a replayed window of ``L`` steps (``[L, N, ...]``): the prediction losses (decoder,
two-hot reward, continue) plus the two KL terms between the posterior ``q`` and the prior ``p`` of
each step's latent, balanced and clipped from below by free bits::

    dyn = max(free, KL(sg(q) || p))        # trains the prior toward the posterior
    rep = max(free, KL(q || sg(p)))        # trains the posterior toward the prior
    loss = pred + dyn_coef * dyn + rep_coef * rep

(each KL summed over the latent's groups, per step, before the free-bits clip).

Actor and critic, on imagined trajectories of ``H`` steps from ``M`` start states (``[H, M]``):
lambda returns with the predicted continuation as a per-step discount
(:func:`jaxrl.returns.lambda_returns`), each step weighted by the probability that the imagined
episode is still going (the product of the continuation predictions before it); returns divided by
``max(1, S)``, ``S`` the running 5th-95th percentile range of the returns
(:func:`jaxrl.returns.percentile_scale`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.distributions import categorical_kl
from jaxrl.replay import masked_mean
from jaxrl.returns import lambda_returns, percentile_scale
from jaxrl.twohot import Bins

sg = jax.lax.stop_gradient


def kl_balance(post_logits, prior_logits, free_nats) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(dyn, rep, kl)`` per step ``[...]`` from logits ``[..., groups, classes]``: the dynamics
    and representation terms (free bits applied) and the raw ``KL(q || p)`` summed over groups."""
    kl = jnp.sum(categorical_kl(post_logits, prior_logits), -1)
    dyn = jnp.sum(categorical_kl(sg(post_logits), prior_logits), -1)
    rep = jnp.sum(categorical_kl(post_logits, sg(prior_logits)), -1)
    return jnp.maximum(dyn, free_nats), jnp.maximum(rep, free_nats), kl


def world_model_loss(recon, reward_ce, cont_bce, post_logits, prior_logits, mask, step_mask, hp) -> tuple[jax.Array, dict]:
    """The world model's loss over a window.

    Args:
      recon: ``[L, N]`` decoder error per step (summed over the observation's entries).
      reward_ce, cont_bce: ``[L, N]`` two-hot reward cross-entropy and continue log-loss at each step
        (predicting the step that LED to it).
      post_logits, prior_logits: ``[L, N, groups, classes]``.
      mask: ``[L, N]`` the steps of the window that count (one episode, drawn validly).
      step_mask: ``[L, N]`` the steps whose incoming reward and continuation are known (``mask``
        without the window's first step and episode starts).
      hp: traced hparams (``free_nats``, ``dyn_coef``, ``rep_coef``).
    """
    dyn, rep, kl = kl_balance(post_logits, prior_logits, hp.free_nats)
    terms = {"recon_loss": masked_mean(recon, mask), "reward_loss": masked_mean(reward_ce, step_mask),
             "cont_loss": masked_mean(cont_bce, step_mask), "dyn_loss": masked_mean(dyn, mask),
             "rep_loss": masked_mean(rep, mask)}
    loss = (terms["recon_loss"] + terms["reward_loss"] + terms["cont_loss"] + hp.dyn_coef * terms["dyn_loss"]
            + hp.rep_coef * terms["rep_loss"])
    return loss, {**terms, "kl": masked_mean(kl, mask), "model_loss": loss}


def weighted_mean(x, weight) -> jax.Array:
    """``sum(weight * x) / sum(weight)`` (0 when every weight is 0)."""
    return jnp.sum(weight * x) / jnp.maximum(jnp.sum(weight), 1e-8)


def binary_log_loss(logits, target) -> jax.Array:
    """``-[t log sigmoid(x) + (1 - t) log sigmoid(-x)]`` elementwise (the continue head's loss)."""
    return -(target * jax.nn.log_sigmoid(logits) + (1.0 - target) * jax.nn.log_sigmoid(-logits))


def imagined_returns(reward, cont, values, start_weight, hp) -> tuple[jax.Array, jax.Array]:
    """Lambda returns and step weights of an imagined trajectory.

    Args:
      reward, cont: ``[H, M]`` predicted reward and continuation probability of each imagined step.
      values: ``[H + 1, M]`` the critic's values of the imagined states ``s_0 .. s_H``.
      start_weight: ``[M]`` 1 for a start state that counts (0: masked, or an episode's terminal state).
      hp: ``gamma``, ``lam``.

    Returns:
      ``(returns[H, M], weight[H, M])``: ``G_t = r_t + gamma c_t ((1 - lam) v_{t+1} + lam G_{t+1})``
      with ``G_{H-1}`` bootstrapped from ``v_H``; ``weight_t = start_weight prod_{k<t} c_k``.
      No gradient flows through ``c``: with dynamics gradients the actor would otherwise raise its
      return by steering the imagined states toward a higher predicted continuation (DreamerV3 2023
      discounts by the continue head's mode, which has no gradient; its current code's REINFORCE
      actor takes none through the returns). Gradients flow through ``reward`` and ``values``.
    """
    returns = lambda_returns(reward, values[1:], hp.gamma * sg(cont), hp.lam)
    alive = jnp.concatenate([jnp.ones_like(cont[:1]), jnp.cumprod(cont[:-1], axis=0)], 0)
    return returns, sg(alive * start_weight[None])


def actor_loss(returns, baseline, log_prob, entropy, weight, scale, hp, reinforce: bool,
               dynamics_baseline: bool = False) -> tuple[jax.Array, tuple]:
    """The actor's loss, ``[H, M]`` inputs; ``scale`` the running return scale BEFORE this step.

    Moves the scale by ``return_rate`` toward the returns' 5th-95th percentile range first, then
    ``-mean_w[ A / max(1, S) (* log_prob when reinforce) + entropy_coef * entropy ]`` with ``A =
    G - v`` (reinforce: no gradient through ``A``), and with dynamics gradients (the gradient flows
    back through the imagined trajectory into the actions) ``A = G`` (DreamerV1/V2), or with
    ``dynamics_baseline`` ``A = G - v`` where ``baseline`` carries its gradient too (DreamerV3
    2023's ``-(ret - base)``: the critic's value of each imagined state, a function of the earlier
    actions through the dynamics). Pass ``baseline`` WITHOUT a stop-gradient: this function stops it
    where it must not carry one. ``reinforce`` and ``dynamics_baseline`` are Python bools (static).
    Returns ``(loss, (new_scale, metrics))``.
    """
    new_scale = percentile_scale(scale, sg(returns), hp.return_rate, mask=weight > 0)
    norm = jnp.maximum(new_scale, 1.0)
    if reinforce:
        objective = sg((returns - baseline) / norm) * log_prob
    elif dynamics_baseline:
        objective = (returns - baseline) / norm
    else:
        objective = returns / norm
    loss = -weighted_mean(objective + hp.entropy_coef * entropy, weight)
    return loss, (new_scale, {"actor_loss": loss, "entropy": masked_mean(entropy, weight > 0), "return_scale": new_scale,
                              "imag_return": masked_mean(returns, weight > 0)})


def critic_loss(logits, slow_values, returns, weight, bins: Bins, hp) -> tuple[jax.Array, dict]:
    """Two-hot cross-entropy of the critic's ``logits[H, M, bins]`` against the (fixed) returns,
    plus ``slowreg_coef`` times the same against the slow critic's values, weighted by ``weight``."""
    ce = bins.cross_entropy(logits, sg(returns)) + hp.slowreg_coef * bins.cross_entropy(logits, sg(slow_values))
    loss = weighted_mean(ce, weight)
    return loss, {"critic_loss": loss, "value": masked_mean(bins.decode(logits), weight > 0)}
