#!/usr/bin/env python
"""jaxrl's replay learners side by side with their peers (a script; never imported by the tests).

    python benchmarks/offpolicy.py rejax [--algos sac,dqn,pqn,td3] [--seeds 1,8] [--repeats 3] [--json out.json]
    python benchmarks/offpolicy.py brax  [--seeds 0] [--steps 200000] [--evals 11] [--json out.json]

``rejax``: SAC / TD3 on gymnax ``Pendulum-v1`` and DQN / PQN on gymnax ``CartPole-v1``, N seeds in
ONE program on each side. Rejax 0.1.3 runs its shipped configs in its own venv
(``benchmarks/peers/rejax_offpolicy.py --serve``; ``bash benchmarks/peers/setup_rejax.sh``);
jaxrl runs the same settings translated field by field (:data:`MATCHED`: env steps, envs, gradient
steps per env step, buffer, batch, learning starts, target rates, network widths and activations,
learning rates, exploration schedules). Compile is timed apart (first call); then ``--repeats``
calls of each framework ALTERNATING call by call, the median wall time of the whole
``train(keys)`` call (init included) reported; both then evaluate every seed's final
deterministic policy over 16 episodes. What translation cannot remove (benchmarks/peers/
REJAX_OFFPOLICY.md): Rejax samples its buffer in O(capacity) per draw (Gumbel top-k over the whole
buffer) where jaxrl draws in O(batch); Rejax clips each gradient element, jaxrl the global norm;
Rejax SAC/TD3 normalise observations, jaxrl's do not; Rejax treats time limits as terminations,
jaxrl bootstraps from the true final observation; Rejax SAC fills its first 256 steps with the
untrained policy, jaxrl with uniform actions; Adam eps 1e-8 vs 1e-5; flax default init vs orthogonal.

``brax``: SAC on jaxrl's MJX ``cartpole_swingup`` (1000-step episodes, action repeat 1): jaxrl's
:mod:`jaxrl.algos.sac` against ``brax.training.agents.sac.train`` on the same task through the Brax
view (``benchmarks/peers/brax_sac.py``, its settings: 16 envs, one gradient step per env step,
batch 256, 256x256 ReLU MLPs, lr 3e-4, tau 0.005, gamma 0.99, 8192 prefill steps, alpha starting
at 1, a target entropy of -0.5 per action dimension). jaxrl runs the same numbers. Both evaluate
16 deterministic episodes every ``steps / (evals - 1)`` env steps; reported: env steps/s (run time,
compile and evaluation excluded), and the env steps and run seconds at the first evaluation >= 800.
Frameworks run one after the other per seed (Brax first).

Every figure comes with the machine, versions and load (``benchmarks/common.py``); results and the
table are in benchmarks/RESULTS.md.
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
import numpy as np

from common import loadavg, machine_info, write_json
from jaxrl import envs, evaluate, runner
from jaxrl.algos import dqn, pqn, sac, td3

HERE = os.path.dirname(os.path.abspath(__file__))
NO_CLIP = 1e9  # Rejax's SAC does not clip gradients

# Rejax's shipped configs (keraJLi/rejax @ d751095, configs/gymnax/{pendulum,cartpole}.yaml) in jaxrl's fields.
MATCHED = {
    "sac": (sac, "gymnax/Pendulum-v1", 200,
            dict(total_timesteps=10_000, num_envs=1, num_steps=1, buffer_size=10_000, batch_size=256, learning_starts=256,
                 replay_ratio=1.0, hidden_sizes=(64, 64), activation="silu"),
            dict(lr=0.01, gamma=0.99, tau=0.02, init_alpha=1.0, target_entropy=-1.0, max_grad_norm=NO_CLIP)),
    "td3": (td3, "gymnax/Pendulum-v1", 200,
            dict(total_timesteps=10_000, num_envs=1, num_steps=1, buffer_size=10_000, batch_size=100, learning_starts=1_000,
                 replay_ratio=1.0, hidden_sizes=(64, 64), activation="silu", policy_delay=2),
            # absolute noises of 0.3 (exploration), 0.2 clipped at 0.5 (target) over a +-2 range
            dict(lr=1e-3, gamma=0.99, tau=0.05, explore_noise=0.15, explore_noise_final=0.15, policy_noise=0.1,
                 noise_clip=0.25, max_grad_norm=100.0)),
    "dqn": (dqn, "gymnax/CartPole-v1", 500,
            dict(total_timesteps=100_000, num_envs=10, num_steps=1, buffer_size=50_000, batch_size=100, learning_starts=5_000,
                 replay_ratio=0.5, hidden_sizes=(64, 64), activation="silu", dueling=True, double_q=True,
                 target_update_period=5),
            dict(lr=1e-3, gamma=0.99, tau=0.02, eps_start=1.0, eps_end=0.05, eps_decay=0.5, max_grad_norm=10.0)),
    "pqn": (pqn, "gymnax/CartPole-v1", 500,
            dict(total_timesteps=524_288, num_envs=16, num_steps=128, num_minibatches=16, update_epochs=5,
                 hidden_sizes=(64, 64), activation="relu", layer_norm=True),
            dict(lr=3e-4, gamma=0.99, lam=0.9, eps_start=1.0, eps_end=0.05, eps_decay=0.5, max_grad_norm=10.0)),
}


class JaxrlSide:
    """``seeds`` jaxrl runs in one compiled ``jit(vmap(train))``; :meth:`run` times one call."""

    def __init__(self, name: str, seeds: int):
        algo, env_name, self.horizon, config, hparams = MATCHED[name]
        self.env, self.params = envs.make(env_name)
        self.trainer = algo.make_train(algo.Config(**config), self.env, self.params)
        self.hparams = algo.validate_hparams(hparams)
        self.keys = jax.random.split(jax.random.key(0), seeds)
        t = time.perf_counter()
        self.program = jax.jit(jax.vmap(self.trainer, in_axes=(0, None))).lower(self.keys, self.hparams).compile()
        self.compile_s = time.perf_counter() - t
        self.state = jax.block_until_ready(self.program(self.keys, self.hparams))[0]  # warm-up
        self.env_steps = self.trainer.num_updates * self.trainer.steps_per_update * seeds

    def run(self) -> float:
        t = time.perf_counter()
        self.state = jax.block_until_ready(self.program(self.keys, self.hparams))[0]
        return time.perf_counter() - t

    def returns(self) -> list[float]:
        policy = lambda s, k: evaluate.episode_returns(k, self.env, self.params, self.trainer.policy(s), 16, self.horizon).mean()  # noqa: E731
        return np.asarray(jax.jit(jax.vmap(policy, in_axes=(0, None)))(self.state, jax.random.key(10_000))).tolist()


class RejaxSide:
    """Rejax in its venv, served: compiled and warmed up on construction, one timed call per :meth:`run`."""

    def __init__(self, python: str, name: str, seeds: int):
        self.dir = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.dir.name, "rejax.json")
        self.err = open(os.path.join(self.dir.name, "stderr.txt"), "w+")
        cmd = [python, os.path.join(HERE, "peers", "rejax_offpolicy.py"), "--algo", name, "--seeds", str(seeds), "--serve",
               "--json", self.out]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.compile_s = self._reply()["compile_s"]

    def _reply(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("{"):
                return json.loads(line)
        self.err.seek(0)
        raise RuntimeError(f"Rejax worker exited ({self.proc.wait()}): {self.err.read()[-2000:]}")

    def run(self) -> float:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self._reply()["run_s"]

    def finish(self) -> dict:
        self.proc.stdin.write("done\n")
        self.proc.stdin.close()
        self.proc.stdout.read()
        self.proc.wait()
        with open(self.out) as f:
            return json.load(f)


def compare_rejax(args) -> dict:
    rows = []
    for name in args.algos.split(","):
        for seeds in [int(s) for s in args.seeds.split(",")]:
            peer = RejaxSide(args.rejax_python, name, seeds)
            ours = JaxrlSide(name, seeds)
            times = {"jaxrl": [], "rejax": []}
            for _ in range(args.repeats):  # alternating, call by call
                times["jaxrl"].append(ours.run())
                times["rejax"].append(peer.run())
            doc = peer.finish()
            row = {"algo": name, "env": MATCHED[name][1], "seeds": seeds, "env_steps_per_seed": ours.env_steps // seeds,
                   "jaxrl_compile_s": ours.compile_s, "rejax_compile_s": doc.get("compile_s", peer.compile_s),
                   "jaxrl_run_s": times["jaxrl"], "rejax_run_s": times["rejax"],
                   "jaxrl_median_s": statistics.median(times["jaxrl"]), "rejax_median_s": statistics.median(times["rejax"]),
                   "jaxrl_returns": ours.returns(), "rejax_returns": doc["final_eval"]["deterministic_return_per_seed"],
                   "rejax_env_steps_per_seed": doc.get("env_steps_per_seed"), "load": loadavg()}
            row["ratio"] = row["jaxrl_median_s"] / row["rejax_median_s"]
            rows.append(row)
            print(f"{name} x{seeds}: jaxrl {row['jaxrl_median_s']:.2f} s (compile {ours.compile_s:.1f}) | rejax "
                  f"{row['rejax_median_s']:.2f} s (compile {row['rejax_compile_s']:.1f}) | ratio {row['ratio']:.3f} | returns "
                  f"jaxrl {np.round(row['jaxrl_returns'], 1).tolist()} rejax {np.round(row['rejax_returns'], 1).tolist()}",
                  flush=True)
    return {"benchmark": "offpolicy_vs_rejax", "machine": machine_info(), "rows": rows, "matched": {
        k: {"env": v[1], "config": v[3], "hparams": v[4]} for k, v in MATCHED.items()}}


# ----------------------------------------------------------------------------- Brax SAC


def jaxrl_sac_on_swingup(seed: int, steps: int, evals: int) -> dict:
    """jaxrl SAC with brax_sac.py's settings; evaluations (16 deterministic episodes) between chunks."""
    env, params = envs.make("cartpole_swingup")
    config = sac.SACConfig(total_timesteps=steps, num_envs=16, num_steps=1, buffer_size=1_000_000, batch_size=256,
                           learning_starts=8192, replay_ratio=1.0, hidden_sizes=(256, 256), activation="relu")
    hp = sac.validate_hparams(dict(lr=3e-4, gamma=0.99, tau=0.005, init_alpha=1.0, target_entropy=-0.5, max_grad_norm=NO_CLIP))
    trainer = sac.make_train(config, env, params)
    evaluate_policy = jax.jit(lambda s, k: evaluate.episode_returns(k, env, params, trainer.policy(s), 16).mean())
    curve = []

    def on_progress(p):
        curve.append({"env_steps": p.env_steps, "return": float(evaluate_policy(p.state, jax.random.key(p.updates_done))),
                      "run_s": p.elapsed_s})
        print(f"  jaxrl {p.env_steps:>8} env steps  eval {curve[-1]['return']:6.1f}  run {p.elapsed_s:6.1f} s", flush=True)

    res = runner.run(trainer, jax.random.key(seed), hp, chunk_updates=trainer.num_updates // (evals - 1), on_progress=on_progress)
    grad_steps = (trainer.num_updates - config.warmup_updates) * config.grad_steps
    return {"curve": curve, "compile_s": res.compile_s, "run_s": res.run_s,
            "env_steps_per_s": trainer.num_updates * trainer.steps_per_update / res.run_s,
            "grad_steps": grad_steps, "grad_steps_per_s": grad_steps / res.run_s}


def first_at(curve: list[dict], level: float = 800.0) -> dict | None:
    return next(({"env_steps": c["env_steps"], "run_s": c["run_s"]} for c in curve if c["return"] >= level), None)


def compare_brax(args) -> dict:
    sys.path.insert(0, os.path.join(HERE, "peers"))
    from brax_sac import run_brax_sac

    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        b = run_brax_sac("cartpole_swingup", seed=seed, num_timesteps=args.steps, num_evals=args.evals, verbose=True)
        bc = [{"env_steps": c["env_steps"], "return": c["eval_return"], "run_s": c.get("run_s", 0.0)} for c in b["curve"]]
        j = jaxrl_sac_on_swingup(seed, args.steps, args.evals)
        row = {"seed": seed, "brax": {"compile_s": b["compile_s"], "run_s": b["run_s"], "env_steps_per_s": b["steps_per_s"],
                                      "grad_steps_per_s": b["grad_steps_per_s"], "final_env_steps": b["counts"]["final_env_steps"]},
               "brax_curve": bc,
               "jaxrl": {k: j[k] for k in ("compile_s", "run_s", "env_steps_per_s", "grad_steps_per_s")}, "jaxrl_curve": j["curve"],
               "brax_to_800": first_at(bc), "jaxrl_to_800": first_at(j["curve"]), "load": loadavg()}
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("seed", "brax", "jaxrl", "brax_to_800", "jaxrl_to_800")}), flush=True)
    return {"benchmark": "sac_vs_brax_cartpole_swingup", "machine": machine_info(), "rows": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="which", required=True)
    r = sub.add_parser("rejax")
    r.add_argument("--algos", default="sac,dqn,pqn,td3")
    r.add_argument("--seeds", default="1,8")
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument("--rejax-python", default=os.path.join(HERE, "..", ".venv-rejax", "bin", "python"))
    r.add_argument("--json", default=None)
    b = sub.add_parser("brax")
    b.add_argument("--seeds", default="0")
    b.add_argument("--steps", type=int, default=200_000)
    b.add_argument("--evals", type=int, default=11)
    b.add_argument("--json", default=None)
    args = p.parse_args(argv)
    doc = compare_rejax(args) if args.which == "rejax" else compare_brax(args)
    if args.json:
        write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
