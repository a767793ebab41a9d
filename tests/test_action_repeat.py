"""ActionRepeat (jaxrl/wrappers.py) alone, against a hand loop over the inner env on the Counter env of test_wrappers.

Counter: obs ``[start + t]``, reward ``action + 1``, terminates at ``t == terminal_at``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.wrappers import ActionRepeat, AutoReset, TimeLimit, VecEnv
from test_wrappers import ENV, CountParams

K = 3


def _hand(inner, params, key, actions, k):
    """Apply each action ``k`` times to ``inner`` (one env), one Python step at a time; reset where done."""
    state, ts = inner.reset(key, params)
    out = []
    for i, a in enumerate(actions):
        total = 0.0
        for _ in range(k):
            state, ts = inner.step(jax.random.key(0), state, jnp.asarray(a), params)
            total += float(ts.reward)
            if ts.done:
                break
        out.append((float(ts.obs[0]), total, bool(ts.terminated), bool(ts.truncated)))
        if ts.done:
            state, _ = inner.reset(jax.random.fold_in(key, i), params)
    return out


def _jitted(env, params, key, actions):
    """The same with ``env`` (an ActionRepeat) under one jit, resetting where done with the hand loop's keys."""

    @jax.jit
    def go(key):
        state, _ = env.reset(key, params)

        def body(state, xs):
            i, a = xs
            state, ts = env.step(jax.random.key(0), state, a, params)
            reset_state, _ = env.reset(jax.random.fold_in(key, i), params)
            state = jax.tree.map(lambda r, s: jnp.where(ts.done, r, s), reset_state, state)
            return state, ts

        return jax.lax.scan(body, state, (jnp.arange(len(actions)), jnp.asarray(actions)))[1]

    return jax.device_get(go(key))


@pytest.mark.parametrize("terminal_at, max_steps", [(5, 100), (100, 7), (6, 6)])
def test_action_repeat_equals_a_hand_loop(terminal_at, max_steps):
    """Terminates mid-repeat (5 = 3 + 2), truncates mid-repeat (7 = 3 + 3 + 1), both on a repeat boundary (6)."""
    inner = TimeLimit(ENV, max_steps=max_steps)
    params = CountParams(jnp.asarray(terminal_at))
    actions = np.array([0, 2, 1, 1, 0, 2, 2, 0], np.int32)
    key = jax.random.key(4)
    want = _hand(inner, params, key, actions, K)
    ts = _jitted(ActionRepeat(inner, K), params, key, actions)
    np.testing.assert_allclose(ts.obs[:, 0], [w[0] for w in want])
    np.testing.assert_allclose(ts.reward, [w[1] for w in want])
    np.testing.assert_array_equal(ts.terminated, [w[2] for w in want])
    np.testing.assert_array_equal(ts.truncated, [w[3] for w in want])
    assert ts.done.any()
    ends = int(np.argmax(ts.done)) + 1  # agent steps in the first episode
    assert ends == -(-min(terminal_at, max_steps) // K)


def test_rewards_stop_at_the_end_and_the_final_obs_is_the_true_one():
    env = AutoReset(ActionRepeat(TimeLimit(ENV, max_steps=100), K))
    params = CountParams(jnp.asarray(5))

    @jax.jit
    def go(key):
        state, ts0 = env.reset(key, params)
        state, ts1 = env.step(key, state, jnp.asarray(2), params)
        state, ts2 = env.step(key, state, jnp.asarray(2), params)
        return ts0, ts1, ts2, state

    ts0, ts1, ts2, state = jax.device_get(go(jax.random.key(0)))
    start = float(ts0.obs[0])
    assert ts1.reward == 9.0 and not ts1.done and ts1.obs[0] == start + 3
    assert ts2.reward == 6.0 and ts2.terminated and not ts2.truncated  # inner steps 4 and 5 only, not a 6th
    assert ts2.info["final_obs"][0] == start + 5  # the true final observation
    assert state.t == 0  # AutoReset restarted the episode


def test_batch_each_env_stops_on_its_own():
    venv = VecEnv(TimeLimit(ENV, max_steps=7), num_envs=2, batched_params=True)
    params = CountParams(jnp.array([5, 100]))  # env 0 terminates at inner step 5, env 1 is cut at 7
    env = ActionRepeat(venv, K)
    state, ts0 = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    ones = jnp.ones(2, jnp.int32)
    rewards, flags = [], []
    for i in range(3):
        state, ts = step(jax.random.key(i), state, ones, params)
        rewards.append(ts.reward)
        flags.append((ts.terminated, ts.truncated))
        if i == 1:
            np.testing.assert_allclose(ts.obs[:, 0], ts0.obs[:, 0] + np.array([5, 6]))  # env 0 froze at its end
    # 2 per inner step, none after an end; env 0 was not reset, so step 3 takes one more (terminal) inner step.
    np.testing.assert_allclose(np.array(rewards), [[6, 6], [4, 6], [2, 2]])
    np.testing.assert_array_equal([f[0] for f in flags], [[False, False], [True, False], [True, False]])
    np.testing.assert_array_equal([f[1] for f in flags], [[False, False], [False, False], [False, True]])


def test_the_inner_step_is_traced_once():
    """All the repeats run in one ``lax.scan``: a program traces (and compiles) the inner step once,
    not once for the first repeat and again for the rest (an MJX step is the bulk of a program)."""
    import dataclasses

    from jaxrl.env import Wrapper

    traced = []

    @dataclasses.dataclass(frozen=True)
    class Counting(Wrapper):
        def step(self, key, state, action, params):
            traced.append(1)
            return self.env.step(key, state, action, params)

    env = ActionRepeat(Counting(TimeLimit(ENV, max_steps=10)), 4)
    params = CountParams(jnp.asarray(100))
    state, _ = env.reset(jax.random.key(0), params)
    jax.jit(env.step).lower(jax.random.key(1), state, jnp.asarray(1), params)
    assert len(traced) == 1


def test_one_repeat_is_the_inner_env_and_properties_count_agent_steps():
    inner = TimeLimit(ENV, max_steps=10)
    params = CountParams(jnp.asarray(100))
    state, _ = inner.reset(jax.random.key(0), params)
    same = ActionRepeat(inner, 1).step(jax.random.key(1), state, jnp.asarray(1), params)
    jax.tree.map(np.testing.assert_array_equal, same, inner.step(jax.random.key(1), state, jnp.asarray(1), params))
    assert ActionRepeat(inner, 3).max_steps == 4 and ActionRepeat(inner, 5).max_steps == 2
    assert getattr(ActionRepeat(ENV, 3), "max_steps", None) is None  # no time limit: none to report
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="ActionRepeat.repeats must be an integer >= 1"):
            ActionRepeat(inner, bad)


def test_dt_scales_for_mjx_tasks():
    from jaxrl.envs.cartpole import Cartpole

    task = Cartpole(swingup=False)
    assert ActionRepeat(TimeLimit(task, 100), 4).dt == pytest.approx(4 * task.dt)
