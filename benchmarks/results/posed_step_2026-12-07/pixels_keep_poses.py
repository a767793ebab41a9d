"""The cart-pole from pixels with and without ``keep_poses`` (this commit sets it in ``make``), same states and
actions, both programs compiled then timed in interleaved rounds (medians); the frames' sums compared.

    python benchmarks/results/posed_step_2026-12-07/pixels_keep_poses.py --envs 64 --image-size 32 --steps 50 --repeats 5
"""
import argparse
import dataclasses
import os
import sys

import jax

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
from envs import jaxrl_compiled, run_rounds, start_state  # noqa: E402

from jaxrl import envs  # noqa: E402
from jaxrl.env import Wrapper  # noqa: E402


def without_kept_poses(env):
    if isinstance(env, Wrapper):
        return dataclasses.replace(env, env=without_kept_poses(env.env))
    return dataclasses.replace(env, keep_poses=False)


p = argparse.ArgumentParser()
p.add_argument("--task", default="cartpole_swingup")
p.add_argument("--physics", default="faithful")
p.add_argument("--envs", type=int, default=64)
p.add_argument("--image-size", type=int, default=32)
p.add_argument("--steps", type=int, default=50)
p.add_argument("--repeats", type=int, default=5)
a = p.parse_args()
env, params = envs.make(a.task, obs="pixels", image_size=a.image_size, physics=a.physics)
assert env.unwrapped.keep_poses
programs, sums = {}, {}
for name, e in (("renderer's own kinematics", without_kept_poses(env)), ("keep_poses", env)):
    state, _ = start_state(e, params, a.envs)
    programs[name] = prog = jaxrl_compiled(e, params, state, a.envs, a.steps)
    sums[name] = float(jax.tree.leaves(prog.compiled(*prog.args))[-1])
res = run_rounds(programs, a.repeats)
print(f"# {a}")
for name, r in res.items():
    ops = sum(1 for line in programs[name].compiled.as_text().splitlines() if " = " in line)
    print(f"| {a.task} ({a.physics}), {name} | {r['steps_per_s']:,.0f} frames/s | compile {r['compile_s']:.1f} s | "
          f"{ops:,} HLO instructions | outputs' sum {sums[name]:.6g} |")
