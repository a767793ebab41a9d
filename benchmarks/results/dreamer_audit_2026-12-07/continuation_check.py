"""Fingerprint DreamerV3's tiny trainer on a continuous and a discrete env, with the continuation's
gradient stopped (new) or not (old: the losses.imagined_returns of 4eb8f08)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))  # benchmarks/
import jax
from state_hashes import fingerprint
from jaxrl import envs
from jaxrl.algos import dreamer
from jaxrl.algos.dreamer import losses
from jaxrl.returns import lambda_returns
import jax.numpy as jnp
if sys.argv[1] == "old":
    def imagined_returns(reward, cont, values, start_weight, hp):
        returns = lambda_returns(reward, values[1:], hp.gamma * cont, hp.lam)
        alive = jnp.concatenate([jnp.ones_like(cont[:1]), jnp.cumprod(cont[:-1], axis=0)], 0)
        return returns, jax.lax.stop_gradient(alive * start_weight[None])
    losses.imagined_returns = imagined_returns
preset = dreamer.presets()["tiny"]
for env_name in ("probe_continuous", "gymnax/CartPole-v1"):
    env, params = envs.make(env_name)
    config = dreamer.DreamerConfig(**preset.config)
    train = dreamer.make_train(config, env, params)
    out = jax.jit(train)(jax.random.key(0), dreamer.as_hparams(dreamer.default_hparams()))
    print(sys.argv[1], env_name, fingerprint(out))
