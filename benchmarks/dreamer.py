"""DreamerV3's cost on a 2-core CPU (or any device): compile time, env steps per second and memory,
from states and from pixels, written to JSON. Its learning curves come from ``benchmarks/curve.py``:

    python benchmarks/dreamer.py speed --json out.json                      # default preset, states and pixels
    python benchmarks/dreamer.py speed --cases states --set deter=256 ...  # any config field or hparam
    python benchmarks/curve.py dreamer --env cartpole_swingup --env-opt action_repeat=2 --steps 100000 --seeds 1

Steps are AGENT steps of the env as made (``action_repeat=2``, DreamerV3's DMC setting: each is two
control steps; with pixels, two frames). The rate is measured once past the random prefill, so it
includes acting (encoder, posterior and actor per env step), the env, and ``replay_ratio`` gradient
steps per agent step (world model, imagination, actor and critic).
"""

from __future__ import annotations

import argparse
import json

import jax
import numpy as np

from common import learner_speed, machine_info, write_json
from jaxrl import configs, envs
from jaxrl.algos import dreamer

CASES = {
    "states": ("cartpole_swingup", dict(action_repeat=2)),
    "pixels32": ("cartpole_balance", dict(obs="pixels", image_size=32, action_repeat=2)),
    "pixels64": ("cartpole_balance", dict(obs="pixels", image_size=64, action_repeat=2)),
}


def param_count(tree) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def speed(args) -> dict:
    config_sets, hp_sets = configs.parse_sets(args.set, dreamer.Config, dreamer.Hparams)
    hp = dreamer.validate_hparams(hp_sets)
    rows = []
    for case in args.cases.split(","):
        name, options = CASES[case]
        env, params = envs.make(name, **options)
        config = dreamer.DreamerConfig(**{"total_timesteps": 10**6, "buffer_size": 100_000, "learning_starts": 1_000,
                                          **config_sets})
        trainer = dreamer.make_train(config, env, params)
        cost = learner_speed(trainer, hp, args.updates, args.repeats)
        agent = jax.eval_shape(trainer.init, jax.random.key(0), hp).agent
        rows.append({"case": case, "env": name, "env_options": options, "compile_s": cost["compile_s"],
                     "agent_steps_per_s": cost["env_steps_per_s"], "grad_steps_per_agent_step": config.replay_ratio,
                     "grad_steps_per_s": cost["env_steps_per_s"] * config.replay_ratio, "runs_s": cost["runs_s"],
                     "model_params": param_count(agent.model), "actor_params": param_count(agent.actor),
                     "critic_params": param_count(agent.critic), "state_bytes": cost["state_bytes"],
                     "replay_bytes": cost["replay_bytes"], "buffer_size": config.buffer_size})
        print(json.dumps(rows[-1]), flush=True)
    return {"benchmark": "dreamer_speed", "updates": args.updates, "set": args.set, "rows": rows, "machine": machine_info()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--cases", default="states,pixels32,pixels64", help=f"comma-separated, of {', '.join(CASES)}")
    sp.add_argument("--updates", type=int, default=100)
    sp.add_argument("--repeats", type=int, default=3)
    sp.add_argument("--set", action="append", default=[], help="config field or hparam NAME=VALUE")
    sp.add_argument("--json", default=None)
    args = p.parse_args(argv)
    doc = speed(args)
    write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
