"""The trainer seam: ``make_train(config, env, env_params) -> train``.

``train(key, hparams, meta_params=None) -> (final_state, metrics)`` is pure:
``init(key, hparams, meta_params) -> state`` then ``lax.scan`` of
``update(state) -> (state, metrics)`` for ``num_updates`` (static) steps.
``metrics`` leaves are stacked ``[num_updates, ...]``.

A :class:`Trainer` is that ``train`` callable with its pieces attached, so a
runner can either ``jax.jit(train)`` the whole run (one executable) or jit a
chunk of updates (:meth:`Trainer.run_updates`) and call it repeatedly to log
and checkpoint in between; both give identical numbers.

Every trainer reports, per update, the metrics of :func:`episode_metrics`
(``episode_return``, ``episode_length``, ``episodes``, ``reward``) and a ``loss``
(the runner's progress bar, sweeps, ES fitness and the non-finite guard read them).
Env steps are ``update index * steps_per_update`` everywhere (progress bar, logs,
``--steps``): an algorithm that fills a replay buffer before learning does it in
its first updates (acting, not learning), never in ``init``, so the count stays true.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp

PyTree = Any


def _params(state):
    return getattr(state, "params", None)


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """A pure training function with its parts.

    Attributes:
      init: ``init(key, hparams, meta_params=None) -> state``.
      update: ``update(state) -> (state, metrics)``; one training iteration.
      num_updates: number of ``update`` calls in a full run (static).
      steps_per_update: env steps consumed by one ``update`` (static).
      policy: ``policy(state) -> jaxrl.policy.Policy``, the deterministic (evaluation) policy of a
        state: ``step(key, carry, obs[B, ...], first[B]) -> (action[B, ...], carry, extras)``.
      config: the algorithm's static config.
      trainable: ``trainable(state) -> pytree`` of everything learned (parameters, target
        networks, optimiser states, normalisers...): the runner stops a run whose trainable
        state holds a NaN or inf. Default: ``state.params``. Keep replay buffers out of it
        (checking them every update would cost more than the update).
    """

    init: Callable[..., PyTree]
    update: Callable[[PyTree], tuple[PyTree, PyTree]]
    num_updates: int
    steps_per_update: int
    policy: Callable[[PyTree], Any]
    config: Any = None
    trainable: Callable[[PyTree], PyTree] = _params

    def __call__(self, key: jax.Array, hparams: PyTree, meta_params: PyTree = None):
        state = self.init(key, hparams, meta_params)
        return self.run_updates(state, self.num_updates)

    def abstract_state(self, hparams: PyTree, meta_params: PyTree = None) -> PyTree:
        """The state ``init`` makes, as ``jax.ShapeDtypeStruct`` leaves, with nothing compiled: the key is
        made inside the trace (an eager ``jax.random.key`` compiles a seeding program, which input checks
        that run before a program compiles must not do)."""
        return jax.eval_shape(lambda hp, mp: self.init(jax.random.key(0), hp, mp), hparams, meta_params)

    def run_updates(self, state: PyTree, num: int) -> tuple[PyTree, PyTree]:
        """``num`` (static) updates as one ``lax.scan``; metrics stacked ``[num, ...]``."""
        return jax.lax.scan(lambda s, _: self.update(s), state, None, length=num)


def vmapped(trainer: Trainer, num_runs: int, meta_axis: int | None = None) -> Trainer:
    """``num_runs`` independent runs of ``trainer`` as one :class:`Trainer` (a sweep's unit).

    ``init(keys[R], hparams with leaves [R], meta_params)`` and ``update`` are
    ``jax.vmap``-ed over the leading run axis (``meta_params`` too when
    ``meta_axis=0``); metrics come out ``[R]`` per update, so the runner's chunks,
    log rows (``[R]`` per metric) and checkpoints work unchanged.
    ``steps_per_update`` counts the env steps of all runs.
    """
    def init(keys, hparams, meta_params=None):
        return jax.vmap(trainer.init, in_axes=(0, 0, meta_axis))(keys, hparams, meta_params)

    def policy(state):
        raise NotImplementedError("take one run's state out of a vmapped trainer's state to get its policy")

    return Trainer(init=init, update=jax.vmap(trainer.update), num_updates=trainer.num_updates,
                   steps_per_update=trainer.steps_per_update * num_runs, policy=policy, config=trainer.config,
                   trainable=trainer.trainable)


def episode_metrics(traj) -> dict:
    """The episode metrics every trainer reports, from a rollout's transitions ``[T, B]`` (their
    ``info`` from :class:`jaxrl.wrappers.EpisodeStats`): ``episode_return`` / ``episode_length``
    (means over the episodes that ended in it; 0 if none did), ``episodes`` (how many ended) and
    ``reward`` (the mean reward per env step)."""
    done = jnp.logical_or(traj.terminated, traj.truncated)
    n_done = jnp.sum(done)
    return {
        "episode_return": jnp.sum(traj.info["episode_return"] * done) / jnp.maximum(n_done, 1),
        "episode_length": jnp.sum(traj.info["episode_length"] * done) / jnp.maximum(n_done, 1),
        "episodes": n_done,
        "reward": jnp.mean(traj.reward),
    }
