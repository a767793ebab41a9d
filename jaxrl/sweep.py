"""Sweeps: seeds x hyperparameter settings as ONE compiled program, sharded over every device.

    from jaxrl import sweep
    settings = sweep.grid(lr=[1e-4, 3e-4, 1e-3], ent_coef=[0.0, 0.01])   # 6 settings
    result = sweep.run_sweep(trainer, ppo.default_hparams(), settings, seeds=range(8),
                             validate=ppo.validate_hparams)
    result.metrics["episode_return"]      # [config, seed, update]
    result.summary()                      # ranked: mean / std / IQM of the final return per config

Every (setting, seed) pair is one RUN; the R runs are ``jax.vmap``-ed
(:func:`jaxrl.trainer.vmapped`) and the run axis is split over all devices
with a ``Mesh`` and ``NamedSharding`` (padded to a multiple of the device
count; the padding is dropped from the results). Only hyperparameter VALUES
change between runs, so new values never recompile; a static config field
cannot be swept (it changes shapes) and is refused with a message that says so.
Run ``(c, s)`` uses ``jax.random.key(seeds[s])`` and ``settings[c]``: it equals
``train(jax.random.key(seeds[s]), hparams_c)`` run alone.

Multi-host: call :func:`init_distributed` (``jax.distributed.initialize``) in
every process first; the mesh then spans every process's devices, inputs are
built as global arrays and results gathered to every host.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxrl import memory, runner
from jaxrl.configs import ConfigError, did_you_mean
from jaxrl.trainer import Trainer, vmapped

AXES = ("config", "seed", "update")


class SweepError(ConfigError):
    """A sweep's settings are invalid (raised before anything compiles)."""


def runs_sharding(devices: Sequence[jax.Device]) -> NamedSharding:
    """Splits a leading run axis over ``devices`` (a 1-D ``Mesh`` with one ``"runs"`` axis): how a
    :class:`Sweeper` spreads its runs, and an ES its population (``algos/meta/es.py``)."""
    return NamedSharding(Mesh(np.array(list(devices)), ("runs",)), PartitionSpec("runs"))


# ----------------------------------------------------------------------------- settings


def grid(**values: Sequence) -> list[dict]:
    """The cartesian product of the given values, in order: ``grid(a=[1, 2], b=[3])``
    -> ``[{"a": 1, "b": 3}, {"a": 2, "b": 3}]``. ``grid()`` is one setting with the defaults."""
    for name, vals in values.items():
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence):
            raise SweepError(f"grid values of {name} must be a list of numbers, got {vals!r}")
        if len(vals) == 0:
            raise SweepError(f"empty grid: {name} has no values")
    names = list(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*(values[n] for n in names))]


def random_search(num: int, seed: int = 0, **ranges) -> list[dict]:
    """``num`` settings drawn at random (a NumPy generator seeded with ``seed``).

    Each range is ``(lo, hi)`` (uniform), ``("log", lo, hi)`` (log-uniform) or a
    list of values (a uniform choice).
    """
    if num < 1:
        raise SweepError(f"random search needs at least one sample, got {num}")
    rng = np.random.default_rng(seed)
    out = [{} for _ in range(num)]
    for name, spec in ranges.items():
        if isinstance(spec, list):
            if not spec:
                raise SweepError(f"empty grid: {name} has no values")
            draws = [spec[i] for i in rng.integers(0, len(spec), num)]
        elif isinstance(spec, tuple) and len(spec) == 3 and spec[0] == "log":
            lo, hi = float(spec[1]), float(spec[2])
            if not 0 < lo < hi:
                raise SweepError(f"log range of {name} needs 0 < lo < hi, got {spec!r}")
            draws = np.exp(rng.uniform(np.log(lo), np.log(hi), num)).tolist()
        elif isinstance(spec, tuple) and len(spec) == 2:
            lo, hi = float(spec[0]), float(spec[1])
            if not lo < hi:
                raise SweepError(f"range of {name} needs lo < hi, got {spec!r}")
            draws = rng.uniform(lo, hi, num).tolist()
        else:
            raise SweepError(f"range of {name} must be (lo, hi), ('log', lo, hi) or a list, got {spec!r}")
        for setting, value in zip(out, draws):
            setting[name] = value
    return out


def check_settings(settings: Sequence[dict], base_hparams: Any, config: Any = None) -> None:
    """Refuse an empty sweep, unknown or static field names and non-numeric values."""
    if not settings:
        raise SweepError("empty grid: the sweep has no settings")
    sweepable = [f.name for f in dataclasses.fields(base_hparams)]
    static = [f.name for f in dataclasses.fields(config)] if dataclasses.is_dataclass(config) else []
    for setting in settings:
        for name, value in setting.items():
            if name not in sweepable:
                if name in static:
                    raise SweepError(
                        f"{name} is a static config field (it changes shapes or code and recompiles): it cannot be swept "
                        f"in one program; the sweepable (traced) fields are: {', '.join(sweepable)}"
                    )
                hint = did_you_mean(name, sweepable)
                raise SweepError(f"unknown hyperparameter {name!r}{hint}; the sweepable fields are: {', '.join(sweepable)}")
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise SweepError(f"{name}={value!r} is not a number; the sweepable fields ({', '.join(sweepable)}) take numbers")


# ----------------------------------------------------------------------------- results


def iqm(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% (25% trimmed from each end) along ``axis``."""
    x = np.sort(np.asarray(x, np.float64), axis=axis)
    n = x.shape[axis]
    k = n // 4
    return np.take(x, np.arange(k, n - k), axis=axis).mean(axis=axis)


@dataclasses.dataclass
class SweepResult:
    """A finished sweep.

    Attributes:
      settings: the ``C`` hyperparameter settings (only the swept fields).
      seeds: the ``S`` seeds.
      hparams: every hyperparameter of every setting (``C`` dicts).
      metrics: ``{name: [C, S, num_updates]}`` (axes :data:`AXES`).
      env_steps: ``[num_updates]`` env steps of ONE run after each update.
      state: the final training states, leaves ``[C, S, ...]`` (only if kept).
      run_state: the runner's final state as it lies on the devices: leaves ``[runs + padding, ...]``,
        split over the devices (e.g. to checkpoint a multi-host sweep).
    """

    settings: list[dict]
    seeds: list[int]
    hparams: list[dict]
    metrics: dict
    env_steps: np.ndarray
    compile_s: float
    run_s: float
    num_devices: int
    num_padded: int
    state: Any = None
    run_state: Any = None

    axes = AXES

    def final_return(self, last: float = 0.1) -> np.ndarray:
        """``[C, S]``: each run's training return over its last ``last`` fraction of updates
        (averaged over the episodes that ended). NaN if the run diverged (:meth:`diverged`) or if
        no episode ended in that window (a budget shorter than an episode)."""
        n = self.metrics["episode_return"].shape[-1]
        k = max(1, int(round(n * last)))
        ret, done = self.metrics["episode_return"][..., -k:], self.metrics["episodes"][..., -k:].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.sum(np.nan_to_num(ret) * done, -1) / np.sum(done, -1)
        return np.where(self.diverged(), np.nan, out)

    def return_curve(self) -> np.ndarray:
        """``[C, S, T]``: at each update, the mean return of the episodes that ended in it, carried
        forward over updates in which none ended (NaN before the first one ends). The raw
        ``metrics["episode_return"]`` is 0 at such updates; with episodes much longer than an
        update (an MJX task's 1,000 steps against 64 per update) the raw curve is mostly zeros,
        so the sweep's plot draws this one. A non-finite return of an ended episode stays."""
        ret, done = self.metrics["episode_return"], self.metrics["episodes"]
        t = np.arange(ret.shape[-1])
        last = np.maximum.accumulate(np.where(done > 0, t, -1), axis=-1)
        return np.where(last >= 0, np.take_along_axis(ret, np.maximum(last, 0), -1), np.nan)

    def diverged(self) -> np.ndarray:
        """``[C, S]`` bool: the run's loss went non-finite at some update (when the ``loss`` curve was
        kept), or an episode that ended reported a non-finite return."""
        ret, done = self.metrics["episode_return"], self.metrics["episodes"]
        bad = np.any((done > 0) & ~np.isfinite(ret), -1)
        if "loss" in self.metrics:
            bad |= ~np.all(np.isfinite(self.metrics["loss"]), -1)
        return bad

    def summary(self, last: float = 0.1) -> list[dict]:
        """One row per setting, best first: mean / std / IQM / min / max of the final return over the
        seeds that have one; ``diverged`` counts the seeds that diverged, ``unfinished`` those where
        no episode ended in the final window (both left out of the statistics)."""
        final, diverged = self.final_return(last), self.diverged()
        rows = []
        for c, setting in enumerate(self.settings):
            f = final[c]
            ok = f[np.isfinite(f)]
            rows.append({
                "config": c, "setting": setting,
                "mean": float(ok.mean()) if ok.size else math.nan, "std": float(ok.std()) if ok.size else math.nan,
                "iqm": float(iqm(ok)) if ok.size else math.nan,
                "min": float(ok.min()) if ok.size else math.nan, "max": float(ok.max()) if ok.size else math.nan,
                "diverged": int(np.sum(diverged[c])), "unfinished": int(np.sum(~diverged[c] & ~np.isfinite(f))),
            })
        return sorted(rows, key=lambda r: (-r["mean"] if math.isfinite(r["mean"]) else math.inf))

    @property
    def best(self) -> dict:
        return self.summary()[0]


# ----------------------------------------------------------------------------- running


def init_distributed(coordinator: str | None, num_processes: int | None, process_id: int | None) -> None:
    """``jax.distributed.initialize`` for a multi-host sweep (all three, or none for auto-detection on TPU/SLURM)."""
    if coordinator is None and num_processes is None and process_id is None:
        jax.distributed.initialize()
    else:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)


def _global(values: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array sharded along its first axis (works on one host and across hosts)."""
    return jax.make_array_from_callback(values.shape, sharding, lambda index: values[index])


def hparams_batch(base_hparams: Any, settings: Sequence[dict], seeds: Sequence[int], padded: int) -> tuple[Any, list[dict]]:
    """Hyperparameters of every run (``[padded]`` leaves; run ``c * S + s``, the padding repeats
    the last run) and every setting's full hyperparameters as dicts."""
    full = [{**{f.name: getattr(base_hparams, f.name) for f in dataclasses.fields(base_hparams)}, **s} for s in settings]
    per_run = [h for h in full for _ in seeds]
    per_run += [per_run[-1]] * (padded - len(per_run))
    columns = {name: np.asarray([float(h[name]) for h in per_run], np.float32) for name in full[0]}
    return base_hparams.replace(**columns), [{k: float(v) for k, v in h.items()} for h in full]


def keep_metrics(trainer: Trainer, base_hparams: Any, names: Sequence[str]) -> Trainer:
    """``trainer`` whose ``update`` returns only the metrics ``names`` (plus ``episode_return`` and
    ``episodes`` when it reports them); an unknown name is a :class:`SweepError` listing the metrics."""
    state = trainer.abstract_state(base_hparams)
    reported = list(jax.eval_shape(trainer.update, state)[1])
    unknown = [n for n in names if n not in reported]
    if unknown:
        raise SweepError(f"unknown metric(s) {', '.join(map(repr, unknown))}; this trainer reports: {', '.join(reported)}")
    keep = [n for n in reported if n in set(names) | {"episode_return", "episodes"}]

    def update(state):
        state, metrics = trainer.update(state)
        return state, {k: metrics[k] for k in keep}

    return dataclasses.replace(trainer, update=update)


class Sweeper:
    """A compiled sweep of ``num_settings`` settings x ``num_seeds`` seeds, reusable with new VALUES.

    The first :meth:`run` compiles; later runs with other settings or seeds
    (same counts) reuse the programs (no retrace, no recompile).

    Args:
      trainer: from an algorithm's ``make_train`` (one run).
      base_hparams: the hyperparameters every setting starts from (e.g. ``ppo.default_hparams()``).
      num_settings, num_seeds: ``C`` and ``S`` (static: the run count ``C * S``).
      validate: the algorithm's ``validate_hparams(hparams, batch_shape)`` (range checks), optional.
      devices: the devices to shard the runs over (default: all, on every host).
      chunk_updates, log_every, on_log, live: as :func:`jaxrl.runner.run` (default chunk:
        the whole run); a log row holds ``[runs]`` arrays (padding included) for each metric.
      metrics: names of the per-update metrics to keep (default: all the trainer reports).
        The others are never computed: XLA drops what the program does not return, so a
        sweep that only needs return curves skips the per-minibatch loss diagnostics.
        ``episode_return`` (and ``episodes``, which weights it in log rows) are always kept.
      check_memory: refuse (:class:`jaxrl.memory.MemoryEstimateError`) runs whose states, replay
        buffers included, would not fit the devices (:func:`jaxrl.memory.check_fits`).
    """

    def __init__(self, trainer: Trainer, base_hparams: Any, num_settings: int, num_seeds: int, *,
                 validate: Callable | None = None, devices: Sequence[jax.Device] | None = None,
                 chunk_updates: int | None = None, log_every: int | None = None,
                 on_log: Callable[[dict], None] | None = None, live: bool = True,
                 metrics: Sequence[str] | None = None, check_memory: bool = True):
        if num_settings < 1 or num_seeds < 1:
            raise SweepError(f"a sweep needs at least one setting and one seed, got {num_settings} x {num_seeds}")
        if metrics is not None:
            trainer = keep_metrics(trainer, base_hparams, metrics)
        self.trainer, self.base_hparams, self.validate = trainer, base_hparams, validate
        self.num_settings, self.num_seeds = num_settings, num_seeds
        self.devices = list(devices) if devices is not None else jax.devices()
        self.num_runs = num_settings * num_seeds
        self.padded = -(-self.num_runs // len(self.devices)) * len(self.devices)
        self._one_run = trainer.abstract_state(base_hparams)
        if check_memory:  # every run's state (replay buffers included) on its device, before compiling
            memory.check_fits(self._one_run, runs=self.padded, devices=self.devices, what=f"the sweep's {self.num_runs} runs")
        self.sharding = runs_sharding(self.devices)
        runs, shape = self.num_runs, (num_settings, num_seeds)
        # One compiled call drops the padding and splits the run axis into [C, S] (as eager ops,
        # one dispatch per state leaf cost ~35 ms per sweep on a CPU).
        # The [C, S, ...] result is replicated: its axes need not divide over the devices.
        self._unpad = jax.jit(lambda tree: jax.tree.map(lambda x: x[:runs].reshape(shape + x.shape[1:]), tree),
                              out_shardings=NamedSharding(self.sharding.mesh, PartitionSpec()))
        inner = vmapped(trainer, self.padded)
        batched = dataclasses.replace(inner, init=lambda s, h, m=None: inner.init(jax.vmap(jax.random.key)(s), h, m))
        # One chunk for the whole sweep unless asked otherwise (live rows: one compiled call per row).
        self.runner = runner.Runner(batched, chunk_updates or trainer.num_updates, log_every=log_every if on_log else None,
                                    on_log=on_log, live=live, check_finite=False, state_sharding=self.sharding)

    def run(self, settings: Sequence[dict], seeds: Sequence[int] | int, on_progress=None, keep_state: bool = False) -> SweepResult:
        """Train every (setting, seed) pair; ``keep_state`` also returns the final states (leaves ``[C, S, ...]``,
        gathered on the first device: checked to fit there, replay buffers included, before compiling)."""
        seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
        settings = [dict(s) for s in settings]
        check_settings(settings, self.base_hparams, self.trainer.config)
        if keep_state:  # the final states of every run on ONE device (beside the runs' own states)
            memory.check_fits(self._one_run, runs=self.num_runs + self.padded // len(self.devices),
                              devices=self.devices[:1], what=f"keep_state with {self.num_runs} runs")
        if (len(settings), len(seeds)) != (self.num_settings, self.num_seeds):
            raise SweepError(f"this sweep was compiled for {self.num_settings} settings x {self.num_seeds} seeds, "
                             f"got {len(settings)} x {len(seeds)}")
        hparams, full = hparams_batch(self.base_hparams, settings, seeds, self.padded)
        if self.validate is not None:
            self.validate(hparams, batch_shape=(self.padded,))
        pad = self.padded - self.num_runs
        seed_column = np.asarray([s for _ in settings for s in seeds] + [seeds[-1]] * pad, np.int32)
        seed_column = _global(seed_column, self.sharding)
        hparams = jax.tree.map(lambda x: _global(x, self.sharding), hparams)
        res = self.runner.run(seed_column, hparams, None, on_progress)

        C, S, R = len(settings), len(seeds), self.num_runs
        metrics = {k: np.moveaxis(np.asarray(v)[:, :R].reshape((-1, C, S)), 0, -1) for k, v in res.metrics.items()}
        state = None
        if keep_state:
            if jax.process_count() > 1:
                raise SweepError("keep_state is for one host; on several hosts checkpoint the sharded state instead")
            state = self._unpad(res.state)
        done = len(next(iter(res.metrics.values())))
        steps = self.trainer.steps_per_update * np.arange(1, done + 1)
        return SweepResult(settings, seeds, full, metrics, steps, res.compile_s, res.run_s, len(self.devices), pad, state, res.state)


def run_sweep(trainer: Trainer, base_hparams: Any, settings: Sequence[dict], seeds: Sequence[int] | int, *,
              on_progress=None, keep_state: bool = False, **kw) -> SweepResult:
    """Train every (setting, seed) pair of ``trainer`` in one compiled program (see :class:`Sweeper`)."""
    settings = [dict(s) for s in settings]
    check_settings(settings, base_hparams, trainer.config)
    n_seeds = seeds if isinstance(seeds, int) else len(list(seeds))
    if n_seeds < 1:
        raise SweepError("a sweep needs at least one seed")
    return Sweeper(trainer, base_hparams, len(settings), n_seeds, **kw).run(settings, seeds, on_progress, keep_state)


def parse_sets(items: Sequence[str], config_cls, hparams_cls, random: bool = False, trust_code: bool = False) -> tuple[dict, dict]:
    """Command-line ``--set`` items of a sweep -> ``(config_changes, swept)``.

    A traced hyperparameter takes a comma-separated list (``lr=1e-4,3e-4``: a grid
    axis) or, with ``random``, a range ``lo:hi`` / ``lo:hi:log`` (or a list to choose
    from); a static config field takes ONE value (``hidden_sizes=64,64`` is one tuple).
    ``swept`` maps names to lists (grid) or range tuples (:func:`random_search`).
    """
    from jaxrl import configs

    static = {f.name for f in dataclasses.fields(config_cls)}
    traced = [f.name for f in dataclasses.fields(hparams_cls)]
    config_changes, swept = {}, {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise SweepError(f"--set expects name=value[,value...], got {item!r}")
        if name in traced:
            swept[name] = _parse_values(name, text.strip(), random)
        elif name in static:
            default = next(f.default for f in dataclasses.fields(config_cls) if f.name == name)
            if "," in text and not isinstance(default, tuple):
                raise SweepError(f"{name} is a static config field (it changes shapes or code and recompiles): a sweep takes "
                                 f"one value for it; the sweepable (traced) fields are: {', '.join(traced)}")
            config_changes.update(configs.parse_sets([item], config_cls, hparams_cls, trust_code=trust_code)[0])
        else:
            hint = did_you_mean(name, traced + sorted(static))
            raise SweepError(f"unknown field {name!r}{hint}; the sweepable (traced) fields are: {', '.join(traced)}")
    return config_changes, swept


def _parse_values(name: str, text: str, random: bool):
    def number(v: str) -> float:
        try:
            x = float(v)
        except ValueError:
            raise SweepError(f"{name}: {v!r} is not a number") from None
        if not np.isfinite(x):
            raise SweepError(f"{name}: {v!r} is not a finite number")
        return x

    if ":" in text:
        if not random:
            raise SweepError(f"{name}={text}: a range needs --random N (a grid takes a list: {name}=a,b,c)")
        parts = text.split(":")
        if len(parts) == 3 and parts[2] == "log":
            return ("log", number(parts[0]), number(parts[1]))
        if len(parts) == 2:
            return (number(parts[0]), number(parts[1]))
        raise SweepError(f"{name}={text}: a range is lo:hi or lo:hi:log")
    values = [number(v) for v in text.split(",") if v.strip()]
    if not values:
        raise SweepError(f"empty grid: {name} has no values")
    return values
