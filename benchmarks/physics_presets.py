#!/usr/bin/env python
"""PPO on both physics presets (issue 18): what ``physics="fast"`` buys in time and costs in return.

    python benchmarks/physics_presets.py [--tasks cartpole_swingup,...] [--seeds 4] [--steps 1048576]
                                         [--json out.json]

For each task, the SAME PPO config (its defaults; ``--steps`` env steps; ``--seeds`` seeds vmapped
in ONE program) trains on ``make(task)`` (the faithful default, DM Control's physics) and on
``make(task, physics="fast")``, the two interleaved task by task. Recorded per preset: compile
seconds, training seconds (the compiled program, once), and each seed's deterministic evaluation
return over 16 episodes ON THE PRESET IT TRAINED ON and on the faithful physics (a policy trained
fast and scored on DM Control's physics is what a published comparison would see). Env steps are
counted as env (control) steps of the task as made (no action repeat).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import jax
import numpy as np

from common import loadavg, machine_info, write_json
from jaxrl import envs, evaluate
from jaxrl.algos import ppo


def train_seeds(task: str, physics: str, seeds: int, steps: int) -> dict:
    env, params = envs.make(task, physics=physics)
    trainer = ppo.make_train(ppo.PPOConfig(total_timesteps=steps), env, params)
    keys = jax.random.split(jax.random.key(0), seeds)
    hparams = ppo.default_hparams()
    fn = jax.jit(jax.vmap(trainer, in_axes=(0, None)))
    t = time.perf_counter()
    compiled = fn.lower(keys, hparams).compile()
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    state, _ = jax.block_until_ready(compiled(keys, hparams))
    train_s = time.perf_counter() - t
    faithful_env, faithful_params = envs.make(task)
    returns = {}
    eval_keys = jax.random.split(jax.random.key(100), seeds)
    for where, (e, p) in (("own", (env, params)), ("faithful", (faithful_env, faithful_params))):
        scores = jax.jit(jax.vmap(lambda k, s: evaluate.episode_returns(k, e, p, trainer.policy(s), 16)))
        returns[where] = np.asarray(scores(eval_keys, state)).mean(axis=1).tolist()  # one compile, all seeds
    return {"compile_s": compile_s, "train_s": train_s, "env_steps_per_s": seeds * steps / train_s,
            "eval_return": returns["own"], "eval_return_on_faithful": returns["faithful"],
            "median_return": statistics.median(returns["own"])}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="cartpole_swingup")
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--steps", type=int, default=1_048_576)
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args(argv)
    doc = {"machine": machine_info(), "args": vars(a), "tasks": {}}
    print(f"PPO defaults, {a.seeds} seeds x {a.steps:,} env steps per preset; {jax.devices()}; load {loadavg()}", flush=True)
    for task in [t.strip() for t in a.tasks.split(",") if t.strip()]:
        doc["tasks"][task] = {}
        for physics in ("faithful", "fast"):
            row = train_seeds(task, physics, a.seeds, a.steps)
            doc["tasks"][task][physics] = row
            print(f"{task:20s} {physics:8s} compile {row['compile_s']:5.1f} s  train {row['train_s']:6.1f} s "
                  f"({row['env_steps_per_s']:,.0f} env steps/s)  eval {np.round(row['eval_return']).tolist()} "
                  f"on faithful physics {np.round(row['eval_return_on_faithful']).tolist()}", flush=True)
            write_json(a.json, doc)
    doc["loadavg_at_end"] = loadavg()
    write_json(a.json, doc)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
