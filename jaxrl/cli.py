"""The ``jaxrl`` command line.

    jaxrl train [ALGO] [--env NAME] [--seed N] [--steps N] [--set name=value ...]
                [--config run.json] [--name NAME] [--resume RUN_DIR] [--objective X] [--optimizer X] ...
    jaxrl meta es|grad --rule lpo|dpo|lifetime_lr|open [--env NAME] [--generations N] ...
    jaxrl eval RUN_DIR [--episodes N]
    jaxrl render RUN_DIR [--out episode.gif]
    jaxrl plot RUN_DIR [RUN_DIR ...] [--out plot.png] [--metric NAME]
    jaxrl envs
    jaxrl algos

With no arguments ``jaxrl train`` trains PPO on ``cartpole_balance`` with the fast physics
preset (``--env-opt physics=fast``: Euler instead of DM Control's RK4; it compiles and trains
about twice as fast on a CPU) into ``runs/<generated name>/``; any ``--env`` (including
``--env cartpole_balance``) or ``--preset`` gets the task's faithful default (a preset's own env
options on top; ``start_env``). Every input error is one line (exit status 2),
reported before anything compiles; a run stopped by a non-finite value, a debug check or a full disk is
one line with exit status 1. ``--trust-code`` (train, sweep, eval, render) lets config fields name any
Python function (it imports and runs it); without it, only jaxrl's registered functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys

from jaxrl.configs import MAX_COUNT, MAX_SEED  # configs imports no jax: the log level is still set before it

DEFAULT_ALGO = "ppo"
DEFAULT_ENV = "cartpole_balance"
DEFAULT_ENV_OPTIONS = {"physics": "fast"}  # the no-argument demo only; see the module docstring


class CliError(Exception):
    """A bad command-line value; printed as one line, exit status 2."""




def _integer(text: str, lo: int, hi: int, what: str) -> int:
    """``text`` (``1000000``, ``1_000_000`` or ``1e6``) as an int in ``[lo, hi]``, else a one-line usage error."""
    try:
        clean = text.strip().replace("_", "")
        if "e" in clean.lower():
            number = float(clean)
            if not math.isfinite(number) or number != int(number):
                raise ValueError(text)
            value = int(number)
        else:
            value = int(clean)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _integer(text, 1, MAX_COUNT, f"an integer from 1 to {MAX_COUNT}")


def _seed(text: str) -> int:
    return _integer(text, 0, MAX_SEED, f"a seed from 0 to {MAX_SEED} (JAX takes seeds modulo 2**32)")


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _episodes(text: str) -> int:
    return _integer(text, 1, 65_536, "an integer from 1 to 65536")


def _eval_episodes(text: str) -> int:
    return _integer(text, 0, 65_536, "an integer from 0 to 65536")


def _frames(text: str) -> int:
    return _integer(text, 1, 100_000, "an integer from 1 to 100000")


def _index(text: str) -> int:
    return _integer(text, 0, MAX_COUNT, f"an integer from 0 to {MAX_COUNT}")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is ONE line (the usage is one ``--help`` away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _fields_epilog() -> str:
    try:
        from jaxrl import algos, configs

        blocks = []
        for name in algos.names():
            algo = algos.get(name)
            blocks.append(f"{name} fields for --set name=value:\n" + configs.help_text(algo.Config, algo.Hparams))
        return "\n\n".join(blocks)
    except Exception as e:  # never let --help fail
        return f"(field list unavailable: {e})"


def _add_train(sub, with_fields: bool) -> None:
    """``jaxrl train``: one run into a run directory."""
    t = sub.add_parser(
        "train", help="train an agent into a run directory and print progress",
        description="Train an agent. The run is one compiled program executed in chunks; between chunks the "
        "full state is checkpointed. Writes runs/<name>/: run.json, metrics.jsonl, tb/, checkpoints/, result.json.",
        epilog=_fields_epilog() if with_fields else "--set fields: see `jaxrl train --help`",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("algo", nargs="?", default=None, help=f"algorithm (default {DEFAULT_ALGO})")
    t.add_argument("--env", default=None, help=f"env name (default: the preset's, else {DEFAULT_ENV}; with neither --env nor --preset, physics=fast; see `jaxrl envs`)")
    t.add_argument("--seed", type=_seed, default=None, help="PRNG seed (default 0)")
    t.add_argument("--steps", type=_positive_int, default=None, help="total env steps (same as --set total_timesteps=N)")
    t.add_argument("--num-envs", type=_positive_int, default=None, help="parallel envs (same as --set num_envs=N)")
    t.add_argument("--env-opt", dest="env_opts", action="append", default=[], metavar="NAME=VALUE",
                   help="an env option (repeatable; `jaxrl envs` lists them), e.g. episode_length=500")
    t.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="set a config or hyperparameter field (repeatable; fields listed below)")
    t.add_argument("--config", default=None, metavar="FILE", help="replay a saved run: its run.json (or a run directory)")
    t.add_argument("--name", default=None, help="run name (default <algo>-<env>-s<seed>-<time>)")
    t.add_argument("--runs-dir", default="runs", help="where run directories go (default ./runs)")
    t.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a run from its newest intact checkpoint")
    t.add_argument("--restart", action="store_true", help="with --resume: if the run has no intact checkpoint, train it again "
                   "from update 0 (its metrics are cut) instead of refusing")
    t.add_argument("--allow-other-stack", action="store_true", help="with --resume: accept a checkpoint written with other "
                   "package versions or on another backend (the numbers will part from an uninterrupted run's)")
    t.add_argument("--trust-code", action="store_true", help="allow config fields (run.json, --config, --set) to name any Python function as module:name; this IMPORTS AND RUNS that code, so use it only for run files you trust (default: only jaxrl's registered functions)")
    t.add_argument("--log-every", type=_positive_int, default=None, help="updates per log row (default: ~100 rows per run)")
    t.add_argument("--checkpoint-every", type=_positive_int, default=None, help="updates per checkpoint (default: ~10 per run)")
    t.add_argument("--keep", type=_positive_int, default=None, help="checkpoints kept (default 3)")
    t.add_argument("--no-tensorboard", action="store_true", help="do not write TensorBoard event files")
    t.add_argument("--wandb", default=None, metavar="PROJECT", help="also log to Weights & Biases (needs jaxrl[wandb])")
    t.add_argument("--no-live-log", action="store_true", help="write log rows at each checkpoint instead of as they "
                   "happen (one compiled call per checkpoint interval instead of one per log row)")
    t.add_argument("--eval-episodes", type=_eval_episodes, default=16, help="episodes of the deterministic policy after training (0: skip)")
    t.add_argument("--preset", default=None, metavar="NAME", help="a named setting of the algorithm (`jaxrl algos` lists them), "
                   "e.g. small (a CPU) or paper (the published sizes); it replaces the values of --config, and --set "
                   "and --env override it")
    t.add_argument("--objective", default=None, metavar="NAME|RULE_DIR", help="PPO's policy objective: ppo (clip, default), "
                   "dpo, or a learned rule saved by `jaxrl meta` (runs/<meta>/rule)")
    t.add_argument("--optimizer", default=None, metavar="NAME|RULE_DIR", help="the update rule of any algorithm: adam (default) "
                   "or a learned rule saved by `jaxrl meta` (runs/<meta>/rule)")


def _add_sweep(sub) -> None:
    """``jaxrl sweep``: seeds x settings in one compiled program."""
    w = sub.add_parser(
        "sweep", help="train seeds x hyperparameter settings in one compiled program",
        description="Train every (setting, seed) pair as one compiled program (jit of vmap), the runs split over all "
        "devices. --set NAME=v1,v2 makes a grid axis of a traced hyperparameter; with --random N, --set NAME=lo:hi[:log] "
        "samples it. Writes runs/<name>/: sweep.json, metrics.jsonl, curves.npz, summary.json, plots/episode_return.png.",
        epilog="Multi-host (a TPU pod slice, several GPU machines): start the same command on every host with "
        "--coordinator HOST:PORT --num-processes N --process-id I (or --distributed to auto-detect on TPU/SLURM); "
        "the runs are split over every device of every host.",
    )
    w.add_argument("algo", nargs="?", default=DEFAULT_ALGO, help=f"algorithm (default {DEFAULT_ALGO})")
    w.add_argument("--env", default=None, help=f"env name (default: the preset's, else {DEFAULT_ENV}; with neither --env nor --preset, physics=fast)")
    w.add_argument("--env-opt", dest="env_opts", action="append", default=[], metavar="NAME=VALUE")
    w.add_argument("--seeds", type=_positive_int, default=4, help="seeds per setting (default 4)")
    w.add_argument("--preset", default=None, metavar="NAME", help="a named setting of the algorithm (`jaxrl algos` lists them)")
    w.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=V1,V2",
                   help="values of a traced hyperparameter (a grid axis), or one value of a static config field")
    w.add_argument("--random", type=_positive_int, default=None, metavar="N", help="N random settings from --set ranges lo:hi[:log]")
    w.add_argument("--random-seed", type=_seed, default=0)
    w.add_argument("--steps", type=_positive_int, default=None, help="env steps per run")
    w.add_argument("--num-envs", type=_positive_int, default=None, help="parallel envs per run")
    w.add_argument("--name", default=None)
    w.add_argument("--runs-dir", default="runs")
    w.add_argument("--log-every", type=_positive_int, default=None)
    w.add_argument("--devices", type=_positive_int, default=None, help="use the first N devices (default: all)")
    w.add_argument("--last", type=_finite, default=0.1, help="fraction of the final updates that ranks settings (default 0.1)")
    w.add_argument("--no-live-log", action="store_true")
    w.add_argument("--coordinator", default=None, metavar="HOST:PORT", help="jax.distributed coordinator address")
    w.add_argument("--num-processes", type=_positive_int, default=None)
    w.add_argument("--process-id", type=_index, default=None)
    w.add_argument("--distributed", action="store_true", help="jax.distributed.initialize() with auto-detection")
    w.add_argument("--trust-code", action="store_true", help="allow config fields (run.json, --config, --set) to name any Python function as module:name; this IMPORTS AND RUNS that code, so use it only for run files you trust (default: only jaxrl's registered functions)")


def _add_meta(sub) -> None:
    """``jaxrl meta es|grad``: meta-learn PPO's update rule."""
    m = sub.add_parser(
        "meta", help="meta-learn PPO's update rule (evolution strategies or meta-gradients)",
        description="Meta-train a learned update rule of PPO in one compiled program: every generation trains a "
        "population of PPO agents (x seeds) with perturbed meta-parameters (es), or differentiates through K PPO "
        "updates (grad). Writes runs/<name>/: meta.json, metrics.jsonl, checkpoints/, rule/, result.json; train "
        "with the result: jaxrl train ppo --objective|--optimizer runs/<name>/rule.",
    )
    m.add_argument("method", nargs="?", default=None, choices=["es", "grad"], help="es (default) or grad")
    m.add_argument("--rule", default=None, help="lpo, dpo, lifetime_lr (default) or open")
    m.add_argument("--rule-opt", dest="rule_opts", action="append", default=[], metavar="NAME=VALUE",
                   help="a size of the rule, e.g. hidden=16 (lpo, open) or knots=8 (lifetime_lr)")
    m.add_argument("--env", default=None, help="the task the inner PPO agents train on (default probe_action)")
    m.add_argument("--env-opt", dest="env_opts", action="append", default=[], metavar="NAME=VALUE")
    m.add_argument("--seed", type=_seed, default=None)
    m.add_argument("--steps", type=_positive_int, default=None, help="env steps of each inner PPO run")
    m.add_argument("--num-envs", type=_positive_int, default=None, help="parallel envs of each inner PPO run")
    m.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE", help="a PPO config or hyperparameter field")
    m.add_argument("--generations", type=_positive_int, default=None, help="es: generations (default 32)")
    m.add_argument("--population", type=_positive_int, default=None, help="es: members per generation (default 16, even)")
    m.add_argument("--chunk", type=_positive_int, default=None, help="es: members evaluated at once (divides the population)")
    m.add_argument("--seeds", type=_positive_int, default=None, help="inner PPO runs per member (es, default 2) or agents (grad)")
    m.add_argument("--sigma", type=_finite, default=None, help="es: search noise std (default 0.1)")
    m.add_argument("--meta-lr", type=_finite, default=None, help="learning rate of the meta-parameters (es default 0.05, grad 0.01)")
    m.add_argument("--strategy", default=None, help="es: openes (default) or evosax:<Name> (needs jaxrl[meta])")
    m.add_argument("--fitness", default=None, choices=["final", "auc"], help="es: final return (default) or area under the curve")
    m.add_argument("--last", type=_finite, default=None, help="es: fraction of the final updates that counts for --fitness final (0.25)")
    m.add_argument("--baseline", type=_finite, default=None, help="es: divide the fitness by this (e.g. default PPO's return)")
    m.add_argument("--meta-steps", type=_positive_int, default=None, help="grad: meta-gradient steps (default 100)")
    m.add_argument("--unroll", type=_positive_int, default=None, help="grad: inner updates per meta-gradient (default 4)")
    m.add_argument("--name", default=None)
    m.add_argument("--runs-dir", default="runs")
    m.add_argument("--checkpoint-every", type=_positive_int, default=None, help="generations per checkpoint (default ~10 per run)")
    m.add_argument("--keep", type=_positive_int, default=None)
    m.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a meta run from its newest intact checkpoint")
    m.add_argument("--restart", action="store_true", help="with --resume: if the meta run has no intact checkpoint, start it "
                   "again from generation 0 instead of refusing")
    m.add_argument("--allow-other-stack", action="store_true", help="with --resume: accept a checkpoint written with other "
                   "package versions or on another backend")


def _add_inspect(sub) -> None:
    """``jaxrl eval | render | plot | envs | algos``: look at runs and what is registered."""
    e = sub.add_parser("eval", help="evaluate a run's policy", description="Run the deterministic policy of a run's checkpoint.")
    e.add_argument("run_dir")
    e.add_argument("--episodes", type=_episodes, default=16, help="episodes (default 16)")
    e.add_argument("--step", type=_index, default=None, help="checkpoint (update count; default the newest)")
    e.add_argument("--seed", type=_seed, default=1, help="PRNG seed of the evaluation (default 1)")
    e.add_argument("--trust-code", action="store_true", help="allow config fields (run.json, --config, --set) to name any Python function as module:name; this IMPORTS AND RUNS that code, so use it only for run files you trust (default: only jaxrl's registered functions)")

    r = sub.add_parser("render", help="write a video of a run's policy", description="Render one episode of a run's "
                       "deterministic policy with MuJoCo's renderer (headless: EGL or OSMesa) to a GIF or MP4.")
    r.add_argument("run_dir")
    r.add_argument("--out", default=None, help="output .gif or .mp4 (default ./<run name>-episode-<update>.gif; the run directory is only read)")
    r.add_argument("--steps", type=_frames, default=None, help="episode steps to render (default: the env's time limit)")
    r.add_argument("--width", type=_positive_int, default=320)
    r.add_argument("--height", type=_positive_int, default=240)
    r.add_argument("--camera", default=None, help="camera name or index (default: the model's first camera, else the free camera)")
    r.add_argument("--step", type=_index, default=None, help="checkpoint (default the newest)")
    r.add_argument("--seed", type=_seed, default=1)
    r.add_argument("--trust-code", action="store_true", help="allow config fields (run.json, --config, --set) to name any Python function as module:name; this IMPORTS AND RUNS that code, so use it only for run files you trust (default: only jaxrl's registered functions)")

    pl = sub.add_parser("plot", help="plot runs' return vs env steps", description="Plot a metric vs env steps for "
                        "several runs on one figure; runs differing only in seed are drawn as mean and spread.")
    pl.add_argument("run_dirs", nargs="+")
    pl.add_argument("--out", default=None, help="PNG path (default ./<run name>-<metric>.png for one run, else ./<metric>.png; run directories are only read)")
    pl.add_argument("--metric", default="episode_return", help="metric column of metrics.jsonl (default episode_return)")
    sub.add_parser("envs", help="list the registered envs")
    sub.add_parser("algos", help="list the algorithms and their presets")


def _parser(with_fields: bool = False) -> argparse.ArgumentParser:
    p = _Parser(prog="jaxrl", description="JAX-native reinforcement learning on MuJoCo MJX.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    _add_train(sub, with_fields)
    _add_sweep(sub)
    _add_meta(sub)
    _add_inspect(sub)
    return p


def preset_of(algo, name: str, preset: str):
    """``algo.presets()[preset]``, or a one-line error listing the presets there are."""
    from jaxrl.configs import did_you_mean

    presets = algo.presets()
    if preset not in presets:
        raise CliError(f"the algorithm {name!r} has no preset {preset!r}{did_you_mean(preset, presets)}; its presets: "
                       f"{', '.join(presets)}")
    return presets[preset]


def start_env(preset, env: str | None) -> tuple[str, dict]:
    """The env and env options a run starts from, before ``--env-opt``.

    - no ``--env`` and no ``--preset``: the demo (``DEFAULT_ENV`` with ``DEFAULT_ENV_OPTIONS``);
    - a preset made for one env: that env with the preset's options, unless ``--env`` names another
      (then that env's faithful default);
    - a preset made for any env (``preset.env is None``): ``--env`` (else ``DEFAULT_ENV``) at its
      faithful default, with the preset's options on top (a preset is a measured setting: the demo's
      fast physics never replaces what it was measured on);
    - ``--env`` alone: that env's faithful default.

    (``--config``: the saved run's env and options, a preset's as ``_spec_from_args`` says.)
    """
    if preset is None:
        return (env, {}) if env else (DEFAULT_ENV, dict(DEFAULT_ENV_OPTIONS))
    if preset.env is not None:
        return (preset.env, dict(preset.env_options)) if env in (None, preset.env) else (env, {})
    return env or DEFAULT_ENV, dict(preset.env_options)


def preset_env_note(preset, env: str, user_options) -> str | None:
    """A one-line note when a preset made for any env brings an ``action_repeat`` (DM Control's
    setting in the papers it reproduces) to an env that is not one of jaxrl's MJX tasks (gymnax,
    Brax, a probe), where that repeat is not the env's published timing. ``None`` otherwise, when the
    user's own ``--env-opt`` (``user_options``) sets ``action_repeat``, and where pixels are asked for
    (a non-MJX env then fails in ``make`` with its own one-line error)."""
    if preset is None or preset.env is not None or "action_repeat" not in preset.env_options:
        return None
    if "action_repeat" in user_options or {**preset.env_options, **user_options}.get("obs") == "pixels":
        return None  # the user's own repeat; pixels need an MJX task, which make() says in one line
    from jaxrl import envs

    if "physics" in envs.options(env):  # jaxrl's DM-Control-style MJX tasks: the setting the preset was made for
        return None
    k = preset.env_options["action_repeat"]
    return (f"jaxrl: note: this preset repeats each action {k} times (DM Control's setting in the papers) on {env!r} too; "
            f"--env-opt action_repeat=1 runs the env at its own timing")


def user_env_options(args, env: str, preset) -> dict:
    """``--env-opt`` parsed against ``env``'s options (``{}`` without any), after printing the
    :func:`preset_env_note` the preset and these options call for (``jaxrl train`` and ``jaxrl sweep``)."""
    from jaxrl import configs, envs

    options = configs.parse_options(args.env_opts, envs.options(env), f"env {env!r}") if args.env_opts else {}
    note = preset_env_note(preset, env, options)
    if note:
        print(note, file=sys.stderr, flush=True)
    return options


def _spec_from_args(args):
    from jaxrl import algos, configs, experiment

    if args.config:
        spec = experiment.read_spec(args.config)
        if args.algo not in (None, spec.algo):
            raise CliError(f"--config is a {spec.algo} run; the algorithm {args.algo!r} was also given")
    name = args.algo or (spec.algo if args.config else DEFAULT_ALGO)
    algo = algos.get(name)
    preset = None if args.preset is None else preset_of(algo, name, args.preset)
    if not args.config:
        env, env_options = start_env(preset, args.env)
        spec = experiment.Spec(algo=name, env=env, env_options=env_options)
    elif preset is not None and preset.env is None:  # options for any env: on top of the saved run's
        spec = dataclasses.replace(spec, env_options={**spec.env_options, **preset.env_options})
    elif preset is not None and args.env is None:  # a preset made for one env: that env, its options
        spec = dataclasses.replace(spec, env=preset.env, env_options=dict(preset.env_options))
    if preset is not None:
        spec = dataclasses.replace(spec, config={**spec.config, **preset.config}, hparams={**spec.hparams, **preset.hparams})
    config_changes, hparam_changes = configs.parse_sets(args.sets, algo.Config, algo.Hparams, trust_code=args.trust_code)
    if args.steps is not None:
        config_changes["total_timesteps"] = args.steps
    if args.num_envs is not None:
        config_changes["num_envs"] = args.num_envs
    for slot in ("objective", "optimizer"):
        value = getattr(args, slot, None)
        if value is not None:
            if slot not in {f.name for f in dataclasses.fields(algo.Config)}:
                raise CliError(f"--{slot}: the algorithm {args.algo or spec.algo!r} has no {slot} slot")
            from jaxrl.algos.meta import rules

            config_changes[slot] = rules.resolve_slot(slot, value)
    changes = {"config": {**spec.config, **config_changes}, "hparams": {**spec.hparams, **hparam_changes}}
    if args.config and config_changes:  # the saved intervals were derived from the saved run length
        changes.update(log_every=None, checkpoint_every=None)
    user_options = user_env_options(args, args.env or spec.env, preset)
    if user_options:
        changes["env_options"] = {**spec.env_options, **user_options}
    for field, value in (("env", args.env), ("seed", args.seed), ("log_every", args.log_every),
                         ("checkpoint_every", args.checkpoint_every), ("keep", args.keep)):
        if value is not None:
            changes[field] = value
    return dataclasses.replace(spec, **changes)


def train_command(args) -> int:
    from jaxrl import experiment

    if not args.resume and (args.restart or args.allow_other_stack):
        raise CliError(f"{'--restart' if args.restart else '--allow-other-stack'} applies to --resume RUN_DIR only")
    if args.resume:
        given = [f for f in ("algo", "env", "seed", "steps", "num_envs", "config", "log_every", "checkpoint_every", "keep", "name",
                             "objective", "optimizer", "preset")
                 if getattr(args, f) is not None] + (["set"] if args.sets else []) + (["env_opt"] if args.env_opts else [])
        if given:
            raise CliError(f"--resume continues a run with its saved config; do not also pass {', '.join('--' + g.replace('_', '-') for g in given)}")
        spec, run_dir = None, args.resume
        if not os.path.isdir(run_dir):
            raise CliError(f"run directory {run_dir} does not exist")
    else:
        spec = _spec_from_args(args)
        run_dir = os.path.join(args.runs_dir, experiment.sanitize_name(args.name)) if args.name else None
    outcome = experiment.train(
        spec, run_dir=run_dir, runs_root=args.runs_dir, resume=bool(args.resume), tensorboard=not args.no_tensorboard,
        wandb_project=args.wandb, live_log=not args.no_live_log, command=["jaxrl", *sys.argv[1:]], trust_code=args.trust_code,
        restart=args.restart, allow_other_stack=args.allow_other_stack, program_dir=program_dir(),
    )
    res = outcome.result
    ret = "-" if outcome.last_return is None else f"{outcome.last_return:.1f}"
    print(f"{outcome.status}: update {outcome.updates_done} of {outcome.num_updates} in {res.run_s:.1f} s, "
          f"compile {res.compile_s:.1f} s, last training return {ret}", flush=True)
    if outcome.status == "interrupted":
        print(f"checkpoint saved; resume with: jaxrl train --resume {outcome.run_dir}", flush=True)
        return 130
    if args.eval_episodes > 0 and res.state is not None:
        rets = experiment.evaluate_state(outcome.built, res.state, args.eval_episodes, seed=1)
        print(f"eval: deterministic policy over {args.eval_episodes} episodes: return {rets.mean():.1f} +/- {rets.std():.1f} "
              f"(min {rets.min():.1f}, max {rets.max():.1f})", flush=True)
    print(f"next: jaxrl eval {outcome.run_dir} | jaxrl render {outcome.run_dir} | jaxrl plot {outcome.run_dir}", flush=True)
    return 0


def sweep_command(args) -> int:
    from jaxrl import algos, sweep, sweep_dir

    multi = [args.coordinator, args.num_processes, args.process_id]
    if any(v is not None for v in multi) or args.distributed:
        if not args.distributed and any(v is None for v in multi):
            raise CliError("multi-host needs --coordinator, --num-processes and --process-id together (or --distributed)")
        sweep.init_distributed(*multi)
    import jax

    algo = algos.get(args.algo)
    config_changes, swept = sweep.parse_sets(args.sets, algo.Config, algo.Hparams, random=bool(args.random), trust_code=args.trust_code)
    base_hparams, preset = {}, None
    if args.preset is not None:
        preset = preset_of(algo, args.algo, args.preset)
        config_changes, base_hparams = {**preset.config, **config_changes}, dict(preset.hparams)
    env_name, env_options = start_env(preset, args.env)
    if args.steps is not None:
        config_changes["total_timesteps"] = args.steps
    if args.num_envs is not None:
        config_changes["num_envs"] = args.num_envs
    env_options.update(user_env_options(args, env_name, preset))
    devices = jax.devices()
    if args.devices is not None:
        if args.devices > len(devices):
            raise CliError(f"--devices {args.devices}: only {len(devices)} device(s) here")
        devices = devices[: args.devices]
    from jaxrl import experiment

    run_dir = os.path.join(args.runs_dir, experiment.sanitize_name(args.name)) if args.name else None
    out = sweep_dir.sweep_to_dir(
        args.algo, env_name, env_options=env_options, config_changes=config_changes, swept=swept, seeds=args.seeds,
        random=args.random, random_seed=args.random_seed, run_dir=run_dir, runs_root=args.runs_dir,
        log_every=args.log_every, devices=devices, live=not args.no_live_log, last=args.last, command=["jaxrl", *sys.argv[1:]],
        base_hparams=base_hparams,
    )
    r = out.result
    if jax.process_index() != 0:  # process 0 wrote the run directory and prints the results
        print(f"process {jax.process_index()} of {jax.process_count()}: done", flush=True)
        return 0
    runs = len(r.settings) * len(r.seeds)
    steps = runs * int(r.env_steps[-1]) if len(r.env_steps) else 0
    print(f"done: {runs} runs, {steps:,} env steps in {r.run_s:.1f} s ({steps / max(r.run_s, 1e-9):,.0f} steps/s), "
          f"compile {r.compile_s:.1f} s, {r.num_devices} device(s)", flush=True)
    print(f"final training return over the last {args.last:.0%} of updates, ranked:", flush=True)
    print(sweep_dir.format_table(out.summary), flush=True)
    print(f"curves: {os.path.join(out.run_dir, 'curves.npz')}, plot: {os.path.join(out.run_dir, 'plots', 'episode_return.png')}", flush=True)
    return 0


def meta_command(args) -> int:
    from jaxrl import configs, experiment
    from jaxrl.algos.meta import run as meta_run

    if args.resume:
        given = [f for f in ("rule", "env", "seed", "steps", "num_envs", "generations", "population", "chunk", "seeds",
                             "sigma", "meta_lr", "strategy", "fitness", "last", "baseline", "meta_steps", "unroll", "name",
                             "checkpoint_every", "keep") if getattr(args, f) is not None]
        flags = ["--" + g.replace("_", "-") for g in given]
        flags += [flag for f, flag in (("sets", "--set"), ("env_opts", "--env-opt"), ("rule_opts", "--rule-opt")) if getattr(args, f)]
        if flags:
            raise CliError(f"--resume continues a meta run with its saved spec; do not also pass {', '.join(flags)}")
        if not os.path.isdir(args.resume):
            raise CliError(f"meta run directory {args.resume} does not exist")
        saved = meta_run.read_spec(args.resume).method
        if args.method not in (None, saved):
            raise CliError(f"{args.resume} is a `jaxrl meta {saved}` run, not `jaxrl meta {args.method}`")
        meta_run.meta_to_dir(run_dir=args.resume, resume=True, command=["jaxrl", *sys.argv[1:]], restart=args.restart,
                             allow_other_stack=args.allow_other_stack)
        return 0
    if args.restart or args.allow_other_stack:
        raise CliError(f"{'--restart' if args.restart else '--allow-other-stack'} applies to --resume RUN_DIR only")
    method = args.method or "es"
    es_only = [f for f in ("generations", "population", "chunk", "sigma", "strategy", "fitness", "last", "baseline") if getattr(args, f) is not None]
    grad_only = [f for f in ("meta_steps", "unroll") if getattr(args, f) is not None]
    wrong = es_only if method == "grad" else grad_only
    if wrong:
        raise CliError(f"{', '.join('--' + w.replace('_', '-') for w in wrong)} {'is' if len(wrong) == 1 else 'are'} not an option of `jaxrl meta {method}`")
    config_changes, hparam_changes = meta_run.parse_inner_sets(args.sets)
    if args.steps is not None:
        config_changes["total_timesteps"] = args.steps
    if args.num_envs is not None:
        config_changes["num_envs"] = args.num_envs
    env = args.env or "probe_action"
    env_options = {}
    if args.env_opts:
        from jaxrl import envs

        env_options = configs.parse_options(args.env_opts, envs.options(env), f"env {env!r}")
    from jaxrl.algos.meta import rules

    rule = rules.get_rule(args.rule or "lifetime_lr")
    rule_options = configs.parse_options(args.rule_opts, rule.options, f"rule {rule.name!r}") if args.rule_opts else {}
    meta_config, meta_hparams = {}, {}
    if method == "es":
        for field, value in (("generations", args.generations), ("population", args.population), ("chunk", args.chunk),
                             ("strategy", args.strategy)):
            if value is not None:
                meta_config[field] = value
        for field, value in (("sigma", args.sigma), ("lr", args.meta_lr)):
            if value is not None:
                meta_hparams[field] = value
    else:
        for field, value in (("steps", args.meta_steps), ("unroll", args.unroll), ("seeds", args.seeds)):
            if value is not None:
                meta_config[field] = value
        if args.meta_lr is not None:
            meta_hparams["lr"] = args.meta_lr
    spec = meta_run.MetaSpec(
        method=method, rule=rule.name, rule_options=rule_options, env=env, env_options=env_options,
        seed=args.seed if args.seed is not None else 0, config=config_changes, hparams=hparam_changes,
        meta_config=meta_config, meta_hparams=meta_hparams, seeds=args.seeds if (args.seeds and method == "es") else 2,
        fitness=args.fitness or "final", last=args.last if args.last is not None else 0.25, baseline=args.baseline,
        checkpoint_every=args.checkpoint_every, keep=args.keep or 3,
    )
    run_dir = os.path.join(args.runs_dir, experiment.sanitize_name(args.name)) if args.name else None
    meta_run.meta_to_dir(spec, run_dir=run_dir, runs_root=args.runs_dir, command=["jaxrl", *sys.argv[1:]])
    return 0


def eval_command(args) -> int:
    from jaxrl import experiment

    built, state, info = experiment.load_state(args.run_dir, args.step, warn=lambda m: print(m, file=sys.stderr),
                                               trust_code=args.trust_code)
    if not args.trust_code:
        built = dataclasses.replace(built, program_dir=program_dir())
    rets = experiment.evaluate_state(built, state, args.episodes, args.seed)
    print(f"{args.run_dir}: update {info.get('update')} ({info.get('env_steps', 0):,} env steps), {args.episodes} episodes: "
          f"return {rets.mean():.1f} +/- {rets.std():.1f} (min {rets.min():.1f}, max {rets.max():.1f})", flush=True)
    return 0


def render_command(args) -> int:
    from jaxrl import video  # chooses the GL backend before mujoco is imported

    video.check_gl()  # a missing GL library is a one-line error before anything compiles
    from jaxrl import experiment

    done = experiment.render_run(args.run_dir, args.out, args.steps, args.width, args.height, args.camera, args.step,
                                 args.seed, warn=lambda m: print(m, file=sys.stderr), trust_code=args.trust_code)
    print(f"wrote {done['path']}: an episode of {done['frames']} states, return {done['return']:.1f}", flush=True)
    return 0


def plot_command(args) -> int:
    from jaxrl import plot

    from jaxrl.experiment import output_path

    out = args.out or (output_path(args.run_dirs[0], f"{args.metric}.png") if len(args.run_dirs) == 1 else f"{args.metric}.png")
    plot.plot_runs(args.run_dirs, out, args.metric)
    print(f"wrote {out}", flush=True)
    return 0


def algos_command(args) -> int:
    from jaxrl import algos

    for name in algos.names():
        algo = algos.get(name)
        print(f"{name}: {(algo.__doc__ or '').strip().splitlines()[0]}")
        presets = algo.presets()
        width = max(map(len, presets))
        for preset, p in presets.items():
            options = " ".join(f"{k}={v}" for k, v in p.env_options.items())
            if p.env:  # made for one env (and these options of it)
                env = f" (env {' '.join(filter(None, (p.env, options)))})"
            else:  # options for any env, over its own
                env = f" (env options: {options})" if options else ""
            print(f"    --preset {preset:{width}s} {p.about}{env}")
    return 0


def envs_command(args) -> int:
    from jaxrl import envs

    for name in envs.names():
        opts = ", ".join(f"{k}={v!r}" for k, v in envs.options(name).items())
        print(f"{name:24s} {opts}")
    return 0


def _cache_dir() -> str | None:
    """The persistent compilation cache's folder: ``JAXRL_COMPILATION_CACHE`` (default
    ``~/.cache/jaxrl/xla``); ``0`` or ``off`` turns it off (None)."""
    path = os.environ.get("JAXRL_COMPILATION_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "jaxrl", "xla"))
    return None if path.lower() in ("", "0", "off", "false", "no") else path


def program_dir() -> str | None:
    """Where ``jaxrl train`` keeps its exported programs (:mod:`jaxrl.program_cache`): ``programs``
    inside :func:`_cache_dir`; None when that cache is off."""
    path = _cache_dir()
    return None if path is None else os.path.join(path, "programs")


def _quiet_xla() -> None:
    """XLA:CPU logs two ~2 KB ERROR-level lines per program it loads from the persistent cache (a
    benign tuning-feature mismatch: ``cpu_aot_loader``). XLA reads its log level once, when jaxlib
    loads, so this runs before anything imports jax; a level the user set, or ``JAXRL_DEBUG``, wins."""
    if _cache_dir() is not None and not os.environ.get("JAXRL_DEBUG"):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _setup_compilation_cache() -> None:
    """Persist compiled programs across runs (a repeated ``jaxrl train`` skips most compiling)
    in :func:`_cache_dir`, first pruned to ``JAXRL_CACHE_MAX_MB`` (:func:`jaxrl.program_cache.limit_bytes`,
    :func:`jaxrl.program_cache.prune_compiled`: least recently written or used first)."""
    path = _cache_dir()
    if path is None:
        return
    import jax

    from jaxrl import program_cache

    program_cache.prune_compiled(path, program_cache.limit_bytes())  # a bad value: one line, before anything compiles
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


PLUGINS = ("jax-cuda12-plugin", "jax-cuda13-plugin", "jax-cuda12-pjrt", "jax-cuda13-pjrt", "libtpu", "jax-rocm-plugin")


def _accelerator_plugins() -> list[str]:
    """JAX accelerator plugins installed in this environment (by distribution name)."""
    import importlib.metadata as md

    found = []
    for name in PLUGINS:
        try:
            md.version(name)
            found.append(name)
        except md.PackageNotFoundError:
            pass
    return found


def device_line() -> tuple[str, str | None]:
    """``("backend: gpu, device: NVIDIA H200 x 1", warning or None)``: what jaxrl runs on, and a warning
    when an accelerator plugin is installed but JAX fell back to the CPU."""
    import jax

    devices = jax.devices()
    line = f"backend: {devices[0].platform}, device: {devices[0].device_kind} x {len(devices)} (jax {jax.__version__})"
    plugins = _accelerator_plugins()
    warning = None
    if plugins and devices[0].platform == "cpu":
        warning = (f"jaxrl: warning: {', '.join(plugins)} {'is' if len(plugins) == 1 else 'are'} installed but JAX runs on the CPU "
                   "(the plugin did not load: JAX_PLATFORMS=cuda or tpu makes JAX say why)")
    return line, warning


def _print_device() -> None:
    line, warning = device_line()
    print(line, flush=True)
    if warning:
        print(warning, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    _quiet_xla()  # before anything imports jax
    if not argv:
        argv = ["train"]
    wants_help = argv[:1] == ["train"] and any(a in ("-h", "--help") for a in argv)
    args = _parser(with_fields=wants_help).parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    from jaxrl.checkpoint import CheckpointError
    from jaxrl.experiment import RunWriteError
    from jaxrl.video import RenderError

    if not os.environ.get("JAXRL_DEBUG"):
        import logging

        # orbax logs a failed write (a full disk) as an ERROR with a traceback from its own thread;
        # the same failure reaches the user as one line below. JAXRL_DEBUG=1 shows both.
        logging.getLogger("absl").setLevel(logging.CRITICAL)
    try:
        if args.command in ("train", "sweep", "eval", "render", "meta"):
            _setup_compilation_cache()
            _print_device()
        return globals()[f"{args.command}_command"](args)
    except (ValueError, TypeError, LookupError, ImportError, CliError, CheckpointError, RenderError) as e:
        # Input errors (config, names, run directories, checkpoints, a missing extra or GL
        # library) are one line, before anything compiles. JAXRL_DEBUG=1 shows the traceback.
        if os.environ.get("JAXRL_DEBUG"):
            raise
        print(f"jaxrl: error: {_first_line(e)}", file=sys.stderr)
        return 2
    except (FloatingPointError, RunWriteError) as e:  # a non-finite value, a debug check or a full disk stopped the run
        if os.environ.get("JAXRL_DEBUG"):
            raise
        print(f"jaxrl: error: {_first_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # A compiled chunk may still be running on XLA's threads, and a normal interpreter exit
        # would wait for it: leave now (the run directory was already updated).
        print("jaxrl: interrupted", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    except Exception as e:  # noqa: BLE001 - anything else is a failure, not an input error
        if os.environ.get("JAXRL_DEBUG"):
            raise
        print(f"jaxrl: failed: {type(e).__name__}: {_first_line(e)} (JAXRL_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
