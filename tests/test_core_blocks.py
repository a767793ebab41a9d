"""Core building blocks the learners share, against hand-checked NumPy references: the tanh-squashed
Gaussian, epsilon-greedy, schedules, target updates, TD targets and losses, MLPs with LayerNorm and
ensembles of heads."""

from __future__ import annotations


import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import distributions, losses, networks, optim


def test_tanh_gaussian_log_prob_is_the_change_of_variables():
    """log p(a) = log N(u; mean, std) - sum log |da/du|, a = low + (tanh(u) + 1) (high - low) / 2, computed
    here in float64 NumPy; and it integrates to 1 over the box (1-D, by quadrature)."""
    mean, log_std = jnp.array([0.3, -1.2]), jnp.array([-0.5, 0.4])
    low, high = jnp.array([-2.0, 0.0]), jnp.array([2.0, 1.0])
    d = distributions.TanhGaussian(mean, log_std, low, high)
    a, logp = d.sample_and_log_prob(jax.random.key(0))
    assert np.all(a > low) and np.all(a < high)
    u = np.arctanh((np.asarray(a, np.float64) - np.asarray(low)) / np.asarray(high - low) * 2 - 1)
    std = np.exp(np.asarray(log_std, np.float64))
    gauss = -0.5 * ((u - np.asarray(mean)) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
    jac = (1 - np.tanh(u) ** 2) * np.asarray(high - low) / 2
    np.testing.assert_allclose(logp, np.sum(gauss - np.log(jac)), rtol=1e-4)
    np.testing.assert_allclose(d.log_prob(a), logp, rtol=1e-3)
    np.testing.assert_allclose(d.mode(), np.asarray(low) + (np.tanh(np.asarray(mean)) + 1) * np.asarray(high - low) / 2, rtol=1e-6)
    one = distributions.TanhGaussian(jnp.array([0.4]), jnp.array([0.3]), jnp.array([-1.0]), jnp.array([3.0]))
    xs = np.linspace(-1 + 1e-6, 3 - 1e-6, 200_001)
    density = np.exp(np.asarray(jax.vmap(lambda x: one.log_prob(jnp.array([x])))(jnp.asarray(xs, jnp.float32))))
    assert abs(np.trapezoid(density, xs) - 1.0) < 2e-3
    # finite for extreme pre-squash values (a naive log(1 - tanh(u)^2) is -inf at |u| > 9)
    far = distributions.TanhGaussian(jnp.array([40.0]), jnp.array([-20.0]), jnp.array([-1.0]), jnp.array([1.0]))
    assert np.isfinite(far.sample_and_log_prob(jax.random.key(1))[1])


def test_epsilon_greedy_frequencies_and_schedule():
    q = jnp.tile(jnp.array([0.0, 5.0, 1.0]), (40_000, 1))
    picks = np.asarray(distributions.epsilon_greedy(jax.random.key(0), q, 0.3))
    freq = np.bincount(picks, minlength=3) / len(picks)
    np.testing.assert_allclose(freq, [0.1, 0.8, 0.1], atol=0.01)  # 0.7 greedy + 0.3 uniform over 3
    assert np.all(np.asarray(distributions.epsilon_greedy(jax.random.key(1), q[:10], 0.0)) == 1)
    sched = [float(optim.linear_schedule(1.0, 0.1, 0.5, p)) for p in (0.0, 0.25, 0.5, 0.9)]
    np.testing.assert_allclose(sched, [1.0, 0.55, 0.1, 0.1], rtol=1e-6)


def test_target_updates():
    target, online = {"w": jnp.array([0.0, 10.0])}, {"w": jnp.array([1.0, 20.0])}
    np.testing.assert_allclose(optim.polyak(target, online, 0.1)["w"], [0.1, 11.0])
    np.testing.assert_allclose(optim.polyak(target, online, 1.0)["w"], [1.0, 20.0])
    np.testing.assert_allclose(optim.periodic(target, online, jnp.array(6), 3)["w"], [1.0, 20.0])
    np.testing.assert_allclose(optim.periodic(target, online, jnp.array(7), 3)["w"], [0.0, 10.0])


def test_td_target_and_ensemble_loss_against_numpy():
    r, term, v = jnp.array([1.0, 2.0, -1.0]), jnp.array([False, True, False]), jnp.array([10.0, 10.0, 4.0])
    np.testing.assert_allclose(losses.td_target(r, term, v, 0.9, 2.0), [2 + 9.0, 4.0, -2 + 3.6], rtol=1e-6)
    q = jnp.array([[0.0, 1.0, 5.0], [2.0, 2.0, 2.0]])
    y = jnp.array([1.0, 1.0, 1.0])
    valid = jnp.array([True, True, False])  # the third draw is not a transition
    # head 0: mean(0.5 * [1, 0]) = 0.25; head 1: mean(0.5 * [1, 1]) = 0.5
    np.testing.assert_allclose(losses.ensemble_td_loss(q, y, valid), 0.75, rtol=1e-6)
    # Huber (delta 1): |err| = 1 -> 0.5; |err| = 4 -> 3.5 (masked out)
    np.testing.assert_allclose(losses.ensemble_td_loss(q[0], y, jnp.array([True, True, True]), 1.0), (0.5 + 0 + 3.5) / 3, rtol=1e-6)
    g = jax.grad(lambda y: losses.ensemble_td_loss(q, y, valid))(y)
    assert np.all(np.asarray(g) == 0)  # no gradient into the target


def test_mlp_layer_norm_and_ensembles_of_independent_heads():
    x = jax.random.normal(jax.random.key(0), (5, 3))

    def init_apply(module, seed, *args):  # one compiled program per module (eagerly: one per op)
        return jax.jit(lambda k: (lambda p: (p, module.apply(p, *args)))(module.init(k, *args)))(jax.random.key(seed))

    p, _ = init_apply(networks.MLP((8, 8), 2, "mish", layer_norm=True), 1, x)
    assert set(p["params"]) == {"Dense_0", "LayerNorm_0", "Dense_1", "LayerNorm_1", "Dense_2"}
    _, h = init_apply(networks.MLP((8,), None, "relu", layer_norm=True), 2, x)
    assert h.shape == (5, 8) and np.all(np.asarray(h) >= 0)
    _, z = init_apply(networks.MLP((8,), 4, out_gain=0.0), 3, x)
    assert np.all(np.asarray(z) == 0)  # zero-initialised output layer
    qp, out = init_apply(networks.QEnsemble((8,), num_heads=3), 4, x, x[:, :2])
    assert out.shape == (3, 5) and len({round(float(v), 5) for v in out[:, 0]}) == 3  # three different heads
    head1 = jax.tree.map(lambda w: w[1], qp["params"]["VmapMLP_0"])
    one = jax.jit(networks.MLP((8,), 1, "relu").apply)({"params": head1}, jnp.concatenate([x, x[:, :2]], -1))[..., 0]
    np.testing.assert_allclose(out[1], one, rtol=1e-5)  # head e is an MLP with the e-th slice of the params
    _, dq = init_apply(networks.QNetwork(3, (8,), dueling=True), 5, x)
    assert dq.shape == (5, 3)


def test_init_std_draws_every_kernel_from_a_normal_and_none_keeps_the_orthogonal_init():
    """``init_std`` (TD-MPC2's std-0.02 init): every non-zero Dense kernel of MLP, QEnsemble and
    SimNormMLP has that std (zero-initialised outputs stay zero); ``None`` is the orthogonal init,
    bit for bit the explicit ``orthogonal(gain)`` of each layer."""
    x = jnp.ones((2, 64))
    for module, args in ((networks.MLP((256, 256), 256, "mish", layer_norm=True, init_std=0.02), (x,)),
                         (networks.SimNormMLP((256,), 256, init_std=0.02), (x,)),
                         (networks.QEnsemble((256,), 2, "mish", True, 256, init_std=0.02), (x, x[:, :4]))):
        kernels = [np.asarray(v) for path, v in jax.tree_util.tree_leaves_with_path(module.init(jax.random.key(0), *args))
                   if "kernel" in jax.tree_util.keystr(path)]
        assert len(kernels) >= 2
        for k in kernels:
            assert abs(k.mean()) < 2e-3 and abs(k.std() - 0.02) < 1e-3, (type(module).__name__, k.shape, k.std())
    zero = networks.MLP((8,), 4, out_gain=0.0, init_std=0.02)
    assert np.all(np.asarray(zero.init(jax.random.key(3), x)["params"]["Dense_1"]["kernel"]) == 0)
    mlp = networks.MLP((16,), 3, "relu", out_gain=0.5)
    p = mlp.init(jax.random.key(1), x)["params"]

    class Explicit(nn.Module):
        @nn.compact
        def __call__(self, v):
            v = nn.Dense(16, kernel_init=nn.initializers.orthogonal(np.sqrt(2)), name="Dense_0")(v)
            return nn.Dense(3, kernel_init=nn.initializers.orthogonal(0.5), name="Dense_1")(nn.relu(v))

    q = Explicit().init(jax.random.key(1), x)["params"]
    jax.tree.map(np.testing.assert_array_equal, p, q)


def _numpy_mlp(params, x, mask_scale):
    """NumPy float64 forward of ``MLP(hidden, out, "mish", layer_norm=True)`` with the first hidden
    layer's Dense output multiplied by ``mask_scale`` (dropout: 0 or 1 / (1 - rate) per unit)."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"])
    mish = lambda v: v * np.tanh(np.log1p(np.exp(v)))  # noqa: E731
    h = np.asarray(x, np.float64)
    n = sum(k.startswith("LayerNorm") for k in p)
    for i in range(n):
        h = h @ p[f"Dense_{i}"]["kernel"] + p[f"Dense_{i}"]["bias"]
        if i == 0:
            h = h * mask_scale
        ln = p[f"LayerNorm_{i}"]
        h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-6) * ln["scale"] + ln["bias"]
        h = mish(h)
    return h @ p[f"Dense_{n}"]["kernel"] + p[f"Dense_{n}"]["bias"]


def test_mlp_dropout_on_the_first_layer_only_and_only_with_a_dropout_rng():
    """``MLP(dropout=p)``: the same params as without dropout; deterministic (= rate 0) unless the
    call gets a ``"dropout"`` rng; with one, the first layer's Dense output is masked and scaled by
    1 / (1 - p) before its LayerNorm, and nothing else changes (NumPy reference with the mask the
    module drew); about a fraction p of units drop; an ensemble's heads draw different masks."""
    rate, x = 0.25, jax.random.normal(jax.random.key(0), (64, 6))
    plain, dropped = networks.MLP((128, 32), 3, "mish", 1.0, True), networks.MLP((128, 32), 3, "mish", 1.0, True, rate)
    p = jax.jit(plain.init)(jax.random.key(1), x)  # jitted: one program each instead of one per op
    assert jax.tree.structure(jax.eval_shape(dropped.init, jax.random.key(1), x)) == jax.tree.structure(p)
    np.testing.assert_array_equal(jax.jit(dropped.apply)(p, x), jax.jit(plain.apply)(p, x))
    y, inter = jax.jit(lambda p, x, k: dropped.apply(p, x, rngs={"dropout": k}, capture_intermediates=True,
                                                    mutable=["intermediates"]))(p, x, jax.random.key(2))
    pre = np.asarray(inter["intermediates"]["Dense_0"]["__call__"][0], np.float64)
    after = np.asarray(inter["intermediates"]["Dropout_0"]["__call__"][0], np.float64)
    kept = after != 0
    np.testing.assert_allclose(after[kept], pre[kept] / (1 - rate), rtol=1e-6)
    assert abs((~kept).mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / kept.size)  # 8192 units: within 4 sigma
    np.testing.assert_allclose(y, _numpy_mlp(p, x, kept / (1 - rate)), rtol=1e-4, atol=1e-5)
    again = jax.jit(lambda p, x, k: dropped.apply(p, x, rngs={"dropout": k}))(p, x, jax.random.key(2))
    np.testing.assert_allclose(again, y, rtol=1e-6, atol=1e-7)  # the key decides the mask (two programs: rounding)
    q = networks.QEnsemble((32, 32), 3, "mish", True, 4, 1.0, rate)
    qp = jax.jit(q.init)(jax.random.key(3), x, x[:, :2])
    same = jax.tree.map(lambda w: jnp.broadcast_to(w[:1], w.shape), qp)  # three identical heads
    out = np.asarray(jax.jit(lambda p, k: q.apply(p, x, x[:, :2], rngs={"dropout": k}))(same, jax.random.key(4)))
    assert not np.allclose(out[0], out[1]) and not np.allclose(out[1], out[2])  # a mask per head
    np.testing.assert_array_equal(*np.asarray(jax.jit(q.apply)(same, x, x[:, :2]))[:2])  # no rng: identical heads agree
