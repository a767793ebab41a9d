"""PPO: one compile, no retrace on new hparams values, bad input, and that it LEARNS.

Compiled functions are shared through module-scoped fixtures (compile time
dominates on a CPU).
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs, evaluate, runner
from jaxrl.algos import ppo

PROBE_CFG = ppo.PPOConfig(
    total_timesteps=16 * 8 * 60, num_envs=16, num_steps=8, num_minibatches=2, update_epochs=4,
    hidden_sizes=(32, 32), anneal_lr=False,
)
PROBE_HP = ppo.PPOHparams(lr=3e-3, ent_coef=0.0)


def _train_probe(name, seeds=2):
    env, params = envs.make(name)
    train = ppo.make_train(PROBE_CFG, env, params)
    keys = jax.random.split(jax.random.key(0), seeds)
    state, metrics = jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, PROBE_HP)
    return env, params, train, state, metrics


def _eval(env, params, train, state, n=64):
    """Mean deterministic return of each seed's final policy, ``[seeds]``."""

    def one(s, k):
        return evaluate.episode_returns(k, env, params, train.policy(s), n, max_steps=2).mean()

    return np.asarray(jax.jit(jax.vmap(one))(state, jax.random.split(jax.random.key(9), len(state.update_step))))


@pytest.mark.optimized  # a learning threshold (tests/conftest.py)
def test_ppo_learns_discrete_probe():
    """probe_action: optimal value 1, random policy 0.5. A sign error in the surrogate drives it to 0."""
    env, params, train, state, metrics = _train_probe("probe_action")
    assert np.all(np.isfinite(jax.tree.leaves(metrics)[0]))
    rets = _eval(env, params, train, state)
    assert np.all(rets >= 0.95), rets
    assert env.unwrapped.optimal_value() == 1.0


@pytest.mark.optimized  # a learning threshold (tests/conftest.py)
def test_ppo_learns_continuous_probe():
    """probe_continuous: optimal 1; the initial policy (mean ~0, std 1) gets about 1 - E[(a-o)^2] = 1/3 + ... < 0.7."""
    env, params, train, state, metrics = _train_probe("probe_continuous")
    first = float(np.mean(metrics["episode_return"][:, :3]))
    rets = _eval(env, params, train, state)
    assert first < 0.7, first
    assert np.all(rets >= 0.9), rets


@pytest.mark.optimized  # a learning threshold (tests/conftest.py)
def test_ppo_critic_learns_discounted_value():
    """probe_discount: V(t=0) = gamma, V(t=1) = 1. Broken GAE/bootstrapping or value loss misses it."""
    env, params, train, state, _ = _train_probe("probe_discount", seeds=1)
    net = ppo.make_network(PROBE_CFG, env)
    s = jax.tree.map(lambda x: x[0], state)
    obs = jnp.array([[0.0], [1.0]])
    _, v = net.apply(s.params, s.obs_stats.normalize(obs))
    np.testing.assert_allclose(v, [0.99, 1.0], atol=0.05)


# ----------------------------------------------------------------------------- one compile, no retrace


def test_train_traces_once_under_jit_vmap_and_new_values_do_not_retrace():
    env, params = envs.make("probe_obs_reward")
    cfg = PROBE_CFG.replace(total_timesteps=16 * 8 * 2)
    train = ppo.make_train(cfg, env, params)
    counted = chex.assert_max_traces(lambda key, hp: train(key, hp), n=1)
    f = jax.jit(jax.vmap(counted, in_axes=(0, 0)))
    keys = jax.random.split(jax.random.key(0), 2)
    hp1 = jax.tree.map(lambda x: jnp.full((2,), x, jnp.float32), ppo.default_hparams())
    hp2 = hp1.replace(lr=jnp.array([1e-3, 1e-4]), gamma=jnp.array([0.9, 0.5]), clip_eps=jnp.array([0.1, 0.3]))
    s1, m1 = f(keys, hp1)
    s2, m2 = f(keys, hp2)  # a retrace would raise in chex
    assert m1["loss"].shape == (2, cfg.num_updates)
    assert not np.allclose(m1["value_loss"], m2["value_loss"])  # the values really were used
    chex.clear_trace_counter()


def test_chunked_runner_equals_single_jit():
    env, params = envs.make("probe_action")
    cfg = PROBE_CFG.replace(total_timesteps=16 * 8 * 6)
    train = ppo.make_train(cfg, env, params)
    key = jax.random.key(3)
    state, metrics = jax.jit(train)(key, PROBE_HP)
    seen = []
    res = runner.run(train, key, PROBE_HP, chunk_updates=2, on_progress=seen.append)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(res.state.params)):
        np.testing.assert_array_equal(a, b)
    for k in metrics:
        np.testing.assert_array_equal(metrics[k], res.metrics[k])
    assert [p.updates_done for p in seen] == [2, 4, 6] and seen[-1].env_steps == 16 * 8 * 6
    assert int(seen[0].state.update_step) == 2 and seen[0].episode_return is not None
    # A progress callback that returns True stops the run after that chunk.
    stopped = runner.run(train, key, PROBE_HP, chunk_updates=2, on_progress=lambda p: p.updates_done >= 4)
    assert int(stopped.state.update_step) == 4 and stopped.metrics["loss"].shape == (4,)
    np.testing.assert_array_equal(stopped.metrics["loss"], metrics["loss"][:4])


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "changes,match",
    [
        (dict(num_envs=3, num_steps=5, num_minibatches=2), r"num_envs \* num_steps \(= 15\) must be divisible by num_minibatches \(= 2\)"),
        (dict(num_envs=0), "num_envs must be a positive integer"),
        (dict(update_epochs=1.5), "update_epochs must be a positive integer"),
        (dict(activation="swish2"), "activation 'swish2' is unknown"),
        (dict(total_timesteps=10), "less than one update"),
    ],
)
def test_bad_config_is_a_clear_error(changes, match):
    with pytest.raises(ppo.ConfigError, match=match):
        ppo.PPOConfig(**changes)


def test_bad_hparams_are_clear_errors():
    with pytest.raises(ppo.ConfigError, match="unknown PPO hyperparameter.*'learning_rate'.*lr"):
        ppo.as_hparams({"learning_rate": 1e-3})
    with pytest.raises(ppo.ConfigError, match=r"gamma=1.5 is out of range \[0.0, 1.0\]"):
        ppo.validate_hparams(ppo.PPOHparams(gamma=1.5))
    with pytest.raises(ppo.ConfigError, match="lr=-0.1 is out of range"):
        ppo.validate_hparams({"lr": -0.1})
    with pytest.raises(ppo.ConfigError, match="must be a PPOHparams"):
        ppo.as_hparams([0.1, 0.2])


def test_unknown_env_is_a_clear_error():
    with pytest.raises(envs.UnknownEnvError, match="known envs: .*cartpole_balance"):
        envs.make("cartpole_balanse")
