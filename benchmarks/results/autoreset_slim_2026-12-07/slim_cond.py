"""AutoReset with a `cond` that carries only MuJoCo's integration state (time, qpos, qvel, act, warm start,
ctrl, applied forces, mocap, userdata) of every mjx.Data in the env state; the derived fields (poses, inertias,
constraint rows), which the next step recomputes, stay the stepped ones. A probe (2026-12-07), not adopted."""
import sys, dataclasses
sys.path.insert(0, "benchmarks")
import autoreset_cost as ac
import jax, jax.numpy as jnp
from mujoco import mjx
from jaxrl.wrappers import AutoReset, _where
from jaxrl.control_flow import compute_if

INTEG = ("time","qpos","qvel","act","history","qacc_warmstart","plugin_state","ctrl","qfrc_applied","xfrc_applied","eq_active","mocap_pos","mocap_quat","userdata")
is_data = lambda x: isinstance(x, mjx.Data)
def core(state):
    return jax.tree.map(lambda x: {f: getattr(x, f) for f in INTEG} if is_data(x) else x, state, is_leaf=is_data)
def merge(state, c):
    return jax.tree.map(lambda x, y: x.replace(**y) if is_data(x) else y, state, c, is_leaf=is_data)

@dataclasses.dataclass(frozen=True)
class SlimReset(AutoReset):
    def step(self, key, state, action, params):
        step_key, reset_key = jax.random.split(key)
        state, ts = self.env.step(step_key, state, action, params)
        done = ts.done
        def with_reset(c, obs):
            reset_state, reset_ts = self.env.reset(reset_key, params)
            return _where(done, core(reset_state), c), _where(done, reset_ts.obs, obs)
        c, obs = compute_if(jnp.any(done), with_reset, (core(state), ts.obs), lambda c, obs: (c, obs))
        return merge(state, c), ts._replace(obs=obs, info={**ts.info, "final_obs": ts.obs})

ac.KeyedReset = SlimReset  # reuse the 'keyed' slot
ac.main(sys.argv[1:])
