"""PPO on pixel observations (``make(name, obs="pixels")``): a CNN torso, no observation normaliser."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs, evaluate
from jaxrl.algos import ppo

TINY = ppo.PPOConfig(total_timesteps=4 * 8 * 2, num_envs=4, num_steps=8, num_minibatches=2, update_epochs=1,
                     hidden_sizes=(16,))


@functools.lru_cache(maxsize=None)
def _tiny_run():
    env, params = envs.make("cartpole_balance", obs="pixels", image_size=32, frame_stack=2, episode_length=20)
    trainer = ppo.make_train(TINY, env, params)
    state, metrics = jax.jit(trainer)(jax.random.key(0), ppo.default_hparams())
    return env, trainer, state, metrics


def test_ppo_trains_on_pixels_with_a_cnn_torso():
    env, trainer, state, metrics = _tiny_run()
    assert env.observation_spec.shape == (32, 32, 6) and env.observation_spec.dtype == np.uint8
    assert "torso" in state.params["params"]  # the shared CNN
    assert state.obs_stats.mean.shape == ()  # images are scaled by the torso, not normalised
    assert state.rollout.obs.dtype == jnp.uint8 and state.rollout.obs.shape == (4, 32, 32, 6)
    for k, v in metrics.items():
        assert np.all(np.isfinite(np.asarray(v))), k
    assert metrics["loss"].shape == (2,)


def test_network_value_matches_the_full_forward_on_images():
    env, trainer, state, _ = _tiny_run()
    net = ppo.make_network(TINY, env)
    obs = jax.random.randint(jax.random.key(1), (3, 32, 32, 6), 0, 256).astype(jnp.uint8)
    _, value = net.apply(state.params, obs)
    np.testing.assert_allclose(net.apply(state.params, obs, method=type(net).value), value, rtol=1e-6)


@pytest.mark.slow
def test_ppo_learns_cartpole_balance_from_pixels():
    """From 32 x 32 images (2 stacked frames), 200-step episodes: a random policy keeps the pole
    up for ~15-30 reward; PPO must more than triple that within 200k env steps."""
    env, params = envs.make("cartpole_balance", obs="pixels", image_size=32, frame_stack=2, episode_length=200)
    config = ppo.PPOConfig(total_timesteps=204_800, num_envs=32, num_steps=64, num_minibatches=4, update_epochs=4,
                           hidden_sizes=(64,), anneal_lr=False)
    trainer = ppo.make_train(config, env, params)
    state, metrics = jax.jit(trainer)(jax.random.key(0), ppo.default_hparams().replace(lr=3e-4))
    rets = evaluate.episode_returns(jax.random.key(5), env, params, trainer.policy(state), 8)
    random_rets = np.asarray(metrics["episode_return"])[:2]
    print("first updates", random_rets, "eval", np.asarray(rets))
    assert float(np.mean(rets)) > 3 * float(np.nanmean(random_rets))
