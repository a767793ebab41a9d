"""The ``jaxrl`` command line.

    jaxrl train [ALGO] [--env NAME] [--seed N] [--steps N] [--num-envs N]
    jaxrl envs

With no arguments ``jaxrl train`` trains PPO on ``cartpole_balance``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

DEFAULT_ALGO = "ppo"
DEFAULT_ENV = "cartpole_balance"


class CliError(Exception):
    """A bad command-line value; printed as one line, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(float(text)) if "e" in text.lower() else int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is ONE line (the usage is one ``--help`` away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jaxrl", description="JAX-native reinforcement learning on MuJoCo MJX.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    t = sub.add_parser("train", help="train an agent and print progress", description="Train an agent; the whole run is one compiled program, run in chunks to report progress.")
    t.add_argument("algo", nargs="?", default=DEFAULT_ALGO, help=f"algorithm (default {DEFAULT_ALGO})")
    t.add_argument("--env", default=DEFAULT_ENV, help=f"env name (default {DEFAULT_ENV}; see `jaxrl envs`)")
    t.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    t.add_argument("--steps", type=_positive_int, default=None, help="total env steps (default: the algorithm's config)")
    t.add_argument("--num-envs", type=_positive_int, default=None, help="parallel envs (default: the algorithm's config)")
    t.add_argument("--eval-episodes", type=int, default=16, help="episodes of the deterministic policy after training (0: skip)")
    t.add_argument("--chunks", type=_positive_int, default=20, help="progress reports during the run (default 20)")
    sub.add_parser("envs", help="list the registered envs")
    return p


def _fmt_return(x) -> str:
    return f"{'-':>8}" if x is None else f"{x:8.1f}"


def train_command(args) -> int:
    import jax
    import numpy as np

    from jaxrl import algos, envs, evaluate, runner

    algo = algos.get(args.algo)
    env, env_params = envs.make(args.env)
    changes = {}
    if args.steps is not None:
        changes["total_timesteps"] = args.steps
    if args.num_envs is not None:
        changes["num_envs"] = args.num_envs
    config = algo.Config(**changes)
    hparams = algo.validate_hparams(algo.default_hparams())
    trainer = algo.make_train(config, env, env_params)
    total = trainer.num_updates * trainer.steps_per_update
    device = jax.devices()[0]
    print(
        f"jaxrl train {args.algo} on {args.env}: seed {args.seed}, {total:,} env steps "
        f"({trainer.num_updates} updates x {trainer.steps_per_update:,} steps, {config.num_envs} envs), "
        f"device {device.platform}",
        flush=True,
    )
    print("compiling ...", flush=True)
    last = {"return": None}
    header = [False]

    def on_progress(p: runner.Progress):
        if not header[0]:
            print(f"compiled in {p.compile_s:.1f} s", flush=True)
            print(f"{'env steps':>14} {'%':>5} {'steps/s':>10} {'return':>8} {'ETA':>8}", flush=True)
            header[0] = True
        if p.episode_return is not None:
            last["return"] = p.episode_return
        eta = (p.total_env_steps - p.env_steps) / max(p.steps_per_s, 1e-9)
        print(
            f"{p.env_steps:>14,} {100 * p.updates_done / p.num_updates:>4.0f}% {p.steps_per_s:>10,.0f} "
            f"{_fmt_return(last['return'])} {eta:>7.0f}s",
            flush=True,
        )

    chunk = runner.pick_chunk(trainer.num_updates, -(-trainer.num_updates // args.chunks))
    result = runner.run(trainer, jax.random.key(args.seed), hparams, chunk_updates=chunk, on_progress=on_progress)
    print(
        f"done: {total:,} env steps in {result.run_s:.1f} s ({total / max(result.run_s, 1e-9):,.0f} steps/s), "
        f"compile {result.compile_s:.1f} s, last training return {_fmt_return(last['return']).strip()}",
        flush=True,
    )
    if args.eval_episodes > 0:
        t = time.perf_counter()
        horizon = getattr(env, "max_steps", 1000)  # envs that end by themselves: cap at 1000 steps

        def eval_returns(key, state):  # the state is an argument, not a baked-in constant
            return evaluate.episode_returns(key, env, env_params, trainer.policy(state), args.eval_episodes, horizon)

        rets = jax.jit(eval_returns)(jax.random.key(args.seed + 1), result.state)
        rets = np.asarray(rets)
        print(
            f"eval: deterministic policy over {args.eval_episodes} episodes: return "
            f"{rets.mean():.1f} +/- {rets.std():.1f} (min {rets.min():.1f}, max {rets.max():.1f}) "
            f"[{time.perf_counter() - t:.1f} s]",
            flush=True,
        )
    return 0


def envs_command(args) -> int:
    from jaxrl import envs

    for name in envs.names():
        opts = ", ".join(f"{k}={v!r}" for k, v in envs.options(name).items())
        print(f"{name:24s} {opts}")
    return 0


def _setup_compilation_cache() -> None:
    """Persist compiled programs across runs (a repeated ``jaxrl train`` skips most compiling).

    ``JAXRL_COMPILATION_CACHE`` chooses the folder (default ``~/.cache/jaxrl/xla``);
    ``0`` or ``off`` turns it off. Must run before jax is imported.
    """
    path = os.environ.get("JAXRL_COMPILATION_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "jaxrl", "xla"))
    if path.lower() in ("", "0", "off", "false", "no"):
        return
    # XLA:CPU logs an ERROR-level line per cached program it loads (a benign
    # tuning-feature mismatch); keep the terminal readable unless the user chose a level.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        argv = ["train"]
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        if args.command == "train":
            _setup_compilation_cache()
        return {"train": train_command, "envs": envs_command}[args.command](args)
    except (ValueError, TypeError, LookupError, CliError) as e:
        # Config and input errors are reported in one line, before anything compiles.
        # JAXRL_DEBUG=1 shows the full traceback instead.
        if os.environ.get("JAXRL_DEBUG"):
            raise
        print(f"jaxrl: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxrl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
