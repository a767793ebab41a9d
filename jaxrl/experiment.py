"""A run a person can start, watch, stop, resume and inspect.

A :class:`Spec` says what to train (algorithm, env, seed, static config,
traced hparams, how often to log and checkpoint). :func:`train` turns it into a
run directory::

    runs/<name>/
      run.json          the spec, resolved (every config and hparams field), versions, device
      metrics.jsonl     one row per log interval (reduced inside the compiled program)
      tb/               TensorBoard event files (tensorboardX)
      checkpoints/<n>/  orbax checkpoints of the FULL state after n updates (the last `keep`)
      result.json       status, counters, timings; status is complete, stopped (on_chunk
                        asked), interrupted (Ctrl-C, checkpoint saved), failed (non-finite
                        values; the earlier checkpoints are intact) or killed (an exception
                        or a second Ctrl-C; the earlier checkpoints are intact)

:func:`train` with ``resume=True`` continues from the newest intact
checkpoint and gives bit-for-bit the numbers of an uninterrupted run (and refuses,
unless ``restart``, when there is none). Everything that can be wrong with the input
(unknown algorithm, env or field, a value out of range, an existing, busy or unwritable
run directory, too little disk for the checkpoints) is reported before anything compiles.
A writing process holds the run directory's lock (:mod:`jaxrl.rundir`); :func:`load_state`,
:func:`render_run` and :func:`jaxrl.plot.plot_runs` only read a run. Callable config fields
named in a run file resolve only to jaxrl's registered functions unless ``trust_code``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import re
import shutil
import signal
import sys
import threading
from typing import Any, Callable

import jax

from jaxrl import checkpoint as ckpt
from jaxrl import configs, memory, rundir, runner, sinks
from jaxrl.rundir import RunDirError

SPEC_FILE, METRICS_FILE, RESULT_FILE = "run.json", "metrics.jsonl", "result.json"
MAX_EVAL_EPISODES = 65_536  # episodes evaluated at once (one env each)
MAX_SEED = configs.MAX_SEED
NUMERIC_PACKAGES = ("jax", "jaxlib", "flax", "optax", "mujoco", "mujoco-mjx", "jaxrl")  # a checkpoint's stack


@dataclasses.dataclass(frozen=True)
class Spec:
    """Everything that defines a run (saved as ``run.json``; replayed by ``jaxrl train --config``).

    Attributes:
      algo: algorithm name (``jaxrl.algos.names()``).
      env: env name (``jaxrl.envs.names()``); ``env_options`` its overrides.
      seed: PRNG seed of the run.
      config: static config fields that differ from the algorithm's defaults (or all of them).
      hparams: traced hyperparameters that differ from the defaults (or all of them).
      log_every: updates per log row (``None``: about 100 rows per run).
      checkpoint_every: updates per compiled chunk = per checkpoint (``None``: about 10 per run).
      keep: checkpoints kept (the newest).
    """

    algo: str = "ppo"
    env: str = "cartpole_balance"
    env_options: dict = dataclasses.field(default_factory=dict)
    seed: int = 0
    config: dict = dataclasses.field(default_factory=dict)
    hparams: dict = dataclasses.field(default_factory=dict)
    log_every: int | None = None
    checkpoint_every: int | None = None
    keep: int = 3

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Spec":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known - {"versions", "device", "created", "command", "name"})
        if unknown:
            raise configs.ConfigError(f"unknown run spec field(s) {unknown}; the fields are: {', '.join(sorted(known))}")
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclasses.dataclass
class Built:
    """A spec made concrete: the algorithm module, env, config, hparams and trainer."""

    spec: Spec
    algo: Any
    env: Any
    env_params: Any
    config: Any
    hparams: Any
    trainer: Any
    log_every: int
    chunk: int
    program_dir: str | None = None  # where exported programs are kept (jaxrl.program_cache); None: traced each run

    def resolved_spec(self) -> Spec:
        """The spec with every config and hparams field written out (what run.json stores)."""
        return dataclasses.replace(
            self.spec, config=configs.to_dict(self.config), hparams=configs.to_dict(configs.from_dict(self.algo.Hparams, self.spec.hparams)),
            log_every=self.log_every, checkpoint_every=self.chunk,
        )

    def identity(self) -> dict:
        """What a checkpoint must match to be restored into this run: everything that makes its numbers."""
        resolved = self.resolved_spec()
        return {"algo": self.spec.algo, "env": self.spec.env, "env_options": {**env_defaults(self.spec.env), **self.spec.env_options},
                "config": resolved.config, "seed": self.spec.seed, "hparams": resolved.hparams}

    def abstract_state(self):
        return self.trainer.abstract_state(self.hparams)

    def program_key(self) -> str | None:
        """What this run's programs depend on besides their inputs' shapes and jaxrl's own files
        (see :mod:`jaxrl.program_cache`): the identity without the seed and the hparams' values
        (both are inputs of the programs). None when a config field holds a callable from outside
        jaxrl (its code is not part of the key) or a saved learned rule (``...saved:objective@PATH``:
        its meta-parameters, read from PATH, are constants of the program and PATH may be rewritten):
        such a run is traced every time."""
        if self.program_dir is None or any(not _jaxrl_callable(v) for v in _callables(self.config)):
            return None
        identity = {k: v for k, v in self.identity().items() if k not in ("seed", "hparams")}
        return json.dumps(identity, sort_keys=True, default=str)


def _callables(value) -> list:
    """The callables in a config (its fields, and inside tuples, lists and dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [c for v in value for c in _callables(v)]
    return [value] if callable(value) else []


def _jaxrl_callable(fn) -> bool:
    """A function of jaxrl's own code, with nothing read from files baked in (saved rules are not)."""
    module = getattr(fn, "__module__", None) or ""
    return (module == "jaxrl" or module.startswith("jaxrl.")) and "@" not in (getattr(fn, "__qualname__", "") or "")


def env_defaults(name: str) -> dict:
    """The env's options with their defaults, JSON-safe (what a checkpoint's identity records)."""
    from jaxrl import envs

    return json.loads(json.dumps(envs.options(name), default=str))


def check_seed(seed: Any) -> int:
    """``seed`` if it is an integer in ``[0, 2**32 - 1]``, else :class:`ConfigError` (before anything compiles)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise configs.ConfigError(f"seed must be an integer from 0 to {MAX_SEED} (JAX takes seeds modulo 2**32), got {seed!r}")
    return seed


def build(spec: Spec, trust_code: bool = False) -> Built:
    """Validate ``spec`` and build its trainer (nothing is compiled). ``trust_code``: a callable
    config field may name any importable function (default: jaxrl's registered ones only)."""
    from jaxrl import algos, envs

    algo = algos.get(spec.algo)
    check_seed(spec.seed)
    if not isinstance(spec.env_options, dict) or not isinstance(spec.config, dict) or not isinstance(spec.hparams, dict):
        raise configs.ConfigError("a run spec's env_options, config and hparams must be JSON objects")
    env, env_params = envs.make(spec.env, **spec.env_options)
    config = configs.from_dict(algo.Config, configs.with_legacy_fields(algo.Config, spec.config), trust_code=trust_code)
    hparams = algo.validate_hparams(configs.from_dict(algo.Hparams, spec.hparams))
    trainer = algo.make_train(config, env, env_params)
    n = trainer.num_updates
    log_every = spec.log_every or runner.pick_log_every(n)
    if not isinstance(log_every, int) or log_every < 1 or n % log_every:
        raise configs.ConfigError(f"log_every must be a positive divisor of the run's {n} updates, got {spec.log_every!r}")
    if spec.checkpoint_every is not None and (not isinstance(spec.checkpoint_every, int) or spec.checkpoint_every < 1 or spec.checkpoint_every % log_every):
        raise configs.ConfigError(f"checkpoint_every must be a positive multiple of log_every ({log_every}), got {spec.checkpoint_every!r}")
    if not isinstance(spec.keep, int) or spec.keep < 1:
        raise configs.ConfigError(f"keep must be a positive integer, got {spec.keep!r}")
    chunk = min(spec.checkpoint_every or runner.pick_chunk(n, -(-n // 10), log_every), n)
    return Built(spec, algo, env, env_params, config, hparams, trainer, log_every, chunk)


# ----------------------------------------------------------------------------- run directories


def default_name(spec: Spec) -> str:
    return f"{spec.algo}-{spec.env}-s{spec.seed}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("jax", "jaxlib", "flax", "optax", "mujoco", "mujoco-mjx", "brax", "orbax-checkpoint", "jaxrl"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def stack() -> dict:
    """The software and hardware a run's numbers depend on (recorded in, and checked against, its checkpoints)."""
    out = {k: v for k, v in versions().items() if k in NUMERIC_PACKAGES}
    d = jax.devices()[0]
    return {**out, "backend": d.platform, "device_kind": d.device_kind}


def device_info() -> dict:
    d = jax.devices()[0]
    return {"platform": d.platform, "kind": d.device_kind, "count": jax.device_count(), "cpu_cores": os.cpu_count()}


def preflight(path: str, need_bytes: int) -> None:
    """Check the run directory is writable and its disk has room for the checkpoints."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".write-test-{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise RunDirError(f"run directory {path} is not writable: {e.strerror or e}") from None
    free = shutil.disk_usage(path).free
    if free < need_bytes:
        raise RunDirError(f"not enough disk space for {path}: {free / 2**20:.0f} MiB free, the checkpoints need about {need_bytes / 2**20:.0f} MiB")


write_json_atomic = ckpt.write_json_atomic


def read_spec(run_dir: str) -> Spec:
    """The spec saved in ``run_dir/run.json``; a clear error if there is none."""
    path = os.path.join(run_dir, SPEC_FILE) if os.path.isdir(run_dir) else run_dir
    if not os.path.exists(path):
        what = "run directory" if not run_dir.endswith(".json") else "config file"
        raise RunDirError(f"{what} {run_dir} does not exist" if not os.path.exists(run_dir) else f"{run_dir} has no {SPEC_FILE} (not a jaxrl run directory)")
    try:
        with open(path) as f:
            data = json.load(f)
    except ValueError as e:
        raise RunDirError(f"{path} is not valid JSON: {e}") from None
    return Spec.from_json(data)


def checkpointer(run_dir: str, built: Built, read_only: bool = False, allow_other_stack: bool = False,
                 warn: Callable[[str], None] = print) -> ckpt.Checkpointer:
    return ckpt.Checkpointer(os.path.join(run_dir, "checkpoints"), keep=built.spec.keep, identity=built.identity(), stack=stack(),
                             read_only=read_only, allow_other_stack=allow_other_stack, warn=warn,
                             identity_defaults={"env_options": env_defaults(built.spec.env),
                                                "config": configs.legacy_defaults(built.algo.Config)})


def load_state(run_dir: str, step: int | None = None, warn: Callable[[str], None] = print, trust_code: bool = False):
    """``(built, state, info)`` of a run's checkpoint (default: the newest intact one), READ-ONLY:
    nothing in ``run_dir`` is written, moved or deleted (a damaged checkpoint is skipped, not moved).

    ``built`` is the run's :class:`Built` (env, trainer...), ``state`` the full training
    state, ``info`` the host counters saved with it: ``update``, ``env_steps``, ``time_s``
    (run seconds, compile excluded). ``trust_code``: see :func:`build`.
    """
    built = build(read_spec(run_dir), trust_code)
    ck = checkpointer(run_dir, built, read_only=True, warn=warn)
    like = built.abstract_state()
    if step is None:
        state, info, _ = ck.restore_latest(like, warn=warn)
    else:
        state, info = ck.restore(like, step)
    return built, state, info


# ----------------------------------------------------------------------------- training


class _Interrupt:
    """First Ctrl-C: finish the current chunk, checkpoint, stop. Second: stop now."""

    def __init__(self, stream):
        self.requested = False
        self.stream = stream
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\njaxrl: Ctrl-C: stopping after this chunk and saving a checkpoint (Ctrl-C again to quit now)", file=self.stream, flush=True)

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@dataclasses.dataclass
class Outcome:
    run_dir: str
    status: str  # complete | stopped | interrupted (failed / killed raise instead)
    updates_done: int
    num_updates: int
    result: runner.RunResult
    last_return: float | None
    built: Built | None = None  # the run's env, trainer and config (e.g. to evaluate the final state)


def train(
    spec: Spec | None = None,
    *,
    run_dir: str | None = None,
    runs_root: str = "runs",
    resume: bool = False,
    progress: bool = True,
    tensorboard: bool = True,
    wandb_project: str | None = None,
    live_log: bool = True,
    stream=None,
    on_chunk: Callable[[runner.Progress], bool | None] | None = None,
    command: list[str] | None = None,
    trust_code: bool = False,
    restart: bool = False,
    allow_other_stack: bool = False,
    program_dir: str | None = None,
) -> Outcome:
    """Train ``spec`` into a run directory, or resume the run in ``run_dir``.

    Args:
      spec: what to train (ignored when resuming: the run's own ``run.json`` is used).
      run_dir: the run directory; default ``<runs_root>/<generated name>``. A new run
        refuses an existing non-empty directory (nothing is overwritten).
      resume: continue the run in ``run_dir`` from its newest intact checkpoint.
      progress / tensorboard / wandb_project: which sinks receive the log rows
        (the JSONL file always does).
      live_log: each log row as soon as its updates are done (default); False: the rows of a
        chunk at its end, one compiled call per chunk (see :func:`jaxrl.runner.run`).
      on_chunk: called after each chunk's checkpoint; returning True stops the run.
      trust_code: a callable config field may name any importable ``module:name``
        (default: only jaxrl's registered functions; see :func:`jaxrl.configs.register`).
      restart: when resuming a run that has no intact checkpoint, train it again from
        update 0 (its metrics are cut) instead of refusing.
      allow_other_stack: resume from a checkpoint written with other package versions
        or on another backend (its numbers will part from an uninterrupted run's).
      program_dir: keep the run's traced programs (init, chunks, :func:`evaluate_state`'s) in
        this folder, so a later run of the same config skips tracing them
        (:mod:`jaxrl.program_cache`; the CLI uses ``<JAXRL_COMPILATION_CACHE>/programs``). The
        folder is pruned to an eighth of ``JAXRL_CACHE_MAX_MB`` (least recently used first).
        None (default): trace every time.

    Returns:
      An :class:`Outcome` (status, counters, the runner's result with the final state).

    The process holds the run directory's lock (:mod:`jaxrl.rundir`) from before it looks at
    the directory until it returns: a second writer of the same run is refused. The steps:
    build and check everything (:func:`_prepare`: the spec, the run directory, memory and
    disk), restore or record the run (:func:`_restore_or_record`), open the sinks, run in
    checkpointed chunks (:func:`_run_chunks`), write ``result.json``.
    """
    stream = stream or sys.stdout
    spec, built, run_dir, lock = _prepare(spec, run_dir, runs_root, resume, wandb_project, command, trust_code)
    built = dataclasses.replace(built, program_dir=None if trust_code else program_dir)
    with lock:
        ck = checkpointer(run_dir, built, allow_other_stack=allow_other_stack, warn=lambda m: print(m, file=stream, flush=True))
        state, start, elapsed0 = _restore_or_record(built, run_dir, ck, resume, restart, command)
        return _train_locked(built, run_dir, ck, state, start, elapsed0, resume, progress, tensorboard, wandb_project,
                             live_log, stream, on_chunk)


def _train_locked(built: Built, run_dir: str, ck, state, start: int, elapsed0: float, resume: bool, progress: bool,
                  tensorboard: bool, wandb_project: str | None, live_log: bool, stream, on_chunk) -> Outcome:
    """The body of :func:`train` once the run directory is locked and the state restored or recorded."""
    n, steps = built.trainer.num_updates, built.trainer.steps_per_update
    last = {"return": None, "status": "complete", "done": start}

    def write_result(status: str, done: int, result=None, error: str | None = None):
        try:
            write_json_atomic(os.path.join(run_dir, RESULT_FILE), {
                "status": status, "updates_done": done, "num_updates": n, "env_steps": done * steps,
                "last_return": last["return"], "compile_s": getattr(result, "compile_s", None),
                "run_s": getattr(result, "run_s", None), "checkpoints": ck.steps(), "error": error,
            })
        except OSError as e:
            if status in ("complete", "stopped", "interrupted"):
                raise RunWriteError(f"could not write {os.path.join(run_dir, RESULT_FILE)}: {e.strerror or e}") from None
            # a failure report on a full disk: the error itself is raised by the caller

    try:
        fan = _open_sinks(built, run_dir, start, resume, progress, tensorboard, wandb_project, stream)
    except BaseException as e:
        write_result("failed", start, error=f"{type(e).__name__}: {e}")
        write_error = _as_write_error(e, run_dir, ck)
        if write_error is not None:
            raise write_error from None
        raise

    def on_log(row):
        row = dict(row, time_s=row["time_s"] + elapsed0)
        if row.get("episode_return") == row.get("episode_return") and row.get("episode_return") is not None:
            last["return"] = row["episode_return"]
        fan.write(row)

    print(f"run directory: {run_dir}", file=stream, flush=True)
    if resume:
        print(f"resuming at update {start} of {n}", file=stream, flush=True)
    if start >= n:
        print("the run is already complete", file=stream, flush=True)
        fan.close()
        return Outcome(run_dir, "complete", start, n, runner.RunResult(state, {}, 0.0, 0.0, start), last["return"], built)
    try:
        result = _run_chunks(built, ck, state, start, elapsed0, on_log, on_chunk, live_log, progress, last, stream)
        fan.close()
    except runner.DebugCheckError as e:  # debug mode: a bad action or stale poses entered the env; earlier checkpoints are intact
        fan.close(quiet=True)
        write_result("failed", last["done"], error=str(e))
        raise
    except runner.NonFiniteError as e:
        fan.close(quiet=True)
        good = ck.steps()
        where = f"the last good checkpoint is update {good[-1]} in {ck.directory}" if good else "no checkpoint was written"
        write_result("failed", last["done"], error=str(e))
        raise _with_hint(e, where) from None
    except BaseException as e:
        fan.close(quiet=True)
        write_error = _as_write_error(e, run_dir, ck)
        write_result("killed", last["done"], error=f"{type(e).__name__}: {e} (the checkpoints written before are intact)")
        if write_error is not None:
            raise write_error from None
        raise
    write_result(last["status"], result.updates_done, result)
    return Outcome(run_dir, last["status"], result.updates_done, n, result, last["return"], built)


class RunWriteError(OSError):
    """A run could not write its files (a full disk, a quota, a file size limit): one line naming the path."""


def _as_write_error(error: BaseException, run_dir: str, ck) -> RunWriteError | None:
    """A :class:`RunWriteError` naming the file and the last good checkpoint, if ``error`` is a failed
    write (an ``OSError``, also inside a sink's or checkpoint's error); else None."""
    cause = error
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__
    if cause is None or isinstance(cause, RunWriteError):
        return cause
    path = getattr(cause, "filename", None) or (ck.directory if isinstance(error, ckpt.CheckpointError) else run_dir)
    good = ck.steps()
    where = (f"the last good checkpoint is update {good[-1]}; resume with `jaxrl train --resume {run_dir}` once it can be written"
             if good else "no checkpoint was written")
    return RunWriteError(f"could not write {path}: {cause.strerror or cause}; the run stopped ({where})")


def _prepare(spec: Spec | None, run_dir: str | None, runs_root: str, resume: bool, wandb_project: str | None,
             command: list[str] | None, trust_code: bool):
    """``(spec, built, run_dir, lock)``: the spec (the run's own when resuming), its trainer, and a run
    directory that is new (or, resuming, exists), locked by this process, writable, with disk for the
    checkpoints, for a state that fits the device's memory. Every check happens here, before anything
    compiles; the directory's emptiness is checked under the lock (two processes starting the same
    run cannot both pass)."""
    if resume:
        if run_dir is None:
            raise RunDirError("resume needs the run directory")
        spec = read_spec(run_dir)
    spec = spec or Spec()
    built = build(spec, trust_code)
    if wandb_project:
        sinks.require_wandb()
    like = built.abstract_state()
    memory.check_fits(like, what=f"{spec.algo} on {spec.env}")
    if resume:
        lock = rundir.acquire(run_dir, command)
    elif run_dir is None:
        name = default_name(spec)
        run_dir, lock = rundir.lock_fresh_name(runs_root, name, command)
    else:
        lock = rundir.lock_new(run_dir, command, hint=f"resume it with --resume {run_dir} or choose another name")
    try:
        preflight(run_dir, (spec.keep + 1) * ckpt.state_bytes(like) + (64 << 20))
    except BaseException:
        lock.release()
        raise
    return spec, built, run_dir, lock


def _restore_or_record(built: Built, run_dir: str, ck, resume: bool, restart: bool, command):
    """Resuming: ``(state, start update, run seconds so far)`` from the newest intact checkpoint
    (the metrics file cut back to it); with no intact checkpoint, a refusal unless ``restart``
    (then ``(None, 0, 0.0)`` and the metrics cut to nothing). New: writes ``run.json`` and
    returns ``(None, 0, 0.0)``."""
    metrics_path = os.path.join(run_dir, METRICS_FILE)
    if resume:
        state, info, start = ck.resume_point(built.abstract_state(), restart)
        sinks.truncate_jsonl(metrics_path, start)
        return state, start, float(info.get("time_s", 0.0))
    resolved = built.resolved_spec()
    record = {"name": os.path.basename(os.path.normpath(run_dir)), **resolved.to_json(), "versions": versions(),
              "device": device_info(), "created": datetime.datetime.now().isoformat(timespec="seconds"), "command": command}
    write_json_atomic(os.path.join(run_dir, SPEC_FILE), record)
    return None, 0, 0.0


def _open_sinks(built: Built, run_dir: str, start: int, resume: bool, progress: bool, tensorboard: bool,
                wandb_project: str | None, stream) -> sinks.Sinks:
    """The JSONL file, and as asked TensorBoard, Weights & Biases and the progress bar."""
    steps, n = built.trainer.steps_per_update, built.trainer.num_updates
    out = [sinks.JsonlSink(os.path.join(run_dir, METRICS_FILE))]
    if tensorboard:
        out.append(sinks.TensorBoardSink(os.path.join(run_dir, "tb"), purge_step=start * steps if resume else None))
    if wandb_project:
        out.append(sinks.WandbSink(wandb_project, os.path.basename(os.path.normpath(run_dir)), built.resolved_spec().to_json(),
                                   run_dir, resume))
    if progress:
        out.append(sinks.ProgressBar(n, steps, stream=stream))
    return sinks.Sinks(out)


def _run_chunks(built: Built, ck, state, start: int, elapsed0: float, on_log, on_chunk, live_log: bool, progress: bool,
                last: dict, stream) -> runner.RunResult:
    """Run from update ``start`` in compiled chunks, checkpointing after each; the first Ctrl-C
    finishes the chunk, checkpoints and stops (``last["status"]``: interrupted / stopped / complete)."""
    spec, trainer = built.spec, built.trainer
    with _Interrupt(stream) as interrupt:
        def on_progress(p: runner.Progress):
            last["done"] = p.updates_done
            ck.save(p.updates_done, p.state, {"update": p.updates_done, "env_steps": p.env_steps, "time_s": elapsed0 + p.elapsed_s})
            stop = bool(on_chunk(p)) if on_chunk is not None else False
            if interrupt.requested:
                last["status"] = "interrupted"
            elif stop:
                last["status"] = "stopped"
            return interrupt.requested or stop

        if progress:
            env_opts = "".join(f" {k}={v}" for k, v in spec.env_options.items())
            print(f"compiling {spec.algo} on {spec.env}{env_opts} ({trainer.num_updates} updates of {trainer.steps_per_update:,} env steps, "
                  f"chunks of {built.chunk}, log every {built.log_every}) ...", file=stream, flush=True)
        return runner.run(trainer, jax.random.key(spec.seed), built.hparams, chunk_updates=built.chunk,
                          on_progress=on_progress, log_every=built.log_every, on_log=on_log, live=live_log,
                          state=state, start_update=start, debug=bool(spec.env_options.get("debug")),
                          program_dir=built.program_dir, program_key=built.program_key())


def _with_hint(error: runner.NonFiniteError, where: str) -> runner.NonFiniteError:
    new = runner.NonFiniteError(error.update, error.quantity)
    new.args = (f"{error}; training stopped ({where})",)
    return new


def sanitize_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._@+=-]+", name or ""):
        raise RunDirError(f"run name {name!r} may use only letters, digits and . _ - @ + =")
    return name


def evaluate_state(built: Built, state: Any, episodes: int, seed: int = 0):
    """Returns ``[episodes]`` of the deterministic policy of ``state`` (one compiled call)."""
    import numpy as np

    from jaxrl import evaluate

    if not isinstance(episodes, int) or not 1 <= episodes <= MAX_EVAL_EPISODES:
        raise configs.ConfigError(f"episodes must be an integer from 1 to {MAX_EVAL_EPISODES}, got {episodes!r}")
    env, env_params = built.env, built.env_params
    horizon = getattr(env, "max_steps", 1000)  # envs that end by themselves: cap at 1000 steps

    def returns(key, state):  # the state is an argument, not a constant baked into the program
        return evaluate.episode_returns(key, env, env_params, built.trainer.policy(state), episodes, horizon)

    from jaxrl import program_cache

    args, key = (jax.random.key(seed), state), built.program_key()
    program = program_cache.lowered(built.program_dir, key and f"{key} evaluate {episodes} {horizon}", returns, args)
    return np.asarray(program.compile()(*args) if program is not None else jax.jit(returns)(*args))


def output_path(run_dir: str, filename: str) -> str:
    """Where a read-only command (``render``, ``plot``) writes its output by default:
    ``./<run name>-<filename>`` in the current folder, never inside the run directory."""
    return f"{os.path.basename(os.path.normpath(run_dir))}-{filename}"


def render_run(run_dir: str, out: str | None = None, steps: int | None = None, width: int = 320, height: int = 240,
               camera=None, step: int | None = None, seed: int = 1, warn: Callable[[str], None] = print,
               trust_code: bool = False) -> dict:
    """Render one episode of a run's deterministic policy to ``out`` (.gif or .mp4).

    Default ``out``: ``./<run name>-episode-<update>.gif`` (the run directory is only read);
    default camera: the model's first camera if it has one, else MuJoCo's free camera. Call ``jaxrl.video.ensure_gl()`` before jaxrl.envs is
    first imported (the CLI does). The run's own files are only read (:func:`load_state`).
    Returns :func:`jaxrl.video.render_policy`'s dict (``path``, ``frames``, ``return``).
    """
    from jaxrl import video

    video.check_gl()
    built, state, info = load_state(run_dir, step, warn=warn, trust_code=trust_code)
    out = out or output_path(run_dir, f"episode-{info.get('update', 0)}.gif")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    model = getattr(built.env, "mj_model", None)
    if camera is None and model is not None and model.ncam:
        camera = 0
    return video.render_policy(built.env, built.env_params, built.trainer.policy(state), jax.random.key(seed), out,
                               horizon=steps or getattr(built.env, "max_steps", 1000), width=width, height=height, camera=camera)
