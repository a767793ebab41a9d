"""TD-MPC2 (``jaxrl.algos.tdmpc``): bad input refused before compiling, the planner's warm start
through the policy carry, pixels through the same agent, the update-rule slot, and LEARNING.

The protocol itself (one trace, chunked = one jit, vmapped = separate, exact resume, NaN guard)
is checked for every registered algorithm, TD-MPC2 included, by ``tests/test_contract.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs, evaluate
from jaxrl.algos import tdmpc
from jaxrl.configs import ConfigError

TINY = tdmpc.presets()["tiny"].config


def tiny(**changes):
    return tdmpc.TDMPCConfig(**{**TINY, **changes})


@pytest.mark.parametrize("changes, match", [
    (dict(plan_horizon=3), "plan_horizon .*longer than the sampled training sequences"),
    (dict(num_elites=9), "num_elites .*more than num_samples"),
    (dict(num_pi_trajs=8), "num_prior .*leave none"),
    (dict(latent_dim=12, simnorm_dim=8), "latent_dim .*multiple of simnorm_dim"),
    (dict(num_q=1), "num_q must be at least 2"),
    (dict(iterations=0), "iterations must be a positive integer"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
    (dict(entropy="tanh"), "entropy must be 'scaled' .*or 'squashed', got 'tanh'"),
])
def test_bad_configs_are_one_line_errors(changes, match):
    with pytest.raises(ConfigError, match=match) as e:
        tiny(**changes)
    assert "\n" not in str(e.value)


def test_bad_envs_and_hparams_are_refused_before_compiling():
    env, params = envs.make("probe_action")  # Discrete(2)
    with pytest.raises(ConfigError, match="TD-MPC2 needs continuous"):
        tdmpc.make_train(tiny(), env, params)
    env, params = envs.make("probe_continuous")
    with pytest.raises(ConfigError, match="min_std .* larger than max_std"):
        tdmpc.validate_hparams(dict(min_std=3.0, max_std=2.0))
    with pytest.raises(ConfigError, match="temperature"):
        tdmpc.validate_hparams(dict(temperature=-1.0))
    pixel_env, pixel_params = envs.make("cartpole_balance", obs="pixels", image_size=8, physics="fast")
    with pytest.raises(ConfigError, match="does not fit 8x8 images"):
        tdmpc.make_train(tiny(), pixel_env, pixel_params)
    assert tdmpc.discount_for(500) == pytest.approx(0.99) and tdmpc.discount_for(1000) == pytest.approx(0.995)



def test_init_std_reaches_every_network_of_the_model_and_the_prior():
    """TD-MPC2's init (``init_std=0.02``): every non-zero Dense kernel of the encoder, dynamics, reward
    head, Q heads and policy prior has std ~0.02 (the reward and Q output layers start at zero);
    ``init_std=None`` is jaxrl's orthogonal init (std ~1/sqrt(fan-in) and more)."""
    env, _ = envs.make("probe_continuous")
    hp = tdmpc.default_hparams()
    for init_std in (0.02, None):
        state = tdmpc.make_agent(tiny(mlp_dim=64, enc_dim=64, latent_dim=64, init_std=init_std), env).init(jax.random.key(0), hp)
        stds = {}
        for name, tree in (("model", state.model), ("pi", state.pi)):
            for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
                if "kernel" in jax.tree_util.keystr(path) and np.any(np.asarray(leaf) != 0):
                    stds[name + jax.tree_util.keystr(path)] = float(np.std(np.asarray(leaf)))
        assert {"encoder", "dynamics", "reward", "q"} <= {k[len("model['"):].split("'")[0] for k in stds if k.startswith("model")}
        assert any(k.startswith("pi") for k in stds)
        if init_std is None:
            assert max(stds.values()) > 0.1, stds
        else:
            assert all(0.015 < v < 0.025 for v in stds.values()), stds

def test_the_plan_warm_starts_from_the_carry_and_restarts_on_first():
    """With MPPI's std pinned near 0 and no policy proposals, every sample equals the warm start, so
    the returned plan IS the warm start: the previous plan shifted one step, or zeros on ``first``."""
    env, params = envs.make("probe_continuous")
    config = tiny(num_pi_trajs=0, plan_horizon=2)
    agent = tdmpc.make_agent(config, env)
    hp = tdmpc.as_hparams(dict(min_std=1e-7, max_std=1e-7))
    state = jax.jit(agent.init)(jax.random.key(0), hp)
    previous = jnp.asarray([[[0.5], [-0.25]], [[0.1], [0.2]]])  # [B=2, H=2, A=1]
    obs = jnp.zeros((2, 1))
    act = jax.jit(agent.greedy)
    action, carry = act(state, hp, jax.random.key(1), previous, obs, jnp.array([False, True]))
    np.testing.assert_allclose(carry, [[[-0.25], [0.0]], [[0.0], [0.0]]], atol=1e-5)
    np.testing.assert_allclose(action, [[-0.25], [0.0]], atol=1e-5)
    assert agent.init_carry(3).shape == (3, 2, 1)


def test_policy_prior_acting_keeps_an_empty_plan():
    env, params = envs.make("probe_continuous")
    agent = tdmpc.make_agent(tiny(plan=False), env)
    hp = tdmpc.default_hparams()
    state = jax.jit(agent.init)(jax.random.key(0), tdmpc.as_hparams(hp))
    carry = agent.init_carry(2)
    a, c, _ = agent.explore(state, tdmpc.as_hparams(hp), jax.random.key(1), carry, jnp.zeros((2, 1)), jnp.ones(2, bool), 0.0)
    assert a.shape == (2, 1) and np.all(np.abs(np.asarray(a)) <= 1) and c is carry


PIXEL_ENV = dict(obs="pixels", image_size=12, physics="fast", episode_length=20)
PIXEL_CONV = dict(conv_channels=(4, 4), conv_kernels=(3, 3), conv_strides=(2, 2))


def test_pixels_go_through_the_same_agent():
    """The CNN encoder in the learner and the actor, without compiling the env: the trainer's replay
    holds uint8 frames (its state's shapes), one learning step on a window of random 12 x 12 frames
    moves the encoder's convolutions (the model's losses reach it), and the policy prior acts on a
    batch of frames. The whole pixel trainer (MJX, renderer, CNN world model: about 110 s of the
    default run) runs in the slow twin below; the planner is the same code for any latent."""
    env, params = envs.make("cartpole_balance", **PIXEL_ENV)
    config = tiny(**PIXEL_CONV, plan=False)
    like = jax.eval_shape(tdmpc.make_train(config, env, params).init, jax.random.key(0), tdmpc.default_hparams())
    assert like.replay.obs.dtype == jnp.uint8 and like.replay.obs.shape[-3:] == (12, 12, 3)
    agent = tdmpc.make_agent(config, env)
    hp = tdmpc.as_hparams(tdmpc.default_hparams())
    state = jax.jit(agent.init)(jax.random.key(0), hp)
    assert "Conv_0" in str(jax.tree_util.tree_structure(state.model["encoder"]))
    window = _window(jax.random.key(2), n=4)
    frames = jax.random.randint(jax.random.key(3), (3, 4, 12, 12, 3), 0, 256).astype(jnp.uint8)
    new, metrics = jax.jit(agent.learn)(state, hp, None, window._replace(obs=frames), jax.random.key(1))
    for k, v in metrics.items():
        assert np.all(np.isfinite(np.asarray(v, np.float64))), k
    moved = [float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in
             zip(jax.tree.leaves(state.model["encoder"]), jax.tree.leaves(new.model["encoder"]))]
    assert min(moved) > 0, moved  # every encoder leaf, the convolutions included
    a, _, _ = jax.jit(agent.explore)(new, hp, jax.random.key(4), agent.init_carry(4), frames[0], jnp.ones(4, bool), 0.0)
    assert a.shape == (4, 1) and np.all(np.isfinite(np.asarray(a))) and np.all(np.abs(np.asarray(a)) <= 1)


@pytest.mark.slow
def test_pixel_trainer_end_to_end():
    """The same through the whole trainer: MJX cart-pole rendered at 12 x 12 in the graph, replay,
    CNN world model, acting with the prior."""
    env, params = envs.make("cartpole_balance", **PIXEL_ENV)
    config = tiny(**PIXEL_CONV, total_timesteps=32, learning_starts=8, buffer_size=32, num_steps=2, batch_size=4, plan=False)
    trainer = tdmpc.make_train(config, env, params)
    state, metrics = jax.jit(trainer)(jax.random.key(0), tdmpc.default_hparams())
    assert state.replay.obs.dtype == jnp.uint8 and state.replay.obs.shape[-3:] == (12, 12, 3)
    assert "Conv_0" in str(jax.tree_util.tree_structure(state.agent.model["encoder"]))
    for k, v in metrics.items():
        assert np.all(np.isfinite(np.asarray(v, np.float64))), k
    assert float(np.asarray(metrics["learning"])[-1]) == 1.0


def _window(key, n=6, length=3):
    """A replay window ``[length, n]`` of the 1-d probe (random observations, actions and rewards)."""
    from jaxrl.replay import Sequence

    k1, k2, k3 = jax.random.split(key, 3)
    flags = jnp.zeros((length, n), bool)
    return Sequence(jax.random.uniform(k1, (length, n, 1), minval=-1, maxval=1),
                    jax.random.uniform(k2, (length, n, 1), minval=-1, maxval=1), jax.random.uniform(k3, (length, n)),
                    flags, flags, flags, flags, {}, jnp.ones((length, n), bool))


def test_q_dropout_trains_where_tdmpc2_does_and_never_plans():
    """``dropout`` (TD-MPC2's 0.01 in the ``paper`` preset; 0.5 here so every head is hit) leaves the
    params as they are; from the same state, window and key it changes the value loss and the policy
    loss's Q estimate, not the TD targets nor acting (the exploring planner is the same program, jaxpr for
    jaxpr, as the dropout-free agent's). The model's loss coefficients are 0, so the model step moves no
    parameter (Adam on zero gradients) and the policy step sees the same Q heads in both runs: its
    loss differs only by the dropout inside its Q estimate."""
    env, _ = envs.make("probe_continuous")
    hp = tdmpc.as_hparams(dict(consistency_coef=0.0, reward_coef=0.0, value_coef=0.0))
    plain, dropped = tiny(), tiny(dropout=0.5)
    agents = [tdmpc.make_agent(c, env) for c in (plain, dropped)]
    state = jax.jit(agents[0].init)(jax.random.key(0), hp)
    assert jax.tree.structure(jax.eval_shape(agents[1].init, jax.random.key(0), hp)) == jax.tree.structure(state)
    q = state.model["q"]  # the Q output layers start at zero (every head predicts 0): give them weights
    q = jax.tree.map(lambda w, k: w + 0.3 * jax.random.normal(k, w.shape), q,
                     jax.tree.unflatten(jax.tree.structure(q), jax.random.split(jax.random.key(9), len(jax.tree.leaves(q)))))
    state = state.replace(model={**state.model, "q": q})
    window = _window(jax.random.key(2))
    (s0, m0), (s1, m1) = [jax.jit(a.learn)(state, hp, None, window, jax.random.key(1)) for a in agents]
    jax.tree.map(np.testing.assert_array_equal, s0.model, state.model)  # the model step moved nothing
    jax.tree.map(np.testing.assert_array_equal, s1.model, state.model)
    np.testing.assert_array_equal(m0["td_target"], m1["td_target"])
    np.testing.assert_array_equal(m0["consistency_loss"], m1["consistency_loss"])  # the rest of the model: no dropout
    assert float(m0["value_loss"]) != float(m1["value_loss"])
    assert float(m0["pi_loss"]) != float(m1["pi_loss"])
    obs, first = jnp.linspace(-1, 1, 4)[:, None], jnp.array([True, False, True, False])
    args = (state, hp, jax.random.key(5), agents[0].init_carry(4), obs, first, 0.0)
    # The planner with its noise (greedy: the same code) is the SAME program with and without dropout:
    # equal jaxprs, so equal actions, without compiling the planner twice (~15 s of the default run).
    p0, p1 = [str(jax.make_jaxpr(a.explore)(*args)) for a in agents]
    assert p0 == p1


def test_the_prior_maximises_tdmpc2s_scaled_entropy_unless_squashed():
    """``entropy="scaled"`` (the default) puts TD-MPC2's bonus in the policy loss; ``"squashed"`` the
    squashed sample's ``-log pi``: from the same state, window and key, the ``scaled_entropy`` metric (the
    bonus the loss read) equals the ``entropy`` metric (``-mean log pi``) only with ``"squashed"``, and
    the policy losses differ (the bonus's value: tests/test_world_model_parts.py)."""
    env, _ = envs.make("probe_continuous")
    hp = tdmpc.as_hparams(dict(entropy_coef=1.0))  # the bonus weighs in the loss
    window = _window(jax.random.key(2))
    metrics = {}
    for mode in ("scaled", "squashed"):
        agent = tdmpc.make_agent(tiny(entropy=mode), env)
        state = jax.jit(agent.init)(jax.random.key(0), hp)
        metrics[mode] = jax.jit(agent.learn)(state, hp, None, window, jax.random.key(1))[1]
    scaled, squashed = metrics["scaled"], metrics["squashed"]
    np.testing.assert_allclose(squashed["scaled_entropy"], squashed["entropy"], rtol=1e-6)
    assert abs(float(scaled["scaled_entropy"]) - float(scaled["entropy"])) > 1e-3
    # The same sample: only the bonus differs (two programs: equal to rounding, not always to the bit).
    np.testing.assert_allclose(scaled["entropy"], squashed["entropy"], rtol=1e-6)
    assert float(scaled["pi_loss"]) != float(squashed["pi_loss"])


def test_the_update_rule_slot_trains_the_model_and_the_policy():
    """A learned optimiser in the slot: at zero meta-parameters the lifetime-lr rule is the default
    optimiser bit for bit; a non-zero learned multiplier changes both the world model and the prior."""
    from jaxrl.algos import meta

    env, _ = envs.make("probe_continuous")
    hp = tdmpc.as_hparams(tdmpc.default_hparams())
    window = _window(jax.random.key(2))

    programs = {}  # one compiled init and learn per config (the two learned-rule runs share theirs)

    def learned(config, meta_params):
        if config not in programs:
            agent = tdmpc.make_agent(config, env)
            programs[config] = jax.jit(agent.init), jax.jit(agent.learn)
        init, learn = programs[config]
        return learn(init(jax.random.key(0), hp, meta_params), hp, meta_params, window, jax.random.key(1))[0]

    base = learned(tiny(), None)
    zero = jax.tree.map(jnp.zeros_like, meta.init_lifetime_lr(jax.random.key(1)))
    same = learned(tiny(optimizer=meta.lifetime_lr_optimizer), zero)
    for a, b in zip(jax.tree.leaves((base.model, base.pi)), jax.tree.leaves((same.model, same.pi))):
        np.testing.assert_array_equal(a, b)
    other = learned(tiny(optimizer=meta.lifetime_lr_optimizer), jax.tree.map(lambda x: x + 1.0, zero))
    for name in ("model", "pi"):
        diff = [np.max(np.abs(np.asarray(a) - np.asarray(b))) for a, b in
                zip(jax.tree.leaves(getattr(base, name)), jax.tree.leaves(getattr(other, name)))]
        assert max(diff) > 1e-6, name


def test_the_world_models_adam_eps_is_its_own_and_the_policys_stays():
    """``model_adam_eps`` (TD-MPC2: 1e-8 for the model, 1e-5 for the policy) reaches the world model's
    optimiser only, and the default optimiser's first Adam step with it is ``-lr * g / (|g| + eps)``."""
    import copy
    import pickle

    from jaxrl import offpolicy
    from jaxrl.optim import default_optimizer

    seen = []

    def recording(hp, meta_params, config):
        seen.append(getattr(config, "adam_eps", None))
        return default_optimizer(hp, meta_params, config)

    env, _ = envs.make("probe_continuous")
    hp = tdmpc.as_hparams(tdmpc.default_hparams())
    agent = tdmpc.make_agent(tiny(model_adam_eps=1e-8, optimizer=recording), env)
    state = jax.eval_shape(agent.init, jax.random.key(0), hp)
    jax.eval_shape(agent.learn, state, hp, None, _window(jax.random.key(2)), jax.random.key(1))
    assert seen == [1e-8, None] * 2  # (model, policy) in init and in learn; None: the default 1e-5
    assert tdmpc.presets()["paper"].config["model_adam_eps"] == 1e-8 and tiny().model_adam_eps == 1e-5
    for bad in (0.0, True, float("inf")):
        with pytest.raises(ConfigError, match="model_adam_eps must be > 0"):
            tiny(model_adam_eps=bad)
    view = offpolicy.optimizer_config(tiny(), adam_eps=1e-8)
    assert copy.deepcopy(view).adam_eps == 1e-8 and pickle.loads(pickle.dumps(view)).batch_size == tiny().batch_size

    g = np.array([3e-6, -2e-5, 4e-4], np.float32)  # small gradients, where eps matters (no clipping)
    for eps in (1e-8, 1e-5):
        tx = default_optimizer(hp, None, offpolicy.optimizer_config(tiny(), adam_eps=eps))
        step, _ = tx.update(jnp.asarray(g), tx.init(jnp.zeros(3)), jnp.zeros(3))
        np.testing.assert_allclose(step, -hp.lr * g / (np.abs(g) + eps), rtol=1e-5)


def test_a_policy_of_a_state_held_as_numpy_arrays_plans():
    """A state restored by hand (``jax.device_get``, a pickle) holds NumPy arrays, and a policy closes over
    its state: drawing the planner's two Q heads indexed those arrays with a traced index and failed to
    trace (``TracerArrayConversionError``). The replay learners' policy now holds them as jax arrays
    (``jaxrl.offpolicy``). Traced only, no compile."""
    env, params = envs.make("probe_continuous")
    trainer = tdmpc.make_train(tiny(), env, params)
    state = jax.eval_shape(trainer.init, jax.random.key(0), tdmpc.default_hparams())  # the policy reads agent and hparams
    state = state.replace(agent=jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), state.agent),
                          hparams=tdmpc.as_hparams(tdmpc.default_hparams()))

    def step(s):
        policy = trainer.policy(s)
        obs = jnp.zeros((2, *env.observation_spec.shape))
        return policy.step(jax.random.key(1), policy.init_carry(2), obs, jnp.array([True, False]))[0]

    action = jax.eval_shape(lambda: step(state))  # traced with the NumPy arrays as constants
    assert action.shape == (2, *env.action_spec.shape), action
