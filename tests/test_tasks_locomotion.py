"""Locomotion tasks (cheetah_run, walker_*, hopper_*): task math against MuJoCo's C engine and NumPy.

Nothing here compiles a physics step (tests/test_suite.py steps every task):
the reward formulas run on inputs read from C data, the post-step readouts
(kinematics, centre-of-mass velocity, touch) are compared with C's own values,
the models' constants with DM Control's published ones, and the initial-state
distributions with DM Control's procedure.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from jaxrl.envs import make
from jaxrl.envs._locomotion import com_velocity, subtree_bodies
from jaxrl.envs.cheetah import POOL_SIZE, Cheetah, settled_states
from jaxrl.envs.hopper import Hopper, touch
from jaxrl.envs.mjx_env import asset_path, mjx
from jaxrl.envs.walker import Walker
from test_envs import np_tolerance

# name -> (class, physics timestep, default n_substeps, obs size, action size)
TASKS = {
    "cheetah_run": (Cheetah, 0.01, 1, 17, 6),
    "walker_stand": (Walker, 0.0025, 10, 24, 6),
    "walker_walk": (Walker, 0.0025, 10, 24, 6),
    "walker_run": (Walker, 0.0025, 10, 24, 6),
    "hopper_stand": (Hopper, 0.005, 4, 15, 4),
    "hopper_hop": (Hopper, 0.005, 4, 15, 4),
}
MODELS = {"cheetah": Cheetah(), "walker": Walker(), "hopper": Hopper()}
INF = math.inf


def c_data(m, qpos, qvel, ctrl=None):
    """C data at (qpos, qvel) after ``mj_forward`` and ``mj_subtreeVel`` (float64)."""
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:] = qpos, qvel
    if ctrl is not None:
        d.ctrl[:] = ctrl
    mujoco.mj_forward(m, d)
    mujoco.mj_subtreeVel(m, d)
    return d


# ============================================================================ registry and models


@pytest.mark.parametrize("name", TASKS)
def test_registered_with_dm_control_timing(name):
    cls, timestep, substeps, obs_size, nu = TASKS[name]
    env, params = make(name)
    task = env.unwrapped
    assert type(task) is cls and task.name == name and env.max_steps == 1000
    assert task.n_substeps == substeps and task.dt == pytest.approx(timestep * substeps)  # DM Control's control step
    assert env.observation_spec.shape == (obs_size,) and env.action_spec.shape == (nu,)
    assert env.action_spec.low == (-1.0,) * nu and env.action_spec.high == (1.0,) * nu
    assert task.default_camera == "side"
    hash(env)
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(params))
    env2, _ = make(name, episode_length=50, n_substeps=2)
    assert env2.max_steps == 50 and env2.unwrapped.n_substeps == 2
    for bad in ({"episode_length": 0}, {"n_substeps": 1.5}):
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be an integer >= 1"):
            make(name, **bad)


def test_walker_rejects_unknown_task():
    with pytest.raises(ValueError, match="stand, walk, run.*'jog'"):
        Walker(task="jog")


def _capsule_volume(geom_size):
    r, half = geom_size[0], geom_size[1]
    return math.pi * r * r * 2 * half + 4 / 3 * math.pi * r**3


SPEC = {  # DM Control's joint names (qpos order), ranges (deg), gears, density
    "cheetah": (["rootx", "rootz", "rooty", "bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot"],
                [(-30, 60), (-50, 50), (-230, 50), (-57, 0.4), (-70, 50), (-28, 28)],
                [120, 90, 60, 90, 60, 30], 660.88495),
    "walker": (["rootz", "rootx", "rooty", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle"],
               [(-20, 100), (-150, 0), (-45, 45)] * 2, [100, 50, 20] * 2, 1000.0),
    "hopper": (["rootx", "rootz", "rooty", "waist", "hip", "knee", "ankle"],
               [(-30, 30), (-170, 10), (5, 150), (-45, 45)], [30, 40, 30, 10], 1000.0),
}


@pytest.mark.parametrize("domain", MODELS)
def test_models_as_specified(domain):
    task = MODELS[domain]
    m = task.mj_model
    fast = dataclasses.replace(task, physics="fast").mj_model
    names, ranges, gears, density = SPEC[domain]
    assert m.opt.timestep == TASKS[{"cheetah": "cheetah_run", "walker": "walker_walk", "hopper": "hopper_hop"}[domain]][1]
    assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER and m.opt.cone == mujoco.mjtCone.mjCONE_PYRAMIDAL
    assert m.opt.solver == mujoco.mjtSolver.mjSOL_NEWTON and (m.opt.iterations, m.opt.ls_iterations) == (100, 50)
    assert (fast.opt.iterations, fast.opt.ls_iterations) == (6, 8)  # the fast preset's caps
    assert m.opt.disableflags == 0  # contacts on, Euler damping implicit (DM Control's defaults)
    assert [m.joint(j).name for j in range(m.njnt)] == names and m.nq == m.nv == len(names)
    # Planar root: slides x and z, hinge about y, unlimited and undamped.
    for root, jtype, axis in (("rootx", 2, [1, 0, 0]), ("rootz", 2, [0, 0, 1]), ("rooty", 3, [0, 1, 0])):
        j = m.joint(root)
        assert j.type[0] == jtype and np.allclose(j.axis, axis) and not j.limited[0] and j.damping[0] == 0
    legs = list(range(3, m.njnt))
    assert m.jnt_limited[legs].all()
    np.testing.assert_allclose(m.jnt_range[legs], np.radians(ranges), atol=1e-12)
    np.testing.assert_allclose(m.actuator_gear[:, 0], gears)
    assert (m.actuator_ctrlrange == [-1, 1]).all() and m.actuator_ctrllimited.all()
    # Masses: capsules of the stated density (cheetah's 660.88495 is DM Control's settotalmass=14).
    for b in range(1, m.nbody):
        geoms = [g for g in range(m.ngeom) if m.geom_bodyid[g] == b]
        assert m.body_mass[b] == pytest.approx(density * sum(_capsule_volume(m.geom_size[g]) for g in geoms), rel=1e-9)
    if domain == "cheetah":
        assert m.body_mass.sum() == pytest.approx(14.0, abs=1e-6)
        np.testing.assert_allclose(m.jnt_stiffness[legs], [240, 180, 120, 180, 120, 60])
        np.testing.assert_allclose(m.dof_damping[legs], [6, 4.5, 3, 4.5, 3, 1.5])
        assert (m.dof_armature[legs] == 0.1).all() and m.geom("torso").size[1] == pytest.approx(0.5)
    if domain == "walker":
        assert (m.dof_damping[legs] == 0.1).all() and (m.dof_armature[legs] == 0.01).all()
        np.testing.assert_allclose(m.jnt_solimp[legs, :3], [[0, 0.99, 0.01]] * 6)
        assert np.allclose(m.jnt_axis[legs], [0, -1, 0]) and m.body("torso").pos[2] == 1.3
    if domain == "hopper":
        assert (m.dof_damping[legs] == 0.05).all() and (m.dof_armature[legs] == 0.2).all()
        for site, x in (("toe", 0.17), ("heel", -0.08)):
            s = m.site(site)
            assert s.type[0] == mujoco.mjtGeom.mjGEOM_SPHERE and s.size[0] == 0.05 and np.allclose(s.pos, [x, 0, 0])
            assert s.bodyid[0] == m.body("foot").id
    # Contacts: the walker's geoms only against the floor (DM Control's filter); the hopper's and
    # cheetah's every geom against every other (MuJoCo's default 1 / 1, as DM Control), and in the
    # fast preset only against the floor.
    floor = m.geom("floor").id
    for model, floor_only in ((m, domain == "walker"), (fast, True)):
        for i in range(model.ngeom):
            for j in range(i + 1, model.ngeom):
                collide = ((model.geom_contype[i] & model.geom_conaffinity[j])
                           or (model.geom_contype[j] & model.geom_conaffinity[i]))
                assert bool(collide) == (floor in (i, j) or not floor_only), (model.geom(i).name, model.geom(j).name)
    # Rendering needs: materials on every geom, a side camera tracking the centre of mass.
    assert m.nmat >= 1 and (m.geom_matid >= 0).all()
    cam = m.camera("side")
    assert cam.mode[0] == mujoco.mjtCamLight.mjCAMLIGHT_TRACKCOM and cam.bodyid[0] == m.body("torso").id
    mjx.put_model(m, impl="jax")  # every feature is supported by MJX's jax backend


@pytest.mark.parametrize("domain", MODELS)
def test_solver_caps_cover_what_newton_needs(domain):
    """The fast preset's iterations=6 cap: with DM Control's caps (100 / 50, the default) MuJoCo C's
    Newton solver needs fewer than 6 iterations in at least 99% of physics steps of random-action
    episodes."""
    task = MODELS[domain]
    m = mujoco.MjModel.from_xml_path(asset_path(task.xml))
    assert (m.opt.iterations, m.opt.ls_iterations) == (100, 50)
    d = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    iters = []
    for _ in range(2):
        mujoco.mj_resetData(m, d)
        d.qpos[3:] = rng.uniform(m.jnt_range[3:, 0], m.jnt_range[3:, 1])
        d.qpos[m.joint("rooty").qposadr[0]] = rng.uniform(-np.pi, np.pi) if domain != "cheetah" else 0.0
        for _ in range(150):
            d.ctrl[:] = rng.uniform(-1, 1, m.nu)
            for _ in range(task.n_substeps):
                mujoco.mj_step(m, d)
                iters.append(d.solver_niter[0])
    iters = np.array(iters)
    assert iters.mean() < 3 and np.percentile(iters, 99) < 6, (iters.mean(), np.percentile(iters, 99), iters.max())


# ============================================================================ reward formulas


def np_reward(name, height, zz, speed, ctrl):
    """DM Control's reward functions, float64, from C-data inputs."""
    if name == "cheetah_run":
        return np_tolerance(speed, 10, INF, 10, "linear", 0.0)
    if name.startswith("walker"):
        stand = (3 * np_tolerance(height, 1.2, INF, 0.6, "gaussian", 0.1) + (1 + zz) / 2) / 4
        move_speed = {"walker_stand": 0, "walker_walk": 1, "walker_run": 8}[name]
        if move_speed == 0:
            return stand
        return stand * (5 * np_tolerance(speed, move_speed, INF, move_speed / 2, "linear", 0.5) + 1) / 6
    standing = float(0.6 <= height <= 2.0)
    if name == "hopper_hop":
        return standing * np_tolerance(speed, 2, INF, 1, "linear", 0.5)
    return standing * (4 + np.mean([np_tolerance(u, 0, 0, 1, "quadratic", 0.0) for u in ctrl])) / 5


def chosen_states(m, domain, n=64, seed=0):
    """``n`` (qpos, qvel, ctrl) covering the rewards' regimes: near-standing poses
    around the height thresholds, lying poses, random poses; speeds across the
    walk/hop/run thresholds; controls inside, at and beyond the range."""
    rng = np.random.default_rng(seed)
    ix = {name: m.joint(name).qposadr[0] for name in ("rootx", "rootz", "rooty")}
    qpos = np.zeros((n, m.nq))
    lo, hi = m.jnt_range[3:, 0], m.jnt_range[3:, 1]
    qpos[:, 3:] = rng.uniform(lo, hi, (n, m.nq - 3))
    qpos[:, ix["rooty"]] = rng.uniform(-np.pi, np.pi, n)
    qpos[:, ix["rootz"]] = rng.uniform(-1.0, 0.3, n)
    qpos[:24, 3:] = np.clip(rng.normal(0, 0.1, (24, m.nq - 3)), lo, hi)  # near the standing pose
    qpos[:24, ix["rooty"]] = rng.normal(0, 0.2, 24)
    qpos[:24, ix["rootz"]] = rng.uniform(-0.5, 0.2, 24)
    qpos[:4, 3:] = np.clip(0.0, lo, hi)
    qpos[:4, ix["rootz"]] = qpos[:4, ix["rooty"]] = 0.0  # exactly the model's standing pose
    qpos[24:30, ix["rooty"]] = np.pi / 2  # lying on the floor
    qpos[24:30, ix["rootz"]] = {"cheetah": -0.6, "walker": -1.2, "hopper": -0.9}[domain]
    qvel = rng.normal(0, 2.0, (n, m.nv))
    qvel[:, ix["rootx"]] = rng.uniform(-3, 13, n)  # the centre-of-mass speed crosses 1, 2, 8 and 10 m/s
    ctrl = rng.uniform(-1, 1, (n, m.nu))
    ctrl[:3] = [[0.0] * m.nu, [1.0] * m.nu, [-1.0] + [0.5] * (m.nu - 1)]
    return qpos, qvel, ctrl


def reward_inputs(m, domain, qpos, qvel, ctrl):
    """(height, torso zz, centre-of-mass x-velocity) per state, from C (float64). The height is the
    torso frame's z (walker) or the torso's centre of mass above the foot's (hopper)."""
    torso = m.body("torso").id
    out = []
    for q, v, u in zip(qpos, qvel, ctrl):
        d = c_data(m, q, v, u)
        height = d.xipos[torso, 2] - d.xipos[m.body("foot").id, 2] if domain == "hopper" else d.xpos[torso, 2]
        out.append((height, d.xmat[torso, 8], d.subtree_linvel[torso, 0]))
    return np.array(out)


@functools.lru_cache(maxsize=None)
def _reward_fn(name):
    """``f(height [n], zz [n], speed [n], ctrl [n, nu]) -> reward [n]``: the task's ``reward_from``, jitted and vmapped."""
    env, params = make(name)
    task = env.unwrapped

    def one(height, zz, speed, ctrl):
        if isinstance(task, Cheetah):
            return task.reward_from(speed, params)
        if isinstance(task, Walker):
            return task.reward_from(height, zz, speed, params)
        return task.reward_from(height, speed, ctrl, params)

    return jax.jit(jax.vmap(one))


def rewards(name, height, zz, speed, ctrl):
    out = _reward_fn(name)(*(jnp.asarray(x, jnp.float32) for x in (height, zz, speed, ctrl)))
    assert out.dtype == jnp.float32 and out.shape == np.shape(height)
    return np.asarray(out)


@pytest.mark.parametrize("name", TASKS)
def test_reward_matches_numpy_on_chosen_states(name):
    m = make(name)[0].mj_model
    domain = name.split("_")[0]
    qpos, qvel, ctrl = chosen_states(m, domain)
    inputs = reward_inputs(m, domain, qpos, qvel, ctrl)
    got = rewards(name, inputs[:, 0], inputs[:, 1], inputs[:, 2], ctrl)
    expected = np.array([np_reward(name, *inputs[i], ctrl[i]) for i in range(len(ctrl))])
    np.testing.assert_allclose(got, expected, atol=2e-6)
    # The chosen states cover the regimes: zero, intermediate and full reward.
    assert (expected == 0).any() or name.startswith("walker")  # the walker's upright term keeps it above 0
    assert ((expected > 0.05) & (expected < 0.95)).any() and expected.max() > 0.99


def _pose(m, **joints):
    qpos = np.zeros(m.nq)
    for name, value in joints.items():
        qpos[m.joint(name).qposadr[0]] = value
    return c_data(m, qpos, np.zeros(m.nv))


def test_walker_reward_plausibility():
    """Standing scores 1 on the stand terms; lying on the floor is low but not 0 (the upright term)."""
    m = Walker().mj_model
    torso = m.body("torso").id
    standing, lying = _pose(m), _pose(m, rootz=-1.2, rooty=np.pi / 2)  # the model's pose: torso frame at 1.3 m
    h = np.array([standing.xpos[torso, 2], lying.xpos[torso, 2], 1.3, 1.3])
    zz = np.array([standing.xmat[torso, 8], lying.xmat[torso, 8], 1.0, 1.0])
    speed, ctrl = np.array([0.0, 0.0, 1.0, 8.0]), np.zeros((4, 6))
    stand, walk, run = (rewards(f"walker_{t}", h, zz, speed, ctrl) for t in ("stand", "walk", "run"))
    assert stand[0] == pytest.approx(1.0) and 0.05 < stand[1] < 0.3  # (3 * ~0 + (1 + ~0) / 2) / 4
    np.testing.assert_allclose(walk, [1 / 6, stand[1] / 6, 1.0, 1.0], rtol=1e-5)  # no move term at rest
    # Run at 1 m/s: 7 m/s below 8 with a 4 m/s linear margin, move = 1 - 7/4 * (1 - 0.5) = 0.125.
    np.testing.assert_allclose(run[2:], [(5 * 0.125 + 1) / 6, 1.0], rtol=1e-5)


def test_hopper_reward_plausibility():
    m = Hopper().mj_model
    upright = _pose(m)
    height = upright.xipos[m.body("torso").id, 2] - upright.xipos[m.body("foot").id, 2]
    assert 0.6 < height < 2.0  # the model's pose stands
    h = np.array([height, height, 0.3, height, height])
    speed = np.array([0.0, 0.0, 3.0, 2.0, 1.0])
    ctrl = np.array([[0.0] * 4, [1.0] * 4, [0.0] * 4, [0.0] * 4, [0.0] * 4])
    np.testing.assert_allclose(rewards("hopper_stand", h, h, speed, ctrl), [1.0, 0.8, 0.0, 1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(rewards("hopper_hop", h, h, speed, ctrl), [0.0, 0.0, 0.0, 1.0, 0.5], rtol=1e-6)


def test_cheetah_reward_grows_with_speed():
    speed = np.linspace(-5.0, 15.0, 81)
    r = rewards("cheetah_run", speed, speed, speed, np.zeros((81, 6)))
    assert (np.diff(r) >= 0).all() and r[speed <= 0].max() == 0 and (r[speed >= 10] == 1).all()
    inside = (speed > 0) & (speed < 10)
    np.testing.assert_allclose(r[inside], speed[inside] / 10, atol=1e-6)


# ============================================================================ post-step readouts against C


@functools.lru_cache(maxsize=None)
def _walker_readout():
    """Walker obs, com velocity and poses (MJX, one compile) and C's, on the chosen states."""
    task = Walker(task="walk")
    params, m = task.default_params(), task.mj_model
    qpos, qvel, _ = chosen_states(m, "walker")
    template = mjx.make_data(params.model, impl="jax")
    bodies = subtree_bodies(m, "torso")

    @jax.jit
    def f(qpos, qvel):
        def one(q, v):
            data = mjx.kinematics(params.model, template.replace(qpos=q, qvel=v))  # what refresh_poses leaves
            return task.observe(data, params), com_velocity(m, params.model, data, bodies), data.xipos
        return jax.vmap(one)(qpos, qvel)

    obs, com_vel, xipos = f(jnp.asarray(qpos, jnp.float32), jnp.asarray(qvel, jnp.float32))
    c = [c_data(m, q.astype(np.float32), v.astype(np.float32)) for q, v in zip(qpos, qvel)]
    return m, np.asarray(obs), np.asarray(com_vel), np.asarray(xipos), c


def test_walker_observation_matches_c():
    m, obs, _, _, c = _walker_readout()
    torso = m.body("torso").id
    expected = [np.concatenate([d.xmat[1:, [0, 2]].reshape(-1), [d.xpos[torso, 2]], d.qvel]) for d in c]
    assert obs.dtype == np.float32 and obs.shape == (64, 24)
    np.testing.assert_allclose(obs, np.array(expected), atol=1e-5)


def test_com_velocity_is_mujoco_subtree_linvel():
    """The joint Jacobians at the bodies' xipos times qvel, mass-weighted (com_velocity) == C's subtree_linvel of the torso."""
    m, _, com_vel, xipos, c = _walker_readout()
    torso = m.body("torso").id
    np.testing.assert_allclose(com_vel, np.array([d.subtree_linvel[torso] for d in c]), atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(xipos, np.array([d.xipos for d in c]), atol=1e-5)
    assert np.ptp(com_vel[:, 0]) > 10  # speeds across the thresholds, not a trivial case
    for domain, task in MODELS.items():  # every task averages over the whole robot: all bodies but the world
        assert list(subtree_bodies(task.mj_model, "torso")) == list(range(1, task.mj_model.nbody)), domain


def _hopper_reference_model():
    """The hopper with DM Control's two touch sensors added (the jaxrl model has none)."""
    spec = mujoco.MjSpec.from_file(asset_path(Hopper.xml))
    for site in ("toe", "heel"):
        spec.add_sensor(type=mujoco.mjtSensor.mjSENS_TOUCH, objtype=mujoco.mjtObj.mjOBJ_SITE, objname=site)
    return spec.compile()


def test_hopper_touch_matches_mujoco_touch_sensor():
    """``touch`` on C data right after ``mj_step`` (its contacts and forces are the last physics
    step's, which is what DM Control reads) == MuJoCo's touch sensors; and the hopper observation."""
    task = Hopper()
    m, params = task.mj_model, task.default_params()
    ref = _hopper_reference_model()
    d = mujoco.MjData(ref)
    rng = np.random.default_rng(1)
    f = jax.jit(lambda data: (touch(m, data, ("toe", "heel")), task.observe(data, params)))
    got, expected, obs, expected_obs = [], [], [], []
    n_contact = n_air = steps = 0
    while n_contact < 16 or n_air < 6:  # states with foot contacts, and some in the air
        steps += 1
        if steps % 50 == 1:  # a new episode every 50 env steps
            mujoco.mj_resetData(ref, d)
            d.qpos[3:] = rng.uniform(ref.jnt_range[3:, 0], ref.jnt_range[3:, 1])
            d.qpos[2] = rng.uniform(-np.pi, np.pi)
        d.ctrl[:] = rng.uniform(-1, 1, ref.nu)
        for _ in range(task.n_substeps):
            mujoco.mj_step(ref, d)
        contact = bool(d.sensordata.any())
        if (contact and n_contact < 16) or (not contact and n_air < 6 and rng.uniform() < 0.2):
            n_contact, n_air = n_contact + contact, n_air + (not contact)
            tc, o = f(mjx.put_data(ref, d, impl="jax"))
            got.append(np.asarray(tc)), obs.append(np.asarray(o))
            expected.append(d.sensordata.copy())
            expected_obs.append(np.concatenate([d.qpos[1:], d.qvel, np.log1p(d.sensordata)]))
    got, expected = np.array(got), np.array(expected)
    assert (expected[:, 0] > 0).any() and (expected[:, 1] > 0).any()  # toe and heel both touched
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.array(obs), np.array(expected_obs), atol=1e-4)
    assert Hopper.force_obs_indices == (13, 14)  # the touch entries, the ones read from the last physics step


# ============================================================================ initial states


@pytest.mark.parametrize("domain", ["walker", "hopper"])
def test_random_joint_initial_states(domain):
    """DM Control's randomize_limited_and_rotational_joints: leg joints uniform in range, rooty uniform in
    [-pi, pi], root slides 0, velocities 0."""
    task = MODELS[domain]
    m, params = task.mj_model, task.default_params()
    keys = jax.random.split(jax.random.PRNGKey(3), 4000)
    qpos, qvel = jax.jit(jax.vmap(task.initial_qpos_qvel, in_axes=(0, None)))(keys, params)
    qpos, qvel = np.asarray(qpos), np.asarray(qvel)
    assert qpos.dtype == np.float32 and qpos.shape == (4000, m.nq) and not qvel.any()
    for j in range(m.njnt):
        x, name = qpos[:, m.jnt_qposadr[j]], m.joint(j).name
        if name in ("rootx", "rootz"):
            assert not x.any(), name
            continue
        lo, hi = m.jnt_range[j] if m.jnt_limited[j] else (-np.pi, np.pi)
        assert lo - 1e-6 <= x.min() and x.max() <= hi + 1e-6, name
        assert x.min() < lo + 0.01 * (hi - lo) and x.max() > hi - 0.01 * (hi - lo), name
        assert x.std() == pytest.approx((hi - lo) / np.sqrt(12), rel=0.05), name
    assert abs(np.corrcoef(qpos[:, 3], qpos[:, 4])[0, 1]) < 0.05  # joints drawn independently


def test_cheetah_initial_states_are_dm_controls_settled_states():
    """The pool is DM Control's procedure run by C (limited joints uniform, 200 zero-control steps), and
    ``reset`` draws its rows uniformly."""
    task = Cheetah()
    m, params = task.mj_model, task.default_params()
    pool_q, pool_v = np.asarray(params.init_qpos), np.asarray(params.init_qvel)
    assert pool_q.shape == pool_v.shape == (POOL_SIZE, 9) and pool_q.dtype == np.float32
    q2, v2 = settled_states(m, 2, seed=0)  # deterministic: the same first two episodes
    np.testing.assert_array_equal(q2, pool_q[:2])
    np.testing.assert_array_equal(v2, pool_v[:2])
    # By hand, episode 0: the same random draw, then 200 steps.
    d = mujoco.MjData(m)
    d.qpos[3:] = np.random.default_rng(0).uniform(m.jnt_range[3:, 0], m.jnt_range[3:, 1])
    mujoco.mj_step(m, d, 200)
    np.testing.assert_allclose(pool_q[0], d.qpos, atol=1e-6)
    # Settled: standing on the floor, nearly at rest, joints in range, states differ.
    assert np.abs(pool_v).max() < 0.5 and np.all(pool_q[:, 1] > -0.3) and np.all(np.abs(pool_q[:, 2]) < 0.5)
    assert np.all(pool_q[:, 3:] >= m.jnt_range[3:, 0] - 0.05) and np.all(pool_q[:, 3:] <= m.jnt_range[3:, 1] + 0.05)
    assert pool_q[:, 3:].std(0).min() > 0.01
    keys = jax.random.split(jax.random.PRNGKey(5), 4000)
    qpos, qvel = jax.jit(jax.vmap(task.initial_qpos_qvel, in_axes=(0, None)))(keys, params)
    rows = {tuple(r) for r in pool_q.tolist()}
    drawn = [tuple(r) for r in np.asarray(qpos).tolist()]
    assert set(drawn) <= rows and len(set(drawn)) > 0.95 * POOL_SIZE
