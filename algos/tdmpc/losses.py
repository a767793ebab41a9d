"""TD-MPC2's losses over a replay window, time-major.

A window (:meth:`jaxrl.replay.Replay.sample_sequences`, ``L = horizon + 1``) holds observations
``obs[L, N, ...]`` and the steps taken from them: ``action[L, N, A]`` (in ``[-1, 1]``), ``reward``,
``terminated`` ``[L, N]``. Step ``t < H`` goes from ``obs[t]`` to ``obs[t + 1]`` and counts where
``mask[t + 1]`` (the window has not crossed an episode end; a final observation is unmasked, so the
last step of an episode counts, with its true final observation). Each loss is a masked mean per
step, weighted by ``rho^t`` and averaged over the steps (TD-MPC2's normalisation: divided by ``H``,
the value loss also by the number of Q heads).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.replay import masked_mean
from jaxrl.returns import percentile_scale
from jaxrl.twohot import Bins


def horizon_weights(rho, steps: int) -> jax.Array:
    """``[steps]``: ``rho^t`` for ``t = 0 .. steps - 1`` (``rho`` may be traced)."""
    return jnp.power(rho, jnp.arange(steps, dtype=jnp.float32))


def weighted_steps(per_step: jax.Array, mask: jax.Array, rho) -> jax.Array:
    """``sum_t rho^t masked_mean(per_step[t], mask[t]) / T`` for ``per_step`` ``[T, N]`` and ``mask[T, N]``."""
    means = jax.vmap(masked_mean)(per_step, mask)
    return jnp.sum(horizon_weights(rho, per_step.shape[0]) * means) / per_step.shape[0]


def td_targets(reward, terminated, next_q_pair, gamma) -> jax.Array:
    """``r_t + gamma (1 - terminated_t) min(Q'_i, Q'_j)(z_{t+1}, pi(z_{t+1}))``, ``[H, N]``, from two
    target heads ``next_q_pair[2, H, N]`` at the ENCODED next observations (no gradient)."""
    value = jnp.min(next_q_pair, axis=0)
    return jax.lax.stop_gradient(reward + gamma * (1.0 - terminated.astype(jnp.float32)) * value)


def model_losses(zs, next_z, reward_logits, q_logits, reward, targets, step_mask, bins: Bins, hp) -> tuple[jax.Array, dict]:
    """The world model's loss from its latent rollout.

    Args:
      zs: ``[H + 1, N, latent]`` the rollout ``z_0 = enc(obs_0)``, ``z_{t+1} = d(z_t, a_t)``.
      next_z: ``[H, N, latent]`` the encoded next observations ``enc(obs_{t+1})`` (no gradient).
      reward_logits: ``[H, N, bins]`` of ``R(z_t, a_t)``; q_logits: ``[E, H, N, bins]`` of ``Q_e(z_t, a_t)``.
      reward, targets: ``[H, N]`` the rewards and the TD targets; step_mask: ``[H, N]`` the steps that count.
      bins: the two-hot bins; hp: the traced hparams (``rho`` and the three coefficients).

    Returns:
      ``(consistency_coef * consistency + reward_coef * reward + value_coef * value, metrics)``.
    """
    consistency = weighted_steps(jnp.mean(jnp.square(zs[1:] - jax.lax.stop_gradient(next_z)), -1), step_mask, hp.rho)
    reward_loss = weighted_steps(bins.cross_entropy(reward_logits, reward), step_mask, hp.rho)
    value_ce = bins.cross_entropy(q_logits, targets[None])  # [E, H, N]
    value_loss = jnp.mean(jax.vmap(lambda ce: weighted_steps(ce, step_mask, hp.rho))(value_ce))
    total = hp.consistency_coef * consistency + hp.reward_coef * reward_loss + hp.value_coef * value_loss
    return total, {"consistency_loss": consistency, "reward_loss": reward_loss, "value_loss": value_loss,
                   "model_loss": total, "td_target": masked_mean(targets, step_mask)}


def scaled_entropy(gaussian_log_prob, action_dim: int) -> jax.Array:
    """TD-MPC2's entropy bonus of a prior sample (its ``scaled_entropy``): ``-A log N(u)``, the
    log-density of the pre-squash sample ``u`` summed over the ``A = action_dim`` dims, times ``A``.
    The tanh's change of variables is left out (TD-MPC2 divides it away), and the factor ``A`` makes
    the bonus grow with the action's size (a 6-dim cheetah's is 6x a 1-dim cart-pole's per dim)."""
    return -action_dim * gaussian_log_prob


def policy_loss(entropy, log_prob, q, scale, mask, hp) -> tuple[jax.Array, tuple[jax.Array, dict]]:
    """The policy prior's loss on the (fixed) latent rollout ``[T = H + 1, N]``:
    ``sum_t rho^t mean_n -(entropy_coef * entropy + Q(z_t, a_t) / S) / T`` with ``a_t ~ pi(z_t)``
    reparameterised, ``entropy`` the sample's bonus (:func:`scaled_entropy`, or ``-log_prob`` with
    ``TDMPCConfig.entropy="squashed"``), ``q`` the mean of two
    drawn heads (no gradient to the heads), ``S`` the running 5th-95th percentile spread of
    ``Q(z_0, .)`` moved by ``tau`` first (:func:`jaxrl.returns.percentile_scale`, over the valid draws).
    ``log_prob`` (the squashed sample's) is only reported: ``entropy`` metric = ``-mean(log_prob)``,
    ``scaled_entropy`` = ``mean(entropy)`` (the bonus as given, whichever it is). Returns ``(loss, (new_scale, metrics))``."""
    new_scale = percentile_scale(scale, jax.lax.stop_gradient(q[0]), hp.tau, mask=mask[0])
    per_step = -(hp.entropy_coef * entropy + q / new_scale)
    loss = weighted_steps(per_step, mask, hp.rho)
    return loss, (new_scale, {"pi_loss": loss, "entropy": -masked_mean(log_prob, mask),
                              "scaled_entropy": masked_mean(entropy, mask), "q_scale": new_scale})
