"""Host-side runner: compile once, run a :class:`jaxrl.trainer.Trainer` in chunks of updates.

The chunk function is compiled ahead of time (so compile time is measured
apart from run time) and called repeatedly; between chunks the host can log
and (later) checkpoint. The numbers equal one ``jax.jit(train)`` call.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import jax
import numpy as np

from jaxrl.trainer import Trainer


@dataclasses.dataclass
class Progress:
    """What the runner reports after each chunk (host values)."""

    updates_done: int
    num_updates: int
    env_steps: int
    total_env_steps: int
    elapsed_s: float  # run time since the first chunk started (compile excluded)
    compile_s: float
    metrics: dict  # this chunk's metrics, numpy arrays [chunk_updates]
    state: Any = None  # the training state after this chunk (e.g. to evaluate its policy)

    @property
    def steps_per_s(self) -> float:
        return self.env_steps / max(self.elapsed_s, 1e-9)

    @property
    def episode_return(self) -> float | None:
        """Mean return of the training episodes that ended in this chunk (None if none ended).

        Needs the ``episodes`` and ``episode_return`` metrics (every jaxrl algorithm has them).
        """
        done = np.asarray(self.metrics["episodes"], np.float64)
        if done.sum() == 0:
            return None
        return float(np.sum(np.asarray(self.metrics["episode_return"], np.float64) * done) / done.sum())


@dataclasses.dataclass
class RunResult:
    state: Any
    metrics: dict  # numpy arrays [num_updates]
    compile_s: float
    run_s: float


def pick_chunk(num_updates: int, target: int) -> int:
    """A chunk size near ``target`` that divides ``num_updates`` (so one executable serves
    every chunk); falls back to ``target`` (one more compile for the remainder) when the
    nearest divisor is less than half of it."""
    target = max(1, min(num_updates, target))
    best = max(d for d in range(1, target + 1) if num_updates % d == 0)
    return best if 2 * best >= target else target


def run(
    trainer: Trainer,
    key: jax.Array,
    hparams: Any,
    meta_params: Any = None,
    chunk_updates: int | None = None,
    on_progress: Callable[[Progress], bool | None] | None = None,
) -> RunResult:
    """Train with ``trainer`` in compiled chunks of ``chunk_updates`` updates.

    Args:
      chunk_updates: updates per compiled call (static); default: the whole run
        in about 20 chunks (see :func:`pick_chunk`). A last, shorter chunk
        compiles once more.
      on_progress: called on the host after each chunk, outside the timed run;
        returning True stops the run there (e.g. a target return was reached).

    Returns:
      The final state, the metrics of the updates run (``[updates_run]``),
      compile seconds (init + AOT compile of the chunk programs) and run seconds.
    """
    n = trainer.num_updates
    chunk = max(1, min(n, chunk_updates)) if chunk_updates else pick_chunk(n, -(-n // 20))
    t0 = time.perf_counter()
    state = jax.jit(trainer.init)(key, hparams, meta_params)
    run_chunk = jax.jit(trainer.run_updates, static_argnums=1)
    compiled = {chunk: run_chunk.lower(state, chunk).compile()}
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - t0

    chunks, done, run_s = [], 0, 0.0
    while done < n:
        size = min(chunk, n - done)
        if size not in compiled:
            t = time.perf_counter()
            compiled[size] = run_chunk.lower(state, size).compile()
            compile_s += time.perf_counter() - t
        t = time.perf_counter()
        state, metrics = compiled[size](state)
        metrics = jax.device_get(metrics)
        run_s += time.perf_counter() - t
        done += size
        chunks.append(metrics)
        if on_progress is not None:
            steps = trainer.steps_per_update
            if on_progress(Progress(done, n, done * steps, n * steps, run_s, compile_s, metrics, state)):
                break
    all_metrics = {k: np.concatenate([np.asarray(c[k]) for c in chunks]) for k in chunks[0]}
    return RunResult(state, all_metrics, compile_s, run_s)
