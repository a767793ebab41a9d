"""DreamerV3's ``small_pixels`` on cartpole_balance from 16x16 pixels, the slow test's run (2 seeds,
25k agent steps = 200k frames, 10 evaluations of 8 greedy episodes), with the config fields given as
NAME=VALUE arguments (e.g. ``conv_style=dreamerv3``; ``first_seed=2`` runs seeds 2 and 3 of the same key
split instead). Run from the repository root:
``python benchmarks/results/dreamer_encoder_2026-12-07/run.py conv_style=dreamerv3``."""
import ast
import json
import sys
import time

import jax
import numpy as np

sys.path.insert(0, "tests")
from test_offpolicy_learning import _dreamer_preset  # noqa: E402

from jaxrl import envs, evaluate  # noqa: E402
from jaxrl.algos import dreamer  # noqa: E402

fields = {}
for arg in sys.argv[1:]:
    name, value = arg.split("=", 1)
    try:
        fields[name] = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        fields[name] = value
first_seed = fields.pop("first_seed", 0)
preset = dreamer.presets()["small_pixels"]
env, params = envs.make("cartpole_balance", **preset.env_options)
config, hparams = _dreamer_preset("small_pixels", 25_000, **fields)
start = time.perf_counter()
res = evaluate.evaluated_run(dreamer.make_train(config, env, params), env, params, dreamer.as_hparams(hparams), 2, 10, 8,
                             first_seed=first_seed)
steps, returns = res["env_steps"], np.asarray(res["returns"])
print(json.dumps({"fields": fields, "first_seed": first_seed, "agent_steps": np.asarray(steps).tolist(), "returns": returns.round(1).tolist(),
                  "last5_mean": returns[-5:].mean(axis=0).round(1).tolist(), "seconds": round(time.perf_counter() - start),
                  "jax": jax.__version__}))
