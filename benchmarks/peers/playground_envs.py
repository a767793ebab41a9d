#!/usr/bin/env python
"""MuJoCo Playground's DM Control tasks, timed like benchmarks/envs.py times jaxrl's (run in Playground's venv).

    .venv-playground/bin/python benchmarks/peers/playground_envs.py --tasks cartpole_balance,walker_walk \
        --envs 1024 --steps 100 --repeats 3 --json out.json

Each task is ``mujoco_playground.registry.load(<Playground name>, config_overrides={"impl": "jax"})``
(Playground defaults to the Warp backend, NVIDIA only; "jax" is MJX's portable backend, the one
jaxrl uses) wrapped as Playground's Brax trainers wrap it (``wrap_for_brax_training``: vmap, episode
length 1000, auto-reset to a cached first state). ONE ``jax.jit`` of a ``lax.scan`` over ``--steps``
env steps of ``--envs`` envs, uniformly random actions in [-1, 1] drawn in the graph; compile timed
apart (``lower().compile()``); run ``--repeats`` times, median (``common.time_program``, shared with
benchmarks/envs.py). Nothing here imports jaxrl (Playground lives in its own venv, see setup_playground.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # benchmarks/: common.py
from common import physics_settings, time_program  # noqa: E402  (jax, mujoco and the standard library only)

# jaxrl task name -> Playground registry name (the DM Control suite tasks both have).
NAMES = {
    "cartpole_balance": "CartpoleBalance", "cartpole_balance_sparse": "CartpoleBalanceSparse",
    "cartpole_swingup": "CartpoleSwingup", "cartpole_swingup_sparse": "CartpoleSwingupSparse",
    "pendulum_swingup": "PendulumSwingup", "acrobot_swingup": "AcrobotSwingup",
    "acrobot_swingup_sparse": "AcrobotSwingupSparse", "point_mass_easy": "PointMass",
    "reacher_easy": "ReacherEasy", "reacher_hard": "ReacherHard", "finger_spin": "FingerSpin",
    "finger_turn_easy": "FingerTurnEasy", "finger_turn_hard": "FingerTurnHard", "cheetah_run": "CheetahRun",
    "walker_stand": "WalkerStand", "walker_walk": "WalkerWalk", "walker_run": "WalkerRun",
    "hopper_stand": "HopperStand", "hopper_hop": "HopperHop",
}


def bench(name: str, num_envs: int, steps: int, repeats: int) -> dict:
    from mujoco_playground import registry, wrapper

    env = registry.load(name, config_overrides={"impl": "jax"})
    venv = wrapper.wrap_for_brax_training(env, episode_length=1000, action_repeat=1)

    def run(key, state):
        def body(state, k):
            action = jax.random.uniform(k, (num_envs, env.action_size), minval=-1.0, maxval=1.0)
            state = venv.step(state, action)
            return state, jnp.sum(state.reward) + jnp.sum(state.obs)  # consume obs (else dead code)

        state, rewards = jax.lax.scan(body, state, jax.random.split(key, steps))
        return state, jnp.sum(rewards)

    state = jax.jit(venv.reset)(jax.random.split(jax.random.PRNGKey(0), num_envs))
    out = time_program(run, (jax.random.PRNGKey(1), state), repeats)
    solver = physics_settings(env.mj_model, env.n_substeps)
    return {"name": name, **out, "steps_per_s": num_envs * steps / out["run_s"], "n_substeps": env.n_substeps,
            "control_dt": env.dt, "solver": solver}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", required=True, help="jaxrl task names, comma-separated")
    p.add_argument("--envs", type=int, default=1024)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args()
    versions = {d: metadata.version(d) for d in ("playground", "jax", "jaxlib", "mujoco", "mujoco-mjx")}
    doc = {"machine": {"python": platform.python_version(), "versions": versions,
                       "jax_devices": [str(d) for d in jax.devices()], "loadavg_at_start": os.getloadavg()},
           "tasks": {}}
    for task in a.tasks.split(","):
        if task not in NAMES:
            print(f"[playground] {task}: no Playground version, skipped", flush=True)
            continue
        doc["tasks"][task] = r = bench(NAMES[task], a.envs, a.steps, a.repeats)
        print(f"[playground] {task:24s} {r['name']:22s} {r['steps_per_s']:>10,.0f} steps/s "
              f"(compile {r['compile_s']:.1f} s)", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
