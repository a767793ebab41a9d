#!/usr/bin/env python
"""jaxrl's PPO against Brax's PPO on the SAME MJX task: wall-clock to the same return (a script).

    python benchmarks/brax_compare.py [--task cartpole_balance] [--seeds 3] [--steps 1000000] [--json out.json]

Both trainers train jaxrl's MJX ``cartpole_balance`` (1000-step episodes): jaxrl's PPO
directly, Brax's ``brax.training.agents.ppo.train`` through :func:`jaxrl.envs.brax_env.to_brax`
(the same env code and physics, so only the trainers differ). Same env steps, same batch:
32 envs x 64-step unrolls per update, 4 minibatches of 512 transitions, 4 epochs; the same
PPO values where both frameworks have the field (lr 1e-3 constant, gamma 0.99, lambda 0.95,
clip 0.2, value coefficient 0.5, entropy 0, grad-norm clip 0.5, observation normalisation
on, advantage normalisation on), tanh (64, 64) policy and value MLPs.
What stays each framework's own: network init, Brax's tanh-squashed normal vs jaxrl's clipped
Gaussian, Brax's Welford normaliser vs jaxrl's running mean/var, and time limits: jaxrl
bootstraps from the true final observation, Brax (default, ``bootstrap_on_timeout=False``)
masks the truncated step out of its GAE.

Timing. jaxrl: :func:`jaxrl.runner.run` in chunks (compile timed apart; evaluation after
each chunk, outside the timed run; ``benchmarks/foundation.py``'s harness). Brax: ``train``
with ``num_evals`` eval points; its ``training/walltime`` excludes evaluation but includes
compiling, in the first epoch and (under jax 0.9.2) again in the second, whose inputs come back
from the pmap with another sharding; so compile = the excess of those epochs over the median
epoch and run = walltime - compile. Return: deterministic policy, 16 (jaxrl) / 16 (Brax ``num_eval_envs``)
episodes of 1000 steps after each chunk/epoch. "to 800": the first eval point with mean
return >= 800, in env steps and run seconds.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time

import jax
import numpy as np

from common import loadavg, machine_info, write_json
from foundation import bench_ppo_task
from jaxrl import envs
from jaxrl.algos import ppo
from jaxrl.envs.brax_env import to_brax

TARGET = 800.0
EVAL_EPISODES = 16
BATCH = dict(num_envs=32, num_steps=64, num_minibatches=4, update_epochs=4)
VALUES = dict(lr=1e-3, gamma=0.99, gae_lambda=0.95, clip_eps=0.2, vf_coef=0.5, ent_coef=0.0, max_grad_norm=0.5)


def brax_side(task: str, seed: int, steps: int, num_evals: int) -> dict:
    import flax.linen as nn
    from brax.training.agents.ppo import networks as brax_networks
    from brax.training.agents.ppo import train as brax_ppo

    env, params = envs.make(task)
    view = to_brax(env, params)
    points = []

    def progress(step, metrics):
        if "eval/episode_reward" in metrics:
            points.append({"env_steps": int(step), "walltime": float(metrics.get("training/walltime", 0.0)),
                           "eval_return": float(metrics["eval/episode_reward"])})
            print(f"[brax]     {int(step):>10,} steps {points[-1]['walltime']:7.1f} s (incl. compile)  "
                  f"eval {points[-1]['eval_return']:7.1f}", flush=True)

    factory = functools.partial(brax_networks.make_ppo_networks, policy_hidden_layer_sizes=(64, 64),
                                value_hidden_layer_sizes=(64, 64), activation=nn.tanh)
    t = time.perf_counter()
    brax_ppo.train(
        view, num_timesteps=steps, episode_length=1000, num_envs=BATCH["num_envs"], unroll_length=BATCH["num_steps"],
        batch_size=BATCH["num_envs"] // BATCH["num_minibatches"], num_minibatches=BATCH["num_minibatches"],
        num_updates_per_batch=BATCH["update_epochs"], learning_rate=VALUES["lr"], discounting=VALUES["gamma"],
        gae_lambda=VALUES["gae_lambda"], clipping_epsilon=VALUES["clip_eps"], vf_loss_coefficient=VALUES["vf_coef"],
        entropy_cost=VALUES["ent_coef"], max_grad_norm=VALUES["max_grad_norm"], normalize_observations=True,
        normalize_advantage=True, reward_scaling=1.0, network_factory=factory,
        num_evals=num_evals, num_eval_envs=EVAL_EPISODES, deterministic_eval=True, seed=seed, progress_fn=progress,
    )
    total_s = time.perf_counter() - t
    train_points = points[1:]  # points[0] is the eval before training
    epochs = np.diff([0.0] + [p["walltime"] for p in train_points])
    # An epoch that compiles takes far longer than the others: under jax 0.9.2 Brax compiles its
    # pmapped training epoch twice (the replicated first inputs and the pmap outputs fed back have
    # different shardings), in epochs 1 and 2. Compile = the excess of those epochs over the median.
    typical = float(np.median(epochs[2:] if len(epochs) > 3 else epochs))
    compiling = epochs > 3 * typical
    compile_s = float(np.sum(epochs[compiling] - typical))
    for p in train_points:
        p["run_s"] = p["walltime"] - compile_s
    hit = next((p for p in train_points if p["eval_return"] >= TARGET), None)
    return {"seed": seed, "compile_s": compile_s, "compiling_epochs": int(compiling.sum()), "run_s": train_points[-1]["run_s"], "total_s": total_s,
            "curve": points, "steps_to_target": hit["env_steps"] if hit else None,
            "run_s_to_target": hit["run_s"] if hit else None, "final_eval_return": train_points[-1]["eval_return"],
            "steps_per_s": train_points[-1]["env_steps"] / train_points[-1]["run_s"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="cartpole_balance")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1_048_576, help="env steps per run (a multiple of 2048)")
    p.add_argument("--evals", type=int, default=16, help="eval points per run (Brax num_evals - 1, jaxrl chunks)")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)

    doc = {"machine": machine_info(), "load_start": loadavg(), "task": args.task, "steps": args.steps,
           "batch": BATCH, "values": VALUES, "jaxrl": [], "brax": []}
    config = ppo.PPOConfig(total_timesteps=args.steps, anneal_lr=False, normalize_obs=True, **BATCH)
    hp = ppo.default_hparams().replace(**VALUES)
    for seed in range(args.seeds):  # interleaved: jaxrl then Brax for each seed
        print(f"[jaxrl] seed {seed}", flush=True)
        j = bench_ppo_task(args.task, config, hp, [seed], args.evals, None)["seeds"][0]
        doc["jaxrl"].append(j)
        print(f"[brax] seed {seed}", flush=True)
        doc["brax"].append(brax_side(args.task, seed, args.steps, args.evals + 1))
    doc["load_end"] = loadavg()

    def med(side, key):
        vals = [r[key] for r in doc[side] if r[key] is not None]
        return statistics.median(vals) if vals else None

    print("\n| framework | compile s | run s | env steps/s | steps to 800 | run s to 800 | final eval | seeds at 800 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for side in ("jaxrl", "brax"):
        hits = sum(r["steps_to_target"] is not None for r in doc[side])
        print(f"| {side} | {med(side, 'compile_s'):.1f} | {med(side, 'run_s'):.1f} | {med(side, 'steps_per_s'):,.0f} | "
              f"{med(side, 'steps_to_target') or '-'} | {med(side, 'run_s_to_target') or '-'} | "
              f"{med(side, 'final_eval_return'):.1f} | {hits}/{len(doc[side])} |")
    pairs = [(a["run_s_to_target"], b["run_s_to_target"]) for a, b in zip(doc["jaxrl"], doc["brax"])
             if a["run_s_to_target"] and b["run_s_to_target"]]
    if pairs:
        doc["ratio_run_s_to_target"] = statistics.median(a / b for a, b in pairs)
        print(f"median jaxrl/Brax ratio of run seconds to {TARGET:.0f}: {doc['ratio_run_s_to_target']:.3f}")
    doc["ratio_steps_per_s"] = statistics.median(b["steps_per_s"] / a["steps_per_s"] for a, b in zip(doc["jaxrl"], doc["brax"]))
    print(f"median jaxrl/Brax ratio of time per env step: {doc['ratio_steps_per_s']:.3f}")
    if args.json:
        write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
