"""The Brax adapters (envs/brax_env.py): brax envs under jaxrl's API, jaxrl envs as brax envs.

Compiling physics and Brax's PPO takes minutes on a loaded 2-core CPU, so the
default run drives the jaxrl -> Brax view with a tiny pure-JAX env (``Slider``)
through Brax's own training wrappers and Evaluator (what Brax's PPO reports),
and runs one real Brax env (``inverted_pendulum``, ``mjx`` backend) under
jaxrl's API. Brax's PPO itself trains the view in slow tests: on ``Slider`` and
on jaxrl's ``cartpole_balance`` (MJX).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from jaxrl import envs
from jaxrl.env import Env, timestep
from jaxrl.envs import UnknownEnvError
from jaxrl.envs.brax_env import BraxEnv, BraxParams, from_brax, to_brax
from jaxrl.spaces import Box
from jaxrl.wrappers import AutoReset, TimeLimit, VecEnv, training_stack

pytest.importorskip("brax", reason="brax is not installed (pip install 'jaxrl[brax]')")
import brax.envs as brax_envs  # noqa: E402
from brax.envs.wrappers import training as brax_training  # noqa: E402
from brax.training import acting as brax_acting  # noqa: E402
from brax.training.agents.ppo import networks as ppo_networks  # noqa: E402
from brax.training.agents.ppo import train as brax_ppo  # noqa: E402

# Brax's PPO calls jax.device_put_replicated, which JAX 0.10 removed: on newer JAX it cannot train.
needs_brax_training = pytest.mark.skipif(
    not hasattr(jax, "device_put_replicated"),
    reason=f"Brax's training library calls jax.device_put_replicated, removed in JAX 0.10 (this is JAX {jax.__version__}); "
    "it trains on the JAX 0.9 stack only")


@struct.dataclass
class SliderParams:
    drag: jax.Array
    limit: jax.Array


@dataclasses.dataclass(frozen=True)
class Slider(Env):
    """A point on a line: ``v' = (1 - drag) v + 0.2 a``, ``x' = x + 0.1 v'``; obs ``[x, v]``.

    Reward ``1 - x^2``; terminates when ``|x| > limit``; starts at ``x ~ U(-0.2, 0.2)``, ``v = 0``.
    Deterministic steps (the key is unused), random resets.
    """

    @property
    def observation_spec(self):
        return Box((2,))

    @property
    def action_spec(self):
        return Box((1,), -1.0, 1.0)

    def default_params(self):
        return SliderParams(jnp.float32(0.1), jnp.float32(0.5))

    def reset(self, key, params):
        x = jax.random.uniform(key, (), minval=-0.2, maxval=0.2)
        return jnp.stack([x, 0.0]), timestep(jnp.stack([x, 0.0]))

    def step_env(self, key, state, action, params):
        v = (1.0 - params.drag) * state[1] + 0.2 * jnp.clip(action[0], -1.0, 1.0)
        x = state[0] + 0.1 * v
        s = jnp.stack([x, v])
        return s, timestep(s, 1.0 - x**2, jnp.abs(x) > params.limit)


SLIDER = TimeLimit(Slider(), max_steps=20)
SLIDER_PARAMS = SLIDER.default_params()


# ============================================================================ jaxrl -> brax -> jaxrl


def _actions(t):
    """Push right hard for a while (episodes that terminate), then gently (episodes cut by the time limit)."""
    return jnp.where(t < 25, 1.0, 0.05 * jnp.sin(t / 3.0))[None].astype(jnp.float32)


@functools.lru_cache(maxsize=None)
def _round_trip(steps=70, num_envs=3):
    back, back_params = from_brax(to_brax(SLIDER, SLIDER_PARAMS))
    original = AutoReset(VecEnv(SLIDER, num_envs))
    returned = AutoReset(VecEnv(back, num_envs))

    @jax.jit
    def go(key):
        s1, ts1 = original.reset(key, SLIDER_PARAMS)
        s2, ts2 = returned.reset(key, back_params)

        def body(carry, t):
            s1, s2 = carry
            a = jnp.broadcast_to(_actions(t), (num_envs, 1))
            k = jax.random.fold_in(key, t)
            s1, ts1 = original.step(k, s1, a, SLIDER_PARAMS)
            s2, ts2 = returned.step(k, s2, a, back_params)
            return (s1, s2), (ts1, ts2)

        return (ts1, ts2), jax.lax.scan(body, (s1, s2), jnp.arange(steps))[1]

    return jax.device_get(go(jax.random.key(0)))


def test_round_trip_gives_the_original_trajectory():
    (first1, first2), (ts1, ts2) = _round_trip()
    np.testing.assert_array_equal(first2.obs, first1.obs)
    assert len(np.unique(first1.obs[:, 0])) == 3  # the reset key reaches the env: different starts
    for field in ("obs", "reward", "terminated", "truncated"):
        np.testing.assert_array_equal(getattr(ts2, field), getattr(ts1, field), err_msg=field)
    np.testing.assert_array_equal(ts2.info["final_obs"], ts1.info["final_obs"])
    assert ts1.terminated.any() and ts1.truncated.any()  # both kinds of episode end went through the view
    assert not (ts1.terminated & ts1.truncated).any()


def test_brax_view_state_and_sizes():
    view = to_brax(SLIDER, SLIDER_PARAMS)
    assert view.observation_size == 2 and view.action_size == 1 and view.backend == "jaxrl"
    state = jax.jit(view.reset)(jax.random.PRNGKey(0))  # Brax's raw uint32 keys
    assert state.reward.dtype == jnp.float32 and state.done.dtype == jnp.float32 and state.done == 0
    assert set(state.info) == {"rng", "truncation"} and state.metrics == {}
    nxt = jax.jit(view.step)(state, jnp.ones(1))
    assert int(nxt.pipeline_state.t) == 1  # the jaxrl state (here TimeLimit's) is Brax's pipeline_state
    assert float(nxt.reward) == pytest.approx(1.0 - float(nxt.obs[0]) ** 2, rel=1e-6)
    assert not np.array_equal(nxt.info["rng"], state.info["rng"])  # a fresh key per step
    with pytest.raises(ValueError, match=r"to_brax needs a flat Box action spec.*probe_action has Discrete\(n=2"):
        to_brax(*envs.make("probe_action"))


def test_brax_wrappers_map_time_limit_to_truncation():
    """Brax's EpisodeWrapper around the view: brax's info['truncation'] becomes jaxrl's truncated."""
    view = to_brax(Slider(), SLIDER_PARAMS)  # no jaxrl time limit inside: brax's is the only one
    env, params = from_brax(brax_training.EpisodeWrapper(view, episode_length=10, action_repeat=1))
    stack = AutoReset(VecEnv(env, 2))

    @jax.jit
    def go(key):
        s, _ = stack.reset(key, params)
        actions = jnp.stack([jnp.full((1,), 1.0), jnp.full((1,), 0.0)])  # env 0 runs off within 10 steps, env 1 idles

        def body(s, k):
            return stack.step(k, s, actions, params)

        return jax.lax.scan(body, s, jax.random.split(key, 25))[1]

    ts = jax.device_get(go(jax.random.key(1)))
    np.testing.assert_array_equal(ts.truncated[:, 1], (np.arange(25) + 1) % 10 == 0)  # idle env: cut every 10 steps
    assert not ts.terminated[:, 1].any()
    assert ts.terminated[:, 0].sum() >= 3 and not ts.truncated[:, 0].any()  # env 0 always runs off first


def test_from_brax_refuses_batched_or_auto_reset_envs():
    view = to_brax(SLIDER, SLIDER_PARAMS)
    for wrapped in (brax_training.VmapWrapper(view), brax_training.AutoResetWrapper(view),
                    brax_training.wrap(view, episode_length=10)):
        with pytest.raises(ValueError, match="from_brax needs an unbatched env without auto-reset; remove Brax's"):
            from_brax(wrapped)
    with pytest.raises(ValueError, match="from_brax needs a brax.envs.Env, got Slider"):
        from_brax(Slider())


# ============================================================================ Brax's PPO on a jaxrl env


PPO_KW = dict(
    num_envs=4, batch_size=4, num_minibatches=2, unroll_length=5, num_updates_per_batch=1, num_evals=2,
    num_eval_envs=4, deterministic_eval=True, seed=0,
    network_factory=functools.partial(
        ppo_networks.make_ppo_networks, policy_hidden_layer_sizes=(8,), value_hidden_layer_sizes=(8,)),
)


def _final_eval_reset_keys(seed: int, num_eval_envs: int) -> jax.Array:
    """The reset keys of the last evaluation of ``brax.training.agents.ppo.train`` (brax 0.14.2, num_evals=2).

    train: ``global, local = split(PRNGKey(seed))``; ``local = fold_in(local, 0)``;
    ``_, _, eval_key = split(local, 3)``. The Evaluator splits ``key, unroll_key =
    split(key)`` per evaluation (the initial one, then the final one) and resets
    with ``split(unroll_key, num_eval_envs)``.
    """
    _, local = jax.random.split(jax.random.PRNGKey(seed))
    _, _, key = jax.random.split(jax.random.fold_in(local, 0), 3)
    key, _ = jax.random.split(key)  # the initial evaluation
    _, unroll_key = jax.random.split(key)
    return jax.random.split(unroll_key, num_eval_envs)


def _hand_eval(env, params, policy, reset_keys, episode_length):
    """Undiscounted returns of one episode per reset key, stepping the jaxrl env directly."""

    @jax.jit
    def one(key):
        state, ts = env.reset(key, params)

        def body(carry, _):
            state, obs, ret, alive = carry
            action, _ = policy(obs, key)
            state, ts = env.step(key, state, action, params)
            return (state, ts.obs, ret + alive * ts.reward, alive & ~ts.done), None

        carry = (state, ts.obs, jnp.float32(0.0), jnp.bool_(True))
        return jax.lax.scan(body, carry, None, length=episode_length)[0][2]

    return np.array([one(k) for k in reset_keys])


def _train_brax_ppo(env, params, episode_length, num_timesteps):
    progress = []
    make_policy, policy_params, metrics = brax_ppo.train(
        to_brax(env, params), num_timesteps=num_timesteps, episode_length=episode_length,
        progress_fn=lambda step, m: progress.append(step), **PPO_KW,
    )
    policy = make_policy(policy_params, deterministic=True)
    keys = _final_eval_reset_keys(PPO_KW["seed"], PPO_KW["num_eval_envs"])
    return progress, metrics, _hand_eval(env, params, policy, keys, episode_length)


def test_brax_evaluator_sums_our_rewards_episode_by_episode():
    """Brax's training wrappers and Evaluator (what its PPO reports as eval/episode_reward) on the view."""
    episode_length, n = 20, 6
    view = to_brax(SLIDER, SLIDER_PARAMS)

    def make_policy(gain):  # pushes away from the centre: some episodes run off (terminate) before the limit
        return lambda obs, key: (jnp.clip(gain * obs[..., :1], -1.0, 1.0), {})

    evaluator = brax_acting.Evaluator(brax_training.wrap(view, episode_length=episode_length), make_policy,
                                      num_eval_envs=n, episode_length=episode_length, action_repeat=1,
                                      key=jax.random.PRNGKey(5))
    metrics = evaluator.run_evaluation(jnp.float32(4.0), {}, aggregate_episodes=False)
    # Evaluator.run_evaluation: ``key, unroll_key = split(key)``, then resets with ``split(unroll_key, n)``.
    reset_keys = jax.random.split(jax.random.split(jax.random.PRNGKey(5))[1], n)
    returns = _hand_eval(SLIDER, SLIDER_PARAMS, make_policy(jnp.float32(4.0)), reset_keys, episode_length)
    np.testing.assert_allclose(metrics["eval/episode_reward"], returns, rtol=1e-5)
    assert 1 < metrics["eval/avg_episode_length"] < episode_length  # episodes ran off (terminated) at different steps
    assert np.ptp(returns) > 1


@pytest.mark.slow
@pytest.mark.timeout(600)
@needs_brax_training
def test_brax_ppo_trains_a_jaxrl_env_and_evaluates_our_rewards():
    progress, metrics, returns = _train_brax_ppo(SLIDER, SLIDER_PARAMS, episode_length=20, num_timesteps=80)
    assert progress == [0, 80]  # initial evaluation, then one training epoch of 2 x 40 steps
    for name, value in metrics.items():
        assert np.all(np.isfinite(value)), name
    # Brax's evaluation reward IS the return of our env under the trained policy, episode by episode.
    np.testing.assert_allclose(metrics["eval/episode_reward"], returns.mean(), rtol=1e-5)
    assert 0 < metrics["eval/episode_reward"] <= 20 and metrics["eval/avg_episode_length"] <= 20


@pytest.mark.slow
@pytest.mark.timeout(900)
@needs_brax_training
def test_brax_ppo_trains_jaxrl_cartpole_balance():
    env, params = envs.make("cartpole_balance", episode_length=100)
    progress, metrics, returns = _train_brax_ppo(env, params, episode_length=100, num_timesteps=80)
    assert progress == [0, 80]
    for name, value in metrics.items():
        assert np.all(np.isfinite(value)), name
    np.testing.assert_allclose(metrics["eval/episode_reward"], returns.mean(), rtol=1e-4)
    assert metrics["eval/avg_episode_length"] == 100  # balance never terminates: brax's time limit ends it
    assert 10 < metrics["eval/episode_reward"] <= 100  # rewards in [0, 1], the pole starts upright


# ============================================================================ brax envs under jaxrl


def test_registry_dispatches_the_brax_prefix():
    opts = envs.options("brax/inverted_pendulum")
    assert opts["backend"] == "generalized" and opts["episode_length"] == 1000  # brax's own default backend
    assert not any(n.startswith("brax/") for n in envs.names())
    with pytest.raises(UnknownEnvError, match="unknown brax env 'inverted_pendulun' \\(did you mean 'inverted_pendulum'\\?\\); brax's envs: .*ant") as err:
        envs.make("brax/inverted_pendulun")
    for name in brax_envs._envs:
        assert name in str(err.value)
    with pytest.raises(ValueError, match="unknown backend 'warp'; backends are: generalized, positional, spring, mjx"):
        envs.make("brax/inverted_pendulum", backend="warp")
    with pytest.raises(ValueError, match="no option 'n_frame'"):
        envs.make("brax/inverted_pendulum", n_frame=2)
    with pytest.raises(UnknownEnvError, match="brax/<name> for any brax env"):
        envs.make("inverted_pendulum")
    a, _ = envs.make("brax/inverted_pendulum", backend="mjx")
    b, _ = envs.make("brax/inverted_pendulum", backend="mjx")
    assert a == b and hash(a) == hash(b) and a.unwrapped.brax_env is b.unwrapped.brax_env
    assert a != envs.make("brax/inverted_pendulum")[0]


@pytest.mark.timeout(300)
def test_brax_inverted_pendulum_runs_under_jaxrl():
    env, params = envs.make("brax/inverted_pendulum", backend="mjx", episode_length=8)
    assert isinstance(env.unwrapped, BraxEnv) and isinstance(params, BraxParams)
    assert env.observation_spec == Box((4,)) and env.action_spec == Box((1,), -1.0, 1.0)
    assert env.name == "brax/inverted_pendulum" and params.sys is env.unwrapped.brax_env.sys
    stack = training_stack(env, num_envs=2)

    @jax.jit
    def go(key, params):
        state, ts0 = stack.reset(key, params)
        actions = jnp.array([[1.0], [0.0]])  # env 0 shoves the cart (the pole falls), env 1 leaves it

        def body(s, k):
            return stack.step(k, s, actions, params)

        return ts0, jax.lax.scan(body, state, jax.random.split(key, 20))[1]

    ts0, ts = jax.device_get(go(jax.random.key(0), params))
    assert ts0.obs.shape == (2, 4) and ts.obs.shape == (20, 2, 4) and ts.obs.dtype == np.float32
    assert ts.reward.shape == (20, 2) and ts.reward.dtype == np.float32 and np.all(np.isfinite(ts.obs))
    np.testing.assert_array_equal(ts.reward, 1.0)  # brax pays 1 per step
    assert np.all(np.abs(ts0.obs) <= 0.01)  # brax's U(-0.01, 0.01) start
    # Env 0: the pole falls past 0.2 rad -> terminated (brax's done), not truncated.
    fall = int(np.argmax(ts.terminated[:, 0]))
    assert ts.terminated[fall, 0] and 0 < fall < 7 and abs(ts.info["final_obs"][fall, 0, 1]) > 0.2
    # Env 1: with no push the pole is still up at the 8-step limit -> truncated.
    assert not ts.terminated[:8, 1].any() and ts.truncated[7, 1] and ts.info["episode_length"][7, 1] == 8
