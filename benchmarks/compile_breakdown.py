"""Where `jaxrl train`'s compile seconds go (issue 18 item 3).

Each component of the default command's program is traced, lowered and compiled ALONE, in a
fresh process (nothing cached in memory, the persistent compilation cache off), and reported as
trace / lower (jaxpr -> StableHLO) / XLA compile seconds, with the size of its StableHLO and of
the optimised HLO. Components, all on the run's own env, config and sizes:

  bare      scan(vmap(mjx.step)) of the same model, num_envs x num_steps: the physics alone
            (jaxrl's preset's model; mjx.step is what the task's physics_step calls per substep)
  physics   scan(vmap(task.physics_step)) : the physics as the task steps it (ctrl clip, substeps)
  reset     vmap(stack.reset) alone: what AutoReset traces into every step
  env       scan of the training stack's step (AutoReset, EpisodeStats, TimeLimit, VecEnv) with
            fixed actions: the env seam as a trainer runs it
  rollout   the trainer's collect(): policy + env, num_steps
  update    one trainer.update (rollout, returns, SGD epochs)
  init      jit(trainer.init)
  chunk     the runner's program as `jaxrl train` compiles it: log_every updates per call
  chunk_nolive  the same with --no-live-log: a whole checkpoint interval per call
  chunk_probe   the same program as `chunk`, PPO's default config, on `probe_obs_reward` with a
            Gaussian head instead of the task: PPO's own compile without physics or the MJX env
            stack. bare + chunk_probe is the floor of `chunk` (printed as "floor" at the end)
  cli       `jaxrl train` itself, cold (no persistent cache): the "compile" it prints (init + chunk
            program, as the runner times it) and the process's wall time; no trace/lower split
  cli_warm  `jaxrl train` run twice with one fresh persistent cache: the second run's compile
            and wall time (what a repeated command costs)

Repeats are interleaved (component 1..n, then again), each in its own process; medians are
reported. The defaults are `jaxrl train`'s: `--env cartpole_balance` with `physics=fast`.

    python benchmarks/compile_breakdown.py --repeats 3 --json benchmarks/results/compile_breakdown.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

COMPONENTS = ("bare", "physics", "reset", "env", "rollout", "update", "init", "chunk", "chunk_nolive", "chunk_probe", "cli",
              "cli_warm")
PROBE = ("probe_obs_reward", {"continuous": True})  # chunk_probe's env: a one-line env, a Box action like the tasks'


def _build(env_name: str, env_options: dict):
    from jaxrl import experiment

    spec = experiment.Spec(env=env_name, env_options=dict(env_options))
    return experiment.build(spec)


def _program(component: str, built):
    """``(fn, args, static_argnums)`` of one component."""
    import jax
    import jax.numpy as jnp
    from mujoco import mjx

    from jaxrl import runner
    from jaxrl.wrappers import training_stack

    trainer, env, params, config = built.trainer, built.env, built.env_params, built.config
    task = env.unwrapped if hasattr(env, "unwrapped") else env
    n, t = config.num_envs, config.num_steps
    key = jax.random.key(0)
    stack = training_stack(env, n)
    # the abstract state only where needed: eval_shape would cache init's trace for "init"
    abstract_state = ("rollout", "update", "chunk", "chunk_nolive", "chunk_probe")
    state0 = jax.eval_shape(trainer.init, key, built.hparams) if component in abstract_state else None
    act = jnp.zeros((n,) + env.action_spec.shape, jnp.float32)
    if component == "bare":
        model = params.model

        def bare(data):
            return jax.lax.scan(lambda d, _: (jax.vmap(lambda x: mjx.step(model, x))(d), d.qpos), data, None, length=t)

        data = jax.vmap(lambda _: mjx.make_data(model, impl="jax"))(jnp.arange(n))
        return bare, (data,), ()
    if component == "physics":
        def physics(data):
            step = jax.vmap(lambda d, a: task.physics_step(params, d, a))
            return jax.lax.scan(lambda d, _: (step(d, act), d.qpos), data, None, length=t)

        def start(_):  # a task that holds its poses steps from states that hold them (MjxTask.physics_step)
            data = mjx.make_data(params.model, impl="jax")
            return mjx.kinematics(params.model, data) if task.holds_poses else data

        data = jax.vmap(start)(jnp.arange(n))
        return physics, (data,), ()
    if component == "reset":
        return (lambda k: stack.reset(k, params)), (key,), ()
    if component == "env":
        s, _ = jax.eval_shape(lambda k: stack.reset(k, params), key)

        def env_loop(s, k):
            return jax.lax.scan(lambda c, kk: (stack.step(kk, c, act, params)[0], None), s, jax.random.split(k, t))

        return env_loop, (s, key), ()
    if component == "rollout":
        from jaxrl.algos.ppo.train import make_parts

        parts = make_parts(config, env, params)
        return parts.collect, (state0, key), ()
    if component == "update":
        return trainer.update, (state0,), ()
    if component == "init":
        return trainer.init, (key, built.hparams), ()
    if component in ("chunk", "chunk_nolive", "chunk_probe"):
        # jaxrl train's program: log_every updates per call with live rows, else the whole chunk
        fn, _ = runner._make_chunk(trainer, check_finite=True)
        size = built.chunk if component == "chunk_nolive" else built.log_every
        return (lambda s: fn(s, size)), (state0,), ()
    raise ValueError(component)


def _count_ops(text: str) -> int:
    return sum(1 for line in text.splitlines() if " = " in line)


def measure(component: str, env_name: str, env_options: dict) -> dict:
    """Trace, lower and compile one component (this process: nothing cached)."""
    import jax

    t0 = time.perf_counter()
    built = _build(*PROBE) if component == "chunk_probe" else _build(env_name, env_options)
    fn, args, static = _program(component, built)
    build_s = time.perf_counter() - t0
    jitted = jax.jit(fn, static_argnums=static)
    t = time.perf_counter()
    traced = jitted.trace(*args)
    trace_s = time.perf_counter() - t
    t = time.perf_counter()
    lowered = traced.lower()
    lower_s = time.perf_counter() - t
    t = time.perf_counter()
    compiled = lowered.compile()
    compile_s = time.perf_counter() - t
    return {"component": component, "build_s": build_s, "trace_s": trace_s, "lower_s": lower_s, "compile_s": compile_s,
            "total_s": trace_s + lower_s + compile_s, "stablehlo_ops": _count_ops(lowered.as_text()),
            "hlo_ops": _count_ops(compiled.as_text())}


def measure_cli(env_name: str, env_options: dict, warm: bool, python: str = sys.executable) -> dict:
    """``jaxrl train`` (no eval) in a subprocess: its printed compile seconds and its wall time;
    ``warm``: run it twice with one fresh persistent cache and report the second run."""
    import re
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [python, "-m", "jaxrl.cli", "train", "--env", env_name, "--eval-episodes", "0", "--runs-dir", tmp,
               "--no-tensorboard", *[a for k, v in env_options.items() for a in ("--env-opt", f"{k}={v}")]]
        env = {**os.environ, "JAXRL_COMPILATION_CACHE": os.path.join(tmp, "xla") if warm else "off"}
        for _ in range(2 if warm else 1):
            t = time.perf_counter()
            # cwd: the temp folder, so a checkout's jaxrl/ folder cannot shadow `python`'s installed one
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
            wall = time.perf_counter() - t
            if out.returncode:
                raise SystemExit(f"jaxrl train failed:\n{out.stderr[-3000:]}")
    m = re.search(r"in ([0-9.]+) s, compile ([0-9.]+) s", out.stdout)
    run_s, compile_s = float(m.group(1)), float(m.group(2))
    return {"component": "cli_warm" if warm else "cli", "trace_s": float("nan"), "lower_s": float("nan"), "compile_s": compile_s,
            "total_s": compile_s, "wall_s": wall, "run_s": run_s, "stablehlo_ops": 0, "hlo_ops": 0}


def _child(args) -> None:
    os.environ["JAXRL_COMPILATION_CACHE"] = "off"
    print(json.dumps(measure(args.component, args.env, json.loads(args.env_options))), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="cartpole_balance", help="default: jaxrl train's (with its env options)")
    p.add_argument("--env-options", default=None, help="JSON; default: the CLI's default for the env")
    p.add_argument("--components", default=",".join(COMPONENTS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", default=None)
    p.add_argument("--python", default=sys.executable, help="the interpreter of the cli components (e.g. another "
                   "checkout's venv, for a before/after comparison in one run)")
    p.add_argument("--component", help=argparse.SUPPRESS)  # child mode
    args = p.parse_args()
    if args.component:
        _child(args)
        return
    from common import machine_info, write_json
    from jaxrl.cli import DEFAULT_ENV, DEFAULT_ENV_OPTIONS

    options = json.loads(args.env_options) if args.env_options else (dict(DEFAULT_ENV_OPTIONS) if args.env == DEFAULT_ENV else {})
    built = _build(args.env, options)
    print(f"{args.env} {options or ''}: num_envs {built.config.num_envs}, num_steps {built.config.num_steps}, "
          f"chunk {built.chunk} updates, log every {built.log_every}; env physics: {getattr(built.env.unwrapped, 'physics', '?')}")
    rows: dict[str, list[dict]] = {c: [] for c in args.components.split(",")}
    for r in range(args.repeats):
        for c in rows:
            if c in ("cli", "cli_warm"):
                rows[c].append(measure_cli(args.env, options, warm=c == "cli_warm", python=args.python))
            else:
                cmd = [sys.executable, __file__, "--component", c, "--env", args.env, "--env-options", json.dumps(options)]
                out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "JAXRL_COMPILATION_CACHE": "off"})
                if out.returncode:
                    raise SystemExit(f"{c} failed:\n{out.stderr[-3000:]}")
                rows[c].append(json.loads(out.stdout.strip().splitlines()[-1]))
            m = rows[c][-1]
            extra = f"  wall {m['wall_s']:6.2f}" if "wall_s" in m else ""
            print(f"  repeat {r} {c:13s} trace {m['trace_s']:6.2f}  lower {m['lower_s']:5.2f}  compile {m['compile_s']:6.2f}"
                  f"  stablehlo {m['stablehlo_ops']:6d}  hlo {m['hlo_ops']:6d}{extra}", flush=True)
    summary = {}
    print(f"\n{'component':13s} {'trace s':>8s} {'lower s':>8s} {'XLA s':>8s} {'total s':>8s} {'x bare':>7s} {'StableHLO ops':>14s} {'HLO ops':>8s}"
          "   (cli: total = the compile `jaxrl train` prints; wall = the whole process)")
    for c, ms in rows.items():
        med = {k: statistics.median(m[k] for m in ms) for k in ms[0] if k != "component"}
        summary[c] = med
    for c, med in summary.items():
        ratio = med["total_s"] / summary["bare"]["total_s"] if "bare" in summary else float("nan")
        print(f"{c:13s} {med['trace_s']:8.2f} {med['lower_s']:8.2f} {med['compile_s']:8.2f} {med['total_s']:8.2f} {ratio:7.2f} "
              f"{med['stablehlo_ops']:14.0f} {med['hlo_ops']:8.0f}" + (f"   wall {med['wall_s']:.1f} s" if "wall_s" in med else ""))
    if "bare" in summary and "chunk_probe" in summary:
        floor = (summary["bare"]["total_s"] + summary["chunk_probe"]["total_s"]) / summary["bare"]["total_s"]
        print(f"floor of the training program (bare + chunk_probe, medians): {floor:.2f}x bare")
    write_json(args.json, {"machine": machine_info(), "env": args.env, "env_options": options, "repeats": args.repeats,
                           "runs": rows, "median": summary})


if __name__ == "__main__":
    main()
