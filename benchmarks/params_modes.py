#!/usr/bin/env python
"""How the env params enter the program, and what it costs: one task's env stack four ways.

    python benchmarks/params_modes.py [--task hopper_hop] [--physics fast] [--envs 256] [--steps 20] [--repeats 5]

``AutoReset(VecEnv(...))`` over ``--steps`` env steps of ``--envs`` envs, random actions (the programs of
``benchmarks/envs.py``), with the params:

* ``nominal, closed over``: one ``mjx.Model`` shared by all envs, a constant of the program (trainers);
* ``DomainRandomization``: body masses redrawn per episode (x U(0.8, 1.2)); only the drawn values
  are data, the rest of the nominal model stays constant;
* ``randomize(num=N) + batched_params``: every leaf of the params batched per env (``[N, ...]``),
  closed over;
* ``nominal, traced``: the shared model passed as an argument of the program.

All four compiled first, then timed in interleaved rounds (medians; ``envs.run_rounds``).
"""

from __future__ import annotations

import argparse
import sys

import jax

from envs import _action_bounds, compile_program, run_rounds, stack_run
from jaxrl import envs
from jaxrl.envs.randomize import DomainRandomization, randomize
from jaxrl.wrappers import AutoReset, VecEnv


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="hopper_hop")
    p.add_argument("--physics", default="fast")
    p.add_argument("--envs", type=int, default=256)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args(argv)
    env, params = envs.make(a.task, physics=a.physics)
    lo, hi = _action_bounds(env.action_spec)
    ranges = {"body_mass": ("scale", 0.8, 1.2)}

    def program(venv, p, traced=False):
        state, _ = jax.jit(venv.reset)(jax.random.key(0), p)
        run = stack_run(venv, a.envs, a.steps, lo, hi)
        return compile_program(run, (jax.random.key(1), state), p, traced, a.envs * a.steps)

    batch = randomize(params, jax.random.key(3), ranges, num=a.envs)
    progs = {
        "nominal, closed over": program(AutoReset(VecEnv(env, num_envs=a.envs)), params),
        "DomainRandomization(body_mass)": program(AutoReset(VecEnv(DomainRandomization(env, ranges), num_envs=a.envs)), params),
        "randomize(num=N) + batched_params": program(AutoReset(VecEnv(env, num_envs=a.envs, batched_params=True)), batch),
        "nominal, traced": program(AutoReset(VecEnv(env, num_envs=a.envs)), params, traced=True),
    }
    for name, prog in progs.items():
        print(f"compiled {name} ({prog.compile_s:.1f} s)", flush=True)
    for name, r in run_rounds(progs, a.repeats).items():
        print(f"{name:40s} {r['steps_per_s']:>10,.0f} env steps/s  runs {[round(x, 2) for x in r['runs_s']]}")


if __name__ == "__main__":
    main(sys.argv[1:])
