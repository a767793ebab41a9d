"""Plots of run directories: a metric (default the training return) against env steps.

Runs that differ only in their seed are one group: drawn as the mean over
seeds with a shaded band (one standard deviation; min-max for 2 seeds is the
same band). Groups are labelled by what distinguishes them (env, algorithm,
config or hyperparameter values), so ``jaxrl plot runs/*`` of a small sweep
needs no manual legend.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Sequence

import numpy as np

from jaxrl.experiment import METRICS_FILE, RunDirError, read_spec
from jaxrl.sinks import read_jsonl


def load_curve(run_dir: str, metric: str = "episode_return") -> tuple[np.ndarray, np.ndarray]:
    """``(env_steps[n], values[n])`` of one run; NaN where the metric is missing (no episode ended)."""
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.exists(path):
        raise RunDirError(f"{run_dir} has no {METRICS_FILE} (not a jaxrl run directory, or it never logged)")
    rows = read_jsonl(path)
    if not rows:
        raise RunDirError(f"{path} has no rows yet")
    if metric not in rows[0]:
        raise RunDirError(f"{path} has no metric {metric!r}; it has: {', '.join(sorted(rows[0]))}")
    values = [np.nan if r.get(metric) is None else r[metric] for r in rows]
    return np.array([r["env_steps"] for r in rows], np.float64), np.array(values, np.float64)


def _group_key(run_dir: str) -> str:
    spec = read_spec(run_dir).to_json()
    spec.pop("seed")
    return json.dumps(spec, sort_keys=True)


def _labels(keys: list[str]) -> list[str]:
    """Short labels: the spec fields whose values differ between groups."""
    specs = [json.loads(k) for k in keys]
    flat = [{**{f: s[f] for f in ("algo", "env")}, **s["config"], **s["hparams"], **s["env_options"], "run": s.get("run")} for s in specs]
    differ = [f for f in flat[0] if any(d.get(f) != flat[0].get(f) for d in flat)]
    base = f"{specs[0]['algo']} on {specs[0]['env']}"
    if len(specs) == 1 or not differ:
        return [base] * len(specs)
    return [", ".join(f"{f}={d.get(f)}" for f in differ) for d in flat]


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    return plt, fig, ax


def draw(ax, steps: np.ndarray, values: np.ndarray, label: str) -> None:
    """One curve: the mean over the first axis of ``values[S, T]`` and, for S > 1, a +/- std band.
    Non-finite points (no episode ended, or a diverged run) are left out of the mean."""
    values = np.asarray(values, np.float64)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column with no finite value: NaN, a gap in the line
        mean = np.nanmean(np.where(np.isfinite(values), values, np.nan), 0)
        std = np.nanstd(np.where(np.isfinite(values), values, np.nan), 0)
    n = len(values)
    (line,) = ax.plot(steps, mean, label=f"{label} ({n} seed{'s' if n > 1 else ''})")
    if n > 1:
        ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)


def _finish(plt, fig, ax, out: str, metric: str, title: str | None) -> str:
    ax.set_xlabel("env steps (per run)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title or f"{metric.replace('_', ' ')} (mean and std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_runs(run_dirs: Sequence[str], out: str, metric: str = "episode_return", title: str | None = None) -> str:
    """Write a PNG of ``metric`` vs env steps for ``run_dirs`` (grouped over seeds); returns ``out``."""
    if not run_dirs:
        raise RunDirError("no run directories to plot")
    groups: dict[str, list] = {}
    seeds: dict[str, set] = {}
    for d in run_dirs:
        key, seed = _group_key(d), read_spec(d).seed
        if seed in seeds.setdefault(key, set()):  # the same seed twice (e.g. a copy or a resumed twin): its own line
            key = json.dumps({**json.loads(key), "run": os.path.basename(os.path.normpath(d))})
        seeds.setdefault(key, set()).add(seed)
        groups.setdefault(key, []).append(load_curve(d, metric))
    if not any(np.isfinite(values).any() for runs in groups.values() for _, values in runs):
        what = "no episode has ended yet: train longer or use a shorter episode" if metric == "episode_return" else "all of it is missing or non-finite"
        raise RunDirError(f"nothing to plot: {metric} has no finite value in {', '.join(run_dirs)} ({what})")
    plt, fig, ax = _figure()
    for label, runs in zip(_labels(list(groups)), groups.values()):
        n = min(len(steps) for steps, _ in runs)
        if n:
            draw(ax, runs[0][0][:n], np.stack([values[:n] for _, values in runs]), label)
    return _finish(plt, fig, ax, out, metric, title)


def plot_sweep(env_steps: np.ndarray, values: np.ndarray, labels: Sequence[str], out: str,
               metric: str = "episode_return", title: str | None = None) -> str:
    """A sweep's curves, ``values[C, S, T]`` against ``env_steps[T]``: one line per setting."""
    plt, fig, ax = _figure()
    for c, label in enumerate(labels):
        draw(ax, env_steps, values[c], label)
    return _finish(plt, fig, ax, out, metric, title)
