"""Each wrapper alone, on a tiny deterministic env whose every number is known."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from jaxrl.env import Env, timestep
from jaxrl.spaces import Box, Discrete, SpecError, scale_action, to_unit
from jaxrl.wrappers import (
    AutoReset, EpisodeStats, NormalizeObs, RunningMeanStd, TimeLimit, VecEnv, find_state, training_stack,
)


@struct.dataclass
class CountParams:
    terminal_at: jax.Array  # the episode terminates when the counter reaches this


@struct.dataclass
class CountState:
    t: jax.Array
    start: jax.Array


@dataclasses.dataclass(frozen=True)
class Counter(Env):
    """obs = [start + t]; reward = action + 1; terminates at t == terminal_at. start ~ U{0..9}."""

    @property
    def observation_spec(self):
        return Box((1,))

    @property
    def action_spec(self):
        return Discrete(3)

    def default_params(self):
        return CountParams(jnp.asarray(5))

    def reset(self, key, params):
        start = jax.random.randint(key, (), 0, 10).astype(jnp.float32)
        s = CountState(jnp.zeros((), jnp.int32), start)
        return s, timestep(jnp.array([start]))

    def step_env(self, key, state, action, params):
        t = state.t + 1
        s = CountState(t, state.start)
        return s, timestep(jnp.array([state.start + t]), action.astype(jnp.float32) + 1.0, t >= params.terminal_at)


ENV = Counter()
PARAMS = ENV.default_params()


def run(env, params, actions, key=0):
    """Step ``env`` through ``actions`` under one jit; return the stacked TimeSteps."""

    @jax.jit
    def go(key):
        state, ts0 = env.reset(key, params)

        def body(state, xs):
            k, a = xs
            state, ts = env.step(k, state, a, params)
            return state, ts

        keys = jax.random.split(jax.random.key(1), len(actions))
        return ts0, jax.lax.scan(body, state, (keys, jnp.asarray(actions)))[1]

    return go(jax.random.key(key))


def test_time_limit_truncates_exactly_and_termination_wins():
    ts0, ts = run(TimeLimit(ENV, max_steps=3), CountParams(jnp.asarray(100)), np.zeros(5, np.int32))
    np.testing.assert_array_equal(ts.truncated[:3], [False, False, True])
    assert not ts.terminated.any()
    # Terminal on the same step as the limit: terminated, not truncated.
    _, ts = run(TimeLimit(ENV, max_steps=3), CountParams(jnp.asarray(3)), np.zeros(3, np.int32))
    np.testing.assert_array_equal(ts.terminated, [False, False, True])
    np.testing.assert_array_equal(ts.truncated, [False, False, False])
    with pytest.raises(ValueError, match="max_steps"):
        TimeLimit(ENV, max_steps=0)


def test_auto_reset_keeps_true_final_obs():
    env = AutoReset(TimeLimit(ENV, max_steps=4))
    ts0, ts = run(env, CountParams(jnp.asarray(3)), np.zeros(7, np.int32))
    start = float(ts0.obs[0])
    done = np.asarray(ts.done)
    np.testing.assert_array_equal(done, [False, False, True, False, False, True, False])
    final = np.asarray(ts.info["final_obs"][:, 0])
    obs = np.asarray(ts.obs[:, 0])
    # First episode: obs start+1, start+2, then the final obs start+3 is kept in info.
    np.testing.assert_allclose(final[:3], start + np.arange(1, 4))
    np.testing.assert_allclose(obs[:2], final[:2])  # not done: obs == final_obs
    # After the reset the counter restarts from a fresh start value s2: obs[2] = s2, obs[3] = s2 + 1.
    s2 = obs[2]
    np.testing.assert_allclose(obs[3:5], s2 + np.arange(1, 3))
    np.testing.assert_allclose(final[5], s2 + 3)
    assert ts.terminated[2] and ts.reward[2] == 1.0  # flags and reward describe the step taken


def test_auto_reset_on_a_batch_resets_only_done_envs():
    env = AutoReset(VecEnv(TimeLimit(ENV, max_steps=10), num_envs=3, batched_params=True))
    params = CountParams(jnp.array([2, 3, 100]))  # env 0 ends after 2 steps, env 1 after 3
    state, ts0 = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    zeros = jnp.zeros(3, jnp.int32)
    state, ts1 = step(jax.random.key(1), state, zeros, params)
    assert not ts1.done.any()
    np.testing.assert_allclose(ts1.obs, ts0.obs + 1)
    state, ts2 = step(jax.random.key(2), state, zeros, params)
    np.testing.assert_array_equal(ts2.done, [True, False, False])
    np.testing.assert_allclose(ts2.info["final_obs"], ts0.obs + 2)  # true final obs for every env
    np.testing.assert_allclose(ts2.obs[1:], ts0.obs[1:] + 2)  # the others just continue
    np.testing.assert_array_equal(state.inner.t, [0, 2, 2])  # only env 0 was reset
    state, ts3 = step(jax.random.key(3), state, zeros, params)
    np.testing.assert_array_equal(ts3.done, [False, True, False])
    np.testing.assert_array_equal(state.inner.t, [1, 0, 3])
    np.testing.assert_allclose(ts3.obs[0], ts2.obs[0] + 1)  # env 0 counts on from its new start


@dataclasses.dataclass(frozen=True)
class CountedResets(Counter):
    """Counter whose reset reports each time it is computed (a host callback, in compiled programs too)."""

    calls: list = dataclasses.field(default_factory=list, compare=False, hash=False)

    def reset(self, key, params):
        jax.debug.callback(lambda: self.calls.append(1))
        return super().reset(key, params)


@pytest.mark.parametrize("order", ["AutoReset(VecEnv)", "VecEnv(AutoReset)"])
def test_a_swept_auto_reset_resets_only_when_an_episode_ends_and_equals_each_run_alone(order):
    """Runs vmapped around ``AutoReset(VecEnv)`` (a sweep: each run its own params, so ``done`` is
    batched over runs) compute the reset only on steps where some env of some run ended (a plain
    ``lax.cond`` under ``vmap`` would select, resetting at every step), with each run's numbers as
    when it runs alone; also with the envs' vmap between the runs' and the wrapper (nested vmaps)."""
    env = CountedResets()
    limited = TimeLimit(env, max_steps=100)
    if order == "AutoReset(VecEnv)":
        stacked = AutoReset(VecEnv(limited, num_envs=2, batched_params=True))
    else:
        stacked = VecEnv(AutoReset(limited), num_envs=2, batched_params=True)
    params = CountParams(jnp.array([[4, 6], [6, 100]]))  # [runs, envs]: ends at steps 4 and 6 only (over 7)

    def go(key, params):
        state, ts0 = stacked.reset(key, params)

        def body(state, k):
            state, ts = stacked.step(k, state, jnp.ones(2, jnp.int32), params)
            return state, (ts.obs, ts.done)

        return jax.lax.scan(body, state, jax.random.split(jax.random.key(3), 7))[1]

    keys = jax.random.split(jax.random.key(0), 2)
    swept = jax.jit(jax.vmap(go))
    jax.block_until_ready(swept(keys, params))  # compiled and run once
    jax.effects_barrier()
    env.calls.clear()
    obs, done = jax.block_until_ready(swept(keys, params))
    jax.effects_barrier()
    # The reset at start (one program call, vmapped) and at the two steps where an episode ended.
    assert len(env.calls) == 3, len(env.calls)
    np.testing.assert_array_equal(np.asarray(done).any(axis=(0, 2)), [0, 0, 0, 1, 0, 1, 0])
    for i in range(2):
        alone_obs, alone_done = jax.jit(go)(keys[i], jax.tree.map(lambda x: x[i], params))
        np.testing.assert_array_equal(obs[i], alone_obs)
        np.testing.assert_array_equal(done[i], alone_done)


def test_auto_reset_differentiates_as_a_plain_cond():
    """Gradients through steps that reset, alone, ``vmap`` of ``grad`` and ``grad`` of ``vmap``: those of
    the same steps written with ``lax.cond``; the auto-reset's skip under ``vmap`` does not block them."""

    @dataclasses.dataclass(frozen=True)
    class Smooth(Env):  # obs = position; reset draws it, step moves it by sin(action + position)
        @property
        def observation_spec(self):
            return Box((1,))

        @property
        def action_spec(self):
            return Box((1,))

        def default_params(self):
            return CountParams(jnp.asarray(3))

        def reset(self, key, params):
            x = jax.random.uniform(key, (1,))
            return CountState(jnp.zeros((), jnp.int32), x), timestep(x)

        def step_env(self, key, state, action, params):
            x = state.start + jnp.sin(action + state.start)
            return CountState(state.t + 1, x), timestep(x, jnp.sum(x ** 2), state.t + 1 >= params.terminal_at)

    def returns(env, action_scale, terminal_at):
        params = CountParams(terminal_at)
        state, _ = env.reset(jax.random.key(0), params)

        def body(state, k):
            state, ts = env.step(k, state, action_scale * jnp.ones((2, 1)), params)
            return state, ts.reward.sum()

        return jax.lax.scan(body, state, jax.random.split(jax.random.key(1), 7))[1].sum()

    class CondReset(AutoReset):  # the plain lax.cond the wrapper's skip must differentiate as
        def step(self, key, state, action, params):
            from jaxrl.wrappers import _where
            step_key, reset_key = jax.random.split(key)
            state, ts = self.env.step(step_key, state, action, params)

            def with_reset(s):
                reset_state, reset_ts = self.env.reset(reset_key, params)
                return _where(ts.done, reset_state, s), _where(ts.done, reset_ts.obs, ts.obs)

            state, obs = jax.lax.cond(jnp.any(ts.done), with_reset, lambda s: (s, ts.obs), state)
            return state, ts._replace(obs=obs)

    envs = [wrapper(VecEnv(Smooth(), num_envs=2)) for wrapper in (AutoReset, CondReset)]
    scales, ends = jnp.array([0.5, 1.5]), jnp.array([3, 100])
    got = [jax.jit(jax.grad(lambda a, e: returns(env, a, e)))(0.5, 3) for env in envs]
    np.testing.assert_allclose(got[0], got[1], rtol=1e-6)
    assert got[0] != 0.0
    swept = [jax.jit(jax.vmap(jax.grad(lambda a, e: returns(env, a, e))))(scales, ends) for env in envs]
    np.testing.assert_allclose(swept[0], swept[1], rtol=1e-6)
    assert float(swept[0][0]) == pytest.approx(float(got[0]), rel=1e-6)
    # A gradient OF a vmap (a meta-gradient's mean over seeds): the batched reset is transposed too.
    of_swept = [jax.jit(jax.grad(lambda a: jax.vmap(lambda e: returns(env, a, e))(ends).mean()))(0.5) for env in envs]
    np.testing.assert_allclose(of_swept[0], of_swept[1], rtol=1e-6)
    assert of_swept[0] != 0.0


def test_episode_stats():
    env = EpisodeStats(AutoReset(TimeLimit(ENV, max_steps=10)))
    actions = np.array([0, 1, 2, 1, 1, 0, 0], np.int32)  # rewards 1 2 3 | 2 2 1 | 1
    _, ts = run(env, CountParams(jnp.asarray(3)), actions)
    np.testing.assert_allclose(ts.info["episode_return"], [1, 3, 6, 2, 4, 5, 1])
    np.testing.assert_allclose(ts.info["episode_length"], [1, 2, 3, 1, 2, 3, 1])
    np.testing.assert_allclose(ts.info["returned_episode_return"], [0, 0, 6, 6, 6, 5, 5])
    np.testing.assert_allclose(ts.info["returned_episode_length"], [0, 0, 3, 3, 3, 3, 3])


def test_vec_env_equals_python_loop_and_checks_batch():
    venv = VecEnv(ENV, num_envs=4)
    key = jax.random.key(3)
    state, ts = jax.jit(venv.reset)(key, PARAMS)
    keys = jax.random.split(key, 4)
    for i in range(4):
        s_i, ts_i = ENV.reset(keys[i], PARAMS)
        np.testing.assert_allclose(ts.obs[i], ts_i.obs)
    actions = jnp.array([0, 1, 2, 0], jnp.int32)
    state2, ts2 = jax.jit(venv.step)(key, state, actions, PARAMS)
    np.testing.assert_allclose(ts2.reward, [1, 2, 3, 1])
    assert ts2.obs.shape == (4, 1)
    with pytest.raises(SpecError, match=r"shape \(4,\)"):
        venv.step(key, state, jnp.zeros((3,), jnp.int32), PARAMS)
    with pytest.raises(SpecError, match="integer"):
        venv.step(key, state, jnp.zeros((4,), jnp.float32), PARAMS)


def test_vec_env_batched_params():
    venv = VecEnv(ENV, num_envs=2, batched_params=True)
    params = CountParams(jnp.array([1, 2]))
    state, _ = venv.reset(jax.random.key(0), params)
    _, ts = venv.step(jax.random.key(1), state, jnp.zeros(2, jnp.int32), params)
    np.testing.assert_array_equal(ts.terminated, [True, False])


def test_single_env_action_check():
    state, _ = ENV.reset(jax.random.key(0), PARAMS)
    with pytest.raises(SpecError, match="Counter.step action"):
        ENV.step(jax.random.key(0), state, jnp.zeros((2,), jnp.int32), PARAMS)


def test_running_mean_std_matches_numpy():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(3.0, 2.0, size=(n, 2)).astype(np.float32) for n in (5, 17, 8)]
    stats = RunningMeanStd.create((2,))
    for c in chunks:
        stats = stats.update(jnp.asarray(c))
    data = np.concatenate(chunks)
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-4)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-3)
    x = jnp.asarray(data[:3])
    np.testing.assert_allclose(stats.normalize(x), (data[:3] - data.mean(0)) / data.std(0), rtol=1e-3, atol=1e-3)


def test_normalize_obs_on_vec_env():
    env = NormalizeObs(VecEnv(AutoReset(TimeLimit(ENV, max_steps=2)), num_envs=8))
    key = jax.random.key(0)
    state, ts = jax.jit(env.reset)(key, PARAMS)
    assert isinstance(state.stats, RunningMeanStd)
    seen = []
    inner_state, inner_ts = env.env.reset(key, PARAMS)
    seen.append(np.asarray(inner_ts.obs))
    step = jax.jit(env.step)
    for i in range(3):
        k = jax.random.key(10 + i)
        inner_state, inner_ts = env.env.step(k, inner_state, jnp.zeros(8, jnp.int32), PARAMS)
        state, ts = step(k, state, jnp.zeros(8, jnp.int32), PARAMS)
        seen.append(np.asarray(inner_ts.obs))
        data = np.concatenate(seen)
        expected = np.clip((seen[-1] - data.mean(0)) / np.sqrt(data.var(0) + 1e-8), -10, 10)
        np.testing.assert_allclose(ts.obs, expected, rtol=1e-3, atol=1e-3)
        fin = np.clip((np.asarray(inner_ts.info["final_obs"]) - data.mean(0)) / np.sqrt(data.var(0) + 1e-8), -10, 10)
        np.testing.assert_allclose(ts.info["final_obs"], fin, rtol=1e-3, atol=1e-3)
    frozen = NormalizeObs(env.env, update=False)
    s2, _ = frozen.step(key, state, jnp.zeros(8, jnp.int32), PARAMS)
    np.testing.assert_array_equal(s2.stats.count, state.stats.count)


def test_training_stack_and_find_state():
    env = training_stack(TimeLimit(ENV, 5), num_envs=3, normalize_obs=True)
    state, ts = env.reset(jax.random.key(0), PARAMS)
    assert set(ts.info) >= {"final_obs", "episode_return", "returned_episode_return"}
    from jaxrl.wrappers import EpisodeStatsState, TimeLimitState

    assert find_state(state, EpisodeStatsState).episode_return.shape == (3,)
    assert find_state(state, TimeLimitState).t.shape == (3,)
    assert isinstance(env.env.env, AutoReset) and isinstance(env.env.env.env, VecEnv)
    with pytest.raises(LookupError):
        find_state(state, CountParams)
    assert env.observation_spec == Box((1,)) and env.action_spec == Discrete(3)
    assert env.max_steps == 5  # attributes of inner wrappers are reachable
    hash(env)  # envs are hashable (static arguments)


def test_scale_action_and_to_unit_against_numpy():
    """The actors' ``[-1, 1]`` <-> action-box maps (``jaxrl.spaces``, shared by TD3, TD-MPC2 and DreamerV3):
    per-dimension bounds, the inverse on the box, clipping outside it."""
    spec = Box(shape=(2,), low=(-2.0, 0.0), high=(2.0, 0.5))
    x = np.array([[-1.0, -1.0], [0.0, 0.5], [1.0, 1.0]], np.float32)
    expected = np.array([[-2.0, 0.0], [0.0, 0.375], [2.0, 0.5]], np.float32)
    np.testing.assert_allclose(scale_action(spec, jnp.asarray(x)), expected, rtol=1e-6)
    np.testing.assert_allclose(to_unit(spec, jnp.asarray(expected)), x, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(to_unit(spec, jnp.array([[3.0, -1.0]])), [[1.0, -1.0]])  # clipped
