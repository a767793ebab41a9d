"""TD-MPC2 learning curves on a 2-core CPU (or any device): ``cartpole_swingup`` from states at
action repeat 2 (TD-MPC2's DMC setting), planning vs the policy prior, written to JSON.

    python benchmarks/tdmpc.py curve --env cartpole_swingup --steps 100000 --seeds 2 --json out.json
    python benchmarks/tdmpc.py curve --set plan=False ...        # act with the policy prior instead
    python benchmarks/tdmpc.py speed --iterations 4,12 --json out.json   # compile time, agent steps/s, memory

Steps are AGENT steps of the env as made (``--action-repeat 2``: each is two control steps of the
task; TD-MPC2 reports agent steps). Each evaluation is the mean return of 16 deterministic episodes
per seed (the greedy planner, or the prior's mean with ``plan=False``), outside the timed run.
"""

from __future__ import annotations

import argparse
import json

from common import learner_speed, machine_info, write_json
from curve import learning_curve
from jaxrl import envs
from jaxrl.algos import tdmpc


def curve(args) -> dict:
    """The learning curve (:func:`curve.learning_curve`) with this script's options."""
    env_opts = {"action_repeat": args.action_repeat} if args.action_repeat > 1 else {}
    if args.obs != "state":
        env_opts.update(obs=args.obs, image_size=args.image_size)
    return learning_curve("tdmpc", args.env, env_opts, args.steps, args.seeds, args.evals, args.set,
                          first_seed=args.first_seed)


def speed(args) -> dict:
    """Compile time of a chunk of ``--updates`` updates (``jit(trainer.run_updates)``, the program the
    runner calls) at several MPPI iteration counts, then agent steps per second of planning and of
    prior acting (one run, after the random prefill, median of ``--repeats`` calls), and the state's bytes."""
    env, params = envs.make(args.env, action_repeat=args.action_repeat)
    hp = tdmpc.validate_hparams({})
    base = dict(total_timesteps=10**6, buffer_size=100_000, learning_starts=1_000, replay_ratio=args.replay_ratio)
    rows = []
    for plan, iterations in [(True, i) for i in args.iterations] + [(False, args.iterations[0])]:
        config = tdmpc.TDMPCConfig(**base, plan=plan, iterations=iterations)
        cost = learner_speed(tdmpc.make_train(config, env, params), hp, args.updates, args.repeats)
        rows.append({"plan": plan, "iterations": iterations, "compile_s": cost["compile_s"],
                     "agent_steps_per_s": cost["env_steps_per_s"], "grad_steps_per_agent_step": config.replay_ratio,
                     "state_bytes": cost["state_bytes"], "replay_bytes": cost["replay_bytes"]})
        print(json.dumps(rows[-1]), flush=True)
    return {"benchmark": "tdmpc_speed", "env": args.env, "updates": args.updates, "rows": rows, "machine": machine_info()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("curve")
    c.add_argument("--env", default="cartpole_swingup")
    c.add_argument("--obs", default="state")
    c.add_argument("--image-size", type=int, default=64)
    c.add_argument("--action-repeat", type=int, default=2)
    c.add_argument("--steps", type=int, default=100_000)
    c.add_argument("--seeds", type=int, default=2)
    c.add_argument("--evals", type=int, default=10)
    c.add_argument("--first-seed", type=int, default=0, help="run seeds FIRST.. of the key split (add seeds to a curve)")
    c.add_argument("--set", action="append", default=[], help="config field or hparam NAME=VALUE")
    c.add_argument("--json", default=None)
    sp = sub.add_parser("speed")
    sp.add_argument("--env", default="cartpole_swingup")
    sp.add_argument("--action-repeat", type=int, default=2)
    sp.add_argument("--iterations", type=lambda s: [int(x) for x in s.split(",")], default=[4, 12])
    sp.add_argument("--replay-ratio", type=float, default=1.0)
    sp.add_argument("--updates", type=int, default=250)
    sp.add_argument("--repeats", type=int, default=3)
    sp.add_argument("--json", default=None)
    args = p.parse_args(argv)
    out = curve(args) if args.cmd == "curve" else speed(args)
    print(json.dumps({k: v for k, v in out.items() if k not in ("config", "machine")}))
    write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
