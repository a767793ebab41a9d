#!/usr/bin/env python
"""What in-graph logging costs: PPO steps/s with and without it (a script; never imported by the tests).

    python benchmarks/logging_overhead.py [--steps N] [--repeats R] [--json out.json]

Same PPO program (cartpole_balance, default PPOConfig but ``--steps`` env
steps), same chunk size, run by :func:`jaxrl.runner.run` in three variants:

- ``off``: no logging (one compiled call per chunk);
- ``live``: a reduced row every ``log_every`` updates, into the real sinks of
  ``jaxrl train`` (JSONL file, TensorBoard events, progress bar to /dev/null): one
  compiled call of ``log_every`` updates per row, reduced on the host;
- ``chunk_end``: ``live=False``: the ``off`` program (one call per chunk); the host
  reduces each chunk's metrics into the same rows.

Each variant compiles once per repeat (compile time reported apart); run time
is the runner's ``run_s`` (compile excluded); variants are interleaved within a
repeat so that machine load hits them alike; medians over repeats. Target:
``live`` steps/s >= 0.95 x ``off``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import jax

from common import loadavg, machine_info, write_json
from jaxrl import envs, runner, sinks
from jaxrl.algos import ppo

TARGET = 0.95


def run_variant(trainer, hparams, chunk, log_every, variant, folder):
    stream = open(os.devnull, "w")
    fan = sinks.Sinks([
        sinks.JsonlSink(os.path.join(folder, f"{variant}.jsonl")),
        sinks.TensorBoardSink(os.path.join(folder, f"tb-{variant}")),
        sinks.ProgressBar(trainer.num_updates, trainer.steps_per_update, stream=stream, tty=False),
    ])
    kw = {} if variant == "off" else dict(log_every=log_every, on_log=fan.write, live=variant == "live")
    res = runner.run(trainer, jax.random.key(0), hparams, chunk_updates=chunk, **kw)
    fan.close()
    stream.close()
    return {"compile_s": res.compile_s, "run_s": res.run_s, "steps_per_s": trainer.num_updates * trainer.steps_per_update / res.run_s}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="cartpole_balance")
    p.add_argument("--steps", type=int, default=262_144, help="env steps per run (default 262144 = 128 updates)")
    p.add_argument("--num-envs", type=int, default=None)
    p.add_argument("--log-every", type=int, default=None, help="updates per row (default: jaxrl train's, ~100 rows per run)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    info = machine_info()
    print(f"[info] {info['cpu_model']}, {info['cpu_count']} CPUs, load {info['loadavg_at_start']}, jax {info['versions']['jax']} "
          f"on {info['jax_backend']}", flush=True)
    env, params = envs.make(args.env)
    config = ppo.PPOConfig(total_timesteps=args.steps, **({"num_envs": args.num_envs} if args.num_envs else {}))
    trainer = ppo.make_train(config, env, params)
    n = trainer.num_updates
    log_every = args.log_every or runner.pick_log_every(n)
    chunk = runner.pick_chunk(n, -(-n // 10), log_every)
    print(f"{args.env}: {n} updates x {trainer.steps_per_update} env steps, chunks of {chunk}, a row every {log_every} updates", flush=True)
    variants = ("off", "live", "chunk_end")
    results = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.repeats):
            for v in variants:
                out = run_variant(trainer, ppo.default_hparams(), chunk, log_every, v, folder)
                results[v].append(out)
                print(f"repeat {r}  {v:>9}: compile {out['compile_s']:5.1f} s  run {out['run_s']:6.2f} s  "
                      f"{out['steps_per_s']:>9,.0f} steps/s", flush=True)
    summary = {v: {k: statistics.median(x[k] for x in rs) for k in ("compile_s", "run_s", "steps_per_s")} for v, rs in results.items()}
    base = summary["off"]["steps_per_s"]
    print(f"\n{'variant':>9} {'compile s':>10} {'run s':>8} {'steps/s':>10} {'vs off':>7}   (medians of {args.repeats})")
    for v in variants:
        s = summary[v]
        s["ratio_vs_off"] = s["steps_per_s"] / base
        print(f"{v:>9} {s['compile_s']:>10.1f} {s['run_s']:>8.2f} {s['steps_per_s']:>10,.0f} {s['ratio_vs_off']:>7.3f}")
    ok = summary["live"]["ratio_vs_off"] >= TARGET
    print(f"target: live >= {TARGET} x off: {'met' if ok else 'MISSED'}")
    doc = {"machine": info, "loadavg_at_end": loadavg(), "env": args.env, "num_updates": n, "steps_per_update": trainer.steps_per_update,
           "chunk": chunk, "log_every": log_every, "repeats": args.repeats, "runs": results, "median": summary, "target_met": ok,
           "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    write_json(args.json, doc)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
