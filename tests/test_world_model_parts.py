"""The world-model building blocks against hand-checked NumPy references: symlog / symexp, two-hot
bins, SimNorm, the running percentile scale, TD-MPC2's horizon-weighted losses, and the MPPI
planner on a known quadratic cost in a fixed linear model (plus its warm start)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.configs import ConfigError
from jaxrl.networks import SimNormMLP, simnorm
from jaxrl.planning import MPPI, shift
from jaxrl.returns import percentile_scale
from jaxrl.twohot import Bins, symexp, symlog


def np_two_hot(y, n, low, high):
    """Reference: the two bins around symlog(y) (clipped), weights by linear interpolation."""
    out = np.zeros((len(y), n))
    centers = np.linspace(low, high, n)
    for r, v in enumerate(y):
        x = np.clip(np.sign(v) * np.log1p(abs(v)), low, high)
        i = min(int(np.searchsorted(centers, x, side="right")) - 1, n - 2)
        f = (x - centers[i]) / (centers[i + 1] - centers[i])
        out[r, i], out[r, i + 1] = 1 - f, f
    return out


def test_symlog_symexp_are_inverse_and_match_numpy():
    x = np.array([-1e4, -20.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 3.0, 1e4], np.float32)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(symlog(x), np.sign(x64) * np.log1p(np.abs(x64)), rtol=1e-6)
    np.testing.assert_allclose(symexp(symlog(x)), x, rtol=1e-5)
    np.testing.assert_allclose(symlog(symexp(np.float32([-5, -0.1, 0, 2.5]))), [-5, -0.1, 0, 2.5], rtol=1e-5, atol=1e-7)


def test_two_hot_encode_decode_against_numpy_including_out_of_range():
    bins = Bins(num_bins=11, low=-5.0, high=5.0)
    y = np.array([0.0, 1.0, -3.7, 0.3, float(np.expm1(5.0)), 1e6, -1e6, float(np.expm1(2.0))], np.float32)
    enc = np.asarray(bins.encode(y))
    np.testing.assert_allclose(enc, np_two_hot(y, 11, -5.0, 5.0), atol=1e-6)
    np.testing.assert_allclose(enc.sum(-1), 1.0, atol=1e-6)
    assert np.all((enc > 1e-7).sum(-1) <= 2)
    # the weighted mean of the bin centres is symlog(y) clipped to the range
    np.testing.assert_allclose(enc @ np.linspace(-5, 5, 11), np.clip(symlog(y), -5, 5), atol=1e-5)
    # decoding the (log) two-hot gives y back inside the range, the edge value outside it
    dec = np.asarray(bins.decode(jnp.log(jnp.asarray(enc) + 1e-30)))
    inside = np.abs(symlog(y)) <= 5
    np.testing.assert_allclose(dec[inside], y[inside], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dec[~inside], np.sign(y[~inside]) * np.expm1(5.0), rtol=1e-4)
    # cross-entropy against the target's own logits is its entropy, and grows for a wrong prediction
    ce_self = bins.cross_entropy(jnp.log(jnp.asarray(enc) + 1e-30), y)
    ent = -np.sum(np.where(enc > 0, enc * np.log(np.maximum(enc, 1e-30)), 0), -1)
    np.testing.assert_allclose(ce_self, ent, atol=1e-4)
    assert np.all(np.asarray(bins.cross_entropy(jnp.zeros((len(y), 11)), y)) > ent)
    with pytest.raises(ValueError, match="num_bins"):
        Bins(num_bins=1)


def test_two_hot_jit_equals_eager_and_vmaps():
    bins = Bins()
    y = jnp.linspace(-50, 50, 12)
    np.testing.assert_allclose(jax.jit(bins.encode)(y), bins.encode(y), atol=2e-5)  # fusion changes the last bits of pos
    np.testing.assert_allclose(jax.vmap(bins.encode)(y.reshape(3, 4)).reshape(12, -1), bins.encode(y), atol=0)


def test_simnorm_softmax_per_group():
    x = np.random.default_rng(0).normal(size=(3, 5, 24)).astype(np.float32) * 4
    y = np.asarray(simnorm(x, 8))
    g = x.reshape(3, 5, 3, 8)
    ref = np.exp(g - g.max(-1, keepdims=True))
    ref = (ref / ref.sum(-1, keepdims=True)).reshape(x.shape)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(y.reshape(3, 5, 3, 8).sum(-1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="divisible"):
        simnorm(x[..., :20], 8)
    net = SimNormMLP((16,), 16, group=4)
    params = net.init(jax.random.key(0), jnp.ones((2, 5)))
    out = np.asarray(net.apply(params, jnp.ones((7, 2, 5))))
    assert out.shape == (7, 2, 16)
    np.testing.assert_allclose(out.reshape(7, 2, 4, 4).sum(-1), 1.0, atol=1e-6)


def test_percentile_scale_against_numpy():
    x = np.random.default_rng(1).normal(size=(100, 1)).astype(np.float32) * 30
    spread = np.percentile(x, 95) - np.percentile(x, 5)
    np.testing.assert_allclose(percentile_scale(1.0, x, 0.1), 1.0 + 0.1 * (spread - 1.0), rtol=1e-5)
    np.testing.assert_allclose(percentile_scale(2.0, x, 1.0), spread, rtol=1e-5)
    # a spread under 1 counts as 1 (small values are not blown up)
    np.testing.assert_allclose(percentile_scale(3.0, x * 1e-3, 0.5), 2.0, rtol=1e-6)
    # only the masked-in entries count; none: the scale stays
    mask = np.arange(100)[:, None] < 40
    spread40 = np.percentile(x[:40], 95) - np.percentile(x[:40], 5)
    np.testing.assert_allclose(percentile_scale(1.0, np.where(mask, x, 1e9), 1.0, mask=mask), spread40, rtol=1e-5)
    np.testing.assert_allclose(percentile_scale(2.5, x, 0.3, mask=np.zeros_like(mask)), 2.5)


def test_horizon_weighted_losses_against_numpy():
    from jaxrl.algos.tdmpc import losses

    per = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    mask = np.array([[1, 1, 0], [1, 0, 0]], bool)
    rho = 0.5
    ref = (1.0 * 1.5 + 0.5 * 4.0) / 2
    np.testing.assert_allclose(losses.weighted_steps(per, mask, rho), ref, rtol=1e-6)
    q = np.array([[1.0, 5.0], [3.0, 2.0]], np.float32)
    t = losses.td_targets(np.float32([1.0, 1.0]), np.array([False, True]), q, 0.9)
    np.testing.assert_allclose(t, [1.0 + 0.9 * 1.0, 1.0], rtol=1e-6)



def np_tdmpc2_scaled_entropy(mean, log_std, eps):
    """Reference: TD-MPC2's ``WorldModel.pi`` (``common/world_model.py``, ``common/math.py``) in NumPy,
    step by step: the Gaussian log-prob of ``eps`` summed over dims, times the dims, then the squash's
    correction and TD-MPC2's ``entropy_scale`` (which divides the correction away again)."""
    log_prob = np.sum(-0.5 * eps**2 - log_std - 0.9189385175704956, -1, keepdims=True)
    scaled_log_prob = log_prob * eps.shape[-1]
    action = np.tanh(mean + eps * np.exp(log_std))
    log_prob = log_prob - np.sum(np.log(np.maximum(1 - action**2, 0) + 1e-6), -1, keepdims=True)
    entropy_scale = scaled_log_prob / (log_prob + 1e-8)
    return (-log_prob * entropy_scale)[..., 0], action


@pytest.mark.parametrize("dims", [1, 6])
def test_the_priors_entropy_bonus_is_tdmpc2s_scaled_entropy(dims):
    from jaxrl.algos.tdmpc import losses
    from jaxrl.distributions import TanhGaussian

    rng = np.random.default_rng(dims)
    mean = rng.normal(0, 1, (5, dims)).astype(np.float32)
    log_std = rng.uniform(-3, 0.5, (5, dims)).astype(np.float32)
    dist = TanhGaussian(jnp.asarray(mean), jnp.asarray(log_std), -1.0, 1.0)
    key = jax.random.key(3)
    action, log_prob, gauss = dist.sample_and_log_probs(key)
    eps = np.asarray(jax.random.normal(key, mean.shape))  # the sample's noise, as the method draws it
    ref, ref_action = np_tdmpc2_scaled_entropy(mean.astype(np.float64), log_std.astype(np.float64), eps.astype(np.float64))
    np.testing.assert_allclose(action, ref_action, atol=1e-6)
    np.testing.assert_allclose(losses.scaled_entropy(gauss, dims), ref, rtol=1e-4, atol=1e-4)
    # the two-output method is the same sample and log-density (SAC, DreamerV3 and the metrics read it)
    a2, lp2 = dist.sample_and_log_prob(key)
    np.testing.assert_array_equal(a2, action)
    np.testing.assert_array_equal(lp2, log_prob)
    # not the squashed sample's entropy estimate -log_prob (the bonus before 2026-12-06): no tanh correction, x dims
    assert np.abs(np.asarray(losses.scaled_entropy(gauss, dims)) - np.asarray(-log_prob)).max() > 0.1

# ----------------------------------------------------------------------------- MPPI

GOAL = np.array([0.3, -0.2], np.float32)


def quadratic_value(key, actions):
    """A fixed linear model z' = z + 0.5 a from z = 0; value = -sum_t |z_{t+1} - GOAL|^2.
    The optimum (value 0): a_0 = 2 GOAL = (0.6, -0.4), then a_1 = a_2 = 0."""
    z = jnp.cumsum(0.5 * actions, axis=0)  # [H, N, 2]
    return -jnp.sum(jnp.square(z - GOAL), axis=(0, 2))


OPTIMUM = np.array([[0.6, -0.4], [0.0, 0.0], [0.0, 0.0]], np.float32)


def test_mppi_finds_the_optimum_of_a_quadratic_that_random_sequences_miss():
    planner = MPPI(horizon=3, iterations=8, num_samples=256, num_elites=32)
    plan = jax.jit(lambda k: planner.plan(k, quadratic_value, jnp.zeros((3, 2)), 0.01, 1.0, 10.0, explore=False))
    action, mean, info = plan(jax.random.key(0))
    np.testing.assert_allclose(mean, OPTIMUM, atol=0.06)
    np.testing.assert_allclose(action, OPTIMUM[0], atol=0.1)
    found = float(quadratic_value(None, mean[:, None])[0])
    random = np.asarray(quadratic_value(None, jax.random.uniform(jax.random.key(1), (3, 256, 2), minval=-1, maxval=1)))
    assert found > -0.005, found
    assert np.max(random) < found and np.mean(random) < -0.3, (found, np.max(random), np.mean(random))


def test_mppi_takes_the_policy_proposal_and_explores_around_it():
    planner = MPPI(horizon=3, iterations=1, num_samples=16, num_elites=1, num_prior=1)
    prior = jnp.asarray(OPTIMUM)[:, None]
    action, mean, _ = planner.plan(jax.random.key(0), quadratic_value, jnp.full((3, 2), 0.9), 0.05, 0.5, 0.5, prior=prior,
                                   explore=False)
    np.testing.assert_allclose(mean, OPTIMUM, atol=1e-6)  # the only elite is the exact optimum
    np.testing.assert_allclose(action, OPTIMUM[0], atol=1e-6)
    noisy = [planner.plan(jax.random.key(i), quadratic_value, jnp.zeros((3, 2)), 0.05, 0.5, 0.5, prior=prior)[0] for i in range(8)]
    spread = np.std(np.asarray(noisy), axis=0)
    assert np.all(spread > 0.01) and np.all(np.abs(np.mean(noisy, 0) - OPTIMUM[0]) < 0.2)


def test_mppi_compiles_a_loop_not_an_unrolled_program():
    """The iterations are a lax.scan: the lowered program's size does not grow with their count."""
    def size(iterations):
        planner = MPPI(horizon=3, iterations=iterations, num_samples=32, num_elites=4)
        fn = lambda k: planner.plan(k, quadratic_value, jnp.zeros((3, 2)), 0.05, 1.0, 1.0)  # noqa: E731
        return len(jax.jit(fn).lower(jax.random.key(0)).as_text())

    assert size(50) == size(12)  # (smaller counts differ only in how the keys are split)


def test_shift_is_the_warm_start():
    plan = jnp.arange(12.0).reshape(2, 3, 2)  # [B, H, A]
    np.testing.assert_array_equal(shift(plan), [[[2, 3], [4, 5], [0, 0]], [[8, 9], [10, 11], [0, 0]]])


def test_mppi_refuses_counts_that_do_not_fit():
    with pytest.raises(ConfigError, match="num_elites"):
        MPPI(horizon=3, iterations=2, num_samples=8, num_elites=9)
    with pytest.raises(ConfigError, match="num_prior"):
        MPPI(horizon=3, iterations=2, num_samples=8, num_elites=2, num_prior=8)
    with pytest.raises(ConfigError, match="iterations"):
        MPPI(horizon=3, iterations=0, num_samples=8, num_elites=2)
