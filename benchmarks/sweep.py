#!/usr/bin/env python
"""Many agents at once: jaxrl's sweep against Rejax, and the scaling curve (a script; never imported by the tests).

    python benchmarks/sweep.py [--seeds 1,8,64,256] [--repeats 3] [--rejax-python .venv-rejax/bin/python] [--json out.json]

For each number of seeds N (all runs in ONE compiled program in both frameworks):

- jaxrl: :class:`jaxrl.sweep.Sweeper` (``jit`` of ``vmap`` over runs, run axis sharded over
  the devices) training PPO on ``gymnax/CartPole-v1`` through jaxrl's gymnax adapter, with
  Rejax's shipped CartPole config translated field by field (below);
- Rejax 0.1.3: ``jax.jit(jax.vmap(algo.train))`` with its shipped config
  (``benchmarks/peers/rejax_ppo.py``, run in its own venv ``.venv-rejax``: Rejax needs gymnax
  0.0.9, jaxrl pins 1.0.1; ``bash benchmarks/peers/setup_rejax.sh`` makes it), its
  in-training evaluation switched off (see that script).

Timed: the first call compiles (reported apart); then ``--repeats`` calls, median wall time
of the WHOLE call (jaxrl: ``Sweeper.run``, including the init of every run and the transfer of
all metrics to the host; Rejax: ``train(keys)`` including its init). Both then evaluate each
seed's final greedy policy over 16 episodes of up to 500 steps. Per-agent time = run time / N;
the ratio is jaxrl / Rejax (< 1: jaxrl faster). The sizes run interleaved (jaxrl, then Rejax).

Differences that config translation cannot remove (same env steps, same batch and minibatch
sizes, same epochs, lr, clip, entropy, value coefficients): Rejax clips each gradient ELEMENT
at 0.5 (``optax.clip``), jaxrl clips the global norm; Adam eps 1e-8 vs 1e-5; Rejax has two
networks with two optimisers, jaxrl one actor-critic pair under one optimiser; Rejax treats
the 500-step limit as termination, jaxrl bootstraps; default flax init vs orthogonal.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import loadavg, machine_info, write_json
from jaxrl import envs, evaluate, sweep
from jaxrl.algos import ppo

HERE = os.path.dirname(os.path.abspath(__file__))

# Rejax's shipped CartPole-v1 PPO config (keraJLi/rejax configs/gymnax/cartpole.yaml, key ppo),
# in jaxrl's fields.
CONFIG = dict(total_timesteps=100_000, num_envs=5, num_steps=100, num_minibatches=5, update_epochs=5,
              hidden_sizes=(64, 64), activation="tanh", normalize_obs=False, normalize_advantages=True,
              anneal_lr=False, clip_value_loss=True)
HPARAMS = dict(lr=7.5e-4, gamma=0.99, gae_lambda=0.95, clip_eps=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5)
SOLVED = 475.0


def jaxrl_side(num_seeds: int, repeats: int, total_timesteps: int) -> dict:
    env, params = envs.make("gymnax/CartPole-v1")
    trainer = ppo.make_train(ppo.PPOConfig(**{**CONFIG, "total_timesteps": total_timesteps}), env, params)
    base = ppo.default_hparams().replace(**HPARAMS)
    # Rejax returns no curves; jaxrl keeps only the return curve (its loss diagnostics are never computed).
    sweeper = sweep.Sweeper(trainer, base, 1, num_seeds, metrics=["episode_return"])
    t = time.perf_counter()
    first = sweeper.run([{}], range(num_seeds))
    first_s = time.perf_counter() - t
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        res = sweeper.run([{}], range(num_seeds), keep_state=True)
        jax.block_until_ready(res.state)
        runs.append(time.perf_counter() - t)

    def greedy(state, key):
        return evaluate.episode_returns(key, env, params, trainer.policy(state), 16, 500).mean()

    states = jax.tree.map(lambda x: x[0], res.state)  # [seeds, ...]
    keys = jax.random.split(jax.random.key(123), num_seeds)
    returns = np.asarray(jax.jit(jax.vmap(greedy))(states, keys))
    return {"compile_s": first.compile_s, "first_call_s": first_s, "run_s": runs, "median_run_s": statistics.median(runs),
            "env_steps_per_seed": trainer.num_updates * trainer.steps_per_update, "returns": returns.tolist(),
            "mean_return": float(returns.mean()), "solved_fraction": float(np.mean(returns >= SOLVED))}


def rejax_side(python: str, num_seeds: int, repeats: int, total_timesteps: int) -> dict | None:
    if not os.path.exists(python):
        return None
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "rejax.json")
        cmd = [python, os.path.join(HERE, "peers", "rejax_ppo.py"), "--seeds", str(num_seeds), "--repeats", str(repeats),
               "--total-timesteps", str(total_timesteps), "--json", out]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            return {"error": proc.stderr[-500:]}
        with open(out) as f:
            doc = json.load(f)
    return doc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="1,8,64,256")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--total-timesteps", type=int, default=100_000)
    p.add_argument("--rejax-python", default=os.path.join(HERE, "..", ".venv-rejax", "bin", "python"))
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    info = machine_info()
    print(f"[info] {info['cpu_model']}, {info['cpu_count']} CPUs, load {info['loadavg_at_start']}, jax {info['versions']['jax']} "
          f"on {info['jax_backend']} ({jax.device_count()} device(s))", flush=True)
    sizes = [int(s) for s in args.seeds.split(",")]
    rows = []
    for n in sizes:
        j = jaxrl_side(n, args.repeats, args.total_timesteps)
        print(f"jaxrl  N={n:>4}: compile {j['compile_s']:6.1f} s, run {j['median_run_s']:7.2f} s "
              f"({j['median_run_s'] / n * 1e3:8.1f} ms/agent), return {j['mean_return']:6.1f}, solved {j['solved_fraction']:.2f}", flush=True)
        r = rejax_side(args.rejax_python, n, args.repeats, args.total_timesteps)
        row = {"seeds": n, "jaxrl": j, "rejax": r}
        if r and "error" not in r:
            r_run = r["median_run_s"]
            r_ret = np.asarray(r["final_eval"]["greedy_return_per_seed"])
            r["solved_fraction"] = float(np.mean(r_ret >= SOLVED))
            print(f"rejax  N={n:>4}: compile {r['compile_s']:6.1f} s, run {r_run:7.2f} s "
                  f"({r_run / n * 1e3:8.1f} ms/agent), return {r_ret.mean():6.1f}, solved {r['solved_fraction']:.2f}", flush=True)
            row["ratio_run"] = j["median_run_s"] / r_run
            print(f"       N={n:>4}: jaxrl / Rejax run time = {row['ratio_run']:.3f}", flush=True)
        rows.append(row)
    base = rows[0]["jaxrl"]["median_run_s"] / rows[0]["seeds"]
    print(f"\n{'N':>5} {'jaxrl ms/agent':>15} {'vs N=1':>7} {'runs/s':>8} {'Rejax ms/agent':>15} {'jaxrl/Rejax':>12}")
    for row in rows:
        n, j, r = row["seeds"], row["jaxrl"], row["rejax"]
        per = j["median_run_s"] / n
        rp = (r["median_run_s"] / n * 1e3) if r and "error" not in r else float("nan")
        print(f"{n:>5} {per * 1e3:>15.1f} {per / base:>7.3f} {n / j['median_run_s']:>8.2f} {rp:>15.1f} {row.get('ratio_run', float('nan')):>12.3f}")
    write_json(args.json, {"machine": info, "loadavg_at_end": loadavg(), "config": {k: list(v) if isinstance(v, tuple) else v for k, v in CONFIG.items()},
                           "hparams": HPARAMS, "total_timesteps": args.total_timesteps, "repeats": args.repeats, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
