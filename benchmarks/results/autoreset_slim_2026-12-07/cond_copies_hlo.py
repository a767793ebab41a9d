"""What the auto-reset's `cond` copies: the optimised HLO of 16 steps of AutoReset(VecEnv(reacher_easy fast, 256 envs)),
written to /tmp/reacher_hlo.txt, and the computations that hold copy instructions (2026-12-07)."""
import jax, jax.numpy as jnp, re, collections
from jaxrl.envs import make
from jaxrl.wrappers import AutoReset, VecEnv
env, params = make("reacher_easy", physics="fast")
venv = AutoReset(VecEnv(env, 256))
def run(key):
    state, ts = venv.reset(key, params)
    def body(c, k):
        s = c
        a = jnp.zeros((256, 2))
        s, ts = venv.step(k, s, a, params)
        return s, ts.reward.sum()
    s, r = jax.lax.scan(body, state, jax.random.split(key, 16))
    return s, r
c = jax.jit(run).lower(jax.random.key(0)).compile()
txt = c.as_text()
open("/tmp/reacher_hlo.txt","w").write(txt)
comps = re.split(r"\n(?=\S.*\{\n)", txt)
for comp in comps:
    head = comp.split("\n",1)[0]
    n = len(re.findall(r" copy\(", comp)); 
    if n: print(n, head[:120])
