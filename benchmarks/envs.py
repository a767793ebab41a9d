#!/usr/bin/env python
"""Env throughput (issue 5): steps/s of every MJX task, beside a bare ``mjx.step`` loop and MuJoCo Playground.

    python benchmarks/envs.py [--tasks all|name,name] [--envs 1024] [--steps 100] [--repeats 3]
                              [--pixel-tasks all|none|name,...] [--pixel-envs 64] [--image-size 64]
                              [--physics faithful|fast|faithful,fast]
                              [--playground PYTHON] [--json out.json]

``--physics`` picks the tasks' physics preset (``make(task, physics=...)``; default the faithful
one, DM Control's settings); with both (``faithful,fast``) every task is timed in each preset, the
two interleaved task by task, in rows ``"<task> (<preset>)"`` (state tasks only).

For each task, three programs, each ONE ``jax.jit`` of a ``lax.scan`` over ``--steps`` env steps of
``--envs`` parallel envs with uniformly random actions (drawn in the graph). A task's three programs
are compiled first (``lower().compile()``, timed: "compile s"), then timed in ``--repeats`` rounds that
run each of them once in turn (interleaved since 2026-12-03, after the envs_constant run; median:
"run s").
``--params`` says how the env params (the ``mjx.Model`` among them) enter the program:

* ``constant`` (the default): closed over, so XLA folds the model's numbers into the program. This
  is how every jaxrl trainer runs an env (``make_train`` closes over ``env_params``) and how
  Playground's envs run (``self.mjx_model``), so it is the setting for comparing with Playground;
* ``traced``: passed as an ARGUMENT, as a program that randomises or sweeps the params must
  (``jaxrl.envs.randomize`` on the whole params, meta-RL over params). On this CPU the hopper's
  physics steps 2.3-2.6x slower traced than constant, Playground's own hopper model too
  (``benchmarks/hopper_model.py``, 2026-12-03): XLA cannot fold the model's numbers into MJX's step;
* ``both``: each program in each setting, the two interleaved.

* ``jaxrl``: the task as PPO trains it, ``AutoReset(VecEnv(make(task)))``: physics, observation,
  reward, time limit, auto-reset on episode end (the run crosses no episode boundary unless
  ``--steps`` > 1000, but the reset is in the program, as in training). The program sums every
  observation and reward it produces (an unused observation would be dead code to XLA: the first
  version of this script measured pixel "frames" that were never rendered);
* ``bare``: ``vmap(mjx.step)`` on the SAME ``mjx.Model`` (the task's ``n_substeps`` physics steps per
  env step, ``ctrl`` set from the action): what the physics alone costs. ``jaxrl / bare`` is the
  price of the task code (observations, rewards, resets, time limit). It consumes only ``qpos``, so
  XLA may drop work the env must do (sensors, poses for the observation);
* ``same``: the task's own step, ``vmap`` of ``physics_step`` + ``observe`` + ``reward`` (the
  physics as the task steps it, the post-step poses it refreshes, the same observation and reward,
  both consumed), with no wrapper: the like-for-like bare loop. ``jaxrl / same`` is the price of
  the wrappers alone (time limit, auto-reset with the reset traced in, vectorisation);
* ``playground`` (when ``--playground`` names a Python with MuJoCo Playground installed, see
  ``benchmarks/peers/setup_playground.sh``): the same DM Control task in Playground's own MJX port
  (``mujoco_playground.registry.load``, its model a constant of the program), measured the same way
  by ``benchmarks/peers/playground_envs.py`` in that interpreter, run right after jaxrl's programs
  of the same task (the frameworks interleaved task by task; the machine's speed drifts between
  minutes). Playground's control timestep and physics substeps are its own (DM Control's, like
  jaxrl's); they are printed beside the figures.

The three start from the same states (the env stack's reset with key 0) and draw the same actions
(the same trajectories): under ``vmap`` MJX's Newton loop runs until the slowest env of the batch
has converged, so programs started from different states time different work (before 2026-12-03
``bare`` started every env from ``qpos0`` and ``same`` from other reset keys).

``--match-playground-solver`` adds a fourth program per task Playground has: jaxrl's task with
Playground's constraint-solver budget (``make(task, solver_iterations=..., ls_iterations=...)``, the
budgets read from Playground's own model), so the two frameworks are compared at equal solver work
(the timestep and integrator stay the preset's; where Playground's model also differs in timestep,
integrator, substeps, implicit damping (``eulerdamp``) or MJX's contact caps (the ``max_contact_points``
/ ``max_geom_pairs`` numerics, which cull collisions), the row says so).

Pixels (``--pixel-tasks``): ``make(task, obs="pixels", image_size=...)`` (jaxrl's in-graph ray caster,
RGB), ``--pixel-envs`` envs, frames/s = env steps/s (one frame per env step).

Prints one table; ``--json`` writes every figure with the machine and versions (``common.machine_info``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from common import loadavg, machine_info, physics_settings, write_json
from jaxrl import envs
from jaxrl.envs.mjx_env import MjxState, MjxTask, check_physics, mjx
from jaxrl.wrappers import AutoReset, VecEnv, find_state

HERE = os.path.dirname(os.path.abspath(__file__))


def mjx_task_names() -> list[str]:
    return [n for n in envs.names() if isinstance(envs.make(n)[0].unwrapped, MjxTask)]


def _action_bounds(spec):
    lo, hi = np.asarray(spec.low_array(), np.float32), np.asarray(spec.high_array(), np.float32)
    return np.where(np.isfinite(lo), lo, -1.0), np.where(np.isfinite(hi), hi, 1.0)


class Program(NamedTuple):
    compiled: Any
    args: tuple
    compile_s: float
    env_steps: int  # env steps per call (envs x steps)


def compile_program(fn, args: tuple, params, traced: bool, env_steps: int) -> Program:
    """``jax.jit`` of ``fn(*args, params)``, compiled (timed): ``params`` an argument of the program
    (``traced``) or closed over, a constant XLA may fold (how trainers and Playground run envs)."""
    if traced:
        program, args = fn, (*args, params)
    else:
        program = lambda *a: fn(*a, params)  # noqa: E731
    t = time.perf_counter()
    compiled = jax.jit(program).lower(*args).compile()
    return Program(compiled, args, time.perf_counter() - t, env_steps)


def run_rounds(programs: dict, repeats: int) -> dict:
    """``repeats`` rounds, each running every program once in turn (the machine drifts between
    minutes: interleaving puts the programs of a comparison in the same minutes); per program
    ``compile_s``, ``run_s`` (median), ``runs_s`` and ``steps_per_s``."""
    runs = {name: [] for name in programs}
    for _ in range(repeats):
        for name, prog in programs.items():
            t = time.perf_counter()
            jax.block_until_ready(prog.compiled(*prog.args))
            runs[name].append(time.perf_counter() - t)
    out = {}
    for name, prog in programs.items():
        run_s = statistics.median(runs[name])
        out[name] = {"compile_s": prog.compile_s, "run_s": run_s, "runs_s": runs[name], "steps_per_s": prog.env_steps / run_s}
    return out


def random_action(k: jax.Array, num_envs: int, lo, hi) -> tuple[jax.Array, jax.Array]:
    """The env step's actions ``[num_envs, *action]`` (uniform in the bounds) and its step key, from
    the scan's key ``k``: every program draws the same actions, so all follow the same trajectories."""
    action_key, step_key = jax.random.split(k)
    return jax.random.uniform(action_key, (num_envs, *lo.shape), minval=lo, maxval=hi), step_key


def jaxrl_program(env, num_envs: int, steps: int):
    """``(key, state, params) -> (state, reward sum)``: ``steps`` steps of AutoReset(VecEnv(env))."""
    venv = AutoReset(VecEnv(env, num_envs=num_envs))
    return venv, stack_run(venv, num_envs, steps, *_action_bounds(env.action_spec))


def stack_run(venv, num_envs: int, steps: int, lo, hi):
    """``run(key, state, params) -> (state, sum of rewards and observations)``: ``steps`` steps of the
    batched env stack ``venv`` with :func:`random_action` actions."""

    def run(key, state, params):
        def body(state, k):
            action, step_key = random_action(k, num_envs, lo, hi)
            state, ts = venv.step(step_key, state, action, params)
            # Consume the observation: an unused one (state or pixels) would be dead code to XLA.
            return state, jnp.sum(ts.reward) + jnp.sum(ts.obs.astype(jnp.float32))

        state, rewards = jax.lax.scan(body, state, jax.random.split(key, steps))
        return state, jnp.sum(rewards)

    return run


def start_state(env, params, num_envs: int):
    """The env stack's reset state (key 0) and the ``mjx.Data`` inside it: every program of a task
    starts from these states (under ``vmap`` MJX's Newton loop runs until the slowest env of the
    batch has converged, so different start states would time different amounts of work)."""
    venv = AutoReset(VecEnv(env, num_envs=num_envs))
    state, _ = jax.jit(venv.reset)(jax.random.key(0), params)
    return state, find_state(state, MjxState).data


def jaxrl_compiled(env, params, state, num_envs: int, steps: int, traced: bool = False) -> Program:
    """The env stack's program (see :func:`jaxrl_program`) from ``state``, compiled."""
    _, run = jaxrl_program(env, num_envs, steps)
    return compile_program(run, (jax.random.key(1), state), params, traced, num_envs * steps)


def bench_jaxrl(env, params, num_envs: int, steps: int, repeats: int, traced: bool = False) -> dict:
    state, _ = start_state(env, params, num_envs)
    return run_rounds({"jaxrl": jaxrl_compiled(env, params, state, num_envs, steps, traced)}, repeats)["jaxrl"]


def bare_run(n_substeps: int, num_envs: int, steps: int, lo, hi):
    """``run(key, data, model) -> (data, sum of qpos[:, 0])``: ``vmap(mjx.step)``, ``n_substeps``
    physics steps per env step with :func:`random_action` controls, nothing else."""

    def run(key, data, model):
        def body(data, k):
            data = data.replace(ctrl=random_action(k, num_envs, lo, hi)[0])
            step = jax.vmap(mjx.step, in_axes=(None, 0))
            if n_substeps == 1:
                data = step(model, data)
            else:
                data = jax.lax.fori_loop(0, n_substeps, lambda _, d: step(model, d), data)
            return data, jnp.sum(data.qpos[:, 0])

        data, out = jax.lax.scan(body, data, jax.random.split(key, steps))
        return data, jnp.sum(out)

    return run


def bare_compiled(env, params, data, num_envs: int, steps: int, traced: bool = False) -> Program:
    """``vmap(mjx.step)`` on the task's model from ``data``: ``n_substeps`` physics steps per env
    step, nothing else."""
    run = bare_run(env.unwrapped.n_substeps, num_envs, steps, *_action_bounds(env.action_spec))
    return compile_program(run, (jax.random.key(1), data), params.model, traced, num_envs * steps)


def same_outputs_compiled(env, params, data, num_envs: int, steps: int, traced: bool = False) -> Program:
    """``vmap`` of the task's ``physics_step``, ``observe`` and ``reward`` (both consumed): the bare loop
    that computes what the env stack returns, without its wrappers."""
    task = env.unwrapped
    lo, hi = _action_bounds(env.action_spec)

    def one(data, action, params):
        data = task.physics_step(params, data, action)
        return data, jnp.sum(task.observe(data, params)) + task.reward(data, action, params)

    def run(key, data, params):
        def body(data, k):
            data, out = jax.vmap(one, in_axes=(0, 0, None))(data, random_action(k, num_envs, lo, hi)[0], params)
            return data, jnp.sum(out)

        data, out = jax.lax.scan(body, data, jax.random.split(key, steps))
        return data, jnp.sum(out)

    return compile_program(run, (jax.random.key(1), data), params, traced, num_envs * steps)


def bench_pixels(task: str, num_envs: int, steps: int, repeats: int, image_size: int,
                 physics: str = "faithful") -> dict:
    env, params = envs.make(task, obs="pixels", image_size=image_size, physics=physics)
    out = bench_jaxrl(env, params, num_envs, steps, repeats)
    return {**out, "frames_per_s": out.pop("steps_per_s"), "shape": list(env.observation_spec.shape)}


def bench_playground(python: str, task: str, num_envs: int, steps: int, repeats: int) -> dict | None:
    """Run benchmarks/peers/playground_envs.py for ``task`` in Playground's interpreter: its
    figures (``None`` when Playground has no such task or the run failed), ``"machine"`` added."""
    out_path = os.path.join(HERE, "results", f".playground_envs_{os.getpid()}.json")
    cmd = [python, os.path.join(HERE, "peers", "playground_envs.py"), "--tasks", task,
           "--envs", str(num_envs), "--steps", str(steps), "--repeats", str(repeats), "--json", out_path]
    print("[playground] " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, text=True)
    if proc.returncode != 0 or not os.path.exists(out_path):
        print(f"[playground] failed (exit {proc.returncode}); no Playground column for {task}", flush=True)
        return None
    with open(out_path) as f:
        doc = json.load(f)
    os.remove(out_path)
    figures = doc["tasks"].get(task)
    return None if figures is None else {**figures, "machine": doc["machine"]}


def bench_at_playground_budget(task: str, pg: dict, row: dict, a) -> None:
    """Time jaxrl's ``task`` (the row's preset) with Playground's solver iterations; adds
    ``row["jaxrl_pg_solver"]`` and which other settings still differ from Playground's model."""
    solver = pg["solver"]
    env, params = envs.make(task, physics=row["physics"], solver_iterations=solver["iterations"],
                            ls_iterations=solver["ls_iterations"])
    mine = physics_settings(env.mj_model, env.unwrapped.n_substeps)
    differs = [k for k in mine if k in solver and (abs(mine[k] - solver[k]) > 1e-12 if k == "timestep" else mine[k] != solver[k])]
    figures = bench_jaxrl(env, params, a.envs, a.steps, a.repeats, row["traced"])
    row["jaxrl_pg_solver"] = {**figures, "settings": mine, "differs_from_playground": differs}
    row["jaxrl_pg_solver_over_playground"] = pg["run_s"] / figures["run_s"]
    print(f"[jaxrl at Playground's solver] {task:24s} {figures['steps_per_s']:>10,.0f} steps/s "
          f"({solver['iterations']} / {solver['ls_iterations']} iterations; compile {figures['compile_s']:5.1f} s)  "
          f"/ Playground {row['jaxrl_pg_solver_over_playground']:.2f}"
          + (f"  (Playground's model also differs in {', '.join(differs)})" if differs else ""), flush=True)


def bench_task(task: str, preset: str, traced: bool, a) -> dict:
    """The ``jaxrl``, ``bare`` and ``same`` programs of ``task`` in ``preset``; one row, printed."""
    env, params = envs.make(task, physics=preset)
    row = {"n_substeps": env.unwrapped.n_substeps, "control_dt": env.unwrapped.dt, "physics": preset, "traced": traced}
    state, data = start_state(env, params, a.envs)  # the three start from the same states
    programs = {"jaxrl": jaxrl_compiled(env, params, state, a.envs, a.steps, traced),
                "bare": bare_compiled(env, params, data, a.envs, a.steps, traced),
                "same": same_outputs_compiled(env, params, data, a.envs, a.steps, traced)}
    row.update(run_rounds(programs, a.repeats))  # interleaved: the three in the same minutes
    row["jaxrl_over_bare"] = row["bare"]["run_s"] / row["jaxrl"]["run_s"]
    row["jaxrl_over_same"] = row["same"]["run_s"] / row["jaxrl"]["run_s"]
    label = f"{task} ({preset}, params {'traced' if traced else 'constant'})"
    print(f"[state] {label:44s} jaxrl {row['jaxrl']['steps_per_s']:>10,.0f} steps/s (compile "
          f"{row['jaxrl']['compile_s']:5.1f} s)  bare mjx.step {row['bare']['steps_per_s']:>10,.0f} "
          f"(compile {row['bare']['compile_s']:5.1f} s)  jaxrl/bare {row['jaxrl_over_bare']:.2f}  same outputs "
          f"{row['same']['steps_per_s']:>10,.0f} (compile {row['same']['compile_s']:5.1f} s)  jaxrl/same "
          f"{row['jaxrl_over_same']:.2f}", flush=True)
    return row


def _names(arg: str, all_names: list[str]) -> list[str]:
    if arg == "all":
        return all_names
    if arg == "none":
        return []
    names = [n.strip() for n in arg.split(",") if n.strip()]
    unknown = [n for n in names if n not in all_names]
    if unknown:
        raise SystemExit(f"unknown task(s) {unknown}; MJX tasks: {', '.join(all_names)}")
    return names


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="all")
    p.add_argument("--envs", type=int, default=1024)
    p.add_argument("--steps", type=int, default=100, help="env steps per timed run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--pixel-tasks", default="all")
    p.add_argument("--pixel-envs", type=int, default=64)
    p.add_argument("--pixel-steps", type=int, default=10)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--playground", metavar="PYTHON", help="a Python with MuJoCo Playground installed")
    p.add_argument("--match-playground-solver", action="store_true",
                   help="also time jaxrl's task at Playground's solver iterations (needs --playground)")
    p.add_argument("--physics", default="faithful", help="physics preset(s), comma-separated: faithful, fast")
    p.add_argument("--params", default="constant", choices=("constant", "traced", "both"),
                   help="env params closed over (as trainers run envs) or passed as an argument (as randomisation needs)")
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args(argv)
    presets = [x.strip() for x in a.physics.split(",") if x.strip()]
    for preset in presets:
        check_physics(preset)
    if a.repeats < 1 or a.envs < 1 or a.steps < 1:
        raise SystemExit("--repeats, --envs and --steps must be >= 1")
    if a.match_playground_solver and not a.playground:
        raise SystemExit("--match-playground-solver needs --playground PYTHON (the budgets are read from Playground's models)")

    all_names = mjx_task_names()
    tasks, pixel_tasks = _names(a.tasks, all_names), _names(a.pixel_tasks, all_names)
    doc = {"machine": machine_info(), "args": vars(a), "tasks": {}, "pixels": {}}
    print(f"{len(tasks)} tasks, {a.envs} envs x {a.steps} steps, median of {a.repeats}; "
          f"{jax.devices()}; load {loadavg()}", flush=True)

    settings = ["constant", "traced"] if a.params == "both" else [a.params]
    for task in tasks:
        keys = []
        for preset, params_mode in ((p, m) for p in presets for m in settings):
            key = task + "".join(f" ({x})" for x, n in ((preset, len(presets)), (params_mode, len(settings))) if n > 1)
            doc["tasks"][key] = bench_task(task, preset, params_mode == "traced", a)
            keys.append(key)
            write_json(a.json, doc)  # after every program: a stopped run keeps what it measured
        pg = bench_playground(a.playground, task, a.envs, a.steps, a.repeats) if a.playground else None
        for key in keys if pg else ():
            row = doc["tasks"][key]
            row["playground"] = pg
            row["jaxrl_over_playground"] = pg["run_s"] / row["jaxrl"]["run_s"]
            print(f"[playground] {key:24s} {pg['name']:22s} {pg['steps_per_s']:>10,.0f} steps/s "
                  f"(compile {pg['compile_s']:5.1f} s, {pg['n_substeps']} substeps)  "
                  f"jaxrl speed / Playground {row['jaxrl_over_playground']:.2f}", flush=True)
            if a.match_playground_solver:
                bench_at_playground_budget(task, pg, row, a)
            write_json(a.json, doc)

    for task in pixel_tasks:
        row = bench_pixels(task, a.pixel_envs, a.pixel_steps, a.repeats, a.image_size, presets[0])
        doc["pixels"][task] = row
        print(f"[pixels] {task:24s} {row['frames_per_s']:>8,.0f} frames/s {tuple(row['shape'])} "
              f"(compile {row['compile_s']:5.1f} s)", flush=True)
        write_json(a.json, doc)

    print("\n| task | jaxrl steps/s | bare mjx.step steps/s | jaxrl/bare | same outputs steps/s | jaxrl/same | Playground steps/s | jaxrl/Playground "
          "| jaxrl at Playground's solver, steps/s | that / Playground | compile s (jaxrl) | pixel frames/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for task in dict.fromkeys(list(doc["tasks"]) + pixel_tasks):
        row, pix = doc["tasks"].get(task), doc["pixels"].get(task)
        pg = row.get("playground") if row else None
        cells = [task,
                 f"{row['jaxrl']['steps_per_s']:,.0f}" if row else "-",
                 f"{row['bare']['steps_per_s']:,.0f}" if row else "-",
                 f"{row['jaxrl_over_bare']:.2f}" if row else "-",
                 f"{row['same']['steps_per_s']:,.0f}" if row else "-",
                 f"{row['jaxrl_over_same']:.2f}" if row else "-",
                 f"{pg['steps_per_s']:,.0f}" if pg else "-",
                 f"{row['jaxrl_over_playground']:.2f}" if pg else "-",
                 f"{row['jaxrl_pg_solver']['steps_per_s']:,.0f}" if row and "jaxrl_pg_solver" in row else "-",
                 f"{row['jaxrl_pg_solver_over_playground']:.2f}" if row and "jaxrl_pg_solver" in row else "-",
                 f"{row['jaxrl']['compile_s']:.1f}" if row else "-",
                 f"{pix['frames_per_s']:,.0f}" if pix else "-"]
        print("| " + " | ".join(cells) + " |")
    doc["loadavg_at_end"] = loadavg()
    write_json(a.json, doc)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
