"""A/B in one process: the env stack with the posed step (this commit) against the previous physics
step (kinematics after each substep AND again inside the next forward pass), same states and actions.

For each task: both programs of ``benchmarks/envs.py``'s ``jaxrl`` kind (AutoReset(VecEnv(task)), the
model a constant, random actions, observations and rewards consumed) compiled (timed: trace + lower +
XLA), then ``--repeats`` interleaved rounds, medians. The previous step is rebuilt here by patching
``MjxTask.physics_step`` while its program is traced.

    python benchmarks/results/posed_step_2026-12-07/posed_ab.py --tasks reacher_easy,cheetah_run --envs 256 --steps 100 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
from envs import jaxrl_compiled, run_rounds, start_state  # noqa: E402

from jaxrl import envs  # noqa: E402
from jaxrl.envs import mjx_env  # noqa: E402
from jaxrl.envs.mjx_env import MjxTask, mj_step, mjx  # noqa: E402

NEW_STEP = MjxTask.physics_step


def previous_physics_step(self, params, data, action):
    """The physics step before this commit (c.f. git show ecb417e:envs/mjx_env.py)."""
    spec = self.action_spec
    ctrl = jnp.clip(action.astype(jnp.float32), spec.low_array(), spec.high_array())
    data = data.replace(ctrl=ctrl)
    if self.n_substeps == 1:
        data = mj_step(params.model, data)
    else:
        data = jax.lax.fori_loop(0, self.n_substeps, lambda _, d: mj_step(params.model, d), data)
    return mjx.kinematics(params.model, data) if self.refresh_poses else data


def divergence(task: str, physics: str, steps: int, **opts) -> str:
    """``benchmarks/env_hashes.py``'s trajectory (3 envs, 15-step episodes, random actions) with both
    steps: per step, the max |difference| of observations and rewards, and the share of bit-equal entries."""
    from env_hashes import trajectory

    MjxTask.physics_step = previous_physics_step
    try:
        _, (obs_a, rew_a, *_) = trajectory(task, steps, 15, physics=physics, **opts)
    finally:
        MjxTask.physics_step = NEW_STEP
    _, (obs_b, rew_b, *_) = trajectory(task, steps, 15, physics=physics, **opts)
    obs_a, obs_b = np.asarray(obs_a, np.float64), np.asarray(obs_b, np.float64)
    d_obs = np.abs(obs_a - obs_b).reshape(steps, -1).max(1)
    d_rew = np.abs(np.asarray(rew_a, np.float64) - np.asarray(rew_b)).max(1)
    eq = np.mean(obs_a == obs_b)
    at = lambda d: " / ".join(f"{d[i]:.1e}" for i in (0, 4, 14, steps - 1))  # noqa: E731
    return f"| {task} ({physics}) | {eq:.1%} | {at(d_obs)} | {at(d_rew)} |"


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", required=True)
    p.add_argument("--physics", default="faithful")
    p.add_argument("--envs", type=int, default=256)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--diff", action="store_true", help="trajectory differences instead of speed")
    a = p.parse_args(argv)
    if a.diff:
        print("| task | obs bit-equal | max obs diff at steps 1 / 5 / 15 / last | max reward diff, same steps |")
        print("|---|---:|---|---|")
        for task in a.tasks.split(","):
            print(divergence(task, a.physics, a.steps), flush=True)
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, "
          f"mjx {mjx.__version__ if hasattr(mjx, '__version__') else '?'}; {a}", flush=True)
    print("| task | previous steps/s | posed steps/s | posed/previous | compile s previous / posed | optimised HLO instructions previous / posed | outputs' sum, rel. diff |", flush=True)
    print("|---|---:|---:|---:|---|---|---:|", flush=True)
    for task in a.tasks.split(","):
        env, params = envs.make(task, physics=a.physics)
        state, _ = start_state(env, params, a.envs)
        MjxTask.physics_step = previous_physics_step
        try:
            old = jaxrl_compiled(env, params, state, a.envs, a.steps)
        finally:
            MjxTask.physics_step = NEW_STEP
        new = jaxrl_compiled(env, params, state, a.envs, a.steps)
        same = [jax.tree.leaves(jax.block_until_ready(prog.compiled(*prog.args)))[-1] for prog in (old, new)]
        ops = [sum(1 for line in prog.compiled.as_text().splitlines() if " = " in line) for prog in (old, new)]
        rel = abs(float(same[0]) - float(same[1])) / abs(float(same[0]))  # rounding, grown over the rollout
        res = run_rounds({"previous": old, "posed": new}, a.repeats)
        o, n = res["previous"], res["posed"]
        print(f"| {task} ({a.physics}) | {o['steps_per_s']:,.0f} | {n['steps_per_s']:,.0f} | "
              f"{n['steps_per_s'] / o['steps_per_s']:.2f} | {o['compile_s']:.1f} / {n['compile_s']:.1f} | {ops[0]:,} / {ops[1]:,} | {rel:.1e} |", flush=True)


if __name__ == "__main__":
    main()
