"""MPPI: sampling-based trajectory optimisation inside the graph (TD-MPC2's planner), for any model.

    planner = MPPI(horizon=3, iterations=6, num_samples=512, num_elites=64, num_prior=24)   # static
    action, plan, info = planner.plan(key, value, warm, min_std, max_std, temperature,
                                      prior=prior_actions, explore=True)

One env, unbatched (``vmap`` it over envs). Actions live in ``[-1, 1]^A``. Each of ``iterations``
rounds (a ``lax.scan``: compile time does not grow with the count) samples ``num_samples -
num_prior`` action sequences ``[horizon, A]`` from a Gaussian around the current plan (clipped to
``[-1, 1]``), adds the ``num_prior`` sequences a policy proposed, scores them all with
``value(key, actions[H, N, A]) -> [N]`` (e.g. a world model's discounted rewards plus a terminal Q), keeps
the ``num_elites`` best and refits the plan's mean and std to them, weighting each elite by
``exp(temperature * (value - max value))``. The action is the first step of an elite drawn by those
weights (plus ``std[0]`` noise when ``explore``).

**Warm start.** The returned ``plan`` (the final mean ``[H, A]``) seeds the next step's search once
shifted by one step (:func:`shift`); a policy keeps it in its carry and restarts from zeros where
an episode starts (``first``). The std always restarts at ``max_std``.

Static: the four counts and ``explore``. Traced: ``min_std``, ``max_std``, ``temperature``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from jaxrl.configs import ConfigError, check_positive_ints


def shift(plan: jax.Array) -> jax.Array:
    """``plan[..., H, A]`` advanced one step: ``plan[1:]`` then a zero step (the warm start of the next search)."""
    return jnp.concatenate([plan[..., 1:, :], jnp.zeros_like(plan[..., :1, :])], axis=-2)


@dataclasses.dataclass(frozen=True)
class MPPI:
    """The planner's static counts (frozen, hashable). ``num_prior`` of the ``num_samples``
    sequences come from a policy (``prior``); ``num_elites <= num_samples``."""

    horizon: int
    iterations: int
    num_samples: int
    num_elites: int
    num_prior: int = 0

    def __post_init__(self):
        check_positive_ints(self, ("horizon", "iterations", "num_samples", "num_elites"))
        if isinstance(self.num_prior, bool) or not isinstance(self.num_prior, int) or self.num_prior < 0:
            raise ConfigError(f"MPPI.num_prior must be a non-negative integer, got {self.num_prior!r}")
        if self.num_elites > self.num_samples:
            raise ConfigError(f"MPPI: num_elites (= {self.num_elites}) is more than num_samples (= {self.num_samples})")
        if self.num_prior >= self.num_samples:
            raise ConfigError(f"MPPI: num_prior (= {self.num_prior}) policy sequences leave none of the num_samples "
                              f"(= {self.num_samples}) to sample")

    def plan(self, key: jax.Array, value: Callable, warm: jax.Array, min_std, max_std, temperature,
             prior: jax.Array | None = None, explore: bool = True):
        """One search from the warm start ``warm[H, A]``.

        Args:
          key: PRNG key.
          value: ``value(key, actions[H, N, A]) -> [N]`` the score of each sequence (NaN counts as 0).
          warm: ``[H, A]`` initial mean (:func:`shift` of the previous plan, or zeros).
          min_std, max_std, temperature: traced scalars.
          prior: ``[H, num_prior, A]`` policy proposals (``None`` when ``num_prior`` is 0).
          explore: add ``N(0, std[0])`` noise to the chosen action (static).

        Returns:
          ``(action[A], plan[H, A], info)`` with ``info = {"value": the chosen elite's score, "std": mean final std}``.
        """
        H, A = warm.shape
        if H != self.horizon:
            raise ValueError(f"MPPI.plan: warm start of {H} steps for a horizon of {self.horizon}")
        if (prior is None) != (self.num_prior == 0) or (prior is not None and prior.shape != (H, self.num_prior, A)):
            raise ValueError(f"MPPI.plan needs prior [{H}, {self.num_prior}, {A}], got "
                             f"{None if prior is None else prior.shape}")
        n_sampled = self.num_samples - self.num_prior

        def iteration(carry, k):
            mean, std, _, _ = carry
            noise_key, value_key = jax.random.split(k)
            noise = jax.random.normal(noise_key, (H, n_sampled, A))
            actions = jnp.clip(mean[:, None] + std[:, None] * noise, -1.0, 1.0)
            if prior is not None:
                actions = jnp.concatenate([prior, actions], axis=1)
            scores = jnp.nan_to_num(value(value_key, actions), nan=0.0)
            elite_value, idx = jax.lax.top_k(scores, self.num_elites)
            elites = actions[:, idx]  # [H, E, A]
            weight = jax.nn.softmax(temperature * (elite_value - jnp.max(elite_value)))
            mean = jnp.einsum("e,hea->ha", weight, elites)
            std = jnp.sqrt(jnp.einsum("e,hea->ha", weight, jnp.square(elites - mean[:, None])))
            return (mean, jnp.clip(std, min_std, max_std), weight, elites), elite_value

        std0 = jnp.full((H, A), 1.0, jnp.float32) * max_std
        init = (warm.astype(jnp.float32), std0, jnp.zeros((self.num_elites,)), jnp.zeros((H, self.num_elites, A)))
        iter_key, pick_key, noise_key = jax.random.split(key, 3)
        (mean, std, weight, elites), elite_values = jax.lax.scan(iteration, init, jax.random.split(iter_key, self.iterations))
        pick = jax.random.categorical(pick_key, jnp.log(weight + 1e-20))
        action = elites[0, pick]
        if explore:
            action = action + std[0] * jax.random.normal(noise_key, (A,))
        return jnp.clip(action, -1.0, 1.0), mean, {"value": elite_values[-1, pick], "std": jnp.mean(std)}


__all__ = ["MPPI", "shift"]
