"""DreamerV3 (``jaxrl.algos.dreamer``): its numeric pieces against hand-checked NumPy, the RSSM's
observe and imagine paths, the acting carry, pixels through the same agent, bad input refused
before compiling.

The protocol (one trace, chunked = one jit, vmapped = separate, exact resume, NaN guard) is checked
for every registered algorithm, DreamerV3 included, by ``tests/test_contract.py``; its learning test
is in ``tests/test_offpolicy_learning.py``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.algos import dreamer
from jaxrl.algos.dreamer import losses
from jaxrl.configs import ConfigError
from jaxrl.distributions import DiagGaussian, categorical_kl, straight_through_onehot, unimix_logits
from jaxrl.replay import Sequence

TINY = dreamer.presets()["tiny"].config


def tiny(**changes):
    return dreamer.DreamerConfig(**{**TINY, **changes})


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ----------------------------------------------------------------------------- categorical pieces


def test_unimix_and_categorical_kl_match_numpy():
    logits = np.array([[2.0, 0.0, -1.0, 0.5], [0.0, 0.0, 0.0, 30.0]], np.float32)
    mixed = np.asarray(unimix_logits(jnp.asarray(logits), 0.01))
    expect = 0.99 * np_softmax(logits) + 0.01 / 4
    np.testing.assert_allclose(np.exp(mixed), expect, rtol=1e-6)
    assert np.exp(mixed).min() >= 0.0025 - 1e-7  # no class below mix / n: KLs stay bounded
    q = np.array([[0.0, 1.0, 0.0, -2.0], [1.0, 2.0, 3.0, 4.0]], np.float32)
    p_np, q_np = np_softmax(logits), np_softmax(q)
    kl_np = np.sum(p_np * (np.log(p_np) - np.log(q_np)), -1)
    np.testing.assert_allclose(np.asarray(categorical_kl(jnp.asarray(logits), jnp.asarray(q))), kl_np, rtol=1e-5)
    assert float(categorical_kl(jnp.asarray(q), jnp.asarray(q))[0]) == pytest.approx(0.0, abs=1e-6)


def test_straight_through_sample_is_one_hot_with_the_probabilities_gradient():
    logits = jnp.array([[1.0, -0.5, 0.3], [0.2, 0.1, 2.0]])
    w = jnp.array([[0.3, -1.0, 2.0], [1.5, 0.5, -0.7]])
    key = jax.random.key(3)
    sample = straight_through_onehot(key, logits)
    np.testing.assert_array_equal(np.asarray(sample).sum(-1), [1.0, 1.0])
    assert set(np.unique(np.asarray(sample)).tolist()) <= {0.0, 1.0}
    hot = np.asarray(jax.nn.one_hot(jax.random.categorical(key, logits), 3))
    np.testing.assert_array_equal(np.asarray(sample), hot)  # the value IS the categorical draw
    g = jax.grad(lambda lg: jnp.sum(w * straight_through_onehot(key, lg)))(logits)
    # d/dlogits sum_k w_k softmax_k = p * (w - sum_k p_k w_k), by hand
    p = np_softmax(np.asarray(logits))
    expect = p * (np.asarray(w) - np.sum(p * np.asarray(w), -1, keepdims=True))
    np.testing.assert_allclose(np.asarray(g), expect, rtol=1e-5, atol=1e-7)


def test_kl_balance_free_bits_and_which_side_each_term_trains():
    post = jnp.log(jnp.array([[[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]]]))  # [1 step, 2 groups, 3 classes]
    prior = jnp.log(jnp.array([[[0.2, 0.3, 0.5], [0.3, 0.3, 0.4]]]))
    p, q = np.exp(np.asarray(post)), np.exp(np.asarray(prior))
    kl = float(np.sum(p * (np.log(p) - np.log(q))))  # summed over groups: 0.7*ln3.5+0.2*ln(2/3)+... by hand
    assert kl == pytest.approx(0.7 * np.log(3.5) + 0.2 * np.log(2 / 3) + 0.1 * np.log(0.2)
                               + 0.25 * np.log(0.25 / 0.3) * 2 + 0.5 * np.log(1.25), rel=1e-6)
    dyn, rep, raw = losses.kl_balance(post, prior, 0.0)
    assert float(dyn[0]) == pytest.approx(kl, rel=1e-5) and float(rep[0]) == pytest.approx(kl, rel=1e-5)
    dyn, rep, raw = losses.kl_balance(post, prior, 1.0)  # kl ~ 0.74 < 1 nat: both clipped to the free bits
    assert kl < 1.0 and float(dyn[0]) == 1.0 and float(rep[0]) == 1.0 and float(raw[0]) == pytest.approx(kl, rel=1e-5)
    # below the free bits no gradient flows; above, dyn trains only the prior and rep only the posterior
    g_dyn = jax.grad(lambda a, b: losses.kl_balance(a, b, 0.5)[0].sum(), argnums=(0, 1))(post, prior)
    g_rep = jax.grad(lambda a, b: losses.kl_balance(a, b, 0.5)[1].sum(), argnums=(0, 1))(post, prior)
    assert np.all(np.asarray(g_dyn[0]) == 0) and np.any(np.asarray(g_dyn[1]) != 0)
    assert np.all(np.asarray(g_rep[1]) == 0) and np.any(np.asarray(g_rep[0]) != 0)
    g_free = jax.grad(lambda a, b: losses.kl_balance(a, b, 1.0)[0].sum(), argnums=(0, 1))(post, prior)
    assert all(np.all(np.asarray(g) == 0) for g in g_free)


def test_imagined_returns_with_continuation_flags_match_numpy():
    rng = np.random.default_rng(0)
    H, M = 5, 3
    reward = rng.normal(size=(H, M)).astype(np.float32)
    cont = rng.uniform(size=(H, M)).astype(np.float32)
    cont[2, 1] = 0.0  # an imagined episode end
    values = rng.normal(size=(H + 1, M)).astype(np.float32)
    start = np.array([1.0, 1.0, 0.0], np.float32)
    hp = dreamer.default_hparams().replace(gamma=0.9, lam=0.8)
    returns, weight = losses.imagined_returns(jnp.asarray(reward), jnp.asarray(cont), jnp.asarray(values), jnp.asarray(start), hp)
    g = values[H].copy()
    expect = np.zeros((H, M), np.float32)
    for t in reversed(range(H)):  # G_t = r_t + gamma c_t ((1 - lam) v_{t+1} + lam G_{t+1}), G_H = v_H
        g = reward[t] + 0.9 * cont[t] * ((1 - 0.8) * values[t + 1] + 0.8 * g)
        expect[t] = g
    np.testing.assert_allclose(np.asarray(returns), expect, rtol=1e-5, atol=1e-6)
    alive = np.ones((H, M), np.float32)
    for t in range(1, H):
        alive[t] = alive[t - 1] * cont[t - 1]
    np.testing.assert_allclose(np.asarray(weight), alive * start, rtol=1e-6)
    assert np.all(np.asarray(weight)[3:, 1] == 0)  # nothing counts after the imagined end
    # the actor's dynamics gradient reaches the returns through rewards and values, never the continuation
    total = lambda r, c, v: losses.imagined_returns(r, c, v, jnp.asarray(start), hp)[0].sum()
    g_r, g_c, g_v = jax.grad(total, argnums=(0, 1, 2))(jnp.asarray(reward), jnp.asarray(cont), jnp.asarray(values))
    assert np.all(np.asarray(g_c) == 0)
    assert np.all(np.asarray(g_r) != 0) and np.any(np.asarray(g_v) != 0)


# ----------------------------------------------------------------------------- the RSSM


@pytest.fixture(scope="module")
def tiny_agent():
    env, params = envs.make("probe_continuous")
    config = tiny()
    agent = dreamer.make_agent(config, env)
    wm = dreamer.world_model(config, env)
    state = jax.jit(agent.init)(jax.random.key(0), dreamer.default_hparams())
    return env, config, agent, wm, state


def test_continuous_entropy_bonus_has_the_entropy_gradient_under_reinforce_too(tiny_agent):
    """The actor's entropy term for a continuous action: under REINFORCE (action and score stopped)
    its gradient with respect to the policy's log std is the pathwise one of the reparameterised
    draw, the same as with dynamics gradients. (It was ``-log_prob(stop_gradient(action))``, whose
    expected gradient is 0: no entropy bonus at all.) Against NumPy: for ``a = tanh(mu + s e)``,
    ``d(-log p(a))/d log_std = 1 - 2 tanh(mu + s e) s e`` per dimension (``s = exp(log_std)``)."""
    env, config, _, _, _ = tiny_agent
    from jaxrl.distributions import TanhGaussian

    mean, log_std = jnp.full((4096, 1), 0.3), jnp.full((4096, 1), -0.5)
    key = jax.random.key(3)
    for mode in ("reinforce", "dynamics"):
        wm = dreamer.world_model(tiny(actor_grad=mode), env)

        def bonus(ls):
            dist = TanhGaussian(mean, jnp.broadcast_to(ls, mean.shape), -1.0, 1.0)
            return jnp.mean(wm.sample_action(dist, key)[2])

        grad = float(jax.grad(bonus)(jnp.float32(-0.5)))
        eps = np.asarray(jax.random.normal(key, (4096, 1)))  # the draw TanhGaussian makes from this key
        u = 0.3 + np.exp(-0.5) * eps
        expect = np.mean(1.0 - 2.0 * np.tanh(u) * np.exp(-0.5) * eps)
        assert grad > 0.3, (mode, grad)  # widening the policy raises its entropy (the stopped score gave ~0.01)
        np.testing.assert_allclose(grad, expect, rtol=1e-3, err_msg=mode)


def test_bounded_normal_actor_against_numpy_and_its_actions_clipped(tiny_agent):
    """``actor_dist="bounded_normal"`` (DreamerV3's continuous policy): mean ``tanh(out)``, std in
    ``[min_std, max_std]``, the Gaussian's log-density and entropy (NumPy); imagined actions enter the
    RSSM as ``raw / max(1, |raw|)`` (equal to the clip, with the gradient scaled, not cut); acting
    clips the sample to the env's box."""
    env, _, _, _, _ = tiny_agent
    config = tiny(actor_dist="bounded_normal", min_std=0.1, max_std=1.0)
    agent, wm = dreamer.make_agent(config, env), dreamer.world_model(config, env)
    state = jax.jit(agent.init)(jax.random.key(0), dreamer.default_hparams())
    feat = 3.0 * jax.random.normal(jax.random.key(1), (256, config.deter + config.stoch))
    dist = wm.act_dist(state.actor, feat)
    mean, std = np.asarray(dist.mean), np.exp(np.asarray(dist.log_std))
    assert np.all(np.abs(mean) <= 1.0) and np.all((std >= 0.1 - 1e-6) & (std <= 1.0 + 1e-6))
    # the same params in the tanh-normal actor give the network's raw mean and the same std: mean = tanh(out)
    pre = dreamer.world_model(tiny(min_std=0.1, max_std=1.0), env).act_dist(state.actor, feat)
    np.testing.assert_allclose(mean, np.tanh(np.asarray(pre.mean)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(dist.log_std), np.asarray(pre.log_std), rtol=1e-6)
    assert np.mean(np.abs(np.asarray(pre.mean)) > 0.5) > 0.1  # the tanh is exercised, not near-identity
    x = np.linspace(-2.5, 2.5, 256, dtype=np.float32)[:, None]
    np_logp = np.sum(-0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi), -1)
    np.testing.assert_allclose(np.asarray(dist.log_prob(jnp.asarray(x))), np_logp, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(dist.entropy()), np.sum(0.5 * np.log(2 * np.pi * np.e * std ** 2), -1),
                               rtol=1e-5, atol=1e-6)
    # imagination: the action entering the RSSM is the clip of the raw draw; d action / d raw = 1 / max(1, |raw|)
    wide = DiagGaussian(jnp.zeros((512, 1)), jnp.full((512, 1), jnp.log(2.0)))
    raw = np.asarray(wide.sample(jax.random.key(2)))
    action, log_prob, entropy = wm.sample_action(wide, jax.random.key(2))
    np.testing.assert_allclose(np.asarray(action), np.clip(raw, -1, 1), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(log_prob), np.asarray(wide.log_prob(jnp.asarray(raw))), rtol=1e-6)
    grad = jax.grad(lambda m: jnp.sum(wm.sample_action(wide._replace(mean=m), jax.random.key(2))[0]))(wide.mean)
    np.testing.assert_allclose(np.asarray(grad), 1.0 / np.maximum(1.0, np.abs(raw)), rtol=1e-6)
    assert np.mean(np.abs(raw) > 1) > 0.3  # the check above covered clipped draws
    # acting: explored actions lie in the box even when the draw leaves it
    obs = jnp.zeros((512, *env.observation_spec.shape))
    act, carry, _ = agent.explore(state, dreamer.default_hparams(), jax.random.key(3), agent.init_carry(512), obs,
                                  jnp.ones((512,), bool), 0.0)
    low, high = np.asarray(env.action_spec.low), np.asarray(env.action_spec.high)
    assert np.all((np.asarray(act) >= low) & (np.asarray(act) <= high))
    assert np.all(np.abs(np.asarray(carry.action)) <= 1.0) and np.mean(np.abs(np.asarray(carry.action)) == 1.0) > 0.05
    # the replay's env action, read back as the RSSM reads it, is the carry's action
    np.testing.assert_allclose(np.asarray(wm.action_input(act)), np.asarray(carry.action), rtol=1e-6, atol=1e-6)
    # under REINFORCE the action is stopped and the score is the Gaussian's: d log p / d mean = (raw - mean) / std^2
    rf = dreamer.world_model(tiny(actor_dist="bounded_normal", actor_grad="reinforce"), env)

    def score(m):
        action, log_prob, _ = rf.sample_action(wide._replace(mean=m), jax.random.key(2))
        return jnp.sum(log_prob) + jnp.sum(action)

    np.testing.assert_allclose(np.asarray(jax.grad(score)(wide.mean)), raw / 4.0, rtol=1e-5, atol=1e-6)


def test_dreamer_2023s_actor_takes_a_gradient_step():
    """The ``paper_*`` presets' actor (bounded normal, ``sg(state)``, dynamics gradients) through one
    ``learn`` step on a replayed window: finite metrics and a moved actor."""
    hp = dreamer.default_hparams()
    env, _ = envs.make("probe_continuous")
    agent = dreamer.make_agent(tiny(actor_dist="bounded_normal", actor_state_grad=False, actor_grad="dynamics"), env)
    state = jax.jit(agent.init)(jax.random.key(0), hp)
    actions = jax.random.uniform(jax.random.key(3), (4, 2, 1), minval=-1, maxval=1)
    seq = _fake_window(env.observation_spec.shape, env.observation_spec.dtype, actions, 4, 2, jax.random.key(1))
    new, metrics = jax.jit(agent.learn)(state, hp, None, seq, jax.random.key(2))
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert not np.allclose(np.asarray(jax.tree.leaves(new.actor)[0]), np.asarray(jax.tree.leaves(state.actor)[0]))


def test_the_world_models_adam_eps_is_its_own():
    """``model_adam_eps`` (DreamerV3 2023: 1e-8 for the world model, 1e-5 for the actor and the critic)
    reaches the world model's optimiser only (traced abstractly: nothing compiles); a bad eps is refused."""
    from jaxrl.optim import default_optimizer

    seen = []

    def recording(hp, meta_params, config):
        seen.append(getattr(config, "adam_eps", None))
        return default_optimizer(hp, meta_params, config)

    env, _ = envs.make("probe_continuous")
    hp = dreamer.default_hparams()
    agent = dreamer.make_agent(tiny(model_adam_eps=1e-8, optimizer=recording), env)
    state = jax.eval_shape(agent.init, jax.random.key(0), hp)
    seq = _fake_window(env.observation_spec.shape, env.observation_spec.dtype, jnp.zeros((4, 2, 1)), 4, 2, jax.random.key(1))
    jax.eval_shape(agent.learn, state, hp, None, seq, jax.random.key(2))
    assert seen == [1e-8, None, None] * 2  # (model, actor, critic) in init and in learn; None: the default 1e-5
    assert tiny().model_adam_eps == 1e-5 and dreamer.DreamerConfig.LEGACY_DEFAULTS["model_adam_eps"] == 1e-5
    for bad in (0.0, True, float("inf"), "1e-8"):
        with pytest.raises(ConfigError, match="model_adam_eps must be > 0"):
            tiny(model_adam_eps=bad)


def test_presets_build_and_the_paper_ones_take_dreamerv3s_actor():
    """Every preset is a valid config; the ``paper_*`` ones take DreamerV3's (2023) continuous actor, a
    bounded normal fed ``sg(state)``, and its code's DMC setup (4 envs, learning once one batch of 1,024 steps
    is in, train ratio 512, the world model's Adam eps 1e-8); ``small`` (the CPU setting measured to learn
    the swing-up fastest, 20k agent steps, 2 seeds) its bounded normal at one gradient step per env step."""
    for name, preset in dreamer.presets().items():
        config = dreamer.DreamerConfig(**preset.config)
        dreamer.validate_hparams(preset.hparams or {})
        if name.startswith("paper_"):
            fields = (config.actor_dist, config.actor_state_grad, config.actor_baseline, config.groups, config.classes)
            assert fields == ("bounded_normal", False, True, 32, 32), name
            setup = (config.num_envs, config.learning_starts, config.batch_size, config.seq_length, config.model_adam_eps)
            assert setup == (4, 1_024, 16, 64, 1e-8), name
            assert config.conv_style == "dreamerv3", name  # its image encoder
            assert config.replay_ratio * config.batch_size * config.seq_length == 512, name  # DreamerV3's train ratio
    small = dreamer.DreamerConfig(**dreamer.presets()["small"].config)
    assert (small.actor_dist, small.replay_ratio, small.deter) == ("bounded_normal", 1.0, 64)
    # ``small_pixels`` is ``small`` with a CNN and half the train ratio, and its images fit that CNN
    # (the one-line image check of make_train passes; nothing compiles)
    pixels = dreamer.presets()["small_pixels"]
    config = dreamer.DreamerConfig(**pixels.config)
    cnn = ("conv_channels", "conv_kernels", "conv_strides")
    assert dataclasses.replace(config, replay_ratio=1.0, **{k: getattr(small, k) for k in cnn}) == small
    assert (config.replay_ratio, config.conv_channels, config.conv_style) == (0.5, (16, 32), "dreamerv3")
    assert pixels.hparams == dreamer.presets()["small"].hparams and pixels.env_options["obs"] == "pixels"
    env, params = envs.make("cartpole_balance", **pixels.env_options)
    dreamer.make_train(config, env, params)
    assert dreamer.DreamerConfig().actor_dist == "tanh_normal" and dreamer.DreamerConfig().actor_state_grad
    assert not dreamer.DreamerConfig().actor_baseline and not small.actor_baseline


def test_the_dynamics_baseline_carries_its_gradient_against_numpy():
    """``actor_loss(..., dynamics_baseline=True)``: ``-mean_w[(G - v) / max(1, S)]`` with ``v``'s own
    gradient (DreamerV3 2023's backprop objective), against NumPy; without it ``-mean_w[G / max(1, S)]``
    (no trace of ``v``); under REINFORCE the flag changes nothing. Returns span less than 1, so the
    scale stays below 1 and ``max(1, S)`` is 1."""
    hp = dreamer.as_hparams(dreamer.default_hparams())
    rng = np.random.default_rng(0)
    R, B = rng.uniform(0, 0.5, (3, 4)).astype(np.float32), rng.uniform(0, 0.5, (3, 4)).astype(np.float32)
    w = np.array([[1, 1, 0, 1]] * 3, np.float32)
    zeros, one = jnp.zeros((3, 4)), jnp.float32(1.0)
    log_prob = rng.normal(size=(3, 4)).astype(np.float32)

    def loss(theta, baseline_grad, reinforce=False):
        lp = theta * log_prob if reinforce else zeros
        return losses.actor_loss(theta * R, theta * B, lp, zeros, w, one, hp, reinforce, baseline_grad)[0]

    for flag, expected in ((True, R - B), (False, R)):
        value, grad = jax.value_and_grad(loss)(jnp.float32(2.0), flag)
        np.testing.assert_allclose(value, -np.sum(w * 2.0 * expected) / w.sum(), rtol=1e-6)
        np.testing.assert_allclose(grad, -np.sum(w * expected) / w.sum(), rtol=1e-6)
    # REINFORCE: -mean_w[sg(2 (R - B)) * theta * log_prob], the gradient only through log_prob, flag or not
    for flag in (True, False):
        value, grad = jax.value_and_grad(loss)(jnp.float32(2.0), flag, True)
        np.testing.assert_allclose(value, -np.sum(w * 2.0 * (R - B) * 2.0 * log_prob) / w.sum(), rtol=1e-5)
        np.testing.assert_allclose(grad, -np.sum(w * 2.0 * (R - B) * log_prob) / w.sum(), rtol=1e-5)


def test_actor_baseline_changes_the_actors_step_only_with_dynamics_gradients():
    """One ``learn`` step from the same state, window and key: with dynamics gradients,
    ``actor_baseline=True`` moves the actor differently (the critic's value of the imagined states
    pulls back through the dynamics) and the world model the same; under REINFORCE the learner is the
    same program either way. The critic's output layer starts at zero (a flat value, no gradient), so
    it gets random weights first. Fails if the learner drops the switch or stops the value's gradient."""
    env, _ = envs.make("probe_continuous")
    hp = dreamer.default_hparams()
    seq = _fake_window(env.observation_spec.shape, env.observation_spec.dtype, jnp.zeros((4, 2, 1)), 4, 2,
                       jax.random.key(1))
    agents = [dreamer.make_agent(tiny(actor_grad="dynamics", actor_baseline=flag), env) for flag in (False, True)]
    state = jax.jit(agents[0].init)(jax.random.key(0), hp)
    leaves = jax.tree.leaves(state.critic)
    keys = jax.random.split(jax.random.key(3), len(leaves))
    noisy = [x + 0.3 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)]
    state = state.replace(critic=jax.tree.unflatten(jax.tree.structure(state.critic), noisy))
    plain, based = [jax.jit(a.learn)(state, hp, None, seq, jax.random.key(2))[0] for a in agents]
    jax.tree.map(np.testing.assert_array_equal, plain.model, based.model)
    gap = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
              for a, b in zip(jax.tree.leaves(plain.actor), jax.tree.leaves(based.actor)))
    assert gap > 0, gap
    reinforce = [dreamer.make_agent(tiny(actor_grad="reinforce", actor_baseline=flag), env) for flag in (False, True)]
    jaxprs = [str(jax.make_jaxpr(a.learn)(state, hp, None, seq, jax.random.key(2))) for a in reinforce]
    assert jaxprs[0] == jaxprs[1]


@pytest.mark.parametrize("state_grad", [True, False])
def test_actor_state_grad_decides_whether_gradients_reach_the_state_through_the_actor(tiny_agent, state_grad):
    """With dynamics gradients, the first imagined state's gradient with respect to the start state:
    with ``actor_state_grad=False`` (DreamerV3 2023's ``actor(sg(state))``) it is the dynamics' alone,
    the same as stepping with the drawn action held fixed; with ``True`` it also flows through the
    actor's input into the action, and differs."""
    env, _, _, _, _ = tiny_agent
    config = tiny(actor_grad="dynamics", actor_state_grad=state_grad)
    agent, wm = dreamer.make_agent(config, env), dreamer.world_model(config, env)
    state = jax.jit(agent.init)(jax.random.key(0), dreamer.default_hparams())
    start = wm.zeros((1,))._replace(deter=jax.random.normal(jax.random.key(1), (1, config.deter)))

    @jax.jit  # one program (eagerly, each op of the imagination's gradients compiled alone: ~150)
    def measure(state, start, key):
        imag = wm.imagine(state.model, state.actor, start, key, 1)
        act_key, img_key = jax.random.split(jax.random.split(key, 1)[0])
        action = wm.sample_action(wm.act_dist(state.actor, start.features()), act_key)[0]

        def through_imagine(deter):
            return jnp.sum(wm.imagine(state.model, state.actor, start._replace(deter=deter), key, 1).states.deter[1])

        def action_fixed(deter):
            return jnp.sum(wm.img_step(state.model, start._replace(deter=deter), action, img_key)[0].deter)

        gap = jnp.max(jnp.abs(jax.grad(through_imagine)(start.deter) - jax.grad(action_fixed)(start.deter)))
        actor_grad = jax.grad(lambda a: jnp.sum(wm.imagine(state.model, a, start, key, 1).states.deter[1]))(state.actor)
        actor_max = jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in jax.tree.leaves(actor_grad)]))
        return through_imagine(start.deter), jnp.sum(imag.states.deter[1]), gap, actor_max

    through, imagined, gap, actor_max = map(float, measure(state, start, jax.random.key(4)))
    np.testing.assert_allclose(through, imagined, rtol=1e-6)
    # the fresh actor's path is small (measured 3.6e-5 here), rounding is ~1e-7: thresholds between them
    assert gap > 1e-5 if state_grad else gap < 1e-6, gap
    # either way the actor's params get the dynamics' gradient through its action
    assert actor_max > 1e-4, actor_max


@pytest.fixture(scope="module")
def tiny_block_agent():
    """The tiny agent with DreamerV3's current recurrent core (a block GRU of 2 blocks)."""
    env, _ = envs.make("probe_continuous")
    config = tiny(blocks=2)
    agent = dreamer.make_agent(config, env)
    state = jax.jit(agent.init)(jax.random.key(0), dreamer.default_hparams())
    return env, config, agent, dreamer.world_model(config, env), state


def np_layer_norm_silu(norm, y):
    """LayerNorm (flax's eps 1e-6, params ``norm``) then SiLU, in NumPy."""
    y = (y - y.mean(-1, keepdims=True)) / np.sqrt(y.var(-1, keepdims=True) + 1e-6)
    y = y * norm["scale"] + norm["bias"]
    return y / (1.0 + np.exp(-y))


def np_normed_dense(p, x):
    """Dense, LayerNorm, SiLU, in NumPy from a ``NormedDense``'s params."""
    return np_layer_norm_silu(p["LayerNorm_0"], x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])


def test_block_gru_against_numpy():
    """:class:`BlockGRU` (DreamerV3's current core) against a NumPy transcription of its equations with
    the block-diagonal weights written out as one dense matrix (a block's slice of the old state enters
    only its own block; the blocks also meet in the shared input projection and the LayerNorm over the
    whole state, as in DreamerV3's code)."""
    from jaxrl.algos.dreamer.networks import BlockGRU

    deter, hidden, blocks = 6, 3, 2
    core = BlockGRU(deter, hidden, blocks)
    k = jax.random.split(jax.random.key(0), 4)
    h, z, a = jax.random.normal(k[0], (5, deter)), jax.random.normal(k[1], (5, 4)), jax.random.normal(k[2], (5, 2))
    params = jax.jit(core.init)(k[3], h, z, a)["params"]
    rng = np.random.default_rng(7)
    params = jax.tree.map(lambda x: x + 0.1 * rng.standard_normal(x.shape, np.float32), params)  # non-zero biases
    out = np.asarray(jax.jit(core.apply)({"params": params}, h, z, a))
    p = jax.tree.map(np.asarray, params)
    h_, z_, a_ = (np.asarray(v, np.float64) for v in (h, z, a))
    x = np.concatenate([np_normed_dense(p[f"NormedDense_{i}"], v) for i, v in enumerate((h_, z_, a_))], -1)

    def block_diag(kernel):  # [blocks, i, o] -> [blocks * i, blocks * o]
        b, i, o = kernel.shape
        dense = np.zeros((b * i, b * o))
        for j in range(b):
            dense[j * i:(j + 1) * i, j * o:(j + 1) * o] = kernel[j]
        return dense

    per = deter // blocks
    inp = np.concatenate([np.concatenate([h_[:, j * per:(j + 1) * per], x], -1) for j in range(blocks)], -1)
    y = np_layer_norm_silu(p["LayerNorm_0"], inp @ block_diag(p["BlockDense_0"]["kernel"]) + p["BlockDense_0"]["bias"])
    gates = (y @ block_diag(p["BlockDense_1"]["kernel"]) + p["BlockDense_1"]["bias"]).reshape(5, blocks, 3, per)
    reset, cand, update = (gates[:, :, i].reshape(5, deter) for i in range(3))
    sigmoid = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    cand = np.tanh(sigmoid(reset) * cand)
    update = sigmoid(update - 1.0)
    np.testing.assert_allclose(out, update * cand + (1.0 - update) * h_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("agent_fixture", ["tiny_agent", "tiny_block_agent"])
def test_observe_and_imagine_agree(agent_fixture, request):
    """Stepping the prior (``img_step``) from the posterior's state with the action the window took
    gives the observe path's deterministic state and prior at every step (both recurrent cores)."""
    env, config, agent, wm, state = request.getfixturevalue(agent_fixture)
    rssm = state.model["rssm"]["params"]
    assert ("core" in rssm, "gru" in rssm) == ((True, False) if config.blocks else (False, True))  # the core asked for
    L, N = 5, 3
    k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
    embed = jax.random.normal(k1, (L, N, config.hidden))
    actions = jax.random.uniform(k2, (L, N, 1), minval=-1, maxval=1)
    first = jnp.zeros((L, N), bool).at[0].set(True)
    observe, img_step = jax.jit(wm.observe), jax.jit(wm.img_step)  # one compile each, not op by op
    states, post, prior = observe(state.model, embed, actions, first, k3)
    for t in range(1, L):
        prev = jax.tree.map(lambda x: x[t - 1], states)
        deter_img, prior_img = img_step(state.model, prev, actions[t], jax.random.key(9))
        np.testing.assert_allclose(np.asarray(deter_img.deter), np.asarray(states.deter[t]), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(np.asarray(prior_img), np.asarray(prior[t]), rtol=1e-5, atol=1e-6)
    # the posterior sees the observation: different embeddings give different posteriors, same priors at t = 0
    _, post2, prior2 = observe(state.model, embed + 1.0, actions, first, k3)
    np.testing.assert_allclose(np.asarray(prior2[0]), np.asarray(prior[0]), rtol=1e-6)
    assert not np.allclose(np.asarray(post2[0]), np.asarray(post[0]))
    # imagine with the actor: H + 1 states, stochastic parts one-hot per group
    imag = wm.imagine(state.model, state.actor, jax.tree.map(lambda x: x[-1], states), jax.random.key(4), 4)
    assert imag.states.deter.shape == (5, N, config.deter) and imag.log_prob.shape == (4, N)
    groups = np.asarray(imag.states.stoch).reshape(5, N, config.groups, config.classes)
    np.testing.assert_allclose(groups.sum(-1), 1.0)


def test_observe_restarts_on_first(tiny_agent):
    env, config, agent, wm, state = tiny_agent
    L, N = 4, 2
    embed = jax.random.normal(jax.random.key(1), (L, N, config.hidden))
    actions = jnp.ones((L, N, 1))
    first = jnp.zeros((L, N), bool).at[0].set(True).at[2, 0].set(True)
    states, _, _ = wm.observe(state.model, embed, actions, first, jax.random.key(2))
    # env 0 restarted at step 2: its deterministic state is the one a fresh episode starts with
    # (the GRU of a zero state and a zero action; it does not depend on the draw or the embedding)
    fresh = wm.obs_step(state.model, wm.zeros((N,)), jnp.zeros((N, 1)), embed[2], jax.random.key(0))[0]
    np.testing.assert_allclose(np.asarray(states.deter[2, 0]), np.asarray(fresh.deter[0]), rtol=1e-6)
    assert not np.allclose(np.asarray(states.deter[2, 1]), np.asarray(fresh.deter[1]))


def test_the_acting_carry_restarts_on_first(tiny_agent):
    env, config, agent, wm, state = tiny_agent
    B = 3
    obs = jax.random.normal(jax.random.key(0), (B, *env.observation_spec.shape))
    junk = agent.init_carry(B)
    junk = jax.tree.map(lambda x: x + jax.random.normal(jax.random.key(5), x.shape), junk)
    hp = dreamer.default_hparams()
    key = jax.random.key(7)
    first = jnp.array([True, False, True])
    a_junk, c_junk = agent.greedy(state, hp, key, junk, obs, first)
    a_zero, c_zero = agent.greedy(state, hp, key, agent.init_carry(B), obs, first)
    for i in (0, 2):  # restarted: as if the carry were fresh
        np.testing.assert_allclose(np.asarray(c_junk.state.deter[i]), np.asarray(c_zero.state.deter[i]), rtol=1e-6)
        np.testing.assert_allclose(np.asarray(a_junk[i]), np.asarray(a_zero[i]), rtol=1e-6)
    assert not np.allclose(np.asarray(c_junk.state.deter[1]), np.asarray(c_zero.state.deter[1]))
    assert np.all(np.abs(np.asarray(a_junk)) <= 1.0)  # probe_continuous's box is [-1, 1]
    np.testing.assert_allclose(np.asarray(c_zero.action), np.asarray(a_zero))  # the carry keeps the action taken


@pytest.mark.parametrize("env_name, actions, expected", [
    ("gymnax/Pendulum-v1", [[-2.0], [1.0], [3.0]], [[-1.0], [0.5], [1.0]]),  # the box [-2, 2] -> [-1, 1], clipped
    ("gymnax/CartPole-v1", [1, 0, 1], [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]),  # one-hot
])
def test_the_warm_ups_random_action_enters_the_carry_as_the_rssm_reads_it(env_name, actions, expected):
    """``Agent.executed`` (the trainer calls it with the warm-up's random env action) sets the carry's
    action to the RSSM's input form of that env action, the same form replayed windows give it."""
    pytest.importorskip("gymnax")
    env, _ = envs.make(env_name)
    agent = dreamer.make_agent(tiny(), env)
    carry = agent.init_carry(3)
    new = agent.executed(carry, jnp.asarray(actions, env.action_spec.dtype))
    np.testing.assert_allclose(np.asarray(new.action), np.asarray(expected, np.float32), rtol=1e-6)
    jax.tree.map(np.testing.assert_array_equal, new.state, carry.state)  # the RSSM state is untouched


# ----------------------------------------------------------------------------- pixels, discrete actions, bad input


def _fake_window(obs_shape, obs_dtype, action, L, N, key):
    k1, k2 = jax.random.split(key)
    if obs_dtype == np.uint8:
        obs = jax.random.randint(k1, (L, N, *obs_shape), 0, 256).astype(jnp.uint8)
    else:
        obs = jax.random.normal(k1, (L, N, *obs_shape))
    zeros = jnp.zeros((L, N))
    first = jnp.zeros((L, N), bool).at[0].set(True)
    return Sequence(obs, action, jax.random.normal(k2, (L, N)), zeros.astype(bool), zeros.astype(bool), first,
                    zeros.astype(bool), {}, jnp.ones((L, N), bool))


@pytest.mark.parametrize("style, maps", [("torso", 2 * 2), ("dreamerv3", 4 * 4)])
def test_pixels_go_through_the_same_agent(style, maps):
    """One gradient step on a replayed window of 16 x 16 images (CNN encoder in either layer style,
    transposed-CNN decoder back to 16 x 16), no env compiled. Two stride-2 layers leave 2 x 2 maps
    VALID (``torso``) and 4 x 4 SAME (``dreamerv3``, whose convolutions are normed, without bias).
    (Discrete actions, the REINFORCE actor, go through the default-run learning test on CartPole-v1
    in tests/test_offpolicy_learning.py.)"""
    hp = dreamer.default_hparams()
    env, _ = envs.make("cartpole_balance", obs="pixels", image_size=16, physics="fast")
    config = tiny(conv_channels=(4, 8), conv_kernels=(4, 4), conv_strides=(2, 2), conv_style=style)
    nets = dreamer.make_networks(config, env, False, 1)
    images = jnp.zeros((3, 16, 16, 3), jnp.uint8)
    enc = jax.eval_shape(nets.encoder.init, jax.random.key(0), images)
    assert jax.eval_shape(nets.encoder.apply, enc, images).shape == (3, maps * 8)
    assert ("bias" in enc["params"]["ConvEncoder_0"]["Conv_0"]) == (style == "torso")
    agent = dreamer.make_agent(config, env)
    state = jax.jit(agent.init)(jax.random.key(0), hp)
    seq = _fake_window(env.observation_spec.shape, env.observation_spec.dtype, jnp.zeros((4, 2, 1)), 4, 2, jax.random.key(1))
    new, metrics = jax.jit(agent.learn)(state, hp, None, seq, jax.random.key(2))
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert not np.allclose(np.asarray(jax.tree.leaves(new.model["decoder"])[0]),
                           np.asarray(jax.tree.leaves(state.model["decoder"])[0]))
    feat = jnp.zeros((3, config.deter + config.stoch))
    params = nets.decoder.init(jax.random.key(0), feat)
    assert nets.decoder.apply(params, feat).shape == (3, 16, 16, 3)


@pytest.mark.parametrize("changes, match", [
    (dict(seq_length=40), "seq_length .*longer than the buffer holds per env"),
    (dict(actor_grad="sideways"), "actor_grad must be one of"),
    (dict(actor_dist="beta"), "actor_dist must be one of"),
    (dict(actor_state_grad=1), "actor_state_grad must be True or False"),
    (dict(actor_baseline="yes"), "actor_baseline must be True or False"),
    (dict(unimix=1.0), "unimix must be in"),
    (dict(min_std=1.0, max_std=0.5), "min_std < max_std"),
    (dict(groups=0), "groups must be a positive integer"),
    (dict(blocks=3), "blocks must be 0 .* or divide deter"),
    (dict(conv_style="resnet"), "conv_style must be one of torso, dreamerv3, got 'resnet'"),
])
def test_bad_configs_are_one_line_errors(changes, match):
    with pytest.raises(ConfigError, match=match) as e:
        tiny(**changes)
    assert "\n" not in str(e.value)


def test_bad_envs_images_and_hparams_are_refused_before_compiling():
    env, params = envs.make("cartpole_balance", obs="pixels", image_size=18, physics="fast")
    with pytest.raises(ConfigError, match="each side must be a multiple of 4; got 18x18") as e:
        dreamer.make_train(tiny(conv_channels=(4, 8)), env, params)
    assert "\n" not in str(e.value)
    tiny_images = envs.make("cartpole_balance", obs="pixels", image_size=8, physics="fast")
    with pytest.raises(ConfigError, match="does not fit 8x8"):
        dreamer.make_train(tiny(conv_style="torso"), *tiny_images)  # VALID: 8 -> 3 -> 0
    dreamer.make_train(tiny(), *tiny_images)  # SAME (``dreamerv3``): 8 -> 4 -> 2, and the decoder's 4 divides 8
    with pytest.raises(ConfigError, match="gamma"):
        dreamer.validate_hparams(dict(gamma=1.5))
    with pytest.raises(ConfigError, match="free_nats"):
        dreamer.validate_hparams(dict(free_nats=-1.0))


def test_open_loop_predictions_reconstruct_the_context_then_imagine(tiny_agent):
    """``open_loop`` decodes the posterior for the context steps and the prior driven by the window's
    actions after; with ``context = L`` it is the reconstruction, and the imagined part does not
    look at the observations it predicts."""
    env, config, agent, wm, state = tiny_agent
    L, N = 4, 2
    seq = _fake_window(env.observation_spec.shape, np.float32, jnp.zeros((L, N, 1)), L, N, jax.random.key(1))
    pred = wm.open_loop(state.model, seq, 2, jax.random.key(3))
    assert pred.shape == (L, N, *env.observation_spec.shape)
    changed = seq._replace(obs=seq.obs.at[2:].add(100.0))
    np.testing.assert_array_equal(np.asarray(wm.open_loop(state.model, changed, 2, jax.random.key(3))), np.asarray(pred))
    full = wm.open_loop(state.model, seq, L, jax.random.key(3))
    np.testing.assert_allclose(np.asarray(full[:2]), np.asarray(pred[:2]), rtol=1e-5, atol=1e-6)
