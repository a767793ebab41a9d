#!/usr/bin/env python
"""Run time of one compiled sweep of any registered learner (a script; never imported by the tests).

    python benchmarks/sweep_time.py ALGO [--env NAME] [--env-opt NAME=VALUE ...] [--preset P] [--set NAME=VALUE ...]
                                    [--seeds 4] [--steps N] [--repeats 3] [--json out.json]

The env and its options are the ones ``jaxrl sweep`` would take for the same flags (``jaxrl.cli.start_env``;
the stop-45 old/new comparison ran a copy of this script with that rule written out, since the old
tree had no ``start_env``).

``jaxrl.sweep.Sweeper`` (the program ``jaxrl sweep`` runs: every run's state batched, the whole run in
one chunk) of ``--seeds`` seeds; the first call compiles (reported apart), then ``--repeats`` calls
with the same seeds; reported: each call's wall time, their median, env steps/s of all runs together,
and each run's mean return over the training episodes that ended in the last quarter of the run (a check
that the runs trained). To compare two versions of jaxrl, run
the script under each, alternating, on one machine, and compare the medians and the returns.
``--plain-cond-reset`` runs ``AutoReset`` as it was before 2026-12-06 (a plain ``lax.cond``, which the
sweep's ``vmap`` turns into a select that resets every env at every step;
``benchmarks/sweep_autoreset.py``'s ``CondReset``), for that comparison in one tree.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np

from common import machine_info, write_json
from jaxrl import algos, configs, envs, sweep
from jaxrl.cli import start_env


def build(args):
    algo = algos.get(args.algo)
    preset = algo.presets()[args.preset] if args.preset else None
    config_changes, hparam_changes = configs.parse_sets(args.sets, algo.Config, algo.Hparams)
    if args.steps is not None:
        config_changes["total_timesteps"] = args.steps
    config = configs.from_dict(algo.Config, {**(preset.config if preset else {}), **config_changes})
    hparams = algo.validate_hparams(configs.from_dict(algo.Hparams, {**(preset.hparams if preset else {}), **hparam_changes}))
    env_name, env_options = start_env(preset, args.env)
    env_options.update(configs.parse_options(args.env_opts, envs.options(env_name), f"env {env_name!r}"))
    env, env_params = envs.make(env_name, **env_options)
    return algo, config, hparams, env_name, env_options, algo.make_train(config, env, env_params)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("algo")
    p.add_argument("--env", default=None, help="default: the preset's, else cartpole_balance (physics=fast without --preset)")
    p.add_argument("--env-opt", dest="env_opts", action="append", default=[])
    p.add_argument("--preset", default=None)
    p.add_argument("--set", dest="sets", action="append", default=[])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", default=None)
    p.add_argument("--plain-cond-reset", action="store_true", help="AutoReset as before 2026-12-06 (see the docstring)")
    args = p.parse_args()
    if args.plain_cond_reset:
        from sweep_autoreset import CondReset

        from jaxrl import wrappers

        wrappers.AutoReset.step = CondReset.step
    if args.repeats < 1 or args.seeds < 1:
        p.error("--repeats and --seeds must be >= 1")
    info = machine_info()
    algo, config, hparams, env_name, env_options, trainer = build(args)
    sweeper = sweep.Sweeper(trainer, hparams, 1, args.seeds, validate=algo.validate_hparams, metrics=["episode_return"])
    start = time.perf_counter()
    compile_s = sweeper.run([{}], args.seeds).compile_s
    first = time.perf_counter() - start
    calls = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        res = sweeper.run([{}], args.seeds)
        calls.append(time.perf_counter() - start)
    steps = args.seeds * trainer.num_updates * trainer.steps_per_update
    final = res.final_return(last=0.25).ravel()
    out = dict(benchmark="sweep_time", algo=args.algo, plain_cond_reset=args.plain_cond_reset, env=env_name, env_options=env_options, preset=args.preset, sets=args.sets,
               seeds=args.seeds, env_steps_all_runs=steps, compile_and_first_call_s=first, compile_s=compile_s,
               call_s=calls, median_call_s=statistics.median(calls), steps_per_s=steps / statistics.median(calls),
               final_training_returns=final.tolist(), config=configs.to_dict(config), machine=info)
    print(f"{args.algo} {env_name} {env_options} x{args.seeds}{' (plain cond reset)' * args.plain_cond_reset}: compile {compile_s:.1f} s; calls {[round(c, 2) for c in calls]} s, "
          f"median {out['median_call_s']:.2f} s ({out['steps_per_s']:,.0f} env steps/s); final returns {np.round(final, 1).tolist()}",
          flush=True)
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    jax.config.update("jax_compilation_cache_dir", None)
    main()
