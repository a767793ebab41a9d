"""Render a policy's episode to a video file, on the host.

    from jaxrl import video
    video.ensure_gl()                  # BEFORE `import jaxrl.envs` (which imports mujoco)
    import jaxrl.envs
    env, params = jaxrl.envs.make("cartpole_swingup")
    video.render_policy(env, params, act, key, "swingup.mp4")

The episode is simulated by MJX as one ``lax.scan`` (:func:`episode_qpos`); only
its ``qpos`` trajectory leaves the device. Frames are then drawn by MuJoCo's
OpenGL renderer (:func:`render_frames`) and written as GIF (Pillow) or MP4
(imageio + imageio-ffmpeg, ``pip install 'jaxrl[video]'``) by :func:`write_video`.

Headless OpenGL: MuJoCo picks its GL backend from ``MUJOCO_GL`` once, when
``mujoco`` is first imported (without it, Linux gets GLFW, which needs a
display). :func:`ensure_gl` chooses EGL or OSMesa, so call it before anything
imports ``mujoco`` (``jaxrl.envs`` does). Called later, it points the already
imported ``mujoco`` at the chosen backend (best effort; the rendering functions
call it too). Every failure to render is a :class:`RenderError` with a one-line
fix. MuJoCo cannot retry after failing to create a GL context (a second try
aborts the process), so a doomed try (GLFW without a display) is refused
up front and, after one failure, so is every later one.

This module imports ``mujoco`` only inside functions, so importing it never
fixes the GL backend.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import math
import os
import pathlib
import platform
import sys
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.env import Env
from jaxrl.policy import Policy
from jaxrl.wrappers import BatchOfOne

_LINUX_GL = ("egl", "osmesa", "glfw", "glx", "enable", "enabled", "on", "true", "1", "disable", "disabled", "off", "false", "0")
_GL_LIBS = {"egl": ("libEGL.so.1",), "osmesa": ("libOSMesa.so", "libOSMesa.so.8", "libOSMesa.so.6")}
_GL_ADVICE = (
    "install a headless OpenGL library (`apt-get install libegl1`, or `apt-get install libosmesa6` "
    "without a GPU) and set MUJOCO_GL=egl or MUJOCO_GL=osmesa"
)
_GIF_MAX_FPS = 50  # browsers play GIF frame delays under 20 ms at 100 ms

# MuJoCo cannot retry after failing to create a GL context: the next attempt
# aborts the process (a C++ static initialiser was left half done). Remember it.
_context_failed: str | None = None


class RenderError(RuntimeError):
    """Rendering cannot work as asked; the message says how to fix it, in one line."""


# ----------------------------------------------------------------------------- OpenGL backend


def _loads(names) -> bool:
    """Whether any of the shared libraries ``names`` can be loaded."""
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _backend_loads(backend: str) -> bool:
    extra = [ctypes.util.find_library("OSMesa")] if backend == "osmesa" else []
    return _loads(_GL_LIBS[backend] + tuple(filter(None, extra)))


def _pick_backend() -> str:
    for backend in ("egl", "osmesa"):
        if _backend_loads(backend):
            return backend
    libs = ", ".join(_GL_LIBS["egl"] + _GL_LIBS["osmesa"])
    raise RenderError(f"no headless OpenGL found ({libs} do not load): {_GL_ADVICE}")


def _mujoco_gl_modules():
    """MuJoCo's imported GL-context modules (mujoco 4.x, 3.x); empty before ``import mujoco``."""
    names = ("mujoco.rendering.classic.gl_context", "mujoco.gl_context")
    return [sys.modules[n] for n in names if n in sys.modules]


def _bound_backend() -> str | None:
    """The backend whose ``GLContext`` the imported mujoco will use (``"glfw"``, ``"egl"``, ...)."""
    for gl in _mujoco_gl_modules():
        module = getattr(getattr(gl, "GLContext", None), "__module__", "")
        if module.startswith("mujoco."):
            return module.split(".")[1]
    return None


def _point_imported_mujoco_at(backend: str) -> None:
    """If ``mujoco`` was imported before ``MUJOCO_GL`` was set, make its Renderer use ``backend``.

    MuJoCo binds ``GLContext`` when its GL module is imported; ``mujoco.Renderer``
    looks it up at construction time, so rebinding it is enough.
    """
    for gl in _mujoco_gl_modules():
        if getattr(getattr(gl, "GLContext", None), "__module__", None) == f"mujoco.{backend}":
            continue
        try:
            gl.GLContext = importlib.import_module(f"mujoco.{backend}").GLContext
        except (ImportError, OSError, AttributeError, RuntimeError) as e:
            raise RenderError(
                f"mujoco was imported before MUJOCO_GL={backend} was set and cannot switch ({e}): "
                f"set MUJOCO_GL={backend} in the environment or call jaxrl.video.ensure_gl() before importing jaxrl.envs"
            ) from None


def ensure_gl() -> str:
    """Choose MuJoCo's headless OpenGL backend; returns it (``"egl"``, ``"osmesa"``, ...).

    Keeps ``MUJOCO_GL`` if set (checking that an egl / osmesa library loads), else
    picks ``egl`` if ``libEGL.so.1`` loads, else ``osmesa`` if ``libOSMesa`` loads,
    else raises :class:`RenderError`. Sets ``MUJOCO_GL`` and (egl / osmesa)
    ``PYOPENGL_PLATFORM``. MuJoCo reads ``MUJOCO_GL`` when ``mujoco`` is first
    imported: call this BEFORE importing ``jaxrl.envs`` (or anything importing
    mujoco); called later, it rebinds the imported mujoco's GL context class
    (best effort). Idempotent and cheap. Platforms other than Linux keep
    MuJoCo's own default.
    """
    if platform.system() != "Linux":
        return os.environ.get("MUJOCO_GL", "default")
    backend = os.environ.get("MUJOCO_GL", "").strip().lower() or _pick_backend()
    if backend not in _LINUX_GL:
        raise RenderError(f"MUJOCO_GL={backend!r} is not a MuJoCo GL backend: use MUJOCO_GL=egl or MUJOCO_GL=osmesa")
    if backend in _GL_LIBS and not _backend_loads(backend):
        # mujoco would fail at import (AttributeError: ... 'glGetError'), taking jaxrl.envs with it
        raise RenderError(f"MUJOCO_GL={backend} but {', '.join(_GL_LIBS[backend])} do not load: {_GL_ADVICE}")
    os.environ["MUJOCO_GL"] = backend
    if backend in _GL_LIBS:
        os.environ["PYOPENGL_PLATFORM"] = backend
        _point_imported_mujoco_at(backend)
    return backend


def _refuse_doomed_context() -> None:
    """Raise before MuJoCo tries a context that cannot work (a failed try is fatal to a later one)."""
    if _context_failed is not None:
        raise RenderError(f"MuJoCo already failed to create an OpenGL context in this process ({_context_failed}); {_GL_ADVICE}")
    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if platform.system() == "Linux" and _bound_backend() == "glfw" and no_display:
        raise RenderError(f"mujoco uses GLFW, which needs a display, and there is none: {_GL_ADVICE}")


def _open_renderer(mj_model, width: int, height: int):
    """A ``mujoco.Renderer``; MuJoCo's failure to create a GL context becomes :class:`RenderError`."""
    global _context_failed
    import mujoco

    _refuse_doomed_context()
    try:
        return mujoco.Renderer(mj_model, height=height, width=width)
    except (mujoco.FatalError, AttributeError, ImportError, OSError, RuntimeError) as e:
        _context_failed = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise RenderError(
            f"MuJoCo could not create an OpenGL context (MUJOCO_GL={os.environ.get('MUJOCO_GL', '')!r}: {_context_failed}): "
            f"{_GL_ADVICE}, before anything imports mujoco"
        ) from None


def check_gl() -> str:
    """:func:`ensure_gl`, then prove that MuJoCo can open a GL context; returns the backend.

    Cheap (an empty model, 16x16 pixels): call it before compiling an episode
    so that a machine without OpenGL fails in a second, not after the compile.
    """
    backend = ensure_gl()
    import mujoco

    _open_renderer(mujoco.MjModel.from_xml_string("<mujoco/>"), 16, 16).close()
    return backend


# ----------------------------------------------------------------------------- the episode (device)


def _mj_model(env: Env):
    model = getattr(env, "mj_model", None)
    if model is None:
        raise RenderError(f"env {env.name} has no MuJoCo model to render")
    return model


def _mjx_data(state):
    """The ``mjx.Data`` in a nest of wrapper states (the ``.inner`` chain, as ``find_state`` walks it)."""
    while state is not None:
        data = getattr(state, "data", None)
        if data is not None and hasattr(data, "qpos"):
            return data
        state = getattr(state, "inner", None)
    raise RenderError("this env state holds no mjx.Data (a `.data` field): only MJX envs can be rendered")


def episode_qpos(env: Env, env_params: Any, act: Policy | Callable, key: jax.Array, horizon: int) -> dict:
    """Simulate ONE episode for ``horizon`` env steps (static) and keep its joint positions.

    Pure and jittable (``env``, ``act``, ``horizon`` static); the caller jits. The episode runs in
    :func:`jaxrl.evaluate.episode_scan`, the loop evaluation uses (a batch of one env).

    Args:
      env: an UNBATCHED MJX env without auto-reset, e.g. ``jaxrl.envs.make(name)[0]``.
      act: a :class:`jaxrl.policy.Policy` (e.g. a trainer's ``policy(state)``) or a BATCHED
        ``act(key, obs[1, *obs_shape]) -> action[1, *action_shape]``.
      key: PRNG key, split into ``(reset_key, key)``; ``key`` gives one key per step.
      horizon: env steps ``T`` to simulate; steps after the episode ends are wasted.

    Returns:
      ``qpos``: ``[T + 1, nq]``, row 0 the reset state, row ``t + 1`` after step ``t``;
      ``reward``: ``[T]`` float32, reward of step ``t``, 0 once the episode has ended;
      ``valid``: ``[T + 1]`` bool, the frame belongs to the episode (the reset
      state and every state up to and including the one where it ended).
    """
    from jaxrl.evaluate import episode_scan

    _mj_model(env)
    if int(horizon) < 1:
        raise ValueError(f"horizon must be >= 1 env step, got {horizon}")
    out = episode_scan(key, BatchOfOne(env), env_params, act, int(horizon), record=lambda state: _mjx_data(state).qpos)
    return {
        "qpos": jnp.concatenate([out["start"], out["record"][:, 0]]),
        "reward": out["reward"][:, 0],
        "valid": jnp.concatenate([jnp.ones((1,), jnp.bool_), out["valid"][:, 0]]),
    }


# ----------------------------------------------------------------------------- frames (host)


def _camera_id(mj_model, camera) -> int:
    """``camera`` (``None``: the free camera, a name, or an index; ``-1`` is the free camera) as an index."""
    import mujoco

    if camera is None:
        return -1
    if isinstance(camera, str) and camera.lstrip("-").isdigit():
        camera = int(camera)
    if isinstance(camera, str):
        cam_id = mujoco.mj_name2id(mj_model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        valid = cam_id >= 0
    else:
        cam_id = int(camera)
        valid = -1 <= cam_id < mj_model.ncam
    if not valid:
        names = [f"{i} {mujoco.mj_id2name(mj_model, mujoco.mjtObj.mjOBJ_CAMERA, i)!r}" for i in range(mj_model.ncam)]
        raise RenderError(f"unknown camera {camera!r}: this model has cameras [{', '.join(names)}] (or -1, the free camera)")
    return cam_id


def _with_framebuffer(mj_model, width: int, height: int):
    """``mj_model``, or a copy whose offscreen framebuffer holds ``width x height``."""
    glob = mj_model.vis.global_
    if width <= glob.offwidth and height <= glob.offheight:
        return mj_model
    import copy

    model = copy.copy(mj_model)  # MjModel copies are deep
    model.vis.global_.offwidth = max(width, glob.offwidth)
    model.vis.global_.offheight = max(height, glob.offheight)
    return model


def render_frames(mj_model, qpos: np.ndarray, width: int = 320, height: int = 240, camera=None) -> np.ndarray:
    """Draw one frame per row of ``qpos[T, nq]``; returns ``uint8[T, height, width, 3]``.

    ``camera``: ``None`` (MuJoCo's free camera), a camera name, or an index.
    Each frame runs ``mujoco.mj_forward`` on ``qpos[t]`` (zero velocity).
    """
    import mujoco

    qpos = np.asarray(qpos)
    if qpos.ndim != 2 or qpos.shape[1] != mj_model.nq:
        raise ValueError(f"qpos must be [T, nq={mj_model.nq}], got shape {qpos.shape}")
    if width < 1 or height < 1:
        raise ValueError(f"width and height must be >= 1, got {width}x{height}")
    cam_id = _camera_id(mj_model, camera)
    ensure_gl()  # a no-op when the caller chose the backend; else picks (and rebinds) one
    model = _with_framebuffer(mj_model, width, height)
    data = mujoco.MjData(model)
    frames = np.empty((len(qpos), height, width, 3), np.uint8)
    with _open_renderer(model, width, height) as renderer:
        for t, q in enumerate(qpos):
            data.qpos[:] = q
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera=cam_id)
            renderer.render(out=frames[t])
    return frames


# ----------------------------------------------------------------------------- files (host)


def _check_writer(path) -> str:
    """The video format of ``path`` (``"gif"`` or ``"mp4"``), checking that it can be written."""
    suffix = pathlib.Path(path).suffix.lower()
    if suffix == ".gif":
        return "gif"
    if suffix != ".mp4":
        raise RenderError(f"cannot write {str(path)!r}: the video path must end in .gif or .mp4")
    try:
        import imageio.v2  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise RenderError("writing .mp4 needs imageio and imageio-ffmpeg: pip install 'jaxrl[video]' (or write a .gif)") from None
    return "mp4"


def _write_gif(frames: np.ndarray, path: str, fps: float) -> None:
    from PIL import Image

    stride = max(1, math.ceil(fps / _GIF_MAX_FPS))  # keep real-time speed at <= 50 fps
    images = [Image.fromarray(f) for f in frames[::stride]]
    duration = max(20, round(1000 * stride / fps))
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0)


def _write_mp4(frames: np.ndarray, path: str, fps: float) -> None:
    import imageio.v2 as imageio

    # H.264 (yuv420p) needs even sizes: pad by one edge row / column rather than rescale.
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    imageio.mimwrite(path, list(frames), fps=fps, macro_block_size=2)


def write_video(frames: np.ndarray, path, fps: float) -> str:
    """Write ``frames`` (``uint8[T, H, W, 3]``) to ``path`` (``.gif`` or ``.mp4``); returns ``path``.

    GIF: Pillow, looping; above 50 fps every k-th frame is kept so that it
    still plays in real time (browsers slow down shorter frame delays).
    MP4: H.264 via imageio-ffmpeg (``pip install 'jaxrl[video]'``).
    """
    kind = _check_writer(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be non-empty uint8[T, H, W, 3], got {frames.dtype}{list(frames.shape)}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    path = str(path)
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    (_write_gif if kind == "gif" else _write_mp4)(frames, path, fps)
    return path


# ----------------------------------------------------------------------------- all of it


def _default_fps(env: Env) -> float:
    """Real time: one frame per env step (``timestep * substeps`` seconds), else 50."""
    dt = getattr(env, "dt", None)
    if dt is None and hasattr(env, "n_substeps"):
        dt = float(env.mj_model.opt.timestep) * env.n_substeps
    return 1.0 / dt if dt else 50.0


def render_policy(
    env: Env,
    env_params: Any,
    act: Callable,
    key: jax.Array,
    path,
    horizon: int = 1000,
    width: int = 320,
    height: int = 240,
    camera=None,
    fps: float | None = None,
) -> dict:
    """Run one episode of ``act`` (see :func:`episode_qpos`) and write it to ``path``.

    Everything that can be checked before compiling is checked first (model,
    camera, file format, OpenGL). The episode is compiled once per
    ``(env, act, horizon)``: pass the same ``act`` object to reuse it.
    ``fps`` defaults to real time (one frame per env step).

    Returns:
      ``{"path": str, "frames": frames rendered (reset state included, none
      after the episode ended), "return": undiscounted episode return}``.
    """
    mj_model = _mj_model(env)
    _camera_id(mj_model, camera)
    _check_writer(path)
    check_gl()
    rollout = jax.jit(episode_qpos, static_argnums=(0, 2, 4))(env, env_params, act, key, int(horizon))
    rollout = jax.device_get(rollout)
    frames = render_frames(mj_model, rollout["qpos"][rollout["valid"]], width, height, camera)
    path = write_video(frames, path, fps or _default_fps(env))
    return {"path": path, "frames": len(frames), "return": float(np.sum(rollout["reward"]))}
