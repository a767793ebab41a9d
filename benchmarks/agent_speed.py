"""What a learner costs per agent step on this machine, alone and as a sweep: the GPU recipe of the
world-model and pixel agents (issues 19-21), runnable as one short device call.

    python benchmarks/agent_speed.py --case tdmpc:paper:cheetah_run:action_repeat=2 --case drq:paper:cheetah_run \\
        --seeds 1,16 --updates 100 --budget-s 420 --json out.json

A case is ``ALGO:PRESET:ENV[:OPT=VALUE,...]`` (env options on top of the preset's; ``--set
NAME=VALUE`` applies to every case's config or hparams, e.g. ``buffer_size=100000`` so 16 pixel
runs fit in the GPU's memory). Each (case, seeds) runs in a FRESH process (nothing traced or compiled
before it; the persistent compilation cache off): it compiles a chunk of ``--updates`` updates of
``seeds`` runs vmapped into one program (the program ``jaxrl sweep`` runs), steps past the random
prefill, then times ``--repeats`` chunks. A row: compile seconds; agent steps per second per run and
summed over runs; frames (control steps) per second; hours per 1M agent steps of one run; state
bytes; the device's peak memory (where the backend reports it; the parent process never starts a
backend, so each child has the device to itself). Rows go to ``--json`` as they come,
so a call stopped at its time limit still returns what it measured; ``--budget-s`` stops starting
new (case, seeds) pairs once that many seconds have passed (a pair can outlast it by its own time).

The published wall-clocks printed beside (their code, their hardware, one run):
TD-MPC2 about 1.5 h per 1M agent steps (RTX 3090, torch.compile); DrQ-v2 2.8-4 h per 1M frames
(host rendering); DreamerV3 about 34 frames/s on DMC vision (RTX 3080 Ti).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# Published one-run wall-clocks as agent steps per second of their own setting (see the docstring).
PUBLISHED = {
    "tdmpc": ("TD-MPC2, RTX 3090: 1.5 h per 1M agent steps", 1e6 / (1.5 * 3600)),
    "drq": ("DrQ-v2, GPU + host rendering: 2.8-4 h per 1M frames (action repeat 2)", 1e6 / 2 / (3.4 * 3600)),
    "dreamer": ("DreamerV3, RTX 3080 Ti: ~34 frames/s on DMC vision (action repeat 2)", 34 / 2),
}


def parse_case(text: str) -> dict:
    """``ALGO:PRESET:ENV[:OPT=VALUE,...]`` -> ``{"algo", "preset", "env", "env_opts"}`` (options as strings)."""
    parts = text.split(":")
    if len(parts) not in (3, 4) or not all(parts[:3]):
        raise SystemExit(f"--case {text!r}: expected ALGO:PRESET:ENV[:OPT=VALUE,...]")
    opts = [o for o in (parts[3].split(",") if len(parts) == 4 else []) if o]
    return {"algo": parts[0], "preset": parts[1], "env": parts[2], "env_opts": opts}


def build(case: dict, sets: list[str]):
    """``(trainer, hparams, env_options)`` of a case: the preset, its env options with the case's on top,
    ``sets`` over the config and hparams (as ``jaxrl train ALGO --preset P --env E --env-opt ... --set ...``)."""
    from jaxrl import algos, configs, envs

    algo = algos.get(case["algo"])
    presets = algo.presets()
    if case["preset"] not in presets:
        raise SystemExit(f"{case['algo']} has no preset {case['preset']!r}; its presets: {', '.join(presets)}")
    preset = presets[case["preset"]]
    options = {**preset.env_options, **configs.parse_options(case["env_opts"], envs.options(case["env"]), case["env"])}
    env, params = envs.make(case["env"], **options)
    config_sets, hp_sets = configs.parse_sets(sets, algo.Config, algo.Hparams)
    config = algo.Config(**{**preset.config, **config_sets})
    hp = algo.validate_hparams({**preset.hparams, **hp_sets})
    return algo.make_train(config, env, params), hp, options


def measure(case: dict, seeds: int, sets: list[str], updates: int, repeats: int) -> dict:
    """One row, in this process (see the module docstring)."""
    import jax
    import numpy as np

    from common import learner_speed
    from jaxrl import trainer as trainer_lib

    trainer, hp, options = build(case, sets)
    runs = trainer_lib.vmapped(trainer, seeds)
    hp_runs = jax.tree.map(lambda x: np.full((seeds,), x, np.float32), hp)
    cost = learner_speed(runs, hp_runs, updates, repeats, keys=jax.random.split(jax.random.key(0), seeds))
    per_run = cost["env_steps_per_s"] / seeds
    repeat = int(options.get("action_repeat", 1))
    stats = jax.devices()[0].memory_stats() or {}
    from common import machine_info

    return {**case, "machine": machine_info(), "seeds": seeds, "env_options": {k: str(v) for k, v in options.items()}, "set": sets,
            "compile_s": round(cost["compile_s"], 2), "runs_s": [round(t, 4) for t in cost["runs_s"]],
            "agent_steps_per_s_per_run": round(per_run, 2), "agent_steps_per_s_all_runs": round(cost["env_steps_per_s"], 2),
            "frames_per_s_per_run": round(per_run * repeat, 2), "hours_per_1m_agent_steps_per_run": round(1e6 / per_run / 3600, 3),
            "grad_steps_per_agent_step": getattr(trainer.config, "replay_ratio", None),
            "state_bytes": cost["state_bytes"], "replay_bytes": cost["replay_bytes"],
            "device_peak_bytes": stats.get("peak_bytes_in_use"), "device": jax.devices()[0].device_kind}


def _child(args) -> int:
    os.environ.setdefault("JAX_ENABLE_COMPILATION_CACHE", "false")
    row = measure(parse_case(args.one), args.seeds[0], args.set, args.updates, args.repeats)
    print("ROW " + json.dumps(row), flush=True)
    return 0


def run_pair(case_text: str, seeds: int, args) -> dict:
    """One (case, seeds) in a fresh process; its row, or ``{"error": ...}`` with the output's tail."""
    cmd = [sys.executable, os.path.abspath(__file__), "--one", case_text, "--seeds", str(seeds),
           "--updates", str(args.updates), "--repeats", str(args.repeats)] + [f"--set={s}" for s in args.set]
    env = {**os.environ, "JAX_ENABLE_COMPILATION_CACHE": "false"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    rows = [json.loads(line[4:]) for line in proc.stdout.splitlines() if line.startswith("ROW ")]
    if proc.returncode or not rows:
        return {**parse_case(case_text), "seeds": seeds, "error": (proc.stdout + proc.stderr)[-2000:]}
    return {**rows[0], "process_s": round(time.perf_counter() - t0, 1)}


def with_machine(doc: dict, row: dict) -> None:
    """Move a row's machine facts to the document's (the first row's; later rows drop theirs): the parent
    never starts a backend itself, which on a GPU would hold the memory its children need."""
    machine = row.pop("machine", None)
    if machine is not None and doc["machine"] is None:
        doc["machine"] = machine


def summary_line(row: dict) -> str:
    if "error" in row:
        return f"{row['algo']}:{row['preset']}:{row['env']} x{row['seeds']}: FAILED\n{row['error']}"
    line = (f"{row['algo']}:{row['preset']}:{row['env']} x{row['seeds']}: compile {row['compile_s']} s, "
            f"{row['agent_steps_per_s_per_run']} agent steps/s per run ({row['agent_steps_per_s_all_runs']} all runs), "
            f"{row['hours_per_1m_agent_steps_per_run']} h per 1M agent steps per run, peak {row['device_peak_bytes']} B")
    name, published = PUBLISHED.get(row["algo"], (None, None))
    if published and row["preset"].startswith("paper"):  # the published sizes only
        line += (f"; one run {row['agent_steps_per_s_per_run'] / published:.2f}x and all {row['seeds']} runs "
                 f"{row['agent_steps_per_s_all_runs'] / published:.2f}x the published one-run rate ({name})")
    return line


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--case", action="append", default=[], help="ALGO:PRESET:ENV[:OPT=VALUE,...] (repeatable)")
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16])
    p.add_argument("--updates", type=int, default=100, help="updates per timed chunk")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--budget-s", type=float, default=float("inf"))
    p.add_argument("--set", action="append", default=[], help="config field or hparam NAME=VALUE, every case")
    p.add_argument("--json", default=None)
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child process: one case
    args = p.parse_args(argv)
    if args.one:
        return _child(args)
    from common import write_json  # (no jax call here: see with_machine)

    for text in args.case:
        parse_case(text)  # every case's form checked before the first compile
    doc = {"benchmark": "agent_speed", "updates": args.updates, "repeats": args.repeats, "set": args.set,
           "rows": [], "machine": None}
    t0 = time.perf_counter()
    for seeds in args.seeds:
        for text in args.case:
            if time.perf_counter() - t0 > args.budget_s:
                print(f"budget spent: skipped {text} x{seeds}", flush=True)
                continue
            doc["rows"].append(run_pair(text, seeds, args))
            with_machine(doc, doc["rows"][-1])
            print(summary_line(doc["rows"][-1]), flush=True)
            write_json(args.json, doc)
    return 1 if any("error" in r for r in doc["rows"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
