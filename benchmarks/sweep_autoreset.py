#!/usr/bin/env python
"""What a sweep's env steps cost: the auto-reset's skip kept under ``vmap`` (``AutoReset`` as it is,
:func:`jaxrl.control_flow.compute_if`) against the plain ``lax.cond`` that ``vmap`` turns into a select,
computing the reset at every step (``AutoReset`` before 2026-12-06).

    python benchmarks/sweep_autoreset.py [--tasks reacher_easy,cheetah_run,cartpole_balance:pixels]
        [--physics fast] [--runs 4] [--envs 64] [--steps 500] [--episode 250] [--repeats 5] [--json F]

Per task, two programs ``jit(vmap(run))`` over ``--runs`` runs (each its own key, so its own
trajectories and ``done``: a sweep's state is batched over its runs) of ``--envs`` envs stepped
``--steps`` times with random actions from the same start states, ``--episode`` agent steps per
episode (episodes end together, as DM Control's fixed-length ones do in training: here at steps
250 and 500). ``--runs 0``: one run, no ``vmap`` (both are then a plain ``lax.cond``: what a single
run's programs cost with the new wrapper). Compiled first (timed), then run in ``--repeats`` interleaved rounds (medians); the
two programs' outputs must be equal. ``:pixels`` renders 64 x 64 RGB frames (action repeat 4, as
the pixel agents' presets), whose reset renders a first frame.
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from common import machine_info, write_json
from envs import _action_bounds, compile_program, run_rounds, stack_run

from jaxrl.envs import make
from jaxrl.wrappers import AutoReset, VecEnv, _where


@dataclasses.dataclass(frozen=True)
class CondReset(AutoReset):
    """``AutoReset`` as it was: a plain ``lax.cond`` on ``any(done)`` (a select under ``vmap``)."""

    def step(self, key, state, action, params):
        step_key, reset_key = jax.random.split(key)
        state, ts = self.env.step(step_key, state, action, params)

        def with_reset(state):
            reset_state, reset_ts = self.env.reset(reset_key, params)
            return _where(ts.done, reset_state, state), _where(ts.done, reset_ts.obs, ts.obs)

        state, obs = jax.lax.cond(jnp.any(ts.done), with_reset, lambda s: (s, ts.obs), state)
        return state, ts._replace(obs=obs, info={**ts.info, "final_obs": ts.obs})


def sweep_program(wrapper, env, params, a):
    venv = wrapper(VecEnv(env, num_envs=a.envs))
    run = stack_run(venv, a.envs, a.steps, *_action_bounds(env.action_spec))
    if a.runs == 0:  # one run, no vmap around it: the plain cond either way
        state, _ = jax.jit(venv.reset)(jax.random.key(0), params)
        return compile_program(run, (jax.random.key(1), state), params, False, a.envs * a.steps)
    keys = jax.random.split(jax.random.key(1), a.runs)
    state, _ = jax.jit(jax.vmap(venv.reset, in_axes=(None, None), axis_size=a.runs))(jax.random.key(0), params)
    swept = jax.vmap(run, in_axes=(0, 0, None))
    return compile_program(swept, (keys, state), params, False, a.runs * a.envs * a.steps)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="reacher_easy,cheetah_run,cartpole_balance:pixels")
    p.add_argument("--physics", default="fast")
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--episode", type=int, default=250)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    rows = []
    for spec in a.tasks.split(","):
        task, _, obs = spec.partition(":")
        options = dict(obs="pixels", image_size=64, action_repeat=4) if obs == "pixels" else {}
        # episode_length counts control steps; with action repeat k the time limit is ceil(T / k) agent steps
        env, params = make(task, physics=a.physics, episode_length=a.episode * options.get("action_repeat", 1), **options)
        programs = {name: sweep_program(w, env, params, a) for name, w in (("before", CondReset), ("now", AutoReset))}
        outs = [np.asarray(jax.block_until_ready(prog.compiled(*prog.args))[1]) for prog in programs.values()]
        np.testing.assert_array_equal(*outs)  # the same steps, the same numbers
        res = run_rounds(programs, a.repeats)
        before, now = res["before"], res["now"]
        label = f"{a.runs} runs x {a.envs} envs" if a.runs else f"one run of {a.envs} envs, no vmap"
        print(f"{spec} ({a.physics}, {label}): " + "  ".join(
            f"{k} {v['steps_per_s']:,.0f} env steps/s (compile {v['compile_s']:.1f} s)" for k, v in res.items())
            + f"  now / before {before['run_s'] / now['run_s']:.2f}", flush=True)
        rows.append({"task": spec, "physics": a.physics, **res})
    write_json(a.json, {"benchmark": "sweep_autoreset", "runs": a.runs, "envs": a.envs, "steps": a.steps,
                        "episode": a.episode, "repeats": a.repeats, "rows": rows, "machine": machine_info()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
