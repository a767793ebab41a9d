"""Fitness of an update rule: train agents with it and score their learning curves.

``ppo_fitness(trainer, hparams, seeds=S)`` is ``fitness_fn(key, meta_params) -> scalar`` for
:func:`jaxrl.algos.meta.es.make_es`: ``S`` PPO runs (``jax.vmap`` over seeds, keys split from
``key``) with the given meta-params, each scored by :func:`run_fitness`, averaged over seeds.

Kinds (on the training episodes' returns, ``episode_return`` weighted by ``episodes``):

- ``"final"``: mean return of the episodes that ended in the last ``last`` fraction of updates;
- ``"auc"``: area under the learning curve: the mean over updates (those where an episode
  ended) of that update's mean return;

and either may be divided by a ``baseline`` (e.g. default PPO's fitness on the task, so
fitness 1 means "as good as the baseline" and tasks of different scales can be mixed).
A run whose loss went non-finite, or whose final parameters are not finite, or in which no
episode ended in the scored window, has fitness NaN (which the ES penalises).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.configs import ConfigError

KINDS = ("final", "auc")


def check_kind(kind: str, last: float = 0.25) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown fitness {kind!r}; choose one of: {', '.join(KINDS)}")
    if not 0.0 < float(last) <= 1.0:
        raise ConfigError(f"the fitness window 'last' must be in (0, 1], got {last}")


def run_fitness(metrics: dict, kind: str = "final", last: float = 0.25) -> jax.Array:
    """Fitness of ONE run from its metrics (``[num_updates]`` leaves); NaN if the run diverged."""
    ret = metrics["episode_return"].astype(jnp.float32)
    done = metrics["episodes"].astype(jnp.float32)
    n = ret.shape[0]
    if kind == "final":
        k = max(1, int(round(n * last)))
        ret, done = ret[-k:], done[-k:]
        value = jnp.sum(jnp.where(done > 0, ret * done, 0.0)) / jnp.sum(done)
    elif kind == "auc":
        ended = done > 0
        value = jnp.sum(jnp.where(ended, ret, 0.0)) / jnp.sum(ended)
    else:
        raise ConfigError(f"unknown fitness {kind!r}; choose one of: {', '.join(KINDS)}")
    ok = jnp.all(jnp.isfinite(metrics["loss"])) if "loss" in metrics else True
    return jnp.where(ok, value, jnp.nan)


def ppo_fitness(trainer, hparams: Any, *, seeds: int, kind: str = "final", last: float = 0.25, baseline: float | None = None):
    """``fitness_fn(key, meta_params) -> scalar``: mean over ``seeds`` PPO runs of :func:`run_fitness`
    (divided by ``baseline`` if given). ``hparams`` (PPO's) are fixed for every member."""
    check_kind(kind, last)
    if not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds must be a positive integer, got {seeds!r}")
    if baseline is not None and not float(baseline) > 0:
        raise ConfigError(f"the fitness baseline must be > 0, got {baseline}")

    def fitness_fn(key, meta_params):
        state, metrics = jax.vmap(trainer, in_axes=(0, None, None))(jax.random.split(key, seeds), hparams, meta_params)
        per_seed = jax.vmap(lambda m: run_fitness(m, kind, last))(metrics)
        params_ok = jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(state.params)]))
        value = jnp.where(params_ok, jnp.mean(per_seed), jnp.nan)
        return value / baseline if baseline is not None else value

    return fitness_fn


def steps_per_member(trainer, seeds: int) -> int:
    """Env steps one :func:`ppo_fitness` evaluation takes."""
    return seeds * trainer.num_updates * trainer.steps_per_update
