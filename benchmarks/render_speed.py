#!/usr/bin/env python
"""The pixel renderer's speed before and after a change, measured in one run (issue 20, item 3).

    python benchmarks/render_speed.py [--baseline REF] [--tasks all|name,name] [--envs 64] [--size 64]
                                      [--steps 4] [--repeats 5] [--json benchmarks/results/render_speed.json]

``--baseline`` names a git revision whose ``envs/pixels.py`` is loaded beside the working tree's
(default ``c4bcd90``, the renderer before the per-type geom scans). For every MJX task, two programs
per renderer, each ONE ``jax.jit`` with the env params as an argument, compiled apart
(``lower().compile()``, "compile s") and run ``--repeats`` times, the two renderers INTERLEAVED run by
run (this machine drifts between minutes), medians reported:

* ``render``: ``vmap`` over ``--envs`` random initial states of pose update + ray casting + shading,
  RGB ``--size`` x ``--size`` (what a pixel observation costs on its own);
* ``step``: ``--steps`` steps of ``AutoReset(VecEnv(PixelObs(task)))`` with random actions, every
  observation consumed (physics, reward and rendering: what an agent's rollout pays per frame).

Prints one table (frames/s before, after, their ratio) and writes every figure with the machine and
versions to ``--json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

from common import machine_info, write_json
from envs import jaxrl_program, mjx_task_names
from jaxrl import envs
from jaxrl.envs import pixels
from jaxrl.envs.mjx_env import mjx

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = "c4bcd90"


def load_baseline(ref: str):
    """``envs/pixels.py`` at git revision ``ref`` as a module of its own (it imports only jaxrl's other modules)."""
    source = subprocess.run(["git", "show", f"{ref}:envs/pixels.py"], cwd=os.path.dirname(HERE), check=True,
                            capture_output=True, text=True).stdout
    path = os.path.join(tempfile.mkdtemp(), "pixels_baseline.py")
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("jaxrl_pixels_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _task(task: str):
    env, params = envs.make(task)
    return env, params, env.unwrapped, env.mj_model


def render_program(module, task: str, num_envs: int, size: int):
    """``(fn, args)``: renderer ``module`` draws ``num_envs`` random initial states of ``task``."""
    env, params, inner, m = _task(task)
    cam = module.resolve_camera(m, inner.default_camera)
    keys = jax.random.split(jax.random.key(0), num_envs)
    qpos = jax.jit(jax.vmap(lambda k: inner.initial_qpos_qvel(k, params)[0]))(keys)
    template = mjx.make_data(params.model, impl="jax")

    def render(model, qpos):
        def one(q):
            data = module.update_poses(m, model, template.replace(qpos=q))
            return module.render(m, model, data, cam, size, size).rgb
        return jax.vmap(one)(qpos)

    return render, (params.model, qpos)


def step_program(module, task: str, num_envs: int, size: int, steps: int):
    """``(fn, args)``: ``steps`` pixel env steps of ``task`` rendered by ``module``."""
    env, params, _, _ = _task(task)
    venv, run = jaxrl_program(module.PixelObs(env, height=size, width=size), num_envs, steps)
    state, _ = jax.jit(venv.reset)(jax.random.key(1), params)
    return run, (jax.random.key(2), state, params)


def measure(progs: dict, repeats: int) -> dict:
    """Compile every ``(fn, args)`` of ``progs`` (``{label: ...}``), then run them interleaved."""
    compiled, out = {}, {}
    for label, (fn, args) in progs.items():
        t = time.perf_counter()
        compiled[label] = jax.jit(fn).lower(*args).compile()
        out[label] = {"compile_s": time.perf_counter() - t, "runs_s": []}
        jax.block_until_ready(compiled[label](*args))  # first run apart
    for _ in range(repeats):
        for label, (_, args) in progs.items():
            t = time.perf_counter()
            jax.block_until_ready(compiled[label](*args))
            out[label]["runs_s"].append(time.perf_counter() - t)
    for row in out.values():
        row["run_s"] = statistics.median(row["runs_s"])
    return out


def bench_task(task: str, old, a, kinds=("render", "step")) -> dict:
    row = {"task": task}
    for kind in kinds:
        frames = a.envs * (a.steps if kind == "step" else 1)
        progs = {name: render_program(module, task, a.envs, a.size) if kind == "render"
                 else step_program(module, task, a.envs, a.size, a.steps)
                 for name, module in (("before", old), ("after", pixels))}
        for name, figures in measure(progs, a.repeats).items():
            row[f"{kind}_{name}"] = {**figures, "frames_per_s": frames / figures["run_s"]}
        row[f"{kind}_speedup"] = row[f"{kind}_after"]["frames_per_s"] / row[f"{kind}_before"]["frames_per_s"]
    return row


def _cells(row: dict, kind: str, width: int) -> str:
    if f"{kind}_speedup" not in row:
        return f"{'-':>{width}s} {'-':>8s} {'-':>5s}"
    return (f"{row[f'{kind}_before']['frames_per_s']:{width},.0f} {row[f'{kind}_after']['frames_per_s']:8,.0f} "
            f"{row[f'{kind}_speedup']:5.2f}")


def _compiles(row: dict) -> str:
    return ", ".join(f"{row[f'{k}_before']['compile_s']:.1f}/{row[f'{k}_after']['compile_s']:.1f}"
                     for k in ("render", "step") if f"{k}_speedup" in row)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", default=BASELINE)
    p.add_argument("--tasks", default="all")
    p.add_argument("--step-tasks", default="all", help="tasks that also time the env step (all|none|name,name)")
    p.add_argument("--envs", type=int, default=64)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=os.path.join(HERE, "results", "render_speed.json"))
    a = p.parse_args(argv)
    tasks = mjx_task_names() if a.tasks == "all" else a.tasks.split(",")
    step_tasks = tasks if a.step_tasks == "all" else [] if a.step_tasks == "none" else a.step_tasks.split(",")
    old = load_baseline(a.baseline)
    result = {"args": vars(a), "machine": machine_info(), "tasks": []}
    print(f"{'task':22s} {'render f/s before':>17s} {'after':>8s} {'x':>5s} {'step f/s before':>16s} {'after':>8s} "
          f"{'x':>5s}  compile s render b/a, step b/a", flush=True)
    for task in tasks:
        row = bench_task(task, old, a, ("render", "step") if task in step_tasks else ("render",))
        result["tasks"].append(row)
        print(f"{task:22s} {_cells(row, 'render', 17)} {_cells(row, 'step', 16)}  {_compiles(row)}", flush=True)
        write_json(a.json, result)  # after every task: a stopped run keeps what it measured
    ratios = [row["render_speedup"] for row in result["tasks"]]
    print(f"render speedup: min {min(ratios):.2f}, median {float(np.median(ratios)):.2f}")
    return result


if __name__ == "__main__":
    main()
