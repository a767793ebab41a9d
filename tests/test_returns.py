"""GAE against a hand-written NumPy reference, truncation and termination included."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.returns import discounted_returns, gae


def numpy_gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Plain-loop reference, one env: written from the definition, not from jaxrl."""
    T = len(rewards)
    adv = np.zeros(T)
    running = 0.0
    for t in reversed(range(T)):
        bootstrap = 0.0 if terminated[t] else gamma * next_values[t]
        delta = rewards[t] + bootstrap - values[t]
        if terminated[t] or truncated[t]:
            running = 0.0  # nothing from the next episode flows back
        running = delta + gamma * lam * running
        adv[t] = running
    return adv, adv + values


def make_batch(seed, T=12, B=3):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=(T, B)).astype(np.float32)
    values = rng.normal(size=(T, B)).astype(np.float32)
    next_values = np.roll(values, -1, axis=0)
    next_values[-1] = rng.normal(size=B)
    terminated = np.zeros((T, B), bool)
    truncated = np.zeros((T, B), bool)
    terminated[3, 0] = True  # env 0: terminal in the middle
    truncated[6, 1] = True  # env 1: time limit in the middle of the batch ...
    next_values[6, 1] = 7.5  # ... bootstraps from the TRUE final observation's value
    terminated[8, 2] = truncated[10, 2] = True  # env 2: both kinds
    return rewards, values, next_values, terminated, truncated


def test_gae_hand_checked_numbers():
    # T=3, one env, truncated at t=1 with V(final obs)=10, gamma=0.5, lam=0.5:
    # t=2: delta = 1 + 0.5*4 - 2 = 1             -> A2 = 1
    # t=1: delta = 1 + 0.5*10 - 3 = 3 (truncated) -> A1 = 3 (no flow from t=2)
    # t=0: delta = 1 + 0.5*3 - 1 = 1.5            -> A0 = 1.5 + 0.25*3 = 2.25
    adv, tgt = gae(
        jnp.array([1.0, 1.0, 1.0]), jnp.array([1.0, 3.0, 2.0]), jnp.array([3.0, 10.0, 4.0]),
        jnp.array([False, False, False]), jnp.array([False, True, False]), 0.5, 0.5,
    )
    np.testing.assert_allclose(adv, [2.25, 3.0, 1.0])
    np.testing.assert_allclose(tgt, [3.25, 6.0, 3.0])
    # Termination at t=1 instead: no bootstrap at all.
    adv, _ = gae(
        jnp.array([1.0, 1.0, 1.0]), jnp.array([1.0, 3.0, 2.0]), jnp.array([3.0, 10.0, 4.0]),
        jnp.array([False, True, False]), jnp.array([False, False, False]), 0.5, 0.5,
    )
    np.testing.assert_allclose(adv, [1.5 + 0.25 * -2.0, -2.0, 1.0])


@pytest.mark.parametrize("gamma,lam", [(0.99, 0.95), (0.9, 0.0), (0.97, 1.0)])
def test_gae_matches_numpy_reference(gamma, lam):
    r, v, nv, term, trunc = make_batch(0)
    adv, tgt = jax.jit(gae)(r, v, nv, term, trunc, gamma, lam)
    for b in range(r.shape[1]):
        ref_adv, ref_tgt = numpy_gae(r[:, b], v[:, b], nv[:, b], term[:, b], trunc[:, b], gamma, lam)
        np.testing.assert_allclose(adv[:, b], ref_adv, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(tgt[:, b], ref_tgt, rtol=1e-5, atol=1e-5)


def test_gae_truncation_uses_final_value_termination_does_not():
    r, v, nv, term, trunc = make_batch(1)
    adv, _ = gae(r, v, nv, term, trunc, 0.99, 0.95)
    nv2 = nv.copy()
    nv2[6, 1] += 100.0  # truncated step: its bootstrap value must matter
    nv2[3, 0] += 100.0  # terminated step: its bootstrap value must not
    adv2, _ = gae(r, v, nv2, term, trunc, 0.99, 0.95)
    assert np.all(np.abs(np.asarray(adv2[:7, 1] - adv[:7, 1])) > 1.0)
    np.testing.assert_allclose(adv2[:, 0], adv[:, 0])
    np.testing.assert_allclose(adv2[7:, 1], adv[7:, 1])  # later episode untouched


def test_gae_jit_vmap_and_traced_hparams():
    r, v, nv, term, trunc = make_batch(2)
    f = lambda g, l: gae(r, v, nv, term, trunc, g, l)[0]  # noqa: E731
    gammas, lams = jnp.array([0.9, 0.99]), jnp.array([0.5, 0.95])
    batched = jax.jit(jax.vmap(f))(gammas, lams)
    for i in range(2):
        np.testing.assert_allclose(batched[i], f(float(gammas[i]), float(lams[i])), rtol=1e-5, atol=1e-6)


def test_discounted_returns_restart_at_boundaries():
    r = np.array([1.0, 1.0, 1.0, 1.0], np.float32)
    term = np.array([False, True, False, False])
    trunc = np.array([False, False, False, True])
    boot = np.array([0.0, 0.0, 0.0, 10.0], np.float32)
    out = discounted_returns(r, term, trunc, 0.5, boot)
    np.testing.assert_allclose(out, [1.5, 1.0, 1 + 0.5 * 6.0, 6.0])


# ----------------------------------------------------------------------------- lambda returns, n-step


def numpy_lambda_returns(rewards, next_values, discounts, lam, done):
    """Plain-loop TD(lambda), one env, from the definition: G_t = r_t + d_t ((1 - lam) V'_t + lam X),
    X = V'_t where the episode ended after t (or at the window's end), else G_{t+1}."""
    T = len(rewards)
    out = np.zeros(T)
    for t in reversed(range(T)):
        ahead = next_values[t] if (done[t] or t == T - 1) else out[t + 1]
        out[t] = rewards[t] + discounts[t] * ((1 - lam) * next_values[t] + lam * ahead)
    return out


@pytest.mark.parametrize("lam", [0.0, 0.65, 1.0])
def test_lambda_returns_match_numpy_with_per_step_discounts_and_episode_ends(lam):
    rewards, _, next_values, terminated, truncated = make_batch(4)
    discounts = 0.97 * (1.0 - terminated.astype(np.float32))  # a continuation flag times gamma
    done = terminated | truncated
    from jaxrl.returns import lambda_returns

    got = jax.jit(lambda_returns)(rewards, next_values, discounts, lam, done)
    for b in range(rewards.shape[1]):
        want = numpy_lambda_returns(rewards[:, b], next_values[:, b], discounts[:, b], lam, done[:, b])
        np.testing.assert_allclose(got[:, b], want, rtol=1e-5, atol=1e-5)
    # a truncated step bootstraps from its TRUE final value (7.5), a terminated one not at all
    np.testing.assert_allclose(got[6, 1], rewards[6, 1] + 0.97 * 7.5, rtol=1e-6)
    np.testing.assert_allclose(got[3, 0], rewards[3, 0], rtol=1e-6)


def test_lambda_returns_hand_checked_and_n_step():
    from jaxrl.returns import lambda_returns, n_step_return

    r, v, d = jnp.array([1.0, 2.0, 3.0]), jnp.array([10.0, 20.0, 30.0]), jnp.array([0.5, 0.5, 0.5])
    # lam = 1: G_2 = 3 + 0.5 * 30 = 18; G_1 = 2 + 0.5 * 18 = 11; G_0 = 1 + 0.5 * 11 = 6.5
    np.testing.assert_allclose(lambda_returns(r, v, d, 1.0), [6.5, 11.0, 18.0])
    # lam = 0: one-step TD targets r_t + d_t V'_t
    np.testing.assert_allclose(lambda_returns(r, v, d, 0.0), [6.0, 12.0, 18.0])
    assert float(n_step_return(r, d, v)) == 6.5
    # an episode end after step 0: the 3-step return stops there and bootstraps from V'_0
    np.testing.assert_allclose(n_step_return(r, d, v, jnp.array([True, False, False])), 1.0 + 0.5 * 10.0)
    # vmap over envs equals a loop
    R = jnp.stack([r, 2 * r]).T
    got = jax.vmap(lambda_returns, in_axes=(1, 1, 1, None), out_axes=1)(R, jnp.stack([v, v]).T, jnp.stack([d, d]).T, 0.5)
    np.testing.assert_allclose(got, lambda_returns(R, jnp.stack([v, v]).T, jnp.stack([d, d]).T, 0.5), rtol=1e-6)
