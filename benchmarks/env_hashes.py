"""Fixed-seed fingerprints of every MJX task's trajectories, to show a change to the env stack keeps the numbers.

For each task, preset and observation mode: ``AutoReset(VecEnv(make(task, episode_length=E, ...), 3))``
reset from ``key(0)``, then ``--steps`` steps of uniform random actions (``benchmarks/envs.py``'s
:func:`random_action`, keys split from ``key(1)``), in one ``jit(scan(...))``. The short episodes put
several auto-resets inside the rollout. Printed per case: a SHA-1 (first 12 hex digits) over every
step's observation, reward and termination flags and the final state's leaves. Run it on the old code
and on the new one and compare the lines::

    git stash; python benchmarks/env_hashes.py > old.txt; git stash pop
    python benchmarks/env_hashes.py > new.txt; diff old.txt new.txt    # no output: bit-equal

``--pixels`` adds each task from 12 x 12 pixels (faithful preset). About 6 minutes on a 2-core CPU for
the 19 tasks in both state presets, 10 more with ``--pixels``; ``--tasks`` narrows it, ``--no-states``
leaves the state cases out (``--pixels --no-states``: the pixel cases alone, for a renderer change).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from envs import _action_bounds, mjx_task_names, random_action  # noqa: E402
from state_hashes import fingerprint  # noqa: E402

from jaxrl import envs  # noqa: E402
from jaxrl.wrappers import AutoReset, VecEnv  # noqa: E402


def trajectory(task: str, steps: int, episode_length: int, compiler_options=None, **opts):
    """The final state of the batched env stack and every step's (obs, reward, terminated, truncated);
    ``compiler_options`` go to ``jax.jit`` (e.g. ``{"xla_backend_optimization_level": 0}``)."""
    env, params = envs.make(task, episode_length=episode_length, **opts)
    venv = AutoReset(VecEnv(env, num_envs=3))
    lo, hi = _action_bounds(env.action_spec)

    def run(key):
        state, _ = venv.reset(jax.random.key(0), params)

        def body(state, k):
            action, step_key = random_action(k, 3, lo, hi)
            state, ts = venv.step(step_key, state, action, params)
            return state, (ts.obs, ts.reward, ts.terminated, ts.truncated)

        return jax.lax.scan(body, state, jax.random.split(key, steps))

    return jax.jit(run, compiler_options=compiler_options)(jax.random.key(1))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="all", help="comma-separated task names, or all")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--episode-length", type=int, default=15)
    p.add_argument("--pixels", action="store_true", help="also each task from 12 x 12 pixels (faithful)")
    p.add_argument("--no-states", action="store_true", help="leave out the state cases (a renderer change)")
    a = p.parse_args(argv)
    if a.no_states and not a.pixels:
        p.error("--no-states leaves only the --pixels cases: give --pixels too")
    tasks = mjx_task_names() if a.tasks == "all" else a.tasks.split(",")
    cases = [] if a.no_states else [(t, {"physics": preset}) for t in tasks for preset in ("faithful", "fast")]
    if a.pixels:
        cases += [(t, {"obs": "pixels", "image_size": 12}) for t in tasks]
    for task, opts in cases:
        t = time.perf_counter()
        digest = fingerprint(trajectory(task, a.steps, a.episode_length, **opts))
        label = ",".join(f"{k}={v}" for k, v in opts.items())
        print(f"{task} {label} {digest}", flush=True)
        print(f"  ({time.perf_counter() - t:.1f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
