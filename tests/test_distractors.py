"""Distracting backgrounds (``make(name, obs="pixels", distractors=..., camera_jitter=...)``): the draws
differ per env and per episode, are reproducible from the keys, repaint only the sky and the floor,
and leave the task's physics, rewards and episode ends untouched."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.envs import distractors
from jaxrl.envs.mjx_env import MjxState
from jaxrl.envs.pixels import PixelObs, render, update_poses
from jaxrl.wrappers import find_state, find_wrapper

STEPS, ENVS = 3, 3
OPTIONS = dict(obs="pixels", image_size=24, physics="fast")  # 24 px: the cart and the pole are seen


def _make(**distract):
    return envs.make("cartpole_balance", **OPTIONS, **distract)


@functools.lru_cache(maxsize=None)
def _episodes(kind, jitter=0.0):
    """``ENVS`` episodes (keys ``split(key(0), ENVS)``: a new key per episode, as an auto-reset
    gives) of ``STEPS`` fixed actions: observations, rewards, flags and qpos ``[B, T, ...]``, and the
    draws (None without distractors; ``kind="state"``: the task from states)."""
    if kind == "state":  # the task from states: no renderer at all
        env, params = envs.make("cartpole_balance", physics="fast")
    else:
        env, params = _make(distractors=kind, camera_jitter=jitter)

    def episode(key):
        state, _ = env.reset(key, params)

        def body(state, k):
            state, ts = env.step(k, state, jnp.full((1,), 0.3), params)
            draw = state.distraction if isinstance(state, distractors.DistractedState) else None
            return state, (ts.obs, ts.reward, ts.terminated, ts.truncated, find_state(state, MjxState).data.qpos, draw)

        return jax.lax.scan(body, state, jax.random.split(key, STEPS))[1]

    return jax.tree.map(np.asarray, jax.jit(jax.vmap(episode))(jax.random.split(jax.random.key(0), ENVS)))


def test_physics_rewards_and_episode_ends_are_untouched():
    """With distractors and camera jitter on, rewards, episode flags and qpos equal the task's own
    from states, step for step from the same keys."""
    plain, other = _episodes("state"), _episodes("textures", 0.3)
    for a, b in zip(plain[1:5], other[1:5]):  # reward, terminated, truncated, qpos
        np.testing.assert_array_equal(a, b)
    assert other[0].shape == (ENVS, STEPS, 24, 24, 3) and other[0].std() > 10


def test_draws_differ_per_env_and_episode_are_reproducible_and_the_patterns_drift():
    *_, draw = _episodes("textures", 0.3)  # fields [B, T, ...]; each env's episode has its own key
    assert len({tuple(np.round(draw.sky[b, 0].ravel(), 6)) for b in range(ENVS)}) == ENVS
    assert len({tuple(np.round(draw.camera[b, 0], 6)) for b in range(ENVS)}) == ENVS
    np.testing.assert_array_equal(draw.t, np.tile(np.arange(1, STEPS + 1), (ENVS, 1)))  # the pattern's clock
    np.testing.assert_array_equal(draw.sky[:, 0], draw.sky[:, -1])  # fixed within an episode
    assert np.all(np.abs(draw.camera) <= 0.3) and np.all(draw.freq > 0) and np.all(draw.drift != 0)
    keys = jax.random.split(jax.random.key(0), ENVS)
    again = jax.vmap(lambda k: distractors.draw(k, "textures", 0.3))(keys)  # what reset drew, from the key alone
    np.testing.assert_array_equal(again.sky, draw.sky[:, 0])
    other = distractors.draw(jax.random.key(7), "textures", 0.3)  # the next episode's key: a new draw
    assert np.all(np.asarray(other.sky) != draw.sky[0, 0])


def test_only_the_sky_and_the_floor_are_repainted():
    """The same state drawn with and without a background: every pixel that sees a body keeps its
    colour; sky pixels (no hit) and floor pixels (plane geoms) change."""
    env, params = _make()
    px = find_wrapper(env, PixelObs)

    @jax.jit
    def both(key):
        state, _ = env.reset(key, params)
        data = update_poses(px.mj_model, params.model, find_state(state, MjxState).data)
        draws = [distractors.draw(jax.random.fold_in(key, i), kind, 0.0) for i, kind in enumerate(distractors.KINDS)]
        return [render(px.mj_model, params.model, data, px.camera_id, 24, 24, d) for d in [None, *draws]]

    plain, *painted = jax.tree.map(np.asarray, both(jax.random.key(0)))
    planes = np.nonzero(px.mj_model.geom_type == 0)[0]
    floor, sky = np.isin(plain.geom, planes), plain.geom == -1
    body = ~floor & ~sky
    assert body.any() and sky.any() and floor.any()
    for frame in painted:
        np.testing.assert_array_equal(frame.geom, plain.geom)
        np.testing.assert_array_equal(frame.rgb[body], plain.rgb[body])
        assert np.mean(np.any(frame.rgb[sky] != plain.rgb[sky], -1)) > 0.9
        assert np.mean(np.any(frame.rgb[floor] != plain.rgb[floor], -1)) > 0.9


def test_sky_colors_follow_the_draw():
    d = distractors.draw(jax.random.key(3), "colors", 0.0)
    up, flat = (jnp.zeros(1), jnp.zeros(1), jnp.ones(1)), (jnp.ones(1), jnp.zeros(1), jnp.zeros(1))
    np.testing.assert_allclose(distractors.sky_color(d, up)[0], d.sky[0], rtol=1e-6)  # zenith
    np.testing.assert_allclose(distractors.sky_color(d, flat)[0], d.sky[1], rtol=1e-6)  # horizon
    np.testing.assert_array_equal(d.floor[0], d.floor[1])
    t = distractors.draw(jax.random.key(3), "textures", 0.0)
    point = (jnp.linspace(-1, 1, 64), jnp.zeros(64), jnp.zeros(64))
    c0, c1 = distractors.floor_color(t, point), distractors.floor_color(distractors.advance(t), point)
    assert float(jnp.std(c0)) > 0.01 and float(jnp.max(jnp.abs(c1 - c0))) > 1e-3  # a pattern, and it moves
    lo, hi = jnp.minimum(t.floor[0], t.floor[1]), jnp.maximum(t.floor[0], t.floor[1])
    assert bool(jnp.all((c0 >= lo - 1e-6) & (c0 <= hi + 1e-6)))  # mixes of the two drawn colours


@pytest.mark.parametrize("options, match", [
    (dict(obs="pixels", distractors="videos"), "unknown distractors 'videos'; choose one of colors, textures"),
    (dict(obs="pixels", camera_jitter=-1.0), "camera_jitter must be a number of metres"),
    (dict(distractors="colors"), "distractors only apply to pixel observations"),
])
def test_bad_options_are_one_line_errors(options, match):
    with pytest.raises(ValueError, match=match) as e:
        envs.make("cartpole_balance", **options)
    assert "\n" not in str(e.value)
