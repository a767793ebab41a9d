"""Rollout as one lax.scan, and minibatch SGD epochs."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import rollout as rollout_lib
from jaxrl.policy import Policy, reset_where
from jaxrl.minibatch import PACKED_SORT_MAX, flatten_time_batch, permutation, sgd_epochs, shuffled_minibatches
from jaxrl.wrappers import TimeLimit, training_stack
from test_wrappers import CountParams, Counter


def test_rollout_time_major_with_true_next_obs():
    env = training_stack(TimeLimit(Counter(), max_steps=3), num_envs=2)
    params = CountParams(jnp.asarray(100))
    state = rollout_lib.reset(jax.random.key(0), env, params)

    def step(key, carry, obs, first):
        return jnp.ones(obs.shape[0], jnp.int32), carry, {"seen": obs[:, 0]}

    f = jax.jit(lambda k, s: rollout_lib.rollout(k, env, params, Policy(step), s, 5))
    new_state, tr = f(jax.random.key(1), state)
    assert tr.obs.shape == (5, 2, 1) and tr.reward.shape == (5, 2) and tr.action.shape == (5, 2)
    np.testing.assert_allclose(tr.reward, 2.0)
    np.testing.assert_array_equal(tr.truncated[:, 0], [False, False, True, False, False])
    np.testing.assert_allclose(tr.extras["seen"], tr.obs[..., 0])
    # next_obs is the obs that follows, except at the cut, where it is the TRUE final obs.
    np.testing.assert_allclose(tr.next_obs[:-1][~tr.truncated[:-1]], tr.obs[1:][~tr.truncated[:-1]])
    np.testing.assert_allclose(tr.next_obs[2], tr.obs[0] + 3)
    assert "final_obs" not in tr.info and "episode_return" in tr.info
    # first: the reset obs and the obs after the cut start episodes.
    np.testing.assert_array_equal(tr.first[:, 0], [True, False, False, True, False])
    # The returned state continues the episodes: its obs is the last step's obs.
    np.testing.assert_allclose(new_state.obs, tr.obs[-1] + 1)
    assert not np.any(new_state.first)


def test_rollout_threads_the_policy_carry_and_resets_it_on_first():
    """A stateful policy: its carry counts the steps of the episode, restarting where ``first``;
    the carry continues across rollout calls (it lives in the RolloutState)."""
    env = training_stack(TimeLimit(Counter(), max_steps=3), num_envs=2)
    params = CountParams(jnp.asarray(100))

    def step(key, carry, obs, first):
        carry = reset_where(first, jnp.zeros_like(carry), carry) + 1
        return jnp.ones(obs.shape[0], jnp.int32), carry, {"t": carry}

    policy = Policy(step, init_carry=lambda b: jnp.full((b,), 77, jnp.int32))
    state = rollout_lib.reset(jax.random.key(0), env, params, policy)
    assert state.carry.shape == (2,) and np.all(state.first)
    f = jax.jit(lambda k, s: rollout_lib.rollout(k, env, params, policy, s, 4))
    state, tr = f(jax.random.key(1), state)
    np.testing.assert_array_equal(tr.extras["t"][:, 0], [1, 2, 3, 1])
    state, tr = f(jax.random.key(2), state)  # the carry went on: steps 2 and 3 of the second episode
    np.testing.assert_array_equal(tr.extras["t"][:, 1], [2, 3, 1, 2])
    np.testing.assert_array_equal(state.carry, [2, 2])


def test_shuffled_minibatches_partition_the_batch():
    batch = {"x": jnp.arange(12.0), "y": jnp.arange(12) * 10}
    mb = shuffled_minibatches(jax.random.key(0), batch, 3)
    assert mb["x"].shape == (3, 4)
    np.testing.assert_array_equal(np.sort(np.ravel(mb["x"])), np.arange(12.0))
    np.testing.assert_array_equal(mb["y"], mb["x"] * 10)  # leaves permuted together
    with pytest.raises(ValueError, match="does not split into 5"):
        shuffled_minibatches(jax.random.key(0), batch, 5)


def test_permutation_is_jax_permutation_sorted_faster():
    """The packed single-operand sort gives a valid permutation, the one jax.random.permutation gives from
    the same key (unless two of the 23 high random bits collide), and positions spread uniformly."""
    n, k = 500, 400
    keys = jax.random.split(jax.random.key(7), k)
    ours = np.asarray(jax.jit(jax.vmap(lambda key: permutation(key, n)))(keys))
    ref = np.asarray(jax.jit(jax.vmap(lambda key: jax.random.permutation(key, n)))(keys))
    assert ours.dtype == np.int32 and ours.shape == (k, n)
    np.testing.assert_array_equal(np.sort(ours, axis=1), np.broadcast_to(np.arange(n), (k, n)))
    same = np.all(ours == ref, axis=1)
    # A tie in the high bits has probability ~n^2 / 2^24 = 1.5% per permutation; a tie only swaps neighbours.
    assert same.mean() > 0.95, same.mean()
    for o, r in zip(ours[~same], ref[~same]):
        assert np.sum(o != r) <= 4
    # Where does sample 0 land? Uniform over the 5 minibatches of 100 (chi-square, 4 dof, p ~ 1e-4 bound).
    counts = np.bincount(np.argmax(ours == 0, axis=1) // 100, minlength=5)
    assert np.sum((counts - k / 5) ** 2 / (k / 5)) < 23, counts
    # The speed comes from sorting ONE operand (jax.random.permutation sorts a key and a value).
    hlo = jax.jit(lambda key: permutation(key, n)).lower(keys[0]).as_text()
    sorts = re.findall(r'stablehlo.sort"?\(([^)]*)\)', hlo)
    assert len(sorts) == 1 and "," not in sorts[0], sorts
    # Beyond PACKED_SORT_MAX it IS jax.random.permutation.
    big = PACKED_SORT_MAX + 1
    np.testing.assert_array_equal(permutation(keys[0], big), jax.random.permutation(keys[0], big))
    assert permutation(keys[0], 1).tolist() == [0]


def test_sgd_epochs_visit_every_sample_once_per_epoch():
    batch = flatten_time_batch({"x": jnp.arange(24.0).reshape(4, 6)})
    assert batch["x"].shape == (24,)

    def step(carry, mb):
        return carry + jnp.sum(mb["x"]), jnp.sum(mb["x"])

    total, sums = jax.jit(lambda k: sgd_epochs(k, 0.0, batch, step, num_epochs=3, num_minibatches=4))(jax.random.key(0))
    assert sums.shape == (3, 4)
    np.testing.assert_allclose(sums.sum(axis=1), [276.0] * 3)
    assert total == 3 * 276.0
    # Different epochs see different shuffles.
    assert not np.allclose(sums[0], sums[1])
