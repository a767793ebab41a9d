"""Pixel observations rendered inside the XLA graph, for any MJX task (CPU, GPU, TPU alike).

    env, params = jaxrl.envs.make("cartpole_swingup", obs="pixels")   # obs uint8 [64, 64, 3]
    env, params = jaxrl.envs.make("cheetah_run", obs="pixels", image_size=84, depth=True, frame_stack=3)
    # obs uint8 [84, 84, 12]: (R, G, B, depth) x 3 frames, oldest first

The image is drawn by ray casting written in plain JAX: one ray through the centre
of every pixel of a MuJoCo camera, intersected with every visible geom (all pixels
at once, a ``lax.scan`` over the geoms of each type: no Python loop over pixels), the nearest hit
shaded with the model's lights. It is an ordinary traced function of
``(params.model, state)``: it jits, vmaps over envs (and over randomised params:
geom colours, sizes, light and camera settings are read from the traced
``mjx.Model``), and fuses with the policy into one program. No OpenGL, Warp or
Madrona.

Why not ``mujoco.mjx.ray``: it returns no surface normal (needed for shading),
has no cylinder, transforms every geom for every ray, and in mujoco-mjx 3.17
fails on a model without materials (it indexes the empty material table). The
intersection tests below follow MuJoCo's C ``mj_ray`` (``engine_ray.c``); the
tests compare them pixel by pixel with ``mujoco.mj_multiRay``.

What is drawn (a deliberately simple model of MuJoCo's own renderer):

* geoms of groups 0-2 (what ``mujoco.Renderer`` shows by default) of types plane,
  sphere, capsule, ellipsoid, cylinder and box; a geom the visualiser draws with
  alpha 0 is skipped, other alphas are drawn opaque. Meshes, height fields and
  SDFs are refused with a clear error. Sites, tendons, decor are not drawn.
* one ray per pixel, no anti-aliasing: a geom thinner than a pixel can fall
  between pixel centres (cartpole's rail at 64 x 64).
* colour: the material's rgba (times the mean colour of its RGB texture, if
  any; textures are not mapped), overridden by the geom's own rgba where that
  is not MuJoCo's default, exactly as MuJoCo's visualiser decides.
* light: ``rgb * clip(emission + ambient + diffuse, 0, 1)`` summed over the
  model's active lights (directional, spot with cutoff, exponent and
  attenuation, point) and the headlight (``visual/headlight``, directional
  along the camera's view). Lights follow their body (modes fixed, track,
  trackcom, targetbody, targetbodycom). No specular, no shadows, no reflections.
* background: a sky gradient (rays that hit nothing).

Cameras: a model camera by name or index (default: the task's
``default_camera``), perspective with MuJoCo's vertical ``fovy`` (cameras
given by sensor size / focal length, and orthographic cameras, are refused).
Tracking cameras follow their body: the camera and geom poses are recomputed
from ``qpos`` before every frame (``mjx.kinematics``, ``mjx.com_pos`` when a
camera or light tracks a centre of mass, ``mjx.camlight``), because the data
``mjx.step`` returns holds the poses of the step's START, and a reset computes
kinematics only. Tasks whose state already holds its post-step poses
(``MjxTask.holds_poses``: pendulum, acrobot, point-mass, reacher, finger, cheetah,
walker and hopper read them; :func:`apply_obs_options` sets ``keep_poses`` on the
cart-pole, whose observations do not) skip the kinematics here, so each env step
computes the poses once, shared by the renderer and the next physics step. The
camera and light poses computed here are not written back into the env state.

Row 0 of the image is the top, column 0 the left, as ``mujoco.Renderer`` returns it.

Speed (CPU): one ``lax.scan`` per geom type over that type's geoms keeps the running nearest hit
per pixel (distance and geom), then the winner's pose and colour are read back per pixel by
selects, its normal computed once, and the lights applied one by one; all on ``[pixels]`` arrays
that XLA fuses, never a ``[geoms, pixels]`` stack, a gather or a matmul (the first version's
design, 2-4x slower: ``benchmarks/render_speed.py`` measures both in one run).

Functions: :func:`update_poses` then :func:`render` (a :class:`Frame`: RGB, depth,
geom id and normal per pixel) draw one camera of one ``mjx.Data``; :func:`cast`
intersects any rays; :class:`PixelObs` is the env wrapper. ``benchmarks/render_grid.py``
shows every task beside ``mujoco.Renderer`` and measures frames per second.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from jaxrl.env import Env, Wrapper
from jaxrl.envs import distractors as _distractors
from jaxrl.envs._options import positive_int
from jaxrl.envs.mjx_env import MjxState, MjxTask, mjx
from jaxrl.spaces import Box
from jaxrl.wrappers import ActionRepeat, CheckActions, FrameStack, find_state

_G = mujoco.mjtGeom
PLANE, SPHERE, CAPSULE, ELLIPSOID, CYLINDER, BOX = (int(t) for t in (
    _G.mjGEOM_PLANE, _G.mjGEOM_SPHERE, _G.mjGEOM_CAPSULE, _G.mjGEOM_ELLIPSOID, _G.mjGEOM_CYLINDER, _G.mjGEOM_BOX))
_CL = mujoco.mjtCamLight
TRACK, TRACKCOM, TARGETBODY, TARGETBODYCOM = (int(m) for m in (
    _CL.mjCAMLIGHT_TRACK, _CL.mjCAMLIGHT_TRACKCOM, _CL.mjCAMLIGHT_TARGETBODY, _CL.mjCAMLIGHT_TARGETBODYCOM))
SPOT, DIRECTIONAL = int(mujoco.mjtLightType.mjLIGHT_SPOT), int(mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
VISIBLE_GROUPS = (1, 1, 1, 0, 0, 0)  # mujoco.Renderer's default geom groups (mjvOption.geomgroup)
_MINVAL = mujoco.mjMINVAL
_DEFAULT_GEOM_RGBA = np.array([0.5, 0.5, 0.5, 1.0], np.float32)  # the visualiser uses a geom's rgba unless it is this
SKY_ZENITH = (0.32, 0.45, 0.62)
SKY_HORIZON = (0.70, 0.78, 0.86)
_INF = jnp.inf


class Frame(NamedTuple):
    """One rendered image (unbatched; under ``vmap`` every field gains the batch axes).

    Attributes:
      rgb: uint8 ``[H, W, 3]``, row 0 at the top.
      depth: float32 ``[H, W]``, distance in metres from the camera to the hit
        point along each pixel's ray (what ``mj_ray`` returns for a unit
        direction), ``inf`` where the ray hits nothing.
      geom: int32 ``[H, W]``, id of the geom seen, ``-1`` where none.
      normal: float32 ``[H, W, 3]``, world-frame unit surface normal facing the
        camera (meaningless where ``geom == -1``).
    """

    rgb: jax.Array
    depth: jax.Array
    geom: jax.Array
    normal: jax.Array


# ----------------------------------------------------------------------------- static checks (host)


def camera_names(mj_model: mujoco.MjModel) -> list[str]:
    return [mujoco.mj_id2name(mj_model, mujoco.mjtObj.mjOBJ_CAMERA, i) or f"<unnamed {i}>" for i in range(mj_model.ncam)]


def resolve_camera(mj_model: mujoco.MjModel, camera: str | int) -> int:
    """``camera`` (a name, an index, or an index as a string) as an index; ValueError naming the model's cameras."""
    if isinstance(camera, str) and camera.strip().isdigit():
        camera = int(camera)
    if isinstance(camera, str):
        cam_id = mujoco.mj_name2id(mj_model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    elif isinstance(camera, (int, np.integer)) and not isinstance(camera, bool) and 0 <= camera < mj_model.ncam:
        cam_id = int(camera)
    else:
        cam_id = -1
    if cam_id < 0:
        listed = ", ".join(f"{i} {n!r}" for i, n in enumerate(camera_names(mj_model))) or "none"
        raise ValueError(f"unknown camera {camera!r}: this model's cameras are [{listed}]")
    if int(mj_model.cam_projection[cam_id]) != int(mujoco.mjtProjection.mjPROJ_PERSPECTIVE):
        raise ValueError(f"camera {camera!r} is orthographic: pixel observations need a perspective camera (fovy)")
    if np.any(mj_model.cam_sensorsize[cam_id] > 0):
        raise ValueError(f"camera {camera!r} is given by sensorsize/focal: pixel observations need a camera given by fovy")
    return cam_id


def check_renderable(mj_model: mujoco.MjModel) -> None:
    """ValueError if a visible geom has a type the ray caster does not draw."""
    visible = np.asarray(VISIBLE_GROUPS, bool)[np.clip(mj_model.geom_group, 0, 5)]
    bad = [i for i in np.nonzero(visible)[0] if int(mj_model.geom_type[i]) not in _HIT]
    if bad:
        what = ", ".join(f"{mujoco.mj_id2name(mj_model, mujoco.mjtObj.mjOBJ_GEOM, i) or i} ({_G(int(mj_model.geom_type[i])).name})" for i in bad)
        raise ValueError(f"pixel observations cannot draw geoms {what}: supported types are plane, sphere, capsule, "
                         f"ellipsoid, cylinder, box (put other geoms in group 3-5 to hide them)")


# ----------------------------------------------------------------------------- poses


def _needs_com(mj_model) -> bool:
    com = (TRACKCOM, TARGETBODYCOM)
    return bool(np.isin(mj_model.cam_mode, com).any() or np.isin(mj_model.light_mode, com).any())


def update_poses(mj_model, model: mjx.Model, data: mjx.Data, kinematics: bool = True) -> mjx.Data:
    """``data`` with body, geom and camera poses computed from its ``qpos`` (traced, unbatched).

    ``kinematics=False`` (static) when ``data`` already holds the body and geom poses of its
    ``qpos`` (a task with ``holds_poses``): only the camera and light poses are computed."""
    if kinematics:
        data = mjx.kinematics(model, data)
    if _needs_com(mj_model):
        data = mjx.com_pos(model, data)
    return mjx.camlight(model, data)


def _light_poses(mj_model, model, data) -> tuple[jax.Array, jax.Array]:
    """World positions ``[nlight, 3]`` and unit directions ``[nlight, 3]`` of the lights (MuJoCo's camlight rules)."""
    body, target, mode = mj_model.light_bodyid, mj_model.light_targetbodyid, mj_model.light_mode
    xmat = data.xmat[body]
    pos = data.xpos[body] + jnp.einsum("lij,lj->li", xmat, model.light_pos)
    direction = jnp.einsum("lij,lj->li", xmat, model.light_dir)
    track, com = (mode == TRACK)[:, None], (mode == TRACKCOM)[:, None]
    pos = jnp.where(track, data.xpos[body] + model.light_pos0, pos)
    pos = jnp.where(com, data.subtree_com[body] + model.light_poscom0, pos)
    direction = jnp.where(track | com, model.light_dir0, direction)
    aim = np.isin(mode, (TARGETBODY, TARGETBODYCOM)) & (target >= 0)
    if aim.any():
        tgt = np.maximum(target, 0)
        goal = jnp.where((mode == TARGETBODYCOM)[:, None], data.subtree_com[tgt], data.xpos[tgt])
        direction = jnp.where(aim[:, None], goal - pos, direction)
    return pos, direction / jnp.maximum(jnp.sqrt(jnp.sum(direction * direction, -1)), _MINVAL)[:, None]


# ----------------------------------------------------------------------------- rays
#
# Vectors are tuples of their three components (each an array over pixels), so that
# every step is elementwise: XLA fuses the steps of a ray-geom test and never
# materialises [pixels, 3] temporaries (on CPU,
# small 3x3 matmuls and size-3 reductions ran 4x slower than this).


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _mat_vec(rot, x):
    """``rot @ x`` for ``rot [..., 3, 3]`` (components broadcast against ``rot[..., i, j]``)."""
    return tuple(rot[..., i, 0] * x[0] + rot[..., i, 1] * x[1] + rot[..., i, 2] * x[2] for i in range(3))


def _mat_t_vec(rot, x):
    """``rot^T @ x``."""
    return tuple(rot[..., 0, j] * x[0] + rot[..., 1, j] * x[1] + rot[..., 2, j] * x[2] for j in range(3))


def _unit(x):
    inv = jax.lax.rsqrt(jnp.maximum(_dot(x, x), _MINVAL * _MINVAL))
    return tuple(c * inv for c in x)


def _rays(model, data, cam_id, height, width):
    """Origin ``[3]`` and unit world directions (3 components ``[H * W]``, row-major, row 0 at the top)."""
    half = jnp.tan(jnp.deg2rad(model.cam_fovy[cam_id]) / 2)
    u = (2 * (np.arange(width) + 0.5) / width - 1) * (width / height)  # right
    v = 1 - 2 * (np.arange(height) + 0.5) / height  # up
    uu, vv = (g.ravel().astype(np.float32) for g in np.meshgrid(u, v))
    local = (half * uu, half * vv, np.float32(-1.0))  # a MuJoCo camera looks along its -z
    return data.cam_xpos[cam_id], _unit(_mat_vec(data.cam_xmat[cam_id][None], local))


def camera_rays(model: mjx.Model, data: mjx.Data, cam_id: int, height: int, width: int) -> tuple[jax.Array, jax.Array]:
    """Origin ``[3]`` and unit world directions ``[H * W, 3]`` (row-major, row 0 at the top) through pixel centres."""
    origin, dirs = _rays(model, data, cam_id, height, width)
    return origin, jnp.stack(jnp.broadcast_arrays(*dirs), -1)


def _roots(a, b, c):
    """Both roots of ``a t^2 + 2 b t + c = 0`` (``a > 0``), ``inf`` where complex or negative."""
    det = b * b - a * c
    ok = (det >= _MINVAL) & (a >= _MINVAL)
    a = jnp.where(ok, a, 1.0)
    sq = jnp.sqrt(jnp.maximum(det, 0.0))
    x0, x1 = (-b - sq) / a, (-b + sq) / a
    return jnp.where(ok & (x0 >= 0), x0, _INF), jnp.where(ok & (x1 >= 0), x1, _INF)


def _z_at(p, v, t):
    return p[2] + jnp.where(jnp.isinf(t), 0.0, t) * v[2]


def _side(s, p, v):
    """Nearest hit of the side of the cylinder of radius ``s[0]``, half-height ``s[1]`` around local z."""
    t = _INF
    for x in _roots(v[0] * v[0] + v[1] * v[1], v[0] * p[0] + v[1] * p[1], p[0] * p[0] + p[1] * p[1] - s[0] * s[0]):
        t = jnp.minimum(t, jnp.where(jnp.abs(_z_at(p, v, x)) <= s[1], x, _INF))
    return t


def _hit_plane(s, p, v):
    front = v[2] <= -_MINVAL  # rays from above only
    t = -p[2] / jnp.where(front, v[2], -1.0)
    inside = ((s[0] <= 0) | (jnp.abs(p[0] + t * v[0]) <= s[0])) & ((s[1] <= 0) | (jnp.abs(p[1] + t * v[1]) <= s[1]))
    return jnp.where(front & (t >= 0) & inside, t, _INF)  # size 0: an infinite plane


def _hit_sphere(s, p, v):
    return jnp.minimum(*_roots(_dot(v, v), _dot(v, p), _dot(p, p) - s[0] * s[0]))


def _hit_ellipsoid(s, p, v):
    w = tuple(1.0 / (c * c) for c in s)
    wv = tuple(wi * vi for wi, vi in zip(w, v))
    return jnp.minimum(*_roots(_dot(wv, v), _dot(wv, p), _dot(tuple(wi * pi for wi, pi in zip(w, p)), p) - 1.0))


def _hit_capsule(s, p, v):
    t = _side(s, p, v)
    for sign in (1.0, -1.0):  # hemispherical caps
        cap = (p[0], p[1], p[2] - sign * s[1])
        for x in _roots(_dot(v, v), _dot(v, cap), _dot(cap, cap) - s[0] * s[0]):
            t = jnp.minimum(t, jnp.where(sign * _z_at(p, v, x) >= s[1], x, _INF))
    return t


def _hit_cylinder(s, p, v):
    t = _side(s, p, v)
    axial = jnp.abs(v[2]) >= _MINVAL
    vz = jnp.where(axial, v[2], 1.0)
    for sign in (1.0, -1.0):  # flat caps
        x = (sign * s[1] - p[2]) / vz
        q0, q1 = p[0] + x * v[0], p[1] + x * v[1]
        t = jnp.minimum(t, jnp.where(axial & (x >= 0) & (q0 * q0 + q1 * q1 <= s[0] * s[0]), x, _INF))
    return t


def _hit_box(s, p, v):
    t = _INF
    for i, (j, k) in enumerate(((1, 2), (0, 2), (0, 1))):  # the two faces normal to axis i
        ok = jnp.abs(v[i]) >= _MINVAL
        vi = jnp.where(ok, v[i], 1.0)
        for sign in (1.0, -1.0):
            x = (sign * s[i] - p[i]) / vi
            inside = (jnp.abs(p[j] + x * v[j]) <= s[j]) & (jnp.abs(p[k] + x * v[k]) <= s[k])
            t = jnp.minimum(t, jnp.where(ok & (x >= 0) & inside, x, _INF))
    return t


_HIT = {PLANE: _hit_plane, SPHERE: _hit_sphere, CAPSULE: _hit_capsule, ELLIPSOID: _hit_ellipsoid,
        CYLINDER: _hit_cylinder, BOX: _hit_box}


def _normal_box(s, q):
    a = tuple(jnp.abs(q[i]) / s[i] for i in range(3))  # the face hit is the largest |q_i| / size_i
    x = (a[0] >= a[1]) & (a[0] >= a[2])
    face = (x, ~x & (a[1] >= a[2]), ~x & (a[1] < a[2]))  # elementwise: CPU argmax is slow
    return tuple(jnp.where(face[i], jnp.sign(q[i]), 0.0) for i in range(3))


def _normal_cylinder(s, q):
    cap = jnp.abs(q[2]) * s[0] >= jnp.sqrt(q[0] * q[0] + q[1] * q[1]) * s[1]  # on a flat cap
    return jnp.where(cap, 0.0, q[0]), jnp.where(cap, 0.0, q[1]), jnp.where(cap, jnp.sign(q[2]), 0.0)


# Outward normal (not unit) at a local hit point ``q`` of a geom of sizes ``s`` (components), per type.
_NORMAL = {
    PLANE: lambda s, q: (jnp.zeros_like(q[0]), jnp.zeros_like(q[0]), jnp.ones_like(q[0])),
    SPHERE: lambda s, q: q,
    CAPSULE: lambda s, q: (q[0], q[1], q[2] - jnp.clip(q[2], -s[1], s[1])),
    ELLIPSOID: lambda s, q: tuple(q[i] / (s[i] * s[i]) for i in range(3)),
    CYLINDER: _normal_cylinder,
    BOX: _normal_box,
}


def cast(mj_model, model: mjx.Model, data: mjx.Data, origin: jax.Array, dirs: jax.Array):
    """Nearest visible geom along each ray ``origin + t * dirs[i]`` (``dirs [N, 3]`` unit, world frame).

    Same rules as ``mujoco.mj_ray(..., geomgroup=VISIBLE_GROUPS, flg_static=1, bodyexclude=-1)``,
    except which geom counts as transparent: alpha 0 as MuJoCo's visualiser
    decides it (:func:`geom_colors`), where ``mj_ray`` reads a geom's material
    alpha alone (they differ only for a geom whose own rgba overrides its
    material's alpha, e.g. a marker hidden by ``geom rgba="... 0"``).
    ``data`` must hold current geom poses (:func:`update_poses`).

    Returns:
      ``(dist [N] float32, inf where no hit; geom [N] int32, -1 where none; normal [N, 3] world unit normal)``.
    """
    hit = _cast(mj_model, model, data, origin, tuple(dirs[:, i] for i in range(3)))
    return hit.dist, hit.geom, jnp.stack(hit.normal, -1)


def _visible_groups(mj_model) -> list[tuple[int, np.ndarray]]:
    """``[(geom type, ids)]``: the visible geoms grouped by type, in :data:`_HIT`'s order (static)."""
    visible = np.asarray(VISIBLE_GROUPS, bool)[np.clip(mj_model.geom_group, 0, 5)]
    groups = [(gtype, np.nonzero(visible & (mj_model.geom_type == gtype))[0]) for gtype in _HIT]
    return [(gtype, ids) for gtype, ids in groups if ids.size]


class _Hit(NamedTuple):
    """The nearest hit along each of ``N`` rays (every field ``[N]``; vectors as 3 components)."""

    dist: jax.Array  # inf: none
    geom: jax.Array  # int32, -1: none
    normal: tuple  # world frame, unit, facing the ray's origin
    material: tuple  # R, G, B, emission of the geom hit


def _nearest(model, data, origin, dirs, groups, shown) -> tuple[jax.Array, jax.Array]:
    """Distance ``[N]`` to the nearest shown geom along each ray (inf: none) and its slot ``[N]`` int32
    (its index among the geoms of ``groups`` concatenated; 0 where none; the lowest slot wins a tie).

    One ``lax.scan`` per geom type over that type's geoms, carrying the nearest hit so far, so that
    every intermediate of a ray-geom test is one ``[N]`` array per step. (All geoms of a type at
    once, ``[geoms, N]`` arrays, ran 2.5x slower on the CPU: XLA does not fuse a test's square roots
    and divisions with their several users, so each became a ``[geoms, N]`` pass through memory, and
    the argmin over that stack, an integer reduce over a middle axis, cost as much again.) Only the
    distance and the slot are carried: carrying the winner's normal and colour too (9 arrays, each
    one select and one pass through memory per geom) cost more than reading them once afterwards
    (:func:`_lookup`)."""
    n = dirs[0].shape[0]
    best = (jnp.full((n,), _INF), jnp.zeros((n,), jnp.int32))
    start = 0
    for g, (gtype, ids) in enumerate(groups):
        hit = _HIT[gtype]

        def test(best, x, hit=hit):
            rot, pos, size, drawn, slot = x
            p = _mat_t_vec(rot, tuple(origin[i] - pos[i] for i in range(3)))
            v = _mat_t_vec(rot, dirs)
            t = jnp.where(drawn, hit(tuple(size[i] for i in range(3)), p, v), _INF)
            closer = t < best[0]
            return (jnp.where(closer, t, best[0]), jnp.where(closer, slot, best[1])), None

        slots = np.arange(start, start + ids.size, dtype=np.int32)
        xs = (data.geom_xmat[ids], data.geom_xpos[ids], model.geom_size[ids], shown[ids], slots)
        if g == len(groups) - 1 and ids.size == 1:
            # XLA removes a loop of one step; the last group's test would then be straight-line code that
            # XLA copies into every fusion reading the nearest hit (a dozen on a light scene's frame). A
            # second, never-drawn step keeps the loop, whose output is computed once. (An earlier group's
            # inlined test only feeds the next loop's initial value, which is computed once anyway.)
            xs = tuple(jnp.concatenate([x, jnp.zeros_like(x) if i == 3 else x]) for i, x in enumerate(xs))
        best, _ = jax.lax.scan(test, best, xs)
        start += ids.size
    return best


def _lookup(slot, table) -> list:
    """Row ``slot[n]`` of ``table [K, A]`` for every ray: ``A`` arrays ``[N]``, each a chain of ``K``
    selects, fused by XLA. (Measured on the CPU, 64 envs: ``jnp.take`` ran 1.5-2x slower for the whole
    frame, and the first version's one-hot matmul cost a batched matmul and two transposes, about a
    third of the frame.)"""
    cols = []
    for a in range(table.shape[1]):
        col = jnp.broadcast_to(table[0, a], slot.shape)
        for k in range(1, table.shape[0]):
            col = jnp.where(slot == k, table[k, a], col)
        cols.append(col)
    return cols


def _local_normal(groups, slot, s, q):
    """Outward unit normal at local hit points ``q`` of the geoms in ``slot`` (sizes ``s``, components)."""
    n, start = None, 0
    for gtype, ids in groups:  # the slots of a type are consecutive
        formula = _NORMAL[gtype](s, q)
        n = formula if n is None else tuple(jnp.where(slot >= start, f, c) for f, c in zip(formula, n))
        start += ids.size
    return _unit(n)


def _cast(mj_model, model, data, origin, dirs) -> _Hit:
    """:func:`cast` on direction components ``dirs`` (3 arrays ``[N]``): a :class:`_Hit`."""
    groups, n = _visible_groups(mj_model), dirs[0].shape[0]
    rgba, emission = geom_colors(mj_model, model)
    if not groups:
        zero = jnp.zeros((n,))
        return _Hit(jnp.full((n,), _INF), jnp.full((n,), -1, jnp.int32), (zero,) * 3, (zero,) * 4)
    dist, slot = _nearest(model, data, origin, dirs, groups, rgba[:, 3] != 0)
    order = np.concatenate([ids for _, ids in groups])
    table = jnp.concatenate([data.geom_xmat[order].reshape(-1, 9), data.geom_xpos[order], model.geom_size[order],
                             rgba[order, :3], emission[order, None], order[:, None].astype(np.float32)], -1)
    # the hit geom's rotation (9), position, size, colour, emission, id; the barriers below make XLA
    # compute these and the normal once (it would copy the select chains into every user: 10-15%
    # more compile time for the same run time)
    got = jax.lax.optimization_barrier(_lookup(slot, table))
    rot = got[:9]  # row-major: rot[3 * i + j] = R[i, j]
    t = jnp.where(jnp.isfinite(dist), dist, 0.0)
    x = tuple(origin[i] + t * dirs[i] - got[9 + i] for i in range(3))
    q = tuple(rot[j] * x[0] + rot[3 + j] * x[1] + rot[6 + j] * x[2] for j in range(3))  # R^T x
    local = _local_normal(groups, slot, tuple(got[12:15]), q)
    normal = tuple(rot[3 * i] * local[0] + rot[3 * i + 1] * local[1] + rot[3 * i + 2] * local[2] for i in range(3))
    flip = jnp.where(_dot(normal, dirs) > 0, -1.0, 1.0)  # face the camera
    geom = jnp.where(jnp.isfinite(dist), jnp.round(got[19]).astype(jnp.int32), -1)
    normal = jax.lax.optimization_barrier(tuple(c * flip for c in normal))
    return _Hit(dist, geom, normal, tuple(got[15:19]))


# ----------------------------------------------------------------------------- shading


def _texture_tint(mj_model) -> np.ndarray:
    """``[nmat, 3]``: mean colour of each material's RGB texture (1 where it has none); textures are not mapped."""
    tint = np.ones((mj_model.nmat, 3), np.float32)
    role = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)
    for mat in range(mj_model.nmat):  # host side, once per trace
        tex = mj_model.mat_texid[mat, role]
        if tex >= 0:
            size = mj_model.tex_width[tex] * mj_model.tex_height[tex] * mj_model.tex_nchannel[tex]
            texels = mj_model.tex_data[mj_model.tex_adr[tex]: mj_model.tex_adr[tex] + size]
            tint[mat] = texels.reshape(-1, mj_model.tex_nchannel[tex])[:, :3].mean(0) / 255.0
    return tint


def geom_colors(mj_model, model: mjx.Model) -> tuple[jax.Array, jax.Array]:
    """RGBA ``[ngeom, 4]`` and emission ``[ngeom]`` of every geom, as MuJoCo's visualiser picks them.

    The material's rgba (RGB times its texture's mean colour), unless the geom
    has an rgba of its own (not MuJoCo's default grey); a model without
    materials (where ``mjx.ray`` fails) simply uses the geoms' rgba.
    """
    rgba = model.geom_rgba
    if not mj_model.nmat:
        return rgba, jnp.zeros(mj_model.ngeom)
    matid = mj_model.geom_matid
    mat = np.maximum(matid, 0)
    mat_rgba = model.mat_rgba[mat] * np.concatenate([_texture_tint(mj_model), np.ones((mj_model.nmat, 1), np.float32)], -1)[mat]
    use_mat = (matid >= 0)[:, None] & jnp.all(rgba == _DEFAULT_GEOM_RGBA, -1, keepdims=True)
    emission = jnp.where(matid >= 0, model.mat_emission[mat], 0.0)
    return jnp.where(use_mat, mat_rgba, rgba), emission


def _diffuse(mj_model, model, l: int, pos, direction, point, normal) -> jax.Array:
    """Lambert term ``[N]`` of light ``l`` (static index) at ``pos [3]`` shining along unit ``direction``,
    with its spot cone and distance attenuation, at surface points with unit normals (components ``[N]``)."""
    to_light = tuple(pos[i] - point[i] for i in range(3))
    dist = jnp.sqrt(_dot(to_light, to_light))
    if int(mj_model.light_type[l]) == DIRECTIONAL:
        L, gain = tuple(-direction[i] for i in range(3)), 1.0
    else:
        L = tuple(c / jnp.maximum(dist, _MINVAL) for c in to_light)
        att = model.light_attenuation[l]
        gain = 1.0 / jnp.maximum(att[0] + att[1] * dist + att[2] * dist * dist, _MINVAL)
        if int(mj_model.light_type[l]) == SPOT:
            cos = -_dot(L, direction)
            gain = gain * jnp.where(cos >= jnp.cos(jnp.deg2rad(model.light_cutoff[l])),
                                    jnp.maximum(cos, 0) ** model.light_exponent[l], 0.0)
    return jnp.maximum(_dot(L, normal), 0.0) * gain


def _irradiance(mj_model, model, data, point, normal, view_dir) -> jax.Array:
    """Ambient + diffuse light ``[N, 3]`` (colour channels last) at surface points with unit normals
    (components ``[N]``).

    Each light's Lambert term is one ``[N]`` array spread over the channels by a broadcast: XLA then
    computes it once per pixel. (As three per-channel sums, XLA fused the whole term, square root,
    division and the spot's power, into the frame's ``[N, 3]`` output loop: three times per pixel,
    about a third of a light scene's frame on the CPU.)"""
    head = mj_model.vis.headlight
    light = jnp.zeros((point[0].shape[0], 3), jnp.float32)
    if bool(head.active):  # directional, along the camera's view
        lambert = jnp.maximum(-_dot(normal, view_dir), 0.0)
        light = np.asarray(head.ambient, np.float32) + lambert[:, None] * np.asarray(head.diffuse, np.float32)
    if mj_model.nlight:
        pos, direction = _light_poses(mj_model, model, data)  # [L, 3]
        active = model.light_active.astype(jnp.float32)
        light = light + jnp.sum(active[:, None] * model.light_ambient, 0)
        for l in range(mj_model.nlight):  # elementwise per light: a matmul over lights costs two transposes
            lit = _diffuse(mj_model, model, l, pos[l], direction[l], point, normal) * active[l]
            light = light + lit[:, None] * model.light_diffuse[l]
    return light


def render(mj_model, model: mjx.Model, data: mjx.Data, cam_id: int, height: int, width: int,
           background: _distractors.Distraction | None = None) -> Frame:
    """Draw camera ``cam_id`` at ``height x width`` (static) from ``data`` (poses as they are).

    Traced and unbatched: ``vmap`` it over envs. ``mj_model`` supplies only static
    structure (geom types and groups, material ids, light modes); every number
    comes from the traced ``model`` and ``data``. ``cam_id`` may be a Python int
    or a traced int32. Call :func:`update_poses` first unless ``data`` holds the
    current poses. ``background`` (a :class:`jaxrl.envs.distractors.Distraction`) repaints the
    sky and every plane geom (the floor) with its colours and patterns; the floor is still lit.
    """
    origin, dirs = _rays(model, data, cam_id, height, width)
    dist, geom, normal, material = _cast(mj_model, model, data, origin, dirs)
    hit = geom >= 0
    t = jnp.where(hit, dist, 0.0)
    point = tuple(origin[i] + t * dirs[i] for i in range(3))
    view = tuple(-data.cam_xmat[cam_id][i, 2] for i in range(3))
    light = _irradiance(mj_model, model, data, point, normal, view)
    up = jnp.clip(dirs[2], 0.0, 1.0)
    sky = jnp.stack([(1 - up) * SKY_HORIZON[c] + up * SKY_ZENITH[c] for c in range(3)], -1)
    color = jnp.stack(material[:3], -1)
    if background is not None:
        planes = np.nonzero(mj_model.geom_type == PLANE)[0]
        on_floor = jnp.zeros(geom.shape, jnp.bool_)
        for plane in planes:
            on_floor = on_floor | (geom == plane)
        color = jnp.where(on_floor[:, None], _distractors.floor_color(background, point), color)
        sky = _distractors.sky_color(background, dirs)
    lit = color * jnp.clip(material[3][:, None] + light, 0.0, 1.0)
    rgb = jnp.round(jnp.clip(jnp.where(hit[:, None], lit, sky), 0.0, 1.0) * 255).astype(jnp.uint8)
    return Frame(rgb.reshape(height, width, 3), dist.reshape(height, width), geom.reshape(height, width),
                 jnp.stack(normal, -1).reshape(height, width, 3))


# ----------------------------------------------------------------------------- the wrapper


@dataclasses.dataclass(frozen=True)
class PixelObs(Wrapper):
    """Replace an MJX env's observation by a camera image rendered in the graph.

    Wrap the UNBATCHED env (``VecEnv`` goes outside). All fields are static.

    Attributes:
      height, width: image size in pixels (default 64 x 64).
      camera: camera name or index; ``None``: the task's ``default_camera``.
      depth: add a 4th channel: depth along the ray, ``round(255 * min(d / depth_max, 1))``
        (255 where nothing is hit).
      depth_max: metres mapped to depth 255 (default 10).
      distractors: ``None``, ``"colors"`` or ``"textures"``: a random sky and floor per episode
        (:mod:`jaxrl.envs.distractors`); the state becomes a
        :class:`~jaxrl.envs.distractors.DistractedState` holding the draw.
      camera_jitter: the camera moves by up to this many metres per axis, a new offset per episode.

    Observation: uint8 ``[height, width, 3]`` (``[height, width, 4]`` with depth),
    channels R, G, B (, depth), row 0 at the top, values 0..255. ``reward``,
    ``terminated``, ``truncated`` and ``info`` are the inner env's.
    """

    height: int = 64
    width: int = 64
    camera: str | int | None = None
    depth: bool = False
    depth_max: float = 10.0
    distractors: str | None = None
    camera_jitter: float = 0.0

    def __post_init__(self):
        if not isinstance(self.env.unwrapped, MjxTask):
            raise ValueError(f"pixel observations need an MJX task (a MuJoCo model to render); {self.env.name} is a "
                             f"{type(self.env.unwrapped).__name__}")
        positive_int("image height", self.height)
        positive_int("image width", self.width)
        if not isinstance(self.depth, bool):
            raise ValueError(f"depth must be True or False, got {self.depth!r}")
        if not float(self.depth_max) > 0:
            raise ValueError(f"depth_max must be > 0 metres, got {self.depth_max!r}")
        self.camera_id  # noqa: B018  (validates the camera)
        check_renderable(self.mj_model)
        _distractors.check(self.distractors, self.camera_jitter)

    @property
    def distracted(self) -> bool:
        """A :class:`~jaxrl.envs.distractors.Distraction` is drawn per episode."""
        return self.distractors is not None or self.camera_jitter > 0

    @property
    def camera_id(self) -> int:
        camera = self.env.unwrapped.default_camera if self.camera is None else self.camera
        return resolve_camera(self.mj_model, camera)

    @property
    def observation_spec(self) -> Box:
        return Box((self.height, self.width, 4 if self.depth else 3), 0, 255, np.uint8)

    def frame(self, state, params) -> Frame:
        """The :class:`Frame` of an (unbatched) env state, poses recomputed from its ``qpos`` (and the
        episode's distractors, when on)."""
        data = find_state(state, MjxState).data
        if data.qpos.ndim != 1:
            raise ValueError(f"PixelObs renders one env; got batched data (qpos {data.qpos.shape}): put VecEnv outside PixelObs")
        data = update_poses(self.mj_model, params.model, data, kinematics=not self.env.unwrapped.holds_poses)
        if not self.distracted:
            return render(self.mj_model, params.model, data, self.camera_id, self.height, self.width)
        d = find_state(state, _distractors.DistractedState).distraction
        data = data.replace(cam_xpos=data.cam_xpos.at[self.camera_id].add(d.camera))
        background = d if self.distractors is not None else None
        return render(self.mj_model, params.model, data, self.camera_id, self.height, self.width, background)

    def observe(self, state, params) -> jax.Array:
        frame = self.frame(state, params)
        if not self.depth:
            return frame.rgb
        depth = jnp.round(255 * jnp.clip(frame.depth / self.depth_max, 0.0, 1.0)).astype(jnp.uint8)  # inf -> 255
        return jnp.concatenate([frame.rgb, depth[..., None]], -1)

    def reset(self, key, params):
        state, ts = self.env.reset(key, params)  # the physics gets the key untouched
        if self.distracted:
            state = _distractors.DistractedState(state, _distractors.draw(key, self.distractors, self.camera_jitter))
        return state, ts._replace(obs=self.observe(state, params))

    def step(self, key, state, action, params):
        if not self.distracted:
            state, ts = self.env.step(key, state, action, params)
            return state, ts._replace(obs=self.observe(state, params))
        inner, ts = self.env.step(key, state.inner, action, params)
        state = _distractors.DistractedState(inner, _distractors.advance(state.distraction))
        return state, ts._replace(obs=self.observe(state, params))


# ----------------------------------------------------------------------------- registry options

OBS_OPTIONS: dict[str, Any] = {"obs": "state", "image_size": 64, "camera": None, "depth": False, "frame_stack": 1,
                               "action_repeat": 1, "debug": False, "distractors": None, "camera_jitter": 0.0}


# Upper bounds that keep the host's work to build an env small (a frame stack is a Python list of
# k observations, a camera grid is H x W host arrays); far beyond what any published agent uses.
MAX_IMAGE_SIDE, MAX_FRAME_STACK, MAX_ACTION_REPEAT = 4096, 256, 1000


def _bounded(name: str, value, most: int) -> int:
    value = positive_int(name, value)
    if value > most:
        raise ValueError(f"{name} must be at most {most}, got {value!r}")
    return value


def _image_size(value) -> tuple[int, int]:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return _bounded("image_size height", value[0], MAX_IMAGE_SIDE), _bounded("image_size width", value[1], MAX_IMAGE_SIDE)
    if isinstance(value, (tuple, list)):
        raise ValueError(f"image_size must be an integer >= 1 or a (height, width) pair, got {value!r}")
    size = _bounded("image_size", value, MAX_IMAGE_SIDE)
    return size, size


def check_obs_options(obs="state", image_size=64, camera=None, depth=False, frame_stack=1, action_repeat=1, debug=False,
                      distractors=None, camera_jitter=0.0) -> dict:
    """Validate :data:`OBS_OPTIONS` values (before any env is built); ValueError naming the bad one."""
    if not isinstance(debug, bool):
        raise ValueError(f"debug must be True or False, got {debug!r}")
    if obs not in ("state", "pixels"):
        raise ValueError(f"obs must be 'state' or 'pixels', got {obs!r}")
    height, width = _image_size(image_size)
    if not isinstance(depth, bool):
        raise ValueError(f"depth must be True or False, got {depth!r}")
    if obs == "state":
        given = [k for k, v in (("image_size", image_size), ("camera", camera), ("depth", depth), ("distractors", distractors),
                                ("camera_jitter", camera_jitter)) if v != OBS_OPTIONS[k]]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to pixel observations: pass obs='pixels'")
    if camera is not None and not isinstance(camera, (str, int, np.integer)):
        raise ValueError(f"camera must be a camera name or index, got {camera!r}")
    distractors, camera_jitter = _distractors.check(distractors, camera_jitter)
    return dict(obs=obs, height=height, width=width, camera=camera, depth=depth, debug=debug, distractors=distractors,
                camera_jitter=camera_jitter,
                frame_stack=_bounded("frame_stack", frame_stack, MAX_FRAME_STACK),
                action_repeat=_bounded("action_repeat", action_repeat, MAX_ACTION_REPEAT))


def _with_task(env: Env, change) -> Env:
    """``env`` with its innermost :class:`MjxTask` replaced by ``change(task)`` (the wrappers rebuilt
    around it); other envs unchanged."""
    if isinstance(env, Wrapper):
        return dataclasses.replace(env, env=_with_task(env.env, change))
    return change(env) if isinstance(env, MjxTask) else env


def _keeping_poses(task: MjxTask) -> MjxTask:
    """``task`` set to ``keep_poses``, so its states hold the poses the renderer draws."""
    return task if task.holds_poses else dataclasses.replace(task, keep_poses=True)


def _checking_poses(task: MjxTask) -> MjxTask:
    """``task`` in debug mode: a posed physics step checks that its state holds its poses."""
    return dataclasses.replace(task, debug_poses=True) if task.holds_poses else task


def apply_obs_options(env: Env, obs="state", height=64, width=64, camera=None, depth=False, frame_stack=1,
                      action_repeat=1, debug=False, distractors=None, camera_jitter=0.0) -> Env:
    """``env`` (a registry factory's) with the checked options applied, innermost first:
    :class:`~jaxrl.wrappers.ActionRepeat` (so pixels are rendered once per AGENT step, not once per
    repeated physics step), :class:`PixelObs`, then :class:`~jaxrl.wrappers.FrameStack` (stacks agent
    steps, as DrQ / Dreamer / TD-MPC do with DM Control's action repeat), and with ``debug`` the
    action checks of :class:`~jaxrl.wrappers.CheckActions` outermost, where the agent's action enters,
    and an MJX task's check that each state it steps holds the poses of its ``qpos``
    (:func:`jaxrl.envs.mjx_env.check_poses`)."""
    if obs == "pixels":
        env = _with_task(env, _keeping_poses)
    if debug:
        env = _with_task(env, _checking_poses)
    if action_repeat > 1:
        env = ActionRepeat(env, action_repeat)
    if obs == "pixels":
        env = PixelObs(env, height=height, width=width, camera=camera, depth=depth, distractors=distractors,
                       camera_jitter=camera_jitter)
    if frame_stack > 1:
        env = FrameStack(env, frame_stack)
    return CheckActions(env) if debug else env
