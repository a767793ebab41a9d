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

Timed: the first call compiles (reported apart; Rejax compiles in its worker process first,
then jaxrl); then ``--repeats`` calls of each, ALTERNATING call by call (jaxrl, Rejax, jaxrl,
...; Rejax runs in a served worker, ``rejax_ppo.py --serve``), so a slow minute of this shared
machine hits both; median wall time of the WHOLE call (jaxrl: ``Sweeper.run``, including the
init of every run and the transfer of all metrics to the host; Rejax: ``train(keys)`` including
its init). Both then evaluate each seed's final greedy policy over 16 episodes of up to 500
steps. Per-agent time = run time / N; the ratio is jaxrl / Rejax (< 1: jaxrl faster).

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


class JaxrlSide:
    """jaxrl's sweep of ``num_seeds`` runs: compiled on construction, then one timed call per :meth:`run`."""

    def __init__(self, num_seeds: int, total_timesteps: int):
        self.env, self.params = envs.make("gymnax/CartPole-v1")
        self.trainer = ppo.make_train(ppo.PPOConfig(**{**CONFIG, "total_timesteps": total_timesteps}), self.env, self.params)
        base = ppo.default_hparams().replace(**HPARAMS)
        # Rejax returns no curves; jaxrl keeps only the return curve (its loss diagnostics are never computed).
        self.sweeper = sweep.Sweeper(self.trainer, base, 1, num_seeds, metrics=["episode_return"])
        self.num_seeds, self.runs, self.cpu, self.result = num_seeds, [], [], None
        t = time.perf_counter()
        first = self.sweeper.run([{}], range(num_seeds), keep_state=True)  # also warms up keep_state's slicing
        jax.block_until_ready(first.state)
        self.first_call_s, self.compile_s = time.perf_counter() - t, first.compile_s

    def run(self) -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        self.result = self.sweeper.run([{}], range(self.num_seeds), keep_state=True)
        jax.block_until_ready(self.result.state)
        self.runs.append(time.perf_counter() - t)
        self.cpu.append(time.process_time() - c)
        return self.runs[-1], self.cpu[-1]

    def finish(self) -> dict:
        env, params, trainer = self.env, self.params, self.trainer

        def greedy(state, key):
            return evaluate.episode_returns(key, env, params, trainer.policy(state), 16, 500).mean()

        states = jax.tree.map(lambda x: x[0], self.result.state)  # [seeds, ...]
        keys = jax.random.split(jax.random.key(123), self.num_seeds)
        returns = np.asarray(jax.jit(jax.vmap(greedy))(states, keys))
        return {"compile_s": self.compile_s, "first_call_s": self.first_call_s, "run_s": self.runs,
                "median_run_s": statistics.median(self.runs), "cpu_s": self.cpu, "median_cpu_s": statistics.median(self.cpu),
                "env_steps_per_seed": trainer.num_updates * trainer.steps_per_update, "returns": returns.tolist(),
                "mean_return": float(returns.mean()), "solved_fraction": float(np.mean(returns >= SOLVED))}


class RejaxSide:
    """Rejax in its own venv, served (``rejax_ppo.py --serve``): compiled on construction, then one
    timed call per :meth:`run`, so the driver can alternate the two frameworks call by call."""

    def __init__(self, python: str, num_seeds: int, total_timesteps: int):
        self.dir = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.dir.name, "rejax.json")
        cmd = [python, os.path.join(HERE, "peers", "rejax_ppo.py"), "--seeds", str(num_seeds), "--serve",
               "--total-timesteps", str(total_timesteps), "--json", self.out]
        # stderr goes to a file: a pipe nobody reads while the worker runs could fill and block it.
        self.err = open(os.path.join(self.dir.name, "stderr.txt"), "w+")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self._reply()  # compiled and warmed up

    def _reply(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"Rejax worker exited ({self.proc.wait()}): {self._stderr()}")

    def _stderr(self) -> str:
        self.err.seek(0)
        return self.err.read()[-2000:]

    def run(self) -> tuple[float, float]:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        reply = self._reply()
        return reply["run_s"], reply["cpu_s"]

    def finish(self) -> dict:
        self.proc.stdin.write("done\n")
        self.proc.stdin.close()
        self.proc.stdout.read()
        if self.proc.wait() != 0:
            raise RuntimeError(f"Rejax worker failed: {self._stderr()}")
        with open(self.out) as f:
            doc = json.load(f)
        self.err.close()
        self.dir.cleanup()
        return doc


def measure(num_seeds: int, repeats: int, total_timesteps: int, rejax_python: str) -> tuple[dict, dict | None]:
    """Compile both (Rejax first, in its worker, then jaxrl), then alternate ``repeats`` timed calls of each."""
    rejax = RejaxSide(rejax_python, num_seeds, total_timesteps) if os.path.exists(rejax_python) else None
    jaxrl = JaxrlSide(num_seeds, total_timesteps)
    for i in range(repeats):
        j, jc = jaxrl.run()
        r, rc = rejax.run() if rejax else (float("nan"), float("nan"))
        print(f"  N={num_seeds:>4} repeat {i + 1}/{repeats}: jaxrl {j:7.2f} s (CPU {jc:7.2f} s), "
              f"Rejax {r:7.2f} s (CPU {rc:7.2f} s)", flush=True)
    return jaxrl.finish(), (rejax.finish() if rejax else None)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="1,8,64,256")
    p.add_argument("--repeats", type=int, default=3, help="timed calls of each framework per size (median reported)")
    p.add_argument("--repeats-small", type=int, default=7,
                   help="timed calls per framework for sizes <= 8 (cheap calls; this machine's noise needs more)")
    p.add_argument("--total-timesteps", type=int, default=100_000)
    p.add_argument("--rejax-python", default=os.path.join(HERE, "..", ".venv-rejax", "bin", "python"))
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    info = machine_info()
    print(f"[info] {info['cpu_model']}, {info['cpu_count']} CPUs, load {info['loadavg_at_start']}, jax {info['versions']['jax']} "
          f"on {info['jax_backend']} ({jax.device_count()} x {info['device_kind']})", flush=True)
    sizes = [int(s) for s in args.seeds.split(",")]
    rows = []
    for n in sizes:
        j, r = measure(n, args.repeats_small if n <= 8 else args.repeats, args.total_timesteps, args.rejax_python)
        print(f"jaxrl  N={n:>4}: compile {j['compile_s']:6.1f} s, run {j['median_run_s']:7.2f} s "
              f"({j['median_run_s'] / n * 1e3:8.1f} ms/agent), return {j['mean_return']:6.1f}, solved {j['solved_fraction']:.2f}", flush=True)
        row = {"seeds": n, "jaxrl": j, "rejax": r}
        if r:
            r_run = r["median_run_s"]
            r_ret = np.asarray(r["final_eval"]["greedy_return_per_seed"])
            r["solved_fraction"] = float(np.mean(r_ret >= SOLVED))
            print(f"rejax  N={n:>4}: compile {r['compile_s']:6.1f} s, run {r_run:7.2f} s "
                  f"({r_run / n * 1e3:8.1f} ms/agent), return {r_ret.mean():6.1f}, solved {r['solved_fraction']:.2f}", flush=True)
            row["ratio_run"] = j["median_run_s"] / r_run
            # Calls alternate, so call i of each ran in the same minute: the median of these paired
            # ratios is the sturdier figure on a machine whose speed drifts.
            row["ratio_paired"] = statistics.median(a / b for a, b in zip(j["run_s"], r["run_s"]))
            row["ratio_cpu"] = j["median_cpu_s"] / r["median_cpu_s"]
            print(f"       N={n:>4}: jaxrl / Rejax run time = {row['ratio_run']:.3f} (paired {row['ratio_paired']:.3f}; "
                  f"CPU time {row['ratio_cpu']:.3f})", flush=True)
        rows.append(row)
        write_json(args.json, {"machine": info, "partial": n != sizes[-1], "rows": rows})  # kept if a long run stops
    base = rows[0]["jaxrl"]["median_run_s"] / rows[0]["seeds"]
    first = f"vs N={rows[0]['seeds']}"  # per-agent time against the first (smallest) size run
    print(f"\n{'N':>5} {'jaxrl ms/agent':>15} {first:>7} {'runs/s':>8} {'Rejax ms/agent':>15} {'jaxrl/Rejax':>12} {'paired':>7}")
    for row in rows:
        n, j, r = row["seeds"], row["jaxrl"], row["rejax"]
        per = j["median_run_s"] / n
        rp = (r["median_run_s"] / n * 1e3) if r else float("nan")
        print(f"{n:>5} {per * 1e3:>15.1f} {per / base:>7.3f} {n / j['median_run_s']:>8.2f} {rp:>15.1f} "
              f"{row.get('ratio_run', float('nan')):>12.3f} {row.get('ratio_paired', float('nan')):>7.3f}")
    write_json(args.json, {"machine": info, "loadavg_at_end": loadavg(), "config": {k: list(v) if isinstance(v, tuple) else v for k, v in CONFIG.items()},
                           "hparams": HPARAMS, "total_timesteps": args.total_timesteps, "repeats": args.repeats,
                           "repeats_small": args.repeats_small, "partial": False, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
