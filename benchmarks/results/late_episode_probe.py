# Diagnostic: bare vmap(mjx.step) throughput from reset states vs from states 900 random-action steps in
# (carts at the slider limit). Run: python benchmarks/results/late_episode_probe.py
import time, jax, jax.numpy as jnp, numpy as np
from jaxrl import envs, wrappers
from jaxrl.envs.mjx_env import MjxState, mjx
B = 1024
env, p = envs.make('cartpole_balance')
st, _ = jax.jit(wrappers.training_stack(env, B).reset)(jax.random.key(0), p)
d0 = wrappers.find_state(st, MjxState).data
def mk(T):
    def f(d, m, key):
        step = jax.vmap(lambda d, u: mjx.step(m, d.replace(ctrl=u)))
        return jax.lax.scan(lambda d, k: (step(d, jax.random.uniform(k, (B, 1), minval=-1., maxval=1.)), None), d, jax.random.split(key, T))[0]
    return f
f100 = jax.jit(mk(100)).lower(d0, p.model, jax.random.key(1)).compile()
d900 = jax.jit(mk(900))(d0, p.model, jax.random.key(2))
print("at limit after 900:", float(jnp.mean(jnp.abs(d900.qpos[:, 0]) >= 1.79)))
for name, d in [("from reset", d0), ("from step 900", d900)] * 3:
    t = time.perf_counter(); jax.block_until_ready(f100(d, p.model, jax.random.key(3))); print(name, f"{B*100/(time.perf_counter()-t):,.0f} steps/s")
