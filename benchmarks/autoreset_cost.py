#!/usr/bin/env python
"""What the wrapper stack costs a light task, piece by piece (issue 18 item 4: the reacher at 0.86-0.88 of
the like-for-like loop).

    python benchmarks/autoreset_cost.py [--tasks reacher_easy,cartpole_balance] [--physics fast] [--envs 256]
                                        [--steps 400] [--repeats 5]

Per task, five programs from the same states with the same actions (``benchmarks/envs.py``'s
machinery), compiled first, then timed in interleaved rounds (medians):

* ``stack``: ``AutoReset(VecEnv(env))`` as every trainer runs it (the reset under ``lax.cond``);
* ``select``: the same, but the reset computed at every step and picked by a select (no ``cond``),
  as a vmapped sweep runs it anyway;
* ``keyed``: the reset under a ``cond`` whose only operand is the key (zeros when no episode ended),
  picked by a select outside it (so the ``cond`` does not carry the whole batched state);
* ``no_reset``: ``VecEnv(env)`` (TimeLimit inside, no auto-reset);
* ``same``: ``vmap`` of the task's ``physics_step`` + ``observe`` + ``reward`` (no wrapper at all).
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import jax.numpy as jnp
from common import machine_info, write_json
from envs import _action_bounds, compile_program, run_rounds, same_outputs_compiled, stack_run, start_state

from jaxrl.envs import make
from jaxrl.wrappers import AutoReset, VecEnv, _where


@dataclasses.dataclass(frozen=True)
class SelectReset(AutoReset):
    """AutoReset without the ``cond``: the reset is computed at every step and selected where done."""

    def step(self, key, state, action, params):
        step_key, reset_key = jax.random.split(key)
        state, ts = self.env.step(step_key, state, action, params)
        reset_state, reset_ts = self.env.reset(reset_key, params)
        obs = _where(ts.done, reset_ts.obs, ts.obs)
        return _where(ts.done, reset_state, state), ts._replace(obs=obs, info={**ts.info, "final_obs": ts.obs})


def _zeros_like(shapes):
    """Zeros of ``shapes`` (a tree of ShapeDtypeStructs; typed PRNG keys as keys of zero data)."""

    def zero(s):
        if jax.dtypes.issubdtype(s.dtype, jax.dtypes.prng_key):
            data = jax.eval_shape(jax.random.key_data, s)
            return jax.random.wrap_key_data(jnp.zeros(data.shape, data.dtype), impl=jax.random.key_impl(s))
        return jnp.zeros(s.shape, s.dtype)

    return jax.tree.map(zero, shapes)


@dataclasses.dataclass(frozen=True)
class KeyedReset(AutoReset):
    """The reset under a ``cond`` whose only operands are the key (zeros when no episode ended), selected outside."""

    def step(self, key, state, action, params):
        step_key, reset_key = jax.random.split(key)
        state, ts = self.env.step(step_key, state, action, params)
        reset = lambda k: self.env.reset(k, params)
        reset_state, reset_ts = jax.lax.cond(jnp.any(ts.done), reset, lambda k: _zeros_like(jax.eval_shape(reset, k)), reset_key)
        obs = _where(ts.done, reset_ts.obs, ts.obs)
        return _where(ts.done, reset_state, state), ts._replace(obs=obs, info={**ts.info, "final_obs": ts.obs})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="reacher_easy,cartpole_balance")
    p.add_argument("--physics", default="fast")
    p.add_argument("--envs", type=int, default=256)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    rows = []
    for task in a.tasks.split(","):
        env, params = make(task, physics=a.physics)
        state, data = start_state(env, params, a.envs)
        bounds = _action_bounds(env.action_spec)
        n = a.envs * a.steps
        programs = {
            name: compile_program(stack_run(wrap(VecEnv(env, num_envs=a.envs)), a.envs, a.steps, *bounds),
                                  (jax.random.key(1), state), params, False, n)
            for name, wrap in (("stack", AutoReset), ("select", SelectReset), ("keyed", KeyedReset), ("no_reset", lambda v: v))
        }
        programs["same"] = same_outputs_compiled(env, params, data, a.envs, a.steps)
        res = run_rounds(programs, a.repeats)
        same = res["same"]["run_s"]
        print(f"{task} ({a.physics}): " + "  ".join(
            f"{k} {v['steps_per_s']:,.0f}/s ({same / v['run_s']:.2f} of same, compile {v['compile_s']:.1f} s)" for k, v in res.items()),
            flush=True)
        rows.append({"task": task, "physics": a.physics, **res})
    write_json(a.json, {"benchmark": "autoreset_cost", "envs": a.envs, "steps": a.steps, "repeats": a.repeats, "rows": rows,
                        "machine": machine_info()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
