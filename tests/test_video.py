"""jaxrl.video: the headless GL backend, the episode, frames, files and their errors.

MuJoCo reads ``MUJOCO_GL`` when ``mujoco`` is first imported. Run alone, this
module calls ``ensure_gl`` before ``jaxrl.envs`` imports mujoco (the CLI's
order); after other test modules it takes the path where mujoco was already
imported. ``test_fresh_processes_*`` checks both orders in new processes.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from jaxrl import video

try:
    video.ensure_gl()  # before jaxrl.envs imports mujoco (if no other test module did)
except video.RenderError:
    pass  # no OpenGL here: the `gl` fixture skips the tests that draw

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import jaxrl.envs  # noqa: E402

# Starting ffmpeg and the fresh process forks and at once execs: safe, though JAX warns.
pytestmark = pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning")

W, H = 32, 24
EPISODE, HORIZON = 10, 13  # the horizon runs past the end of the episode
KEY = jax.random.key(3)


def push(key, obs):
    """Deterministic BATCHED policy: push the cart right, ``[B, 5] -> [B, 1]``."""
    return jnp.full((obs.shape[0], 1), 0.8, jnp.float32)


@pytest.fixture(scope="module")
def gl():
    try:
        return video.check_gl()
    except video.RenderError as e:
        pytest.skip(f"no OpenGL for MuJoCo here: {e}")


@pytest.fixture(scope="module")
def cartpole():
    return jaxrl.envs.make("cartpole_balance", episode_length=EPISODE)


@pytest.fixture(scope="module")
def rollout(cartpole):
    """One episode, jitted exactly as ``render_policy`` jits it (so that test reuses the compile)."""
    env, params = cartpole
    return jax.device_get(jax.jit(video.episode_qpos, static_argnums=(0, 2, 4))(env, params, push, KEY, HORIZON))


# ----------------------------------------------------------------------------- GL backend


@pytest.fixture
def clean_gl_env(monkeypatch):
    """No MUJOCO_GL / PYOPENGL_PLATFORM; both restored after the test, whatever ensure_gl sets."""
    monkeypatch.setenv("PYOPENGL_PLATFORM", "x")  # set first so that monkeypatch records the original
    monkeypatch.delenv("PYOPENGL_PLATFORM")
    monkeypatch.setenv("MUJOCO_GL", "x")
    monkeypatch.delenv("MUJOCO_GL")
    monkeypatch.setattr(video, "_point_imported_mujoco_at", lambda backend: None)
    return monkeypatch


@pytest.mark.skipif(sys.platform != "linux", reason="backend choice is Linux-only")
def test_ensure_gl_prefers_egl_then_osmesa(clean_gl_env):
    clean_gl_env.setattr(video, "_loads", lambda names: any("EGL" in n for n in names))
    assert video.ensure_gl() == "egl"
    assert os.environ["MUJOCO_GL"] == os.environ["PYOPENGL_PLATFORM"] == "egl"
    clean_gl_env.delenv("MUJOCO_GL")
    clean_gl_env.setattr(video, "_loads", lambda names: any("OSMesa" in n for n in names))
    assert video.ensure_gl() == "osmesa"
    assert os.environ["MUJOCO_GL"] == os.environ["PYOPENGL_PLATFORM"] == "osmesa"


@pytest.mark.skipif(sys.platform != "linux", reason="backend choice is Linux-only")
def test_ensure_gl_keeps_mujoco_gl_but_checks_it(clean_gl_env):
    clean_gl_env.setattr(video, "_loads", lambda names: True)
    clean_gl_env.setenv("MUJOCO_GL", "osmesa")
    assert video.ensure_gl() == "osmesa"  # kept, though EGL would load
    clean_gl_env.setattr(video, "_loads", lambda names: False)
    with pytest.raises(video.RenderError, match="MUJOCO_GL=osmesa but libOSMesa.so.*apt-get install libosmesa6"):
        video.ensure_gl()  # else `import mujoco` itself would fail (AttributeError: glGetError)
    clean_gl_env.setenv("MUJOCO_GL", "vulkan")
    with pytest.raises(video.RenderError, match="MUJOCO_GL=egl"):
        video.ensure_gl()


@pytest.mark.skipif(sys.platform != "linux", reason="backend choice is Linux-only")
def test_ensure_gl_without_any_gl_library_says_what_to_install(clean_gl_env):
    clean_gl_env.setattr(video, "_loads", lambda names: False)
    with pytest.raises(video.RenderError) as err:
        video.ensure_gl()
    msg = str(err.value)
    assert "libEGL.so.1" in msg and "libOSMesa" in msg and "apt-get install libegl1" in msg and "\n" not in msg


def test_mujoco_failing_to_make_a_context_is_a_render_error_and_never_retried(gl, monkeypatch, cartpole):
    import mujoco

    tries = []

    def no_context(*args, **kwargs):
        tries.append(1)
        raise mujoco.FatalError("an OpenGL platform library has not been loaded into this process")

    monkeypatch.setattr(mujoco, "Renderer", no_context)
    monkeypatch.setattr(video, "_context_failed", None)  # restored after the test
    for _ in range(2):  # a real second try would abort the process
        with pytest.raises(video.RenderError, match="OpenGL context.*MUJOCO_GL=egl"):
            video.render_frames(cartpole[0].mj_model, np.zeros((1, 2)), W, H)
    assert len(tries) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="GLFW needs a display on Linux")
def test_glfw_without_a_display_is_refused_before_trying(gl, monkeypatch, cartpole):
    import mujoco

    monkeypatch.setattr(mujoco, "Renderer", lambda *a, **k: pytest.fail("must not try"))
    monkeypatch.setattr(video, "_bound_backend", lambda: "glfw")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(video.RenderError, match="GLFW, which needs a display"):
        video.render_frames(cartpole[0].mj_model, np.zeros((1, 2)), W, H)


_FRESH = """
import json, sys
from jaxrl import video
{first}
import jaxrl.envs
{then}
from mujoco.rendering.classic import gl_context
env, _ = jaxrl.envs.make("cartpole_balance")
frames = video.render_frames(env.mj_model, [[0.0, 0.0], [0.8, 0.6]], 32, 24, camera="fixed")
print(json.dumps({{"backend": backend, "context": gl_context.GLContext.__module__,
                  "shape": frames.shape, "differ": bool((frames[0] != frames[1]).any())}}))
"""
_ORDERS = {
    # the CLI's order: mujoco binds the headless context itself
    "ensure_gl_first": ("backend = video.ensure_gl()\nassert 'mujoco' not in sys.modules, 'jaxrl.video imported mujoco'", ""),
    # mujoco bound GLFW (no display here) first: ensure_gl rebinds it before any context is tried
    "mujoco_first": ("", "backend = video.ensure_gl()"),
}


def test_fresh_processes_render_in_either_import_order(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    procs = {
        order: subprocess.Popen(
            [sys.executable, "-c", _FRESH.format(first=first, then=then)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        )
        for order, (first, then) in _ORDERS.items()
    }  # both at once: ~3 s of imports each
    for order, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        if proc.returncode and "RenderError: no headless OpenGL" in stderr:
            pytest.skip(stderr.strip().splitlines()[-1])
        assert proc.returncode == 0, f"{order}: {stderr}"
        out = json.loads(stdout.strip().splitlines()[-1])
        assert out["context"] == f"mujoco.{out['backend']}", order
        assert out["shape"] == [2, 24, 32, 3] and out["differ"], order


# ----------------------------------------------------------------------------- frames


def test_render_frames_shape_dtype_and_content(gl, cartpole):
    model = cartpole[0].mj_model
    qpos = np.array([[0.0, 0.0], [0.8, 0.6]])
    frames = video.render_frames(model, qpos, W, H, camera="fixed")
    assert frames.shape == (2, H, W, 3) and frames.dtype == np.uint8
    assert frames[0].std() > 1.0  # not a blank image
    assert (frames[0] != frames[1]).any()  # the cart moved
    np.testing.assert_array_equal(video.render_frames(model, qpos, W, H, camera=0), frames)  # index == name


def test_render_frames_larger_than_the_model_framebuffer(gl, cartpole):
    model = cartpole[0].mj_model
    wide = model.vis.global_.offwidth + 8
    frames = video.render_frames(model, np.zeros((1, 2)), wide, 4)
    assert frames.shape == (1, 4, wide, 3)
    assert model.vis.global_.offwidth == wide - 8  # the shared model is untouched


def test_unknown_camera_lists_the_cameras(cartpole):
    model = cartpole[0].mj_model
    for bad in ("overhead", 7):
        with pytest.raises(video.RenderError, match=r"cameras \[0 'fixed', 1 'track'\]"):
            video.render_frames(model, np.zeros((1, 2)), W, H, camera=bad)


def test_render_frames_checks_qpos_shape(cartpole):
    with pytest.raises(ValueError, match="nq=2"):
        video.render_frames(cartpole[0].mj_model, np.zeros((3, 5)), W, H)


# ----------------------------------------------------------------------------- files


def _noise(t, h=H, w=W):
    return np.random.default_rng(0).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def test_write_gif_reads_back(tmp_path):
    path = video.write_video(_noise(5), tmp_path / "sub" / "a.gif", fps=20)
    with Image.open(path) as gif:
        assert gif.n_frames == 5 and gif.size == (W, H)
        assert gif.info["duration"] == 50
    with Image.open(video.write_video(_noise(5), tmp_path / "b.gif", fps=100)) as gif:
        assert gif.n_frames == 3  # above 50 fps every 2nd frame, still real time
        assert gif.info["duration"] == 20


def test_write_mp4_reads_back(tmp_path):
    imageio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    path = video.write_video(_noise(6, 25, 33), tmp_path / "a.mp4", fps=25)  # odd sizes are padded
    frames = imageio.mimread(path)
    assert len(frames) == 6 and frames[0].shape == (26, 34, 3)


def test_mp4_without_imageio_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails
    with pytest.raises(video.RenderError, match=r"pip install 'jaxrl\[video\]'.*\.gif"):
        video.write_video(_noise(2), tmp_path / "a.mp4", fps=10)


def test_bad_suffix_and_bad_frames(tmp_path):
    with pytest.raises(video.RenderError, match=r"\.gif or \.mp4"):
        video.write_video(_noise(2), tmp_path / "a.avi", fps=10)
    with pytest.raises(ValueError, match="uint8"):
        video.write_video(np.zeros((2, H, W, 3)), tmp_path / "a.gif", fps=10)


# ----------------------------------------------------------------------------- the episode


def test_episode_shapes_and_done_mask(rollout):
    assert rollout["qpos"].shape == (HORIZON + 1, 2)
    assert rollout["reward"].shape == (HORIZON,)
    # the reset frame and one frame per step of the episode; nothing after it ended
    np.testing.assert_array_equal(rollout["valid"], np.arange(HORIZON + 1) <= EPISODE)
    np.testing.assert_array_equal(rollout["reward"][EPISODE:], 0.0)


def test_episode_matches_stepping_the_physics_by_hand(cartpole, rollout):
    """Reset, act, step and score by hand with host MuJoCo and the task's own reward.

    (Host MuJoCo instead of a jitted ``env.step``: same physics, no second ~10 s MJX compile.)
    """
    import mujoco

    env, params = cartpole
    task, reset_key, key = env.unwrapped, *jax.random.split(KEY)
    qpos, qvel = task.initial_qpos_qvel(reset_key, params)  # what env.reset(reset_key) starts from
    model = task.mj_model
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:] = qpos, qvel
    np.testing.assert_array_equal(rollout["qpos"][0], qpos)
    for t, step_key in enumerate(jax.random.split(key, EPISODE)):
        obs = task.observe(data, params)
        action = push(jax.random.split(step_key)[0], obs[None])[0]
        data.ctrl[:] = action
        mujoco.mj_step(model, data)
        np.testing.assert_allclose(rollout["qpos"][t + 1], data.qpos, atol=1e-5)
        np.testing.assert_allclose(rollout["reward"][t], task.reward(data, action, params), atol=1e-5)


def test_probe_env_has_nothing_to_render(tmp_path):
    env, params = jaxrl.envs.make("probe_constant")
    with pytest.raises(video.RenderError, match="env probe_constant has no MuJoCo model to render"):
        video.episode_qpos(env, params, push, KEY, 5)
    with pytest.raises(video.RenderError, match="no MuJoCo model"):
        video.render_policy(env, params, push, KEY, tmp_path / "a.gif")


# ----------------------------------------------------------------------------- all of it


def test_render_policy_writes_the_episode(gl, cartpole, rollout, tmp_path):
    env, params = cartpole
    out = video.render_policy(env, params, push, KEY, tmp_path / "ep.gif", horizon=HORIZON, width=W, height=H, camera="fixed")
    assert out["path"] == str(tmp_path / "ep.gif") and out["frames"] == EPISODE + 1
    assert out["return"] == pytest.approx(float(rollout["reward"].sum()), rel=1e-6)
    with Image.open(out["path"]) as gif:
        assert gif.size == (W, H) and gif.info["duration"] == 20  # real time: dt = 0.01 s -> 2 steps a frame


def test_render_policy_checks_before_compiling(cartpole, tmp_path):
    env, params = cartpole
    with pytest.raises(video.RenderError, match="unknown camera"):
        video.render_policy(env, params, push, KEY, tmp_path / "a.gif", camera="nope")
    with pytest.raises(video.RenderError, match=r"\.gif or \.mp4"):
        video.render_policy(env, params, push, KEY, tmp_path / "a.webm")
