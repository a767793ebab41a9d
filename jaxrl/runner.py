"""Host-side runner: compile once, run a :class:`jaxrl.trainer.Trainer` in chunks of updates.

A chunk is ``chunk_updates`` updates between two :class:`Progress` calls (where the host
checkpoints, evaluates or stops). The compiled program is a ``lax.scan`` of ``trainer.update``
over one BLOCK of updates, called again and again (the same executable every time):

- with live logging (``on_log``, ``live=True``) a block is ``log_every`` updates: each call
  returns its per-update metrics, the host reduces them into one log row
  (:func:`reduce_metrics`) and hands it to ``on_log`` (progress bar, JSONL, TensorBoard...) on
  a sink thread, and the next block starts. The program has no host callback, so jax's
  persistent compilation cache keeps it: a repeated run skips the XLA compile.
- otherwise a block is the whole chunk (rows, if any, are reduced after it);
- every update is checked for non-finite metrics and parameters; the first one
  is reported after its compiled call as :class:`NonFiniteError` (update index and
  quantity), and that chunk's state is never handed to ``on_progress`` (so it
  is never checkpointed).

The numbers equal one ``jax.jit(trainer)`` call, whatever the block and chunk sizes.
"""

from __future__ import annotations

import dataclasses
import math
import queue
import threading
import time
import warnings
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.trainer import Trainer

NONFINITE = "nonfinite"  # per-update metric: 0 if finite, else 1 + index into the checked quantities
_WEIGHTED = ("episode_return", "episode_length")  # averaged over the episodes that ended


class DebugCheckError(FloatingPointError):
    """Debug mode: a check of the env's (e.g. a NaN or out-of-range action entering ``step``, or an
    MJX task's state whose poses are not those of its ``qpos``) failed."""


class NonFiniteError(FloatingPointError):
    """A loss, gradient norm or parameter became NaN/inf during training."""

    def __init__(self, update: int, quantity: str):
        self.update, self.quantity = update, quantity
        super().__init__(f"non-finite {quantity} at update {update}")


@dataclasses.dataclass
class Progress:
    """What the runner reports after each chunk (host values)."""

    updates_done: int
    num_updates: int
    env_steps: int
    total_env_steps: int
    elapsed_s: float  # run time since the run (or the resume) started, compile excluded
    compile_s: float
    metrics: dict  # this chunk's metrics, numpy arrays [chunk_updates]
    state: Any = None  # the training state after this chunk (e.g. to checkpoint or evaluate it)
    env_steps_run: int = 0  # env steps run by this call (excludes those before a resume)

    @property
    def steps_per_s(self) -> float:
        return self.env_steps_run / max(self.elapsed_s, 1e-9)

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
    metrics: dict  # numpy arrays [updates run]
    compile_s: float
    run_s: float
    updates_done: int = 0  # including those before a resume


def reduce_metrics(metrics: dict, xp=jnp) -> dict:
    """Reduce per-update metrics ``{name: [n, *batch]}`` over the update axis to ``{name: [*batch]}``.

    ``episodes`` is summed; ``episode_return`` / ``episode_length`` are averaged
    over the episodes that ended (NaN when none did); ``nonfinite`` is the max;
    everything else is the mean. ``batch`` is empty for one run, ``[runs]`` for
    a vmapped sweep. ``xp`` is ``jnp`` (in the graph) or ``np``.
    """
    out = {}
    done = xp.asarray(metrics["episodes"], xp.float32) if "episodes" in metrics else None
    for name, value in metrics.items():
        value = xp.asarray(value)
        if name == "episodes":
            out[name] = xp.sum(value, axis=0)
        elif name == NONFINITE:
            out[name] = xp.max(value, axis=0)
        elif name in _WEIGHTED and done is not None:
            n = xp.sum(done, axis=0)
            out[name] = xp.where(n > 0, xp.sum(value * done, axis=0) / xp.maximum(n, 1), xp.nan)
        else:
            out[name] = xp.mean(value.astype(xp.float32), axis=0)
    return out


def to_host(tree: Any) -> Any:
    """``jax.device_get``, also for arrays sharded over several hosts (gathered to every host)."""
    def get(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return jax.device_get(x)

    return jax.tree.map(get, tree)


def _call_interruptibly(program: Callable, *args) -> Any:
    """Run ``program(*args)`` to completion on a worker thread while the main thread waits in
    short joins, so Python signal handlers (Ctrl-C) run during a long chunk. (On the CPU, a
    program with host callbacks executes synchronously inside the call.)"""
    box: dict = {}

    def work():
        try:
            box["out"] = jax.block_until_ready(program(*args))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    worker = threading.Thread(target=work, name="jaxrl-chunk", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
    if "error" in box:
        raise box["error"]
    return box["out"]


def _host_value(name: str, value) -> Any:
    value = np.asarray(value)
    if value.ndim:
        return value  # one entry per run of a sweep
    return int(value) if name == NONFINITE else float(value)


def divisors(n: int) -> list[int]:
    """The divisors of ``n >= 1``, ascending, by trial division up to ``sqrt(n)`` (46,341 steps at
    most for any run a config accepts, whose counts are below 2**31)."""
    small, large = [], []
    d = 1
    while d * d <= n:
        if n % d == 0:
            small.append(d)
            if d * d != n:
                large.append(n // d)
        d += 1
    return small + large[::-1]


def pick_chunk(num_updates: int, target: int, multiple_of: int = 1) -> int:
    """A chunk size near ``target`` that divides ``num_updates`` (so one executable serves
    every chunk) and is a multiple of ``multiple_of``; falls back to the nearest multiple
    of ``multiple_of`` (one more compile for the remainder) when that divisor is less
    than half of ``target``."""
    target = max(multiple_of, min(num_updates, target))
    fits = [d for d in divisors(num_updates) if d <= target and d % multiple_of == 0]
    if fits and 2 * fits[-1] >= target:
        return fits[-1]
    return max(multiple_of, target // multiple_of * multiple_of)


def pick_log_every(num_updates: int, rows: int = 100) -> int:
    """The smallest divisor of ``num_updates`` giving at most ``rows`` log rows."""
    return next(d for d in divisors(num_updates) if num_updates // d <= rows)


def _guarded(update: Callable, trainable: Callable) -> tuple[Callable, Callable]:
    """``update`` plus a ``nonfinite`` metric; returns (guarded update, names of checked quantities).

    Checked, in order: ``loss``, ``grad_norm``, the other metrics, then every floating leaf of
    ``trainable(new_state)`` (named by its path, e.g. ``trainable state.alpha_opt[1].nu``), so the
    error names the first quantity that went NaN/inf.
    """
    names: list[str] = []

    def guarded(state):
        new_state, metrics = update(state)
        first = [k for k in ("loss", "grad_norm") if k in metrics]
        checked = {k: metrics[k] for k in first + sorted(set(metrics) - set(first))}
        learned = trainable(new_state)
        if learned is not None:
            for path, leaf in jax.tree_util.tree_flatten_with_path(learned)[0]:
                if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
                    checked["trainable state" + jax.tree_util.keystr(path)] = leaf
        names[:] = list(checked)
        ok = [jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(v)] or [True])) for v in checked.values()]
        bad = jnp.logical_not(jnp.stack(ok))
        code = jnp.where(jnp.any(bad), jnp.argmax(bad) + 1, 0).astype(jnp.int32)
        return new_state, {**metrics, NONFINITE: code}

    return guarded, (lambda: list(names))


def _checkified(chunk: Callable) -> Callable:
    """``chunk`` returning ``(state, metrics, error)``: the program with its ``checkify`` checks live
    (debug mode: the env's :class:`~jaxrl.wrappers.CheckActions` and an MJX task's pose check)."""
    from jax.experimental import checkify

    def checked(state, num):
        error, (state, metrics) = checkify.checkify(lambda s: chunk(s, num), errors=checkify.user_checks)(state)
        return state, metrics, error

    return checked


def _compile_beside(compile: Callable[[], Any], work: Callable[[], None]) -> Any:
    """``compile()`` on a thread while ``work()`` runs on this one; returns what ``compile`` returned."""
    box: dict = {}

    def compile_there():
        try:
            box["out"] = compile()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    worker = threading.Thread(target=compile_there, name="jaxrl-compile-init", daemon=True)
    worker.start()
    try:
        work()
    finally:
        worker.join()
    if "error" in box:
        raise box["error"]
    return box["out"]


def _make_chunk(trainer: Trainer, check_finite: bool):
    """``chunk(state, num) -> (state, metrics[num])`` (``num`` static): one ``lax.scan`` of
    ``num`` updates."""
    step, names = _guarded(trainer.update, trainer.trainable) if check_finite else (trainer.update, lambda: [])

    def chunk(state, num):
        return jax.lax.scan(lambda s, _: step(s), state, None, length=num)

    return chunk, names


class Runner:
    """A trainer's compiled programs, reusable across runs with new keys and hparams VALUES.

    Construction fixes what is static (trainer, chunk size, logging); each
    :meth:`run` call reuses the compiled init and chunk programs as long as the
    input shapes are the same, so a second run with other values never recompiles.
    See :func:`run` for the arguments.
    """

    def __init__(self, trainer: Trainer, chunk_updates: int | None = None, *, log_every: int | None = None,
                 on_log: Callable[[dict], None] | None = None, live: bool = True, check_finite: bool = True,
                 state_sharding: Any = None, debug: bool = False, program_dir: str | None = None,
                 program_key: str | None = None):
        n = trainer.num_updates
        self.trainer, self.on_log, self.check_finite, self.debug = trainer, on_log, check_finite, debug
        if on_log is not None and not log_every:  # about 100 rows, dividing the run and the chunk
            g = math.gcd(n, chunk_updates) if chunk_updates else n
            log_every = next((d for d in divisors(g) if n // d <= 100), g)
        self.log_every = log_every if on_log else None
        self.chunk = max(1, min(n, chunk_updates)) if chunk_updates else pick_chunk(n, -(-n // 20), self.log_every or 1)
        if self.log_every and (self.chunk % self.log_every or n % self.log_every):
            raise ValueError(f"log_every ({log_every}) must divide the chunk ({self.chunk}) and the run ({n})")
        self._clock = {"run_s": 0.0, "t0": 0.0, "last_t": 0.0, "last_update": 0}
        self._rows: queue.Queue = queue.Queue()
        self._sink_error: BaseException | None = None
        # The compiled program's updates: one log row's with live rows, else the whole chunk.
        self.block = self.log_every if on_log is not None and live else self.chunk
        chunk_fn, self._checked_names = _make_chunk(trainer, check_finite)
        # ``state_sharding`` (e.g. a sweep's runs split over devices) pins where init puts every
        # state leaf; the chunk program then keeps it, so no leaf is replicated or all-gathered.
        self._init = jax.jit(trainer.init, out_shardings=state_sharding) if state_sharding is not None else jax.jit(trainer.init)
        self._state_sharding = state_sharding
        self._init_compiled = None
        self._chunk_fn = _checkified(chunk_fn) if debug else chunk_fn
        self._chunk = None  # jitted on the first run, when the state's shardings are known
        self._compiled: dict[int, Any] = {}
        # Exported programs on disk (jaxrl.program_cache): one device, no debug checks.
        exportable = program_dir is not None and program_key is not None and state_sharding is None and not debug
        self._program_dir = program_dir if exportable else None
        self._program_key = f"{program_key} check_finite={check_finite}" if exportable else None
        self.program_sources: dict[str, str] = {}  # "init" / "chunk N" -> "traced", "exported" or "loaded"

    def _emit(self, update, row, now: float | None = None):
        clock, steps = self._clock, self.trainer.steps_per_update
        now = time.perf_counter() if now is None else now
        update = int(update)
        out = {"update": update, "env_steps": update * steps, "time_s": clock["run_s"] + now - clock["t0"]}
        out["steps_per_s"] = (update - clock["last_update"]) * steps / max(now - clock["last_t"], 1e-9)
        clock["last_t"], clock["last_update"] = now, update
        out.update({k: _host_value(k, v) for k, v in row.items()})
        self._rows.put(out)  # the sinks run on a host thread: the next block starts at once

    def _write_rows(self):
        """The sink thread: rows in order to ``on_log``; the first exception is kept for the main thread."""
        while True:
            row = self._rows.get()
            try:
                if row is None:
                    return
                if self._sink_error is None:
                    self.on_log(row)
            except BaseException as e:  # noqa: BLE001 - re-raised in the main thread after the chunk
                self._sink_error = e
            finally:
                self._rows.task_done()

    def _wait_for_rows(self):
        """Block until every row emitted so far is written (before a checkpoint or the return)."""
        if self.on_log is not None:
            self._rows.join()
            if self._sink_error is not None:
                error, self._sink_error = self._sink_error, None
                raise error

    def _chunk_program(self, state):
        """The jitted (not yet compiled) program: ``(state, num) -> (state, metrics[num])``."""
        if self._chunk is None:
            # The state leaves a chunk with the shardings it came in with (a sharded sweep's
            # state stays split over the devices), so one executable serves every chunk.
            shardings = jax.tree.map(lambda x: x.sharding, state)
            self._chunk = jax.jit(self._chunk_fn, static_argnums=1, out_shardings=(shardings, None, None) if self.debug else (shardings, None))
        return self._chunk

    def _start(self, key, hparams, meta_params, size: int | None):
        """The initial state. On the first run, XLA compiles the init program on a thread while
        this one traces and compiles the first chunk program from init's output shapes (XLA
        compiles use about 1.7 of 2 CPU cores, so running the two side by side cut the MJX
        cart-pole's cold start by a fifth). Later runs with inputs of the same shapes reuse both."""
        args = (key, hparams, meta_params)
        signature = (jax.tree.structure(args), tuple(jax.typeof(x) for x in jax.tree.leaves(args)))
        if self._init_compiled is not None:
            compiled_signature, compiled = self._init_compiled
            return compiled(*args) if compiled_signature == signature else self._init(*args)
        program, compiled = self._init_export(args), None
        if program is not None:
            try:
                compiled = self._start_exported(program, args, size)
            except Exception as e:  # noqa: BLE001 - a stored program that does not compile: trace
                warnings.warn(f"jaxrl: starting from the stored programs failed ({type(e).__name__}: {e}); tracing them",
                              stacklevel=2)
                self.program_sources.pop("init", None)
        if compiled is None:
            compiled = self._start_traced(args, size)
        self._init_compiled = (signature, compiled)
        return compiled(*args)

    def _start_traced(self, args, size: int | None) -> Callable:
        """Init compiled from its trace (beside the first chunk program's compile)."""
        lowered = self._init.trace(*args).lower()
        assumed = self._state_sharding
        if assumed is None:
            assumed = jax.sharding.SingleDeviceSharding(jax.config.jax_default_device or jax.devices()[0])

        def chunk():
            if size is not None and size not in self._compiled and isinstance(assumed, jax.sharding.Sharding):
                abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=assumed), lowered.out_info)
                self._compiled_chunk(abstract, size)

        compiled = _compile_beside(lowered.compile, chunk)
        if not all(s == assumed for s in jax.tree.leaves(compiled.output_shardings)):
            self._chunk, self._compiled = None, {}  # init placed the state elsewhere: compile for it
        self.program_sources.setdefault("init", "traced")
        return compiled

    def _init_export(self, args):
        """Init's exported program (:mod:`jaxrl.program_cache`), or None (then it is traced)."""
        if self._program_key is None:
            return None
        from jaxrl import program_cache

        init = self.trainer.init
        return program_cache.lowered(self._program_dir, f"{self._program_key} init", lambda *a: jax.tree.leaves(init(*a)), args)

    def _start_exported(self, program, args, size: int | None) -> Callable:
        """Init compiled from its exported program (beside the first chunk program's)."""
        like = jax.eval_shape(self.trainer.init, *args)  # the state's structure: init's output is its leaves
        tree = jax.tree.structure(like)
        self.program_sources["init"] = "loaded" if program.loaded else "exported"

        def chunk():
            if size is not None and size not in self._compiled:
                self._compiled_chunk(like, size)

        call = _compile_beside(program.compile, chunk)
        return lambda *a: jax.tree.unflatten(tree, call(*a))

    def _compiled_chunk(self, state, size: int):
        if size not in self._compiled:
            program = self._exported_chunk(state, size)
            if program is None:
                program = self._chunk_program(state).lower(state, size).compile()
                self.program_sources[f"chunk {size}"] = "traced"
            self._compiled[size] = program
        return self._compiled[size]

    def _exported_chunk(self, state, size: int) -> Callable | None:
        """The chunk program of ``size`` updates compiled from its exported program, or None."""
        if self._program_key is None:
            return None
        from jaxrl import program_cache

        tree, chunk_fn = jax.tree.structure(state), self._chunk_fn

        def flat(s):
            new_state, metrics = chunk_fn(s, size)
            return jax.tree.leaves(new_state), metrics

        program = program_cache.lowered(self._program_dir, f"{self._program_key} chunk {size}", flat, (state,),
                                        meta=lambda: {"checked": self._checked_names()})
        if program is None:
            return None
        try:
            call = program.compile()
        except Exception as e:  # noqa: BLE001 - a stored program that does not compile: trace
            warnings.warn(f"jaxrl: the stored chunk program failed ({type(e).__name__}: {e}); tracing it", stacklevel=2)
            return None
        self.program_sources[f"chunk {size}"] = "loaded" if program.loaded else "exported"
        if program.loaded:  # the names of the checked quantities are recorded while tracing
            names = list(program.meta.get("checked", []))
            self._checked_names = lambda: names

        def run(s):
            leaves, metrics = call(s)
            return jax.tree.unflatten(tree, leaves), metrics

        return run

    def run(self, key: jax.Array, hparams: Any, meta_params: Any = None, on_progress=None, *,
            state: Any = None, start_update: int = 0) -> RunResult:
        trainer, n, chunk, log_every = self.trainer, self.trainer.num_updates, self.chunk, self.log_every
        if not 0 <= start_update <= n or (log_every and start_update % log_every):
            raise ValueError(f"cannot resume at update {start_update} of {n} (log rows every {log_every})")
        steps = trainer.steps_per_update
        clock = self._clock
        clock.update(run_s=0.0, last_update=start_update)
        t0 = time.perf_counter()
        if state is None:
            state = self._start(key, hparams, meta_params, min(self.block, n - start_update) if start_update < n else None)
        if start_update < n:
            self._compiled_chunk(state, min(self.block, n - start_update))
        jax.block_until_ready(state)
        compile_s = time.perf_counter() - t0

        writer = None
        if self.on_log is not None:
            writer = threading.Thread(target=self._write_rows, name="jaxrl-log-sinks", daemon=True)
            writer.start()
        try:
            return self._run_chunks(state, n, chunk, start_update, steps, compile_s, on_progress)
        finally:
            if writer is not None:
                self._rows.put(None)
                writer.join()

    def _run_chunks(self, state, n, chunk, start_update, steps, compile_s, on_progress) -> RunResult:
        clock = self._clock
        chunks, done = [], start_update
        while done < n:
            size = min(chunk, n - done)
            t = time.perf_counter()
            program = self._compiled_chunk(state, min(self.block, size))
            compile_s += time.perf_counter() - t
            clock["t0"] = clock["last_t"] = time.perf_counter()
            clock["last_update"] = done
            state, metrics = self._run_blocks(program, state, done, size)
            self._wait_for_rows()
            clock["run_s"] += time.perf_counter() - clock["t0"]
            done += size
            chunks.append(metrics)
            if on_progress is not None:
                p = Progress(done, n, done * steps, n * steps, clock["run_s"], compile_s, metrics, state,
                             env_steps_run=(done - start_update) * steps)
                if on_progress(p):
                    break
        all_metrics = {k: np.concatenate([np.asarray(c[k]) for c in chunks]) for k in chunks[0]} if chunks else {}
        return RunResult(state, all_metrics, compile_s, clock["run_s"], done)

    def _run_blocks(self, program, state, done: int, size: int):
        """The ``size`` updates after update ``done`` as calls of ``program`` (``min(block, size)``
        updates each), each call's log rows emitted as it returns. Returns the state after them
        and their per-update metrics (host arrays); raises at the first block with a failed
        debug check or a non-finite value, so such a state never reaches ``on_progress``."""
        block, parts = min(self.block, size), []
        for start in range(done, done + size, block):
            t0 = time.perf_counter()
            new_state, metrics, *error = _call_interruptibly(program, state)
            metrics = to_host(metrics)
            if error and error[0].get():
                message = error[0].get().splitlines()[0].replace(" (`check` failed)", "")
                raise DebugCheckError(f"{message} (in updates {start + 1} to {start + block})")
            self._emit_rows(start, block, metrics, t0)
            if self.check_finite:
                bad = np.flatnonzero(metrics[NONFINITE])
                if bad.size:
                    self._wait_for_rows()
                    raise NonFiniteError(start + int(bad[0]) + 1, self._checked_names()[int(metrics[NONFINITE][bad[0]]) - 1])
            state = new_state
            parts.append(metrics)
        if len(parts) == 1:
            return state, parts[0]
        return state, {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _emit_rows(self, start: int, size: int, metrics: dict, t0: float):
        """The log rows of a block of ``size`` updates that ran from update ``start`` (timed from
        ``t0``), reduced on the host from its per-update ``metrics``; a block of several rows gives
        each its share of the time."""
        log_every = self.log_every
        if not log_every or self.on_log is None:
            return
        rows, elapsed = size // log_every, time.perf_counter() - t0
        for i in range(rows):
            part = {k: v[i * log_every:(i + 1) * log_every] for k, v in metrics.items()}
            self._emit(start + (i + 1) * log_every, reduce_metrics(part, np), now=t0 + elapsed * (i + 1) / rows)


def run(
    trainer: Trainer,
    key: jax.Array,
    hparams: Any,
    meta_params: Any = None,
    chunk_updates: int | None = None,
    on_progress: Callable[[Progress], bool | None] | None = None,
    *,
    log_every: int | None = None,
    on_log: Callable[[dict], None] | None = None,
    live: bool = True,
    state: Any = None,
    start_update: int = 0,
    check_finite: bool = True,
    debug: bool = False,
    program_dir: str | None = None,
    program_key: str | None = None,
) -> RunResult:
    """Train with ``trainer`` in compiled chunks of ``chunk_updates`` updates.

    Args:
      chunk_updates: updates between two ``on_progress`` calls (static); default: the
        whole run in about 20 chunks (see :func:`pick_chunk`). A last, shorter chunk
        compiles once more.
      on_progress: called on the host after each chunk, outside the timed run;
        returning True stops the run there (e.g. a target return was reached,
        or Ctrl-C was pressed and a checkpoint written).
      log_every: updates per log row (static; must divide ``chunk_updates``);
        ``None``: no log rows.
      on_log: ``on_log(row)`` on the host (a sink thread) every ``log_every`` updates; ``row``
        has ``update``, ``env_steps``, ``time_s`` (run seconds so far), ``steps_per_s`` (since
        the last row) and the reduced metrics as Python floats (:func:`reduce_metrics`;
        ``[runs]`` arrays for a vmapped sweep).
      live: each row as soon as its updates are done (default): the compiled program runs
        ``log_every`` updates per call. ``False``: one call per chunk, its rows after it
        (fewer calls; the same state and rows). Neither program has a host callback, so
        jax's persistent compilation cache keeps both.
      state, start_update: resume from ``state`` (after ``start_update``
        updates) instead of ``trainer.init(key, hparams, meta_params)``.
      check_finite: stop with :class:`NonFiniteError` at the first non-finite
        metric or parameter (checked after every compiled call).
      debug: run the chunks checkified, so the env's debug checks are live (an env made with
        ``debug=True``: :class:`~jaxrl.wrappers.CheckActions`, an MJX task's pose check); the first failed check stops
        the run after its compiled call with :class:`DebugCheckError`. Slower; off by default.
      program_dir, program_key: keep the init and chunk programs exported in ``program_dir``
        under ``program_key`` (what the trainer's programs depend on besides jaxrl's files and
        their inputs' shapes, e.g. :meth:`jaxrl.experiment.Built.program_key`): a later process
        with the same key loads them instead of tracing (:mod:`jaxrl.program_cache`; the same
        numbers; the folder is pruned to an eighth of ``JAXRL_CACHE_MAX_MB``, least recently used
        first). Not with ``debug`` or a sharded state.

    Returns:
      The final state, the metrics of the updates run in this call (``[n]``),
      compile seconds (init + AOT compile of the chunk programs) and run seconds.
      To run again with new values without recompiling, keep a :class:`Runner`.
    """
    r = Runner(trainer, chunk_updates, log_every=log_every, on_log=on_log, live=live, check_finite=check_finite, debug=debug,
               program_dir=program_dir, program_key=program_key)
    return r.run(key, hparams, meta_params, on_progress, state=state, start_update=start_update)
