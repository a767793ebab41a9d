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
