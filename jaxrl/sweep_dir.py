"""A sweep into a run directory (what ``jaxrl sweep`` does)::

    runs/<name>/
      sweep.json      algo, env, static config, base hparams, the settings, seeds, devices, versions
      metrics.jsonl   one row per log interval: means over all runs, and the return of each setting
      curves.npz      every metric of every run: [config, seed, update], plus env_steps [update]
      summary.json    settings ranked by final return: mean / std / IQM / min / max over seeds
      plots/episode_return.png   mean and spread of the return of each setting over env steps
      result.json     counters and timings
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import sys
from typing import Any, Sequence

import numpy as np

from jaxrl import configs, experiment, memory, plot, rundir, sinks, sweep


@dataclasses.dataclass
class SweepOutcome:
    run_dir: str
    result: sweep.SweepResult
    summary: list[dict]


def _label(setting: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" for k, v in setting.items()) or "defaults"


def _row_summary(row: dict, num_runs: int, num_settings: int, num_seeds: int, padded: int) -> dict:
    """A log row of ``[runs]`` arrays -> means over the real runs (+ the return of each setting);
    env steps and steps/s count the real runs only (not the padding)."""
    out = {k: row[k] for k in ("update", "env_steps", "time_s", "steps_per_s")}
    out["env_steps"] = row["env_steps"] * num_runs // padded
    out["steps_per_s"] = row["steps_per_s"] * num_runs / padded
    for name, value in row.items():
        if name in out:
            continue
        value = np.asarray(value, np.float64)[:num_runs]
        with np.errstate(invalid="ignore"):
            out[name] = float(np.nanmean(value)) if np.isfinite(value).any() else float("nan")
        if name == "episode_return":
            by_setting = value.reshape(num_settings, num_seeds)
            with np.errstate(invalid="ignore"):
                out["episode_return_by_setting"] = [None if not np.isfinite(r).any() else float(np.nanmean(r)) for r in by_setting]
    return out


def format_table(summary: list[dict]) -> str:
    lines = [f"{'rank':>4} {'mean':>9} {'std':>8} {'IQM':>9} {'min':>9} {'max':>9} {'div':>4} {'unf':>4}  setting"]
    for i, r in enumerate(summary, 1):
        lines.append(f"{i:>4} {r['mean']:>9.1f} {r['std']:>8.1f} {r['iqm']:>9.1f} {r['min']:>9.1f} {r['max']:>9.1f} "
                     f"{r['diverged']:>4} {r['unfinished']:>4}  {_label(r['setting'])}")
    lines.append("(div: seeds that diverged; unf: seeds where no episode ended in the final window; both left out of the statistics)")
    return "\n".join(lines)


MAX_RUNS = 2**20  # runs in one sweep; more is refused before the settings are listed


@dataclasses.dataclass
class _Plan:
    """A validated sweep (nothing compiled yet)."""

    algo_name: str
    env_name: str
    env_options: dict
    config: Any
    base: Any
    swept: dict
    random: int | None
    random_seed: int
    settings: list
    seeds: int
    trainer: Any
    log_every: int
    devices: list
    live: bool
    validate: Any

    @property
    def num_runs(self) -> int:
        return len(self.settings) * self.seeds

    @property
    def padded(self) -> int:
        return -(-self.num_runs // len(self.devices)) * len(self.devices)


def sweep_to_dir(
    algo_name: str,
    env_name: str,
    *,
    env_options: dict | None = None,
    config_changes: dict | None = None,
    swept: dict | None = None,
    seeds: int = 4,
    random: int | None = None,
    random_seed: int = 0,
    run_dir: str | None = None,
    runs_root: str = "runs",
    log_every: int | None = None,
    devices: Sequence[Any] | None = None,
    live: bool = True,
    last: float = 0.1,
    stream=None,
    command: list[str] | None = None,
    base_hparams: dict | None = None,
    trust_code: bool = False,
) -> SweepOutcome:
    """Validate, run and record a sweep. Every input error is raised before anything compiles.

    Args:
      swept: ``{name: [values]}`` (a grid) or, with ``random=N``, ``{name: (lo, hi) |
        ("log", lo, hi) | [choices]}`` (:func:`jaxrl.sweep.random_search`, seeded by ``random_seed``).
      seeds: seeds per setting (``0 .. seeds-1``).
      last: the fraction of the final updates whose training return ranks the settings.
      base_hparams: hyperparameters every setting starts from, beside the defaults (e.g. a preset's).
      trust_code: a callable config field may name any importable ``module:name``.

    The writing process (process 0 of a multi-host sweep) holds the run directory's lock
    (:mod:`jaxrl.rundir`) while the sweep runs.
    """
    import jax

    if not 0 < last <= 1:
        raise sweep.SweepError(f"last must be in (0, 1], got {last}")
    plan = _plan(algo_name, env_name, env_options or {}, config_changes or {}, swept or {}, seeds, random, random_seed,
                 log_every, devices, live, base_hparams or {}, trust_code)
    name = f"sweep-{algo_name}-{env_name.replace('/', '_')}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    # Multi-host (jax.distributed): every process runs its share of the program; process 0 alone
    # writes the run directory and prints progress (the metrics are gathered to every process).
    primary = jax.process_index() == 0
    lock = None
    if primary and run_dir is None:
        run_dir, lock = rundir.lock_fresh_name(runs_root, name, command)
    elif primary:
        lock = rundir.lock_new(run_dir, command)
    run_dir = run_dir or os.path.join(runs_root, name)
    try:
        if primary:
            experiment.preflight(run_dir, 64 << 20)
        return _run_and_record(plan, run_dir, primary, last, stream or sys.stdout, command)
    finally:
        if lock is not None:
            lock.release()


def _plan(algo_name, env_name, env_options, config_changes, swept, seeds, random, random_seed, log_every, devices, live,
          base_hparams, trust_code) -> _Plan:
    """Check everything about a sweep and build its trainer (nothing compiled)."""
    import jax

    from jaxrl import algos, envs, runner

    algo = algos.get(algo_name)
    if env_options.get("debug"):
        raise sweep.SweepError("the env's debug mode checks actions in `jaxrl train` (and runner.run(debug=True)); a sweep "
                               "does not run its checks: debug one run first")
    env, env_params = envs.make(env_name, **env_options)
    config = configs.from_dict(algo.Config, config_changes, trust_code=trust_code)
    if not isinstance(seeds, int) or seeds < 1:
        raise sweep.SweepError(f"--seeds must be a positive integer, got {seeds!r}")
    settings_count = random or math.prod(len(v) for v in swept.values() if isinstance(v, (list, tuple)))
    if settings_count * seeds > MAX_RUNS:  # before any list of that length exists on the host
        raise sweep.SweepError(f"a sweep of {settings_count:,} settings x {seeds:,} seeds is more than {MAX_RUNS:,} runs; "
                               "split it into several sweeps")
    base = configs.from_dict(algo.Hparams, base_hparams, base=algo.default_hparams())
    trainer = algo.make_train(config, env, env_params)
    devices = list(devices) if devices is not None else jax.devices()
    padded = -(-max(settings_count, 1) * seeds // len(devices)) * len(devices)
    memory.check_fits(trainer.abstract_state(base), runs=padded, devices=devices,
                      what=f"the sweep's {settings_count * seeds} runs")  # before the settings are listed
    settings = sweep.random_search(random, random_seed, **swept) if random else sweep.grid(**swept)
    sweep.check_settings(settings, base, config)
    n = trainer.num_updates
    log_every = log_every or runner.pick_log_every(n)
    if n % log_every:
        raise sweep.SweepError(f"log_every must divide the run's {n} updates, got {log_every}")
    plan = _Plan(algo_name, env_name, env_options, config, base, swept, random, random_seed, settings, seeds, trainer,
                 log_every, devices, live, algo.validate_hparams)
    algo.validate_hparams(sweep.hparams_batch(base, settings, range(seeds), plan.num_runs)[0], batch_shape=(plan.num_runs,))
    return plan


def _run_and_record(plan: _Plan, run_dir: str, primary: bool, last: float, stream, command) -> SweepOutcome:
    """Write sweep.json, run the sweep with its log rows going to metrics.jsonl and the terminal, then
    write curves.npz, summary.json, the plot and result.json (process 0 only)."""
    import jax

    trainer, n, num_runs, seeds = plan.trainer, plan.trainer.num_updates, plan.num_runs, plan.seeds
    settings = plan.settings
    if primary:
        experiment.write_json_atomic(os.path.join(run_dir, "sweep.json"), {
            "name": os.path.basename(os.path.normpath(run_dir)), "kind": "sweep", "algo": plan.algo_name, "env": plan.env_name,
            "env_options": plan.env_options, "config": configs.to_dict(plan.config), "base_hparams": configs.to_dict(plan.base),
            "swept": {k: list(v) if isinstance(v, tuple) else v for k, v in plan.swept.items()},
            "random": plan.random, "random_seed": plan.random_seed, "settings": settings, "seeds": list(range(seeds)),
            "log_every": plan.log_every, "devices": [str(d) for d in plan.devices], "versions": experiment.versions(),
            "device": experiment.device_info(), "created": datetime.datetime.now().isoformat(timespec="seconds"), "command": command,
        })
    fan = sinks.Sinks()
    if primary:
        progress = sinks.ProgressBar(n, trainer.steps_per_update * num_runs, stream=stream)
        fan = sinks.Sinks([sinks.JsonlSink(os.path.join(run_dir, experiment.METRICS_FILE)), progress])
        print(f"run directory: {run_dir}\nsweep: {len(settings)} settings x {seeds} seeds = {num_runs} runs of {n} updates "
              f"x {trainer.steps_per_update:,} env steps, on {len(plan.devices)} device(s) ({jax.process_count()} process(es)); "
              f"compiling ...", file=stream, flush=True)
    sweeper = sweep.Sweeper(trainer, plan.base, len(settings), seeds, validate=plan.validate, devices=plan.devices,
                            log_every=plan.log_every, live=plan.live, check_memory=False,
                            on_log=lambda row: fan.write(_row_summary(row, num_runs, len(settings), seeds, plan.padded)))
    try:
        result = sweeper.run(settings, seeds)
    finally:
        fan.close()
    summary = result.summary(last)
    if not primary:
        return SweepOutcome(run_dir, result, summary)
    np.savez_compressed(os.path.join(run_dir, "curves.npz"), env_steps=result.env_steps,
                        settings=json.dumps(settings), **{k: v for k, v in result.metrics.items()})
    experiment.write_json_atomic(os.path.join(run_dir, "summary.json"), {"last_fraction": last, "ranked": summary})
    plot.plot_sweep(result.env_steps, result.return_curve(), [_label(s) for s in settings],
                    os.path.join(run_dir, "plots", "episode_return.png"),
                    title=f"{plan.algo_name} on {plan.env_name}: return per setting (mean and std over {seeds} seeds)")
    total = num_runs * n * trainer.steps_per_update
    experiment.write_json_atomic(os.path.join(run_dir, experiment.RESULT_FILE), {
        "status": "complete", "runs": num_runs, "padded_runs": result.num_padded, "devices": result.num_devices,
        "env_steps_per_run": n * trainer.steps_per_update, "env_steps_total": total,
        "compile_s": result.compile_s, "run_s": result.run_s, "steps_per_s": total / max(result.run_s, 1e-9),
        "best": summary[0],
    })
    return SweepOutcome(run_dir, result, summary)
