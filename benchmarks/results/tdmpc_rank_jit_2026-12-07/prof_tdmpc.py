import time, sys, dataclasses
sys.path.insert(0, "tests")
import jax, numpy as np
t0=time.time()
import test_offpolicy_learning as T
from jaxrl import envs, evaluate
from jaxrl.algos import tdmpc
cfg = tdmpc.TDMPCConfig(**T.TDMPC_PENDULUM)
hp = tdmpc.TDMPCHparams(lr=1e-3, gamma=tdmpc.discount_for(200))
env, params = envs.make("gymnax/Pendulum-v1")
trainer = tdmpc.make_train(cfg, env, params)
keys = jax.random.split(jax.random.key(0), 2)[:1]
f = jax.jit(jax.vmap(trainer, in_axes=(0, None)))
t=time.time(); c = f.lower(keys, hp).compile(); print("train compile", time.time()-t, flush=True)
t=time.time(); state, metrics = c(keys, hp); jax.block_until_ready(state); print("train run", time.time()-t, flush=True)
s = jax.tree.map(lambda x: x[0], state)
t=time.time(); tr, r = evaluate.trained_and_random_returns(jax.random.key(1), env, params, trainer.policy(s), 16, 200); print("eval trained+random", time.time()-t, np.mean(tr), flush=True)
prior = tdmpc.make_train(dataclasses.replace(cfg, plan=False), env, params).policy(s)
t=time.time(); pr = evaluate.episode_returns(jax.random.key(1), env, params, prior, 16, 200); print("prior eval", time.time()-t, flush=True)
t=time.time(); rank = T.prior_q_rank(cfg, env, params, s.agent); print("rank", time.time()-t, rank, flush=True)
print("total", time.time()-t0)
