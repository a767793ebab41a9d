"""What the stuck seed's agent does (the probe's 30k-agent-step state, pickled by swingup_probe.py to
/tmp/swingup_probe_30000.pkl): one episode of 4 envs for the prior's mean and for the greedy planner;
the pole angle from upright (qpos[1], wrapped), how many full turns it makes, the cart position and
the per-step reward over the last 250 agent steps.

    python benchmarks/results/tdmpc_swingup_probe_2026-12-06/what_it_does.py
"""
import dataclasses
import pickle

import jax
import numpy as np

from jaxrl import envs, evaluate
from jaxrl.algos import tdmpc
from jaxrl.envs.mjx_env import MjxState
from jaxrl.wrappers import VecEnv, find_state

env, params = envs.make("cartpole_swingup", action_repeat=2)
cfg = tdmpc.TDMPCConfig(total_timesteps=30_000, buffer_size=30_000)
with open("/tmp/swingup_probe_30000.pkl", "rb") as f:
    state = jax.tree.map(jax.numpy.asarray, pickle.load(f))  # the pickle holds NumPy arrays
venv = VecEnv(env, num_envs=4)
for name, over in [("prior mean", dict(plan=False)), ("greedy planner", {})]:
    policy = tdmpc.make_train(dataclasses.replace(cfg, **over), env, params).policy(state)
    out = jax.jit(lambda k: evaluate.episode_scan(k, venv, params, policy, 500,
                                                  record=lambda s: find_state(s, MjxState).data.qpos))(jax.random.key(7))
    qpos = np.asarray(out["record"])  # [T, B, 2]: cart x, pole angle (0 = upright)
    angle = np.unwrap(qpos[..., 1], axis=0)
    late = slice(250, 500)
    turns = np.abs(angle[-1] - angle[250]) / (2 * np.pi)
    upright = np.cos(qpos[late, :, 1])
    print(f"{name}: return {np.asarray(out['return']).round(1).tolist()}")
    print(f"  last 250 agent steps: full turns of the pole {turns.round(1).tolist()}, mean cos(angle) {upright.mean(0).round(2).tolist()}, "
          f"cart x in [{qpos[late, :, 0].min():.2f}, {qpos[late, :, 0].max():.2f}], reward per agent step "
          f"{np.asarray(out['reward'])[late].mean(0).round(2).tolist()}")
