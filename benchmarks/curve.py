"""Learning curves of any registered learner on any env (or any device), written to JSON.

    python benchmarks/curve.py drq --env cartpole_balance --env-opt obs=pixels --env-opt image_size=32 \\
        --env-opt frame_stack=3 --env-opt action_repeat=8 --steps 50000 --seeds 2 --set batch_size=128 --json out.json
    python benchmarks/curve.py tdmpc --env cartpole_swingup --env-opt action_repeat=2 --steps 100000

Steps are AGENT steps of the env as made (with ``action_repeat=k`` each is k control steps, k frames
with pixels: the JSON gives both). Each evaluation is the mean return of ``--episodes`` deterministic
episodes per seed, outside the timed run (:func:`jaxrl.evaluate.evaluated_run`).
"""

from __future__ import annotations

import argparse
import json
import time

from common import machine_info, write_json
from jaxrl import algos, configs, envs, evaluate


def learning_curve(algo_name: str, env_name: str, env_opts: dict, steps: int, seeds: int, evals: int, sets: list[str],
                   episodes: int = 16, threshold: float = 800.0, first_seed: int = 0) -> dict:
    """``seeds`` runs of ``algo_name`` for ``steps`` agent steps (a replay learner's ``buffer_size`` defaults to the run's
    length), ``--set NAME=VALUE`` on its config or hparams; the curve, when each seed first reached
    ``threshold``, compile and run seconds. ``first_seed``: run seeds ``first_seed ..`` of the key split
    (:func:`jaxrl.evaluate.evaluated_run`), to add seeds to an earlier curve one at a time."""
    algo = algos.get(algo_name)
    env, params = envs.make(env_name, **env_opts)
    config_sets, hp_sets = configs.parse_sets(sets, algo.Config, algo.Hparams)
    replay = {"buffer_size": max(steps, 1000)} if "buffer_size" in algo.Config.__dataclass_fields__ else {}  # on-policy: none
    config = algo.Config(**{"total_timesteps": steps, **replay, **config_sets})
    hp = algo.validate_hparams(hp_sets)
    repeat = int(env_opts.get("action_repeat", 1))
    t0 = time.time()
    res = evaluate.evaluated_run(algo.make_train(config, env, params), env, params, hp, seeds, evals, episodes,
                                  first_seed=first_seed)
    curve = [{"agent_steps": int(s), "control_steps": int(s) * repeat, "returns": r.tolist()}
             for s, r in zip(res["env_steps"], res["returns"])]
    first = {str(first_seed + i): next((c["agent_steps"] for c in curve if c["returns"][i] >= threshold), None)
             for i in range(seeds)}  # keyed by the seed's index in the key split
    fields = sorted(f for f in type(config).__dataclass_fields__ if f not in ("optimizer", "objective"))
    return {"benchmark": f"{algo_name}_curve", "env": env_name, "env_options": env_opts, "set": {**config_sets, **hp_sets},
            "seeds": seeds, "first_seed": first_seed, "config": {k: getattr(config, k) for k in fields}, "curve": curve,
            f"first_agent_steps_to_{threshold:g}": first, "compile_s": res["compile_s"], "run_s": res["run_s"],
            "total_s": time.time() - t0, "agent_steps_per_s": steps * seeds / res["run_s"], "machine": machine_info()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("algo")
    p.add_argument("--env", default="cartpole_swingup")
    p.add_argument("--env-opt", action="append", default=[], help="env option NAME=VALUE (e.g. obs=pixels)")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--evals", type=int, default=10)
    p.add_argument("--episodes", type=int, default=16)
    p.add_argument("--threshold", type=float, default=800.0)
    p.add_argument("--first-seed", type=int, default=0, help="run seeds FIRST.. of the key split (add seeds to a curve)")
    p.add_argument("--set", action="append", default=[], help="config field or hparam NAME=VALUE")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    env_opts = configs.parse_options(args.env_opt, envs.options(args.env), f"env {args.env!r}")
    out = learning_curve(args.algo, args.env, env_opts, args.steps, args.seeds, args.evals, args.set, args.episodes,
                         args.threshold, args.first_seed)
    print(json.dumps({k: v for k, v in out.items() if k not in ("config", "machine")}))
    write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
