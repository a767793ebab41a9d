"""Pixel observations rendered in the graph (envs/pixels.py), FrameStack, the registry's obs options.

The renderer is checked against MuJoCo's C engine, pixel by pixel: for each
model, camera and state, the geom seen through every pixel centre, its distance
and surface normal against ``mujoco.mj_multiRay`` cast from the camera pose C's
``mj_forward`` computes (so tracking cameras, fovy, aspect, orientation and the
pose update after reset/step are all checked), and the colours against a NumPy
shader fed only with C quantities (``mjv_updateScene``'s geom colours, C's light
poses, C's hits). One program is compiled per model (cameras and states batched).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import jaxrl.envs as envs
from jaxrl.env import Env, timestep
from jaxrl.envs import make, pixels
from jaxrl.envs.mjx_env import MjxState, mjx
from jaxrl.envs.pixels import PixelObs
from jaxrl.spaces import Box, SpecError
from jaxrl.wrappers import ActionRepeat, AutoReset, FrameStack, FrameStackState, TimeLimit, VecEnv, find_state

H, W = 48, 64  # not square: a wrong aspect ratio or a transposed image fails
# The test programs are compiled once and run once: XLA's cheapest backend
# optimisation level compiles them ~40% faster (and runs them slower, which
# does not matter here). Numbers are checked with the same tolerances.
_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})

# Every supported geom type, a free body, a hinge, a trackcom camera, a targetbody
# camera, lights of three kinds in four modes, a geom in a hidden group and a
# transparent one: what the ray caster handles. And NO <material> at all:
# mujoco.mjx.ray (mujoco-mjx 3.17) fails on such a model (it indexes the empty
# material table); the ray caster takes the geoms' rgba. (Material colours are
# covered by the tasks' models and test_geom_colors_follow_mujocos_visualiser.)
SHAPES_XML = """
<mujoco model="shapes">
  <option><flag contact="disable"/></option>
  <default><geom contype="0" conaffinity="0"/></default>
  <worldbody>
    <light name="sun" type="directional" dir="0.3 0.2 -1" diffuse="0.5 0.5 0.5" ambient="0.1 0.1 0.1"/>
    <light name="bulb" type="point" pos="-2 -2 2" diffuse="0.3 0.2 0.2" attenuation="1 0.2 0"/>
    <light name="aim" type="spot" mode="targetbodycom" target="torso" pos="2 -3 3" diffuse="0.3 0.3 0.2" cutoff="20" exponent="4"/>
    <geom name="floor" type="plane" size="6 6 0.1" rgba="0.3 0.35 0.4 1"/>
    <geom name="post" type="cylinder" pos="1.5 1 0.5" size="0.2 0.5" rgba="0.2 0.7 0.3 1"/>
    <geom name="hidden" type="sphere" pos="0 -2 1" size="0.4" group="3" rgba="1 0 1 1"/>
    <geom name="ghost" type="box" pos="0 -2.5 1" size="0.3 0.3 0.3" rgba="1 1 1 0"/>
    <camera name="overview" mode="targetbody" target="torso" pos="3 -4 3"/>
    <body name="torso" pos="0 0 1">
      <freejoint/>
      <camera name="follow" mode="trackcom" pos="0 -4 1" xyaxes="1 0 0 0 0.3 1"/>
      <light name="lamp" type="spot" mode="track" pos="0 0 2" dir="0 0 -1" diffuse="0.6 0.6 0.6" cutoff="60" exponent="2"/>
      <geom name="box" type="box" size="0.4 0.25 0.15" rgba="0.8 0.2 0.2 1"/>
      <geom name="ball" type="sphere" pos="0.6 0 0" size="0.2" rgba="0.9 0.8 0.1 1"/>
      <geom name="egg" type="ellipsoid" pos="-0.6 0 0" size="0.15 0.25 0.35" rgba="0.2 0.3 0.9 1"/>
      <geom name="limb" type="capsule" fromto="0 0 0.15 0 0 0.8" size="0.08" rgba="0.9 0.5 0.2 1"/>
      <body name="arm" pos="0 0 0.8">
        <joint name="elbow" type="hinge" axis="0 1 0"/>
        <geom name="can" type="cylinder" fromto="0 0 0 0.6 0 0" size="0.1" rgba="0.5 0.2 0.7 1"/>
      </body>
    </body>
  </worldbody>
</mujoco>
"""

# Materials: one overridden by the geom's own rgba, one with emission, one with a
# texture (tinted by its mean colour), one transparent; a marker hidden by its own
# rgba (alpha 0) although its material is opaque (how finger_spin hides its target).
MATERIALS_XML = """
<mujoco>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="1 1 1" rgb2="0 0 0" width="8" height="8"/>
    <material name="red" rgba="0.8 0.2 0.2 1"/>
    <material name="glow" rgba="0.2 0.6 0.3 1" emission="0.4"/>
    <material name="checks" texture="grid" rgba="0.5 1 1 1"/>
    <material name="clear" rgba="1 1 1 0"/>
  </asset>
  <worldbody>
    <geom name="plain" size="0.1" material="red"/>
    <geom name="override" size="0.1" material="red" rgba="0.1 0.2 0.9 1"/>
    <geom name="glowing" size="0.1" material="glow"/>
    <geom name="textured" size="0.1" material="checks"/>
    <geom name="clear" size="0.1" material="clear"/>
    <geom name="rgba_only" size="0.1" rgba="0.3 0.3 0.1 1"/>
    <geom name="hidden_marker" size="0.1" material="red" rgba="0.5 0.5 0.5 0"/>
  </worldbody>
</mujoco>
"""

TRACKING_TASK = "cheetah_run"  # trackcom side camera; checked when registered (another helper adds it)


# ============================================================================ models and states


@functools.lru_cache(maxsize=None)
def _model(key: str):
    """``(mj_model, mjx_model, cameras to check)`` for a test model or a registered task."""
    if key == "shapes":
        m = mujoco.MjModel.from_xml_string(SHAPES_XML)
        return m, mjx.put_model(m, impl="jax"), tuple(range(m.ncam))
    env, params = make(key)
    m = env.mj_model
    cams = {pixels.resolve_camera(m, env.unwrapped.default_camera)} | set(range(m.ncam))
    return m, params.model, tuple(sorted(cams))


def _states(m: mujoco.MjModel, n: int, seed: int) -> np.ndarray:
    """``n`` random ``qpos`` (float64): joints perturbed around qpos0, free bodies moved and turned."""
    rng = np.random.default_rng(seed)
    qpos = np.tile(m.qpos0, (n, 1))
    for j in range(m.njnt):
        a = m.jnt_qposadr[j]
        if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE:
            qpos[:, a:a + 3] += rng.uniform(-0.5, 0.5, (n, 3))
            quat = rng.normal(size=(n, 4))
            qpos[:, a + 3:a + 7] = quat / np.linalg.norm(quat, axis=1, keepdims=True)
        elif m.jnt_type[j] == mujoco.mjtJoint.mjJNT_BALL:
            continue
        else:
            lo, hi = (m.jnt_range[j] if m.jnt_limited[j] else (-np.pi, np.pi))
            qpos[:, a] = rng.uniform(lo, hi, n) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE else qpos[:, a] + rng.uniform(-1, 1, n) * min(1.0, hi - lo)
    return qpos


def _render_one(m, mx, qpos, cam):
    """Pose update from ``qpos`` then render (``cam`` traced): what PixelObs does."""
    data = mjx.make_data(mx, impl="jax").replace(qpos=qpos)
    data = pixels.update_poses(m, mx, data)
    return pixels.render(m, mx, data, cam, H, W), data.cam_xpos[cam], data.cam_xmat[cam]


@functools.lru_cache(maxsize=None)
def _jax_frames(key: str, n_states: int = 3):
    """Frames of every camera x ``n_states`` random states, ONE compiled vmapped call per model.

    For cartpole the same program also renders each state on its own
    (``lax.map``, no batching) for the vmap-equals-loop check (``looped``).
    """
    m, mx, cams = _model(key)
    qpos = np.repeat(_states(m, n_states, seed=1), len(cams), axis=0)
    cam = np.tile(np.asarray(cams, np.int32), n_states)
    one = functools.partial(_render_one, m)

    def fn(mx, qpos, cam):
        batched = jax.vmap(one, in_axes=(None, 0, 0))(mx, qpos, cam)
        looped = jax.lax.map(lambda x: one(mx, *x)[0], (qpos, cam)) if key == "cartpole_swingup" else None
        return batched, looped

    (frame, cam_xpos, cam_xmat), looped = jax.device_get(_jit(fn)(mx, jnp.asarray(qpos, jnp.float32), jnp.asarray(cam)))
    return qpos, cam, frame, cam_xpos, cam_xmat, looped


def _c_rays(m, qpos, cam, height=H, width=W):
    """MuJoCo C: ``mj_forward`` at ``qpos``, then ``mj_multiRay`` through every pixel centre of camera ``cam``.

    Returns ``(geom [H, W], dist [H, W] (-1: none), normal [H, W, 3], dirs [H, W, 3], d)``.
    """
    d = mujoco.MjData(m)
    d.qpos[:] = qpos
    mujoco.mj_forward(m, d)
    half = np.tan(np.deg2rad(m.cam_fovy[cam]) / 2)
    x = (2 * (np.arange(width) + 0.5) / width - 1) * half * width / height  # camera right
    y = (1 - 2 * (np.arange(height) + 0.5) / height) * half  # camera up; row 0 at the top
    xx, yy = np.meshgrid(x, y)
    local = np.stack([xx, yy, -np.ones_like(xx)], -1)  # a MuJoCo camera looks along its -z
    dirs = local @ d.cam_xmat[cam].reshape(3, 3).T
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    n = height * width
    geom, dist, normal = np.zeros(n, np.int32), np.zeros(n), np.zeros(3 * n)
    mujoco.mj_multiRay(m, d, d.cam_xpos[cam].copy(), dirs.ravel(), np.asarray(pixels.VISIBLE_GROUPS, np.uint8), 1, -1,
                       geom, dist, normal, n, mujoco.mjMAXVAL)
    return geom.reshape(height, width), dist.reshape(height, width), normal.reshape(height, width, 3), dirs, d


def _edge(geom: np.ndarray) -> np.ndarray:
    """Pixels with a differently-labelled pixel in their 3x3 neighbourhood."""
    g = np.pad(geom, 1, mode="edge")
    out = np.zeros(geom.shape, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            out |= g[1 + dy:1 + dy + geom.shape[0], 1 + dx:1 + dx + geom.shape[1]] != geom
    return out


def _np_shade(m, d, cam, geom, dist, normal, dirs) -> np.ndarray:
    """The shading envs/pixels.py documents, in NumPy float64, from C quantities only: ``[H, W, 3]`` in 0..255."""
    scn = mujoco.MjvScene(m, maxgeom=1000)
    mujoco.mjv_updateScene(m, d, mujoco.MjvOption(), None, mujoco.MjvCamera(), mujoco.mjtCatBit.mjCAT_ALL, scn)
    rgb, emission = np.zeros((m.ngeom, 3)), np.zeros(m.ngeom)
    for g in scn.geoms[:scn.ngeom]:  # MuJoCo's visualiser's own choice of each geom's colour
        if g.objtype == mujoco.mjtObj.mjOBJ_GEOM:
            rgb[g.objid], emission[g.objid] = g.rgba[:3], g.emission
    hit = geom >= 0
    world = d.cam_xpos[cam] + dirs * np.where(hit, dist, 0)[..., None]
    view = -d.cam_xmat[cam].reshape(3, 3)[:, 2]
    head = m.vis.headlight
    light = np.asarray(head.ambient, float) + np.asarray(head.diffuse) * np.maximum((normal * -view).sum(-1), 0)[..., None]
    for i in np.nonzero(m.light_active)[0]:
        pos, direction = d.light_xpos[i], d.light_xdir[i] / np.linalg.norm(d.light_xdir[i])
        if m.light_type[i] == mujoco.mjtLightType.mjLIGHT_DIRECTIONAL:
            to_light, gain = -direction, 1.0
        else:
            r = np.linalg.norm(pos - world, axis=-1)
            to_light = (pos - world) / r[..., None]
            a = m.light_attenuation[i]
            gain = 1.0 / (a[0] + a[1] * r + a[2] * r * r)
            if m.light_type[i] == mujoco.mjtLightType.mjLIGHT_SPOT:
                cos = (-to_light * direction).sum(-1)
                gain = gain * np.where(cos >= np.cos(np.deg2rad(m.light_cutoff[i])), np.maximum(cos, 0) ** m.light_exponent[i], 0)
        light = light + m.light_ambient[i] + (np.maximum((to_light * normal).sum(-1), 0) * gain)[..., None] * m.light_diffuse[i]
    color = rgb[geom] * np.clip(emission[geom][..., None] + light, 0, 1)
    up = np.clip(dirs[..., 2:3], 0, 1)
    sky = (1 - up) * np.asarray(pixels.SKY_HORIZON) + up * np.asarray(pixels.SKY_ZENITH)
    return np.round(np.clip(np.where(hit[..., None], color, sky), 0, 1) * 255)


# ============================================================================ against MuJoCo's C engine

RENDER_CASES = ["cartpole_swingup", "shapes"] + ([TRACKING_TASK] if TRACKING_TASK in envs.names() else [])


@functools.lru_cache(maxsize=None)
def _compare(key: str):
    """Per rendered frame: JAX frame next to C's rays and the NumPy shader (numpy arrays)."""
    m, _, _ = _model(key)
    qpos, cams, frame, cam_xpos, cam_xmat, _ = _jax_frames(key)
    out = []
    for i in range(len(qpos)):
        geom, dist, normal, dirs, d = _c_rays(m, qpos[i], cams[i])
        out.append(dict(
            cam=int(cams[i]), geom=geom, dist=dist, normal=normal, shade=_np_shade(m, d, cams[i], geom, dist, normal, dirs),
            c_cam_xpos=d.cam_xpos[cams[i]].copy(), c_cam_xmat=d.cam_xmat[cams[i]].copy(),
            j_cam_xpos=cam_xpos[i], j_cam_xmat=cam_xmat[i].ravel(),
            j=jax.tree.map(lambda x: x[i], frame),
        ))
    return m, out


@pytest.mark.parametrize("key", RENDER_CASES)
def test_geom_per_pixel_matches_mj_ray(key):
    """>= 99% of pixels see the geom C's ``mj_multiRay`` finds through the same pixel centre; the rest lie on edges."""
    m, frames = _compare(key)
    seen = set()
    for f in frames:
        np.testing.assert_allclose(f["j_cam_xpos"], f["c_cam_xpos"], atol=1e-5)  # camera pose after a fresh update
        np.testing.assert_allclose(f["j_cam_xmat"], f["c_cam_xmat"], atol=1e-5)
        agree = f["j"].geom == f["geom"]
        assert agree.mean() >= 0.99, (f["cam"], agree.mean())
        assert _edge(f["geom"])[~agree].all(), "a pixel away from any geom edge disagrees with mj_ray"
        seen |= set(np.unique(f["geom"]).tolist())
    assert len(seen - {-1}) >= 2  # the frames are not trivially empty
    if key == "shapes":  # every geom type is drawn; the group-3 and the transparent geom never are
        types = {int(m.geom_type[g]) for g in seen if g >= 0}
        assert types == {pixels.PLANE, pixels.SPHERE, pixels.CAPSULE, pixels.ELLIPSOID, pixels.CYLINDER, pixels.BOX}
        assert m.geom("hidden").id not in seen and m.geom("ghost").id not in seen


@pytest.mark.parametrize("key", RENDER_CASES)
def test_depth_and_normals_match_mj_ray(key):
    """Depth is the distance along the unit ray (C's ``mj_ray`` distance); normals are C's surface normals."""
    _, frames = _compare(key)
    for f in frames:
        agree = f["j"].geom == f["geom"]
        hit, miss = agree & (f["geom"] >= 0), agree & (f["geom"] < 0)
        # float32 against float64 over distances up to ~20 m: measured <= 3e-4 m
        np.testing.assert_allclose(f["j"].depth[hit], f["dist"][hit], atol=1e-3, rtol=0)
        assert np.isinf(f["j"].depth[miss]).all()
        cos = np.sum(f["j"].normal * f["normal"], -1)
        inner = hit & ~_edge(f["geom"])
        assert cos[inner].min() > 0.999 and np.mean(cos[hit] > 0.9999) > 0.98


@pytest.mark.parametrize("key", RENDER_CASES)
def test_colors_match_numpy_shader_on_c_hits(key):
    """RGB equals the documented shading computed in NumPy from C's hits, light poses and MuJoCo's geom colours."""
    _, frames = _compare(key)
    for f in frames:
        ok = (f["j"].geom == f["geom"]) & ~_edge(f["geom"])
        diff = np.abs(f["j"].rgb.astype(int) - f["shade"])[ok]
        assert diff.max() <= 2, diff.max()  # rounding of float32 vs float64
        assert len(np.unique(f["j"].rgb.reshape(-1, 3), axis=0)) > 10  # shaded, not flat


def test_vmapped_render_equals_per_env_render():
    _, _, frame, _, _, looped = _jax_frames("cartpole_swingup")
    np.testing.assert_array_equal(looped.geom, frame.geom)
    assert np.abs(looped.rgb.astype(int) - frame.rgb).max() <= 1
    np.testing.assert_allclose(looped.depth, frame.depth, rtol=1e-5)
    np.testing.assert_allclose(looped.normal, frame.normal, atol=1e-5)


def test_a_last_geom_type_of_one_geom_keeps_its_nearest_hit_loop():
    """XLA removes a loop of one step and then copies that ray test into every fusion that reads the
    nearest hit (the light scenes' frames ran 1.8-3x slower; benchmarks/RESULTS.md, stop 57), so
    ``_nearest`` gives the LAST geom type a second, never-drawn step when it has one geom. The
    cart-pole's visible types are a plane, 2 capsules and a box: scans of 1, 2 and 2 steps (an
    earlier one-step scan only feeds the next loop). Its frames against ``mj_ray``: the tests above."""
    m, mx, _ = _model("cartpole_swingup")
    groups = pixels._visible_groups(m)
    assert [ids.size for _, ids in groups] == [1, 2, 1]
    dirs = tuple(jnp.ones(8) for _ in range(3))
    jaxpr = jax.make_jaxpr(lambda d: pixels._nearest(mx, d, jnp.zeros(3), dirs, groups, jnp.ones(m.ngeom, bool)))(
        mjx.make_data(mx, impl="jax"))
    assert [e.params["length"] for e in jaxpr.eqns if e.primitive.name == "scan"] == [1, 2, 2]


def test_model_without_materials_renders_its_geom_rgba():
    m, frames = _compare("shapes")  # the pixel-wise checks above passed on it
    assert m.nmat == 0
    box = m.geom("box").id
    px = np.concatenate([f["j"].rgb[(f["j"].geom == box) & ~_edge(f["j"].geom)] for f in frames]).astype(float)
    assert len(px) > 50
    ratio = px / px.sum(-1, keepdims=True)  # the hue of rgba (0.8, 0.2, 0.2), whatever the light
    np.testing.assert_allclose(np.median(ratio, 0), np.array([0.8, 0.2, 0.2]) / 1.2, atol=0.03)


def test_unlit_scenes_shade_by_ambient_and_emission_alone():
    """The light sum's other branches (every task and test model has the headlight on): with the headlight
    off and no light, a hit pixel is its colour times its emission (the plain box black, the glowing box at
    0.5 of its rgba); with one light's ambient only, the colour times that ambient. Misses are the sky."""
    def frame(lights):
        m = mujoco.MjModel.from_xml_string(f"""
        <mujoco><visual><headlight active="0"/></visual>
          <asset><material name="glow" rgba="0.8 0.4 0.2 1" emission="0.5"/></asset>
          <worldbody>{lights}
            <camera name="c" pos="0 -3 0" xyaxes="1 0 0 0 0 1"/>
            <body><joint type="slide" axis="0 0 1"/>
              <geom name="plain" type="box" pos="-0.6 0 0" size="0.4 0.4 0.4" rgba="0.6 0.6 0.6 1"/>
              <geom name="glowing" type="box" pos="0.6 0 0" size="0.4 0.4 0.4" material="glow"/>
            </body>
          </worldbody></mujoco>""")
        model = mjx.put_model(m, impl="jax")
        data = pixels.update_poses(m, model, mjx.make_data(model, impl="jax"))
        return m, jax.tree.map(np.asarray, pixels.render(m, model, data, 0, 16, 16))

    m, dark = frame("")
    plain, glowing = dark.geom == m.geom("plain").id, dark.geom == m.geom("glowing").id
    assert plain.sum() > 10 and glowing.sum() > 10 and (dark.geom < 0).sum() > 10
    assert (dark.rgb[plain] == 0).all()
    np.testing.assert_array_equal(dark.rgb[glowing], np.broadcast_to(np.round(np.array([0.8, 0.4, 0.2]) * 0.5 * 255), (glowing.sum(), 3)))
    assert (dark.rgb[dark.geom < 0] > 0).all()  # the sky
    m, ambient = frame('<light type="directional" dir="0 0 -1" diffuse="0 0 0" ambient="0.25 0.5 1"/>')
    np.testing.assert_array_equal(ambient.rgb[plain], np.broadcast_to(np.round(0.6 * np.array([0.25, 0.5, 1.0]) * 255), (plain.sum(), 3)))


def test_geom_colors_follow_mujocos_visualiser():
    """Base colour and emission per geom, as ``mjv_updateScene`` picks them (material, geom rgba override)."""
    m = mujoco.MjModel.from_xml_string(MATERIALS_XML)
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    rgba, emission = jax.device_get(pixels.geom_colors(m, mjx.put_model(m, impl="jax")))
    rgb = rgba[:, :3]
    scn = mujoco.MjvScene(m, maxgeom=100)
    mujoco.mjv_updateScene(m, d, mujoco.MjvOption(), None, mujoco.MjvCamera(), mujoco.mjtCatBit.mjCAT_ALL, scn)
    drawn = {g.objid: g for g in scn.geoms[:scn.ngeom] if g.objtype == mujoco.mjtObj.mjOBJ_GEOM}
    for name in ("plain", "override", "glowing", "rgba_only"):
        g = m.geom(name).id
        np.testing.assert_allclose(rgb[g], drawn[g].rgba[:3], atol=1e-6, err_msg=name)
        assert emission[g] == pytest.approx(drawn[g].emission), name
    np.testing.assert_allclose(rgb[m.geom("override").id], [0.1, 0.2, 0.9], atol=1e-6)
    # a texture is not mapped: its mean colour (a black and white checker: 0.5) tints the material
    np.testing.assert_allclose(rgb[m.geom("textured").id], [0.25, 0.5, 0.5], atol=0.01)
    for name in ("plain", "override", "glowing", "textured", "rgba_only", "clear", "hidden_marker"):
        g = m.geom(name).id  # the visualiser leaves out exactly the geoms of alpha 0, which the ray caster skips
        assert (rgba[g, 3] == 0) == (g not in drawn) == (name in ("clear", "hidden_marker")), name


# ============================================================================ the pixel env

STEPS, NUM_ENVS = 4, 3
# The pendulum (its physics compiles fastest: no constraint to solve) seen by its
# 'track' camera, which aims at the pole's centre of mass (targetbodycom: the
# camera pose needs kinematics AND subtree centres of mass). n_substeps=10: 0.2 s
# per env step, so the pose before and after a step differ by several pixels and
# a frame drawn at the stale pose fails the comparison.
PIXEL_ENV = dict(obs="pixels", camera="track", depth=True, frame_stack=2, n_substeps=10)


@functools.lru_cache(maxsize=None)
def _pixel_rollout():
    """Reset + STEPS random steps of 3 pixel envs, ONE compiled program (no auto-reset: FrameStack x AutoReset is tested alone)."""
    env, params = make("pendulum_swingup", **PIXEL_ENV)
    venv = VecEnv(env, num_envs=NUM_ENVS)

    def run(key):
        state, ts = venv.reset(key, params)
        reset_data = find_state(state, MjxState).data

        def body(state, key):
            k_act, k_env = jax.random.split(key)
            action = jax.random.uniform(k_act, (NUM_ENVS, 1), minval=-1.0, maxval=1.0)
            state, ts = venv.step(k_env, state, action, params)
            return state, dict(obs=ts.obs, qpos=find_state(state, MjxState).data.qpos)

        _, traj = jax.lax.scan(body, state, jax.random.split(key, STEPS))
        return ts.obs, reset_data.qpos, reset_data.cam_xmat, traj

    return env, jax.device_get(_jit(run)(jax.random.PRNGKey(0)))


def test_pixel_env_steps_under_jit_with_uint8_observations():
    env, (obs0, _, _, traj) = _pixel_rollout()
    assert env.observation_spec == Box((64, 64, 8), 0, 255, np.uint8)
    assert obs0.shape == (NUM_ENVS, 64, 64, 8) and obs0.dtype == np.uint8
    assert traj["obs"].shape == (STEPS, NUM_ENVS, 64, 64, 8) and traj["obs"].dtype == np.uint8
    np.testing.assert_array_equal(obs0[..., :4], obs0[..., 4:])  # reset fills the stack
    frames = np.concatenate([obs0[None], traj["obs"]])
    for t in range(1, STEPS + 1):
        np.testing.assert_array_equal(frames[t][..., :4], frames[t - 1][..., 4:])  # oldest <- newest of t-1
        assert (frames[t][..., 4:] != frames[t - 1][..., 4:]).any()  # the pendulum moved


def test_pixel_env_frames_show_the_post_step_state():
    """Each step's observation equals C's rendering at the POST-step qpos (tracking camera, depth channel too)."""
    env, (obs0, qpos0, cam_xmat0, traj) = _pixel_rollout()
    m = env.mj_model
    cam = m.camera("track").id
    assert not cam_xmat0.any()  # what MjxTask.reset leaves: camera poses not computed ...

    def mismatch(obs, qpos):
        """Fraction of pixels whose RGB (beyond rounding) or depth channel differ from C's at ``qpos``."""
        geom, dist, normal, dirs, d = _c_rays(m, qpos, cam, 64, 64)
        rgb_bad = np.abs(obs[..., :3].astype(int) - _np_shade(m, d, cam, geom, dist, normal, dirs)).max(-1) > 2
        depth = np.where(geom >= 0, np.round(255 * np.clip(dist / 10.0, 0, 1)), 255)
        return np.mean(rgb_bad | (np.abs(obs[..., 3].astype(int) - depth) > 1))

    qpos = np.concatenate([qpos0[None], traj["qpos"]])
    frames = np.concatenate([obs0[None], traj["obs"]])[..., 4:]
    post = [mismatch(frames[t, b], qpos[t, b]) for t in range(STEPS + 1) for b in range(NUM_ENVS)]
    assert max(post) <= 0.01, post  # measured: 0 pixels; t = 0 is the reset frame
    stale = [mismatch(frames[t, b], qpos[t - 1, b]) for t in range(1, STEPS + 1) for b in range(NUM_ENVS)]
    assert max(stale) > 0.2, stale  # the pre-step pose would fail: the test can tell


def test_pixel_cartpole_states_hold_their_poses():
    """From pixels the cart-pole's task keeps its poses (``keep_poses``, set by ``make``; from states it
    does not), so the renderer (``PixelObs.frame``: no kinematics of its own when the task
    ``holds_poses``) and the next physics step read them. Checked here: after a reset and each of 3
    steps through the rolled RK4 path (whose first stage skips the kinematics), the state's body and
    geom poses equal ``mjx.kinematics`` of its qpos. That the frames show the post-step state is
    ``test_pixel_env_frames_show_the_post_step_state`` (the pendulum, against C's rays)."""
    env, params = make("cartpole_swingup", obs="pixels", image_size=8)
    assert env.unwrapped.keep_poses and env.unwrapped.holds_poses
    assert not make("cartpole_swingup")[0].unwrapped.holds_poses

    def run(key):
        state, _ = env.reset(key, params)

        def body(state, k):
            state, _ = env.step(k, state, jax.random.uniform(k, (1,), minval=-1.0, maxval=1.0), params)
            return state, find_state(state, MjxState).data

        _, datas = jax.lax.scan(body, state, jax.random.split(key, 3))
        first = find_state(state, MjxState).data
        return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, datas)

    datas = _jit(run)(jax.random.PRNGKey(1))
    again = jax.vmap(lambda d: mjx.kinematics(params.model, d))(datas)
    assert np.ptp(np.asarray(datas.qpos[:, 1])) > 1e-3  # the pole moved
    for field in ("xpos", "xmat", "geom_xpos", "geom_xmat"):
        np.testing.assert_allclose(np.asarray(getattr(datas, field)), np.asarray(getattr(again, field)),
                                   rtol=1e-6, atol=1e-6, err_msg=field)


def test_pixel_obs_rejects_batched_env():
    env, params = make("cartpole_swingup")
    bad = PixelObs(VecEnv(env, num_envs=2))
    with pytest.raises(ValueError, match="put VecEnv outside PixelObs"):
        jax.eval_shape(bad.reset, jax.random.PRNGKey(0), params)


# ============================================================================ FrameStack alone


@dataclasses.dataclass(frozen=True)
class Counter(Env):
    """obs ``[t, -t]`` float32 (bounds ``(-10, -20)``, ``(10, 20)``); terminates after 3 steps."""

    @property
    def observation_spec(self):
        return Box((2,), (-10.0, -20.0), (10.0, 20.0))

    @property
    def action_spec(self):
        return Box((1,))

    def default_params(self):
        return ()

    def reset(self, key, params):
        return jnp.zeros((), jnp.float32), timestep(jnp.zeros((2,), jnp.float32))

    def step_env(self, key, t, action, params):
        t = t + 1
        return t, timestep(jnp.stack([t, -t]), terminated=t >= 3)


def test_frame_stack_order_reset_fill_and_spec():
    env = FrameStack(Counter(), 3)
    assert env.observation_spec == Box((6,), (-10, -20) * 3, (10, 20) * 3)
    state, ts = env.reset(jax.random.PRNGKey(0), ())
    np.testing.assert_array_equal(ts.obs, np.zeros(6))
    seen = []
    for _ in range(3):
        state, ts = env.step(jax.random.PRNGKey(0), state, jnp.zeros(1), ())
        seen.append(np.asarray(ts.obs))
    np.testing.assert_array_equal(seen, [[0, 0, 0, 0, 1, -1], [0, 0, 1, -1, 2, -2], [1, -1, 2, -2, 3, -3]])
    assert isinstance(state, FrameStackState) and ts.terminated
    assert FrameStack(Counter(), 1).observation_spec == Counter().observation_spec


def test_frame_stack_batched_inside_auto_reset_refills_new_episodes():
    env = AutoReset(VecEnv(FrameStack(Counter(), 2), num_envs=2))
    step = jax.jit(env.step)
    state, ts = env.reset(jax.random.PRNGKey(0), ())
    for t in range(1, 4):
        state, ts = step(jax.random.PRNGKey(t), state, jnp.zeros((2, 1)), ())
    np.testing.assert_array_equal(ts.info["final_obs"], [[2, -2, 3, -3]] * 2)  # the true last stack
    np.testing.assert_array_equal(ts.obs, np.zeros((2, 4)))  # the next episode starts refilled


def test_frame_stack_uint8_spec_and_bad_k():
    spec = FrameStack(PixelObs(make("cartpole_swingup")[0], height=8, width=6), 4).observation_spec
    assert spec == Box((8, 6, 12), 0, 255, np.uint8)
    for k in (0, -1, True):
        with pytest.raises(ValueError, match="FrameStack.k must be an integer >= 1"):
            FrameStack(Counter(), k)


# ============================================================================ registry options and bad input


def test_options_list_observation_options_for_every_env():
    obs_opts = {"obs": "state", "image_size": 64, "camera": None, "depth": False, "frame_stack": 1, "action_repeat": 1}
    for name in ("cartpole_swingup", "pendulum_swingup", "probe_constant"):
        opts = envs.options(name)
        assert opts.items() >= obs_opts.items() and "episode_length" in opts or name.startswith("probe")
    assert list(envs.options("cartpole_swingup"))[:2] == ["episode_length", "n_substeps"]


def test_make_builds_the_requested_observation_stack_without_compiling():
    from jaxrl import configs

    parsed = configs.parse_options(["obs=pixels", "image_size=32", "camera=1", "depth=true", "frame_stack=3"],
                                   envs.options("cartpole_balance"), "env")
    env, params = make("cartpole_balance", **parsed)  # CLI strings, typed by the defaults
    assert isinstance(env, FrameStack) and env.k == 3 and isinstance(env.env, PixelObs)
    assert env.env.camera_id == 1 and env.max_steps == 1000 and env.mj_model.ncam == 2
    assert env.observation_spec == Box((32, 32, 12), 0, 255, np.uint8)
    assert make("cartpole_balance", obs="pixels", image_size=(24, 40))[0].observation_spec.shape == (24, 40, 3)
    assert make("cartpole_balance", frame_stack=2)[0].observation_spec == Box((10,))  # state vectors stack too
    assert isinstance(make("cartpole_balance")[0], TimeLimit)  # obs="state": nothing added
    pixel_env = make("cartpole_balance", obs="pixels")[0]
    assert pixel_env.camera_id == pixel_env.mj_model.camera("fixed").id  # the task's default camera (index 0)
    # Action repeat goes INSIDE the renderer (one frame per agent step) and the frame stack outside it.
    env = make("cartpole_balance", obs="pixels", image_size=16, frame_stack=3, action_repeat=8)[0]
    assert isinstance(env, FrameStack) and isinstance(env.env, PixelObs) and isinstance(env.env.env, ActionRepeat)
    assert env.env.env.repeats == 8 and env.max_steps == 125 and env.dt == pytest.approx(8 * make("cartpole_balance")[0].dt)
    assert isinstance(make("cartpole_balance", action_repeat=2)[0], ActionRepeat)  # state observations too


@pytest.mark.parametrize("overrides,match", [
    (dict(obs="rgb"), "obs must be 'state' or 'pixels', got 'rgb'"),
    (dict(obs="pixels", image_size=0), "image_size must be an integer >= 1"),
    (dict(obs="pixels", image_size=-8), "image_size must be an integer >= 1"),
    (dict(obs="pixels", image_size=2.5), "image_size must be an integer >= 1"),
    (dict(obs="pixels", image_size=True), "image_size must be an integer >= 1"),
    (dict(obs="pixels", image_size=(64, 0)), "image_size width must be an integer >= 1"),
    (dict(obs="pixels", image_size=(1, 2, 3)), "image_size must be an integer >= 1 or a \\(height, width\\) pair"),
    (dict(obs="pixels", camera="nope"), "unknown camera 'nope': this model's cameras are \\[0 'fixed', 1 'track'\\]"),
    (dict(obs="pixels", camera=2), "unknown camera 2: .*0 'fixed', 1 'track'"),
    (dict(obs="pixels", camera=2.0), "camera must be a camera name or index"),
    (dict(obs="pixels", depth="yes"), "depth must be True or False"),
    (dict(frame_stack=0), "frame_stack must be an integer >= 1"),
    (dict(action_repeat=0), "action_repeat must be an integer >= 1"),
    (dict(obs="pixels", action_repeat=2.0), "action_repeat must be an integer >= 1"),
    (dict(image_size=32), "image_size only apply to pixel observations: pass obs='pixels'"),
    (dict(camera="track", depth=True), "camera, depth only apply to pixel observations"),
])
def test_bad_observation_options_raise_before_compiling(overrides, match):
    with pytest.raises(ValueError, match=match):
        make("cartpole_swingup", **overrides)


def test_pixels_for_a_non_mjx_env_raise():
    with pytest.raises(ValueError, match="pixel observations need an MJX task .*probe_constant"):
        make("probe_constant", obs="pixels")
    assert make("probe_constant", frame_stack=2)[0].observation_spec == Box((2,))


def test_unsupported_models_and_cameras_raise():
    hfield = mujoco.MjModel.from_xml_string("""<mujoco><asset><hfield name="h" nrow="3" ncol="3" size="1 1 0.1 0.1"/></asset>
        <worldbody><geom name="ground" type="hfield" hfield="h"/><geom name="hidden" type="hfield" hfield="h" group="4"/>
        <camera name="ortho" projection="orthographic" fovy="2"/><camera name="lens" sensorsize="0.01 0.01" focal="0.01 0.01"
        resolution="64 64"/></worldbody></mujoco>""")
    with pytest.raises(ValueError, match="cannot draw geoms ground \\(mjGEOM_HFIELD\\): supported types are plane"):
        pixels.check_renderable(hfield)
    with pytest.raises(ValueError, match="orthographic"):
        pixels.resolve_camera(hfield, "ortho")
    with pytest.raises(ValueError, match="sensorsize/focal"):
        pixels.resolve_camera(hfield, "lens")
    none = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='1'/></worldbody></mujoco>")
    with pytest.raises(ValueError, match="this model's cameras are \\[none\\]"):
        pixels.resolve_camera(none, 0)
    assert pixels.resolve_camera(make("cartpole_swingup")[0].mj_model, "1") == 1  # an index given as a string (CLI)


def test_uint8_box():
    box = Box((4, 5, 3), 0, 255, np.uint8)
    assert box.dtype == np.uint8 and hash(box) == hash(Box((4, 5, 3), 0, 255, "uint8"))
    x = box.sample(jax.random.PRNGKey(0), (100,))
    assert x.dtype == jnp.uint8 and x.shape == (100, 4, 5, 3) and int(x.min()) == 0 and int(x.max()) == 255
    box.check(x[0])
    for bad in (x[0].astype(jnp.float32), x[0].astype(jnp.int32)):
        with pytest.raises(SpecError, match="must be a uint8 array of shape \\(4, 5, 3\\)"):
            box.check(bad)
    with pytest.raises(ValueError, match="Box of uint8 needs finite low and high"):
        Box((3,), dtype=np.uint8)
    assert Box((2,)).dtype == np.float32 and Box((2,)).low_array().dtype == jnp.float32
