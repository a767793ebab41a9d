"""The gymnax adapter (envs/gymnax_env.py): any gymnax env under jaxrl's env API.

gymnax is a test dependency (``jaxrl[test]`` pulls ``jaxrl[gymnax]``); jaxrl
itself must import and run without it (checked in a subprocess).
"""

import pickle
import subprocess
import sys

import jax
import pytest

gymnax = pytest.importorskip("gymnax", reason="gymnax is not installed (pip install 'jaxrl[gymnax]'; gymnax 1.0.1 "
                             "declares jax < 0.12: on JAX 0.12 install it with --no-deps)")
import jax.numpy as jnp
import numpy as np

from jaxrl import envs, evaluate
from jaxrl.algos import ppo
from jaxrl.envs import UnknownEnvError
from jaxrl.envs.gymnax_env import GymnaxEnv, make_gymnax
from jaxrl.spaces import Box, Discrete
from jaxrl.wrappers import training_stack

T = 20  # steps per CartPole trajectory below


@jax.jit
def _cartpole_vs_gymnax(params, actions, feedback):
    """Step the adapter and gymnax's own ``step_env`` side by side from the same key, ``T`` steps.

    The action is ``actions[t]``, or (where ``feedback``) a balancing controller on
    the adapter's observation. Also returns the flags of gymnax's auto-resetting
    ``step`` for the same transitions. Params are traced: one compile for all calls.
    """
    env = GymnaxEnv("CartPole-v1")
    gym = env.gymnax_env
    key = jax.random.key(3)
    state, ts0 = env.reset(key, params)
    ref_obs, ref_state = gym.reset_env(key, params)

    def body(carry, xs):
        state, obs, ref_state = carry
        k, a = xs
        a = jnp.where(feedback, (obs[2] + 0.5 * obs[3] > 0).astype(jnp.int32), a)
        state, ts = env.step(k, state, a, params)
        r_obs, r_state, r_rew, r_term, _ = gym.step_env(k, ref_state, a, params)
        _, _, _, g_term, g_trunc, _ = gym.step(k, ref_state, a, params)
        ref = {"obs": r_obs, "reward": r_rew, "gym_terminated": g_term, "gym_truncated": g_trunc}
        return (state, ts.obs, r_state), (ts, ref)

    keys = jax.random.split(jax.random.key(4), T)
    _, (ts, ref) = jax.lax.scan(body, (state, ts0.obs, ref_state), (keys, actions))
    return ts0, ref_obs, ts, ref


def _params(max_steps):
    _, params = make_gymnax("CartPole-v1", max_steps_in_episode=max_steps)
    return params


PUSH_RIGHT = jnp.ones(T, jnp.int32)


def test_cartpole_matches_gymnax_and_a_pole_fall_terminates():
    ts0, ref_obs0, ts, ref = jax.device_get(_cartpole_vs_gymnax(_params(500), PUSH_RIGHT, False))
    np.testing.assert_array_equal(ts0.obs, ref_obs0)
    assert not ts0.terminated and not ts0.truncated and ts0.reward == 0
    fall = int(np.argmax(ts.terminated))  # first terminal step (index)
    assert ts.terminated[fall] and 5 <= fall < T - 1, ts.terminated
    n = fall + 1
    np.testing.assert_array_equal(ts.obs[:n], ref["obs"][:n])
    np.testing.assert_array_equal(ts.reward[:n], ref["reward"][:n])
    np.testing.assert_array_equal(ts.reward[:n], 1.0)
    assert ts.obs.dtype == np.float32 and ts.reward.dtype == np.float32
    assert not ts.terminated[:fall].any() and not ts.truncated[:n].any()
    np.testing.assert_array_equal(ts.terminated[:n], ref["gym_terminated"][:n])  # gymnax's own step agrees
    theta, x = ts.obs[fall, 2], ts.obs[fall, 0]
    assert abs(theta) > 12 * 2 * np.pi / 360 or abs(x) > 2.4  # it really fell


def test_cartpole_time_limit_truncates_and_does_not_terminate():
    ts0, _, ts, ref = jax.device_get(_cartpole_vs_gymnax(_params(T), PUSH_RIGHT, True))  # balancing controller
    np.testing.assert_array_equal(ts.obs, ref["obs"])
    np.testing.assert_array_equal(ts.reward, ref["reward"])
    assert not ts.terminated.any()  # the pole never fell
    np.testing.assert_array_equal(ts.truncated, np.arange(1, T + 1) == T)  # cut exactly at max_steps_in_episode
    np.testing.assert_array_equal(ts.truncated, ref["gym_truncated"])
    assert np.all(np.abs(ts.obs[:, 2]) < 0.1)


def test_fall_on_the_last_allowed_step_is_terminated_not_truncated():
    _, _, ts, _ = jax.device_get(_cartpole_vs_gymnax(_params(500), PUSH_RIGHT, False))
    fall_step = int(np.argmax(ts.terminated)) + 1
    _, _, ts, ref = jax.device_get(_cartpole_vs_gymnax(_params(fall_step), PUSH_RIGHT, False))
    i = fall_step - 1
    assert ts.terminated[i] and not ts.truncated[i]  # termination wins, as in jaxrl.wrappers.TimeLimit
    assert ref["gym_terminated"][i] and ref["gym_truncated"][i]  # gymnax itself sets both


def test_training_stack_with_per_env_time_limits():
    """VecEnv(4, batched params) -> AutoReset -> EpisodeStats; env i has its own max_steps_in_episode."""
    env, params = envs.make("gymnax/CartPole-v1")
    limits = np.array([5, 8, 13, 500])
    batched = jax.tree.map(lambda x: jnp.full((4,), x), params).replace(max_steps_in_episode=jnp.asarray(limits))
    venv = training_stack(env, num_envs=4, batched_params=True)

    @jax.jit
    def go(key):
        state, ts0 = venv.reset(key, batched)

        def body(state, k):
            a = jax.random.randint(k, (4,), 0, 2)
            state, ts = venv.step(jax.random.fold_in(k, 1), state, a, batched)
            return state, ts

        return ts0, jax.lax.scan(body, state, jax.random.split(key, 40))[1]

    ts0, ts = jax.device_get(go(jax.random.key(0)))
    assert ts0.obs.shape == (4, 4) and ts.obs.shape == (40, 4, 4) and ts.reward.shape == (40, 4)
    info, done = ts.info, ts.terminated | ts.truncated
    assert not (ts.terminated & ts.truncated).any()
    lengths = info["episode_length"]
    # Truncated exactly at each env's own limit; terminated episodes are no longer than it.
    np.testing.assert_array_equal(lengths[ts.truncated], np.broadcast_to(limits, lengths.shape)[ts.truncated])
    assert np.all(lengths[ts.terminated] <= np.broadcast_to(limits, lengths.shape)[ts.terminated])
    assert ts.truncated[:, :2].any() and not ts.truncated[:, 3].any() and ts.terminated[:, 3].any()
    assert done[:, 0].sum() >= 40 // 5
    # CartPole pays 1 per step, the terminal one included.
    np.testing.assert_array_equal(info["episode_return"], info["episode_length"].astype(np.float32))
    # AutoReset: fresh obs where done, the true final obs kept in info.
    final = info["final_obs"]
    np.testing.assert_array_equal(final[~done], ts.obs[~done])
    assert np.all(np.abs(ts.obs[done]) <= 0.05) and np.all(final[done] != ts.obs[done])
    fell = (np.abs(final[..., 2]) > 12 * 2 * np.pi / 360) | (np.abs(final[..., 0]) > 2.4)
    np.testing.assert_array_equal(fell[ts.terminated], True)
    np.testing.assert_array_equal(fell[ts.truncated], False)


# Measured with this config (lr 2.5e-3, 100 updates x 512 = 51,200 env steps, deterministic
# eval over 16 episodes): this test's two runs (split(key(0), 2)) reach 500 and 500; split(key(1))
# 405, 500; split(key(2)) 500, 500; ten single runs key(0..9) 500, 499, 378, 500, 500, 500, 500,
# 211, 500, 500. A uniformly random policy gets ~22, PPO with its surrogate's sign flipped ~9.
CARTPOLE_CFG = ppo.PPOConfig(
    total_timesteps=16 * 32 * 100, num_envs=16, num_steps=32, num_minibatches=4, update_epochs=4,
    hidden_sizes=(32, 32),
)


@pytest.mark.optimized  # a learning threshold (tests/conftest.py)
@pytest.mark.timeout(120)
def test_ppo_learns_gymnax_cartpole():
    env, params = envs.make("gymnax/CartPole-v1")
    train = ppo.make_train(CARTPOLE_CFG, env, params)

    def run(key):
        state, metrics = train(key, ppo.PPOHparams(lr=2.5e-3))
        ret = evaluate.episode_returns(jax.random.key(7), env, params, train.policy(state), 16, max_steps=500)
        return ret.mean(), metrics["episode_return"][:3].mean()

    final, first = jax.device_get(jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), 2)))
    assert np.all(first < 50), first  # it starts near random (~22)
    assert np.all(final >= 150), final


@pytest.mark.parametrize("env_id, obs_shape, n_actions", [("Acrobot-v1", (6,), 3), ("Breakout-MinAtar", (400,), 3)])
def test_other_discrete_envs_step_under_jit(env_id, obs_shape, n_actions):
    env, params = envs.make(f"gymnax/{env_id}", flatten_obs=True)
    assert env.observation_spec.shape == obs_shape and env.action_spec == Discrete(n_actions)
    venv = training_stack(env, num_envs=2)

    @jax.jit
    def go(key):
        state, _ = venv.reset(key, params)

        def body(state, k):
            return venv.step(k, state, env.action_spec.sample(jax.random.fold_in(k, 1), (2,)), params)

        return jax.lax.scan(body, state, jax.random.split(key, 8))[1]

    ts = jax.device_get(go(jax.random.key(0)))
    assert ts.obs.shape == (8, 2) + obs_shape and ts.obs.dtype == np.float32
    assert ts.reward.shape == (8, 2) and ts.reward.dtype == np.float32
    assert ts.terminated.dtype == np.bool_ and np.all(np.isfinite(ts.obs))
    spec = env.observation_spec
    assert np.all(ts.obs >= spec.low_array()) and np.all(ts.obs <= spec.high_array())


def test_spaces_map_to_specs():
    pendulum, p = envs.make("gymnax/Pendulum-v1")
    assert pendulum.action_spec == Box((1,), -2.0, 2.0) and pendulum.observation_spec.shape == (3,)
    breakout, _ = envs.make("gymnax/Breakout-MinAtar")  # shape kept unless flatten_obs
    assert breakout.observation_spec == Box((10, 10, 4), 0.0, 1.0)
    lake, lp = envs.make("gymnax/FrozenLake-misc")  # Discrete observation -> one-hot
    assert lake.observation_spec == Box((16,), 0.0, 1.0)
    _, ts = jax.eval_shape(lake.reset, jax.random.key(0), lp)
    assert ts.obs.shape == (16,) and ts.obs.dtype == jnp.float32
    cartpole, _ = envs.make("gymnax/CartPole-v1")  # gymnax's float32-max bounds mean unbounded
    assert cartpole.observation_spec.low[1] == -np.inf and cartpole.observation_spec.high[0] == pytest.approx(4.8)
    _, ts = jax.eval_shape(pendulum.step, jax.random.key(0), pendulum.reset(jax.random.key(0), p)[0],
                           jnp.zeros((1,)), p)
    assert ts.reward.shape == () and ts.reward.dtype == jnp.float32


def test_env_is_hashable_by_value_and_params_carry_overrides():
    a, pa = envs.make("gymnax/CartPole-v1", max_steps_in_episode=20, gravity=9.0)
    b, _ = make_gymnax("CartPole-v1", gravity=9.0, max_steps_in_episode=20)
    assert a == b and hash(a) == hash(b) and a.gymnax_env is b.gymnax_env
    assert a != make_gymnax("CartPole-v1")[0]
    assert pickle.loads(pickle.dumps(a)) == a
    assert pa.max_steps_in_episode == 20 and pa.gravity == 9.0 and a.default_params() == pa
    assert a.max_steps == 20 and a.name == "gymnax/CartPole-v1"
    acro, ap = make_gymnax("Acrobot-v1", available_torque=np.array([-2.0, 0.0, 2.0]))  # array params stay arrays
    hash(acro)
    np.testing.assert_array_equal(ap.available_torque, [-2.0, 0.0, 2.0])


def test_registry_names_unchanged_and_options_list_env_params():
    assert not any(n.startswith("gymnax/") for n in envs.names())
    opts = envs.options("gymnax/CartPole-v1")
    assert opts["max_steps_in_episode"] == 500 and opts["gravity"] == 9.8 and opts["flatten_obs"] is False


def test_unknown_gymnax_id_lists_gymnax_ids():
    for build in (lambda: envs.make("gymnax/CartPol-v1"), lambda: make_gymnax("CartPol-v1")):
        with pytest.raises(UnknownEnvError, match="did you mean 'CartPole-v1'") as err:
            build()
        for env_id in gymnax.registered_envs:
            assert env_id in str(err.value)
    with pytest.raises(UnknownEnvError, match="gymnax/<id>"):
        envs.make("CartPole-v1")  # not a jaxrl name: the message points at the prefix


def test_unknown_or_bad_param_lists_env_params():
    with pytest.raises(ValueError, match="no option 'gravty'.*max_steps_in_episode=500.*gravity=9.8"):
        envs.make("gymnax/CartPole-v1", gravty=1.0)
    with pytest.raises(ValueError, match="no param 'gravty'; its EnvParams fields are: max_steps_in_episode=500"):
        make_gymnax("CartPole-v1", gravty=1.0)
    with pytest.raises(ValueError, match="gravity must be a number"):
        make_gymnax("CartPole-v1", gravity="strong")
    with pytest.raises(ValueError, match=r"available_torque must have shape \(3,\)"):
        make_gymnax("Acrobot-v1", available_torque=1.0)


def test_jaxrl_works_without_gymnax_and_says_how_to_install_it():
    code = (
        "import sys; sys.modules['gymnax'] = None\n"  # makes `import gymnax` raise ImportError
        "import jaxrl.envs as envs\n"
        "assert 'cartpole_balance' in envs.names()\n"
        "try:\n"
        "    envs.make('gymnax/CartPole-v1')\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'jaxrl[gymnax]'" in out.stdout
