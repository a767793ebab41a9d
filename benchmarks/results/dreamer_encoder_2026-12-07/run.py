"""DreamerV3's ``small_pixels`` on cartpole_balance from 16x16 pixels, the slow test's run (2 seeds,
25k agent steps = 200k frames, 10 evaluations of 8 greedy episodes), with the config fields given as
NAME=VALUE arguments (e.g. ``conv_style=dreamerv3``). Run from the repository root:
``python benchmarks/results/dreamer_encoder_2026-12-07/run.py conv_style=dreamerv3``."""
import ast
import json
import sys
import time

import jax
import numpy as np

sys.path.insert(0, "tests")
from test_offpolicy_learning import _dreamer_preset, _evaluated_run  # noqa: E402

from jaxrl import envs  # noqa: E402
from jaxrl.algos import dreamer  # noqa: E402

fields = {}
for arg in sys.argv[1:]:
    name, value = arg.split("=", 1)
    try:
        fields[name] = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        fields[name] = value
preset = dreamer.presets()["small_pixels"]
env, params = envs.make("cartpole_balance", **preset.env_options)
config, hparams = _dreamer_preset("small_pixels", 25_000, **fields)
start = time.perf_counter()
steps, returns = _evaluated_run(dreamer, config, hparams, env, params, seeds=2, evals=10, episodes=8)
returns = np.asarray(returns)
print(json.dumps({"fields": fields, "agent_steps": np.asarray(steps).tolist(), "returns": returns.round(1).tolist(),
                  "last5_mean": returns[-5:].mean(axis=0).round(1).tolist(), "seconds": round(time.perf_counter() - start),
                  "jax": jax.__version__}))
