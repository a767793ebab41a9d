"""The trainer seam: ``make_train(config, env, env_params) -> train``.

``train(key, hparams, meta_params=None) -> (final_state, metrics)`` is pure:
``init(key, hparams, meta_params) -> state`` then ``lax.scan`` of
``update(state) -> (state, metrics)`` for ``num_updates`` (static) steps.
``metrics`` leaves are stacked ``[num_updates, ...]``.

A :class:`Trainer` is that ``train`` callable with its pieces attached, so a
runner can either ``jax.jit(train)`` the whole run (one executable) or jit a
chunk of updates (:meth:`Trainer.run_updates`) and call it repeatedly to log
and checkpoint in between; both give identical numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax

PyTree = Any


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """A pure training function with its parts.

    Attributes:
      init: ``init(key, hparams, meta_params=None) -> state``.
      update: ``update(state) -> (state, metrics)``; one training iteration.
      num_updates: number of ``update`` calls in a full run (static).
      steps_per_update: env steps consumed by one ``update`` (static).
      policy: ``policy(state) -> act`` with ``act(key, obs[B, ...]) -> action[B, ...]``,
        the deterministic (mode) policy of a state, for evaluation.
      config: the algorithm's static config.
    """

    init: Callable[..., PyTree]
    update: Callable[[PyTree], tuple[PyTree, PyTree]]
    num_updates: int
    steps_per_update: int
    policy: Callable[[PyTree], Callable]
    config: Any = None

    def __call__(self, key: jax.Array, hparams: PyTree, meta_params: PyTree = None):
        state = self.init(key, hparams, meta_params)
        return self.run_updates(state, self.num_updates)

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
                   steps_per_update=trainer.steps_per_update * num_runs, policy=policy, config=trainer.config)
