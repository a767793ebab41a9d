"""Is the posed step's divergence over a long rollout only rounding grown by chaos? For a task, 100 steps
of 3 envs (no reset inside: 1000-step episodes) with random actions: the previous step compiled with
XLA's optimisations against (a) the same previous step compiled at LLVM -O0 (same arithmetic, other
rounding) and (b) the posed step, optimised. Printed: max |obs difference| at steps 1, 10, 25, 50, 100.

    python benchmarks/results/posed_step_2026-12-07/chaos_check.py walker_walk
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..")))
sys.path.insert(0, HERE)
from env_hashes import trajectory  # noqa: E402
from posed_ab import NEW_STEP, previous_physics_step  # noqa: E402

from jaxrl.envs.mjx_env import MjxTask  # noqa: E402


def rollout(task, steps, step_fn, options=None):
    """Every step's observations [steps, 3, ...] of ``env_hashes.trajectory`` (1000-step episodes: no
    reset inside), stepped by ``step_fn``."""
    MjxTask.physics_step = step_fn
    try:
        return np.asarray(trajectory(task, steps, 1000, compiler_options=options)[1][0])
    finally:
        MjxTask.physics_step = NEW_STEP


task = sys.argv[1]
ref = rollout(task, 100, previous_physics_step)
o0 = rollout(task, 100, previous_physics_step, {"xla_backend_optimization_level": 0})
posed = rollout(task, 100, NEW_STEP)
for name, other in (("previous, LLVM -O0", o0), ("posed, optimised", posed)):
    d = np.abs(ref - other).reshape(100, -1).max(1)
    print(f"{task}: previous (optimised) vs {name}: max |obs diff| at steps 1/10/25/50/100: "
          + " / ".join(f"{d[i]:.1e}" for i in (0, 9, 24, 49, 99)), flush=True)
