"""Probe envs: every reward, flag, observation and known value exactly as documented."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl.envs as envs
from jaxrl.envs import make
from jaxrl.envs.probes import PROBES, ActionAgnosticProbe
from jaxrl.spaces import Box, Discrete, SpecError
from jaxrl.wrappers import AutoReset, VecEnv, training_stack

GAMMA = 0.9
N = 256  # episodes per check, one vmapped batch


def _episode(env, params, actions_fn, n=N, max_steps=2, seed=0):
    """Run ``n`` envs (vmapped) for up to ``max_steps`` steps with ``actions_fn(obs) -> action``.

    Returns the reset obs [n, 1] and per step [max_steps, n, ...] obs, reward, terminated, truncated.
    """

    def run(key):
        reset_keys = jax.random.split(key, n)
        state, ts = jax.vmap(env.reset, in_axes=(0, None))(reset_keys, params)
        obs0, steps = ts.obs, []
        for i in range(max_steps):
            action = actions_fn(ts.obs)
            keys = jax.random.split(jax.random.fold_in(key, i), n)
            state, ts = jax.vmap(env.step, in_axes=(0, 0, 0, None))(keys, state, action, params)
            steps.append(ts)
        return obs0, jax.tree.map(lambda *xs: jnp.stack(xs), *steps)

    return jax.jit(run)(jax.random.PRNGKey(seed))


def _check_dtypes(obs0, steps):
    assert obs0.dtype == jnp.float32 and obs0.shape[-1:] == (1,)
    assert steps.obs.dtype == jnp.float32
    assert steps.reward.dtype == jnp.float32
    assert steps.terminated.dtype == jnp.bool_ and steps.truncated.dtype == jnp.bool_
    assert not steps.truncated.any()


def _discrete(fn):
    return lambda obs: fn(obs).astype(jnp.int32)


def test_registered_with_probe_prefix():
    assert sorted(n for n in envs.names() if n.startswith("probe_")) == sorted(PROBES)
    for name, cls in PROBES.items():
        env, params = make(name)
        assert type(env) is cls and env.name == name and params == ()
        assert env.observation_spec == Box((1,))
        hash(env)


@pytest.mark.parametrize("continuous", [False, True])
def test_constant(continuous):
    env, params = make("probe_constant", continuous=continuous)
    assert env.action_spec == (Box((1,), -1.0, 1.0) if continuous else Discrete(2))
    act = (lambda o: jnp.zeros((o.shape[0], 1))) if continuous else _discrete(lambda o: o[:, 0] * 0 + 1)
    obs0, steps = _episode(env, params, act, max_steps=1)
    _check_dtypes(obs0, steps)
    np.testing.assert_array_equal(obs0, 1.0)
    np.testing.assert_array_equal(steps.reward, 1.0)
    assert steps.terminated.all()
    assert env.optimal_value(GAMMA) == env.random_value(GAMMA) == 1.0
    np.testing.assert_array_equal(env.value(obs0, GAMMA), 1.0)


def test_obs_reward():
    env, params = make("probe_obs_reward")
    obs0, steps = _episode(env, params, _discrete(lambda o: jnp.zeros(o.shape[0])), max_steps=1)
    _check_dtypes(obs0, steps)
    assert set(np.unique(obs0)) == {-1.0, 1.0}
    assert 0.35 < float((obs0 > 0).mean()) < 0.65  # both observations are common
    np.testing.assert_array_equal(steps.reward[0], obs0[:, 0])  # reward = obs, whatever the action
    assert steps.terminated.all()
    np.testing.assert_array_equal(env.value(obs0, GAMMA), obs0[:, 0])  # V(+1) = 1, V(-1) = -1
    assert env.optimal_value(GAMMA) == 0.0


def test_obs_reward_ignores_action():
    env, params = make("probe_obs_reward")
    _, a0 = _episode(env, params, _discrete(lambda o: jnp.zeros(o.shape[0])), max_steps=1)
    _, a1 = _episode(env, params, _discrete(lambda o: jnp.ones(o.shape[0])), max_steps=1)
    np.testing.assert_array_equal(a0.reward, a1.reward)


@pytest.mark.parametrize("continuous", [False, True])
def test_discount(continuous):
    env, params = make("probe_discount", continuous=continuous)
    act = (lambda o: jnp.zeros((o.shape[0], 1))) if continuous else _discrete(lambda o: jnp.zeros(o.shape[0]))
    obs0, steps = _episode(env, params, act, max_steps=2)
    _check_dtypes(obs0, steps)
    np.testing.assert_array_equal(obs0, 0.0)
    np.testing.assert_array_equal(steps.obs[0], 1.0)
    np.testing.assert_array_equal(steps.obs[1], 2.0)
    np.testing.assert_array_equal(steps.reward[0], 0.0)
    np.testing.assert_array_equal(steps.reward[1], 1.0)
    assert not steps.terminated[0].any() and steps.terminated[1].all()
    discounted = steps.reward[0] + GAMMA * steps.reward[1]
    np.testing.assert_allclose(discounted, env.optimal_value(GAMMA), rtol=1e-6)
    assert env.optimal_value(GAMMA) == pytest.approx(GAMMA)
    np.testing.assert_allclose(env.value(jnp.array([[0.0], [1.0], [2.0]]), GAMMA), [GAMMA, 1.0, 0.0], rtol=1e-6)


def test_action():
    env, params = make("probe_action")
    assert env.action_spec == Discrete(2)
    optimal = _discrete(lambda o: o[:, 0] > 0)
    obs0, steps = _episode(env, params, optimal, max_steps=1)
    _check_dtypes(obs0, steps)
    assert set(np.unique(obs0)) == {-1.0, 1.0}
    np.testing.assert_array_equal(steps.reward, 1.0)  # the optimal action always gets 1
    assert steps.terminated.all()
    assert float(steps.reward.mean()) == env.optimal_value(GAMMA) == 1.0
    _, wrong = _episode(env, params, _discrete(lambda o: o[:, 0] <= 0), max_steps=1)
    np.testing.assert_array_equal(wrong.reward, 0.0)
    # Each fixed action is right exactly when obs points to it: on average 1/2.
    _, ones = _episode(env, params, _discrete(lambda o: jnp.ones(o.shape[0])), max_steps=1)
    np.testing.assert_array_equal(ones.reward[0], (obs0[:, 0] > 0).astype(np.float32))
    assert env.random_value(GAMMA) == 0.5


def test_action_random_policy_value():
    env, params = make("probe_action")
    key = jax.random.PRNGKey(5)
    _, steps = _episode(env, params, lambda o: jax.random.randint(key, (o.shape[0],), 0, 2), n=4096, max_steps=1)
    assert float(steps.reward.mean()) == pytest.approx(env.random_value(GAMMA), abs=0.03)


def test_continuous():
    env, params = make("probe_continuous")
    assert env.action_spec == Box((1,), -1.0, 1.0)
    obs0, steps = _episode(env, params, lambda o: o, max_steps=1)
    _check_dtypes(obs0, steps)
    assert float(obs0.min()) >= -1.0 and float(obs0.max()) <= 1.0 and float(obs0.std()) > 0.4
    np.testing.assert_array_equal(steps.reward, 1.0)  # a = obs is optimal
    assert steps.terminated.all()
    assert env.optimal_value(GAMMA) == 1.0
    _, off = _episode(env, params, lambda o: o - 0.5 * jnp.sign(o), max_steps=1)
    np.testing.assert_allclose(off.reward, 0.75, rtol=1e-6)
    _, far = _episode(env, params, lambda o: jnp.where(o > 0, -1.0, 1.0), max_steps=1)
    expected = np.clip(1 - (np.where(obs0 > 0, -1.0, 1.0) - obs0) ** 2, 0, 1)[:, 0]
    np.testing.assert_allclose(far.reward[0], expected, atol=1e-6)
    assert float(far.reward.min()) == 0.0  # clipped at 0, never negative
    # Actions outside [-1, 1] are clipped to it first: 5.0 acts as 1.0.
    _, big = _episode(env, params, lambda o: jnp.full_like(o, 5.0), max_steps=1)
    np.testing.assert_allclose(big.reward[0], np.clip(1 - (1.0 - obs0[:, 0]) ** 2, 0, 1), atol=1e-6)


def test_continuous_random_policy_value():
    env, params = make("probe_continuous")
    key = jax.random.PRNGKey(6)
    _, steps = _episode(env, params, lambda o: jax.random.uniform(key, o.shape, minval=-1, maxval=1), n=8192, max_steps=1)
    assert float(steps.reward.mean()) == pytest.approx(env.random_value(GAMMA), abs=0.02)
    assert env.random_value(GAMMA) == pytest.approx(13 / 24)


@pytest.mark.parametrize("name", sorted(PROBES))
def test_wrong_action_kind_raises(name):
    env, params = make(name)
    state, _ = env.reset(jax.random.PRNGKey(0), params)
    bad = jnp.zeros((), jnp.float32) if isinstance(env.action_spec, Discrete) else jnp.zeros((1,), jnp.int32)
    with pytest.raises(SpecError):
        jax.eval_shape(env.step, jax.random.PRNGKey(0), state, bad, params)


@pytest.mark.parametrize("name", sorted(PROBES))
def test_values_documented(name):
    env, _ = make(name)
    for gamma in (0.5, 0.99):
        assert isinstance(env.optimal_value(gamma), float) and isinstance(env.random_value(gamma), float)
        assert env.random_value(gamma) <= env.optimal_value(gamma)
    v = env.value(jnp.zeros((3, 2, 1)), 0.5)
    assert v.shape == (3, 2) and v.dtype == jnp.float32
    assert isinstance(env, ActionAgnosticProbe) == (name in ("probe_constant", "probe_obs_reward", "probe_discount"))


def test_training_stack_auto_resets_probes():
    """Under AutoReset + EpisodeStats + VecEnv, every 2 steps of probe_discount is one episode of return 1."""
    env, params = make("probe_discount")
    venv = training_stack(env, num_envs=3)

    def run(key):
        state, ts = venv.reset(key, params)
        out = []
        for i in range(6):
            state, ts = venv.step(jax.random.fold_in(key, i), state, jnp.zeros((3,), jnp.int32), params)
            out.append(ts)
        return jax.tree.map(lambda *xs: jnp.stack(xs), *out)

    ts = jax.jit(run)(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(ts.terminated[:, 0], [False, True] * 3)
    np.testing.assert_array_equal(ts.obs[:, 0, 0], [1.0, 0.0] * 3)  # auto-reset to [0]
    np.testing.assert_array_equal(ts.info["final_obs"][:, 0, 0], [1.0, 2.0] * 3)
    np.testing.assert_array_equal(ts.info["returned_episode_return"][1::2], 1.0)
    np.testing.assert_array_equal(ts.info["returned_episode_length"][1::2], 2)


def test_one_step_probes_resample_on_auto_reset():
    env, params = make("probe_obs_reward")
    venv = VecEnv(AutoReset(env), num_envs=64)

    def run(key):
        state, ts = venv.reset(key, params)
        obs = [ts.obs]
        for i in range(4):
            state, ts = venv.step(jax.random.fold_in(key, i), state, jnp.zeros((64,), jnp.int32), params)
            obs.append(ts.obs)
        return jnp.stack(obs)

    obs = jax.jit(run)(jax.random.PRNGKey(1))
    assert (obs[1:] != obs[:-1]).any()  # new random observations each episode
    assert set(np.unique(obs)) == {-1.0, 1.0}
