"""DMC control tasks: acrobot, point_mass, reacher, finger spin / turn (issue 5).

The generic harness (tests/test_suite.py) steps every registered task: rollout
contract, MJX against MuJoCo C. This file checks each task's own math WITHOUT
compiling a physics step (only kinematics, collision and random draws):

* the models carry DM Control's published constants (closed-form masses,
  geometry, gears, damping, solver options, control timesteps);
* observations and rewards equal NumPy references written from DMC's task
  definitions and evaluated on MuJoCo C data, on chosen states covering every
  reward regime;
* the initial-state distributions (including the finger's collision-free
  rejection sampling, checked against C's contact detection).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from test_envs import np_tolerance

from jaxrl.envs import make, options
from jaxrl.envs.mjx_env import asset_path, mjx
from jaxrl.wrappers import TimeLimit

# name -> (control timestep of DMC in s, default n_substeps, obs size, action size)
TASKS = {
    "acrobot_swingup": (0.01, 1, 6, 1),
    "acrobot_swingup_sparse": (0.01, 1, 6, 1),
    "point_mass_easy": (0.02, 1, 4, 2),
    "reacher_easy": (0.02, 1, 6, 2),
    "reacher_hard": (0.02, 1, 6, 2),
    "finger_spin": (0.02, 2, 9, 2),
    "finger_turn_easy": (0.02, 2, 12, 2),
    "finger_turn_hard": (0.02, 2, 12, 2),
}
DENSITY = 1000.0  # MuJoCo's default geom density (kg/m^3): DMC's reacher and finger masses come from it


def capsule_mass(radius, length):
    return DENSITY * (math.pi * radius**2 * length + 4.0 / 3.0 * math.pi * radius**3)


def cylinder_mass(radius, length):
    return DENSITY * math.pi * radius**2 * length


# ============================================================================ registry and models


@pytest.mark.parametrize("name", list(TASKS))
def test_registered_with_dmc_control_timestep(name):
    dt, n_substeps, obs_size, nu = TASKS[name]
    env, params = make(name)
    task = env.unwrapped
    assert isinstance(env, TimeLimit) and env.max_steps == 1000 and task.name == name
    assert {"episode_length": 1000, "n_substeps": n_substeps}.items() <= options(name).items()
    assert task.n_substeps == n_substeps and task.dt == pytest.approx(dt)
    assert env.observation_spec.shape == (obs_size,)
    assert env.action_spec.shape == (nu,) and env.action_spec.low == (-1.0,) * nu and env.action_spec.high == (1.0,) * nu
    m = env.mj_model
    assert m.nmat >= 1 and (m.geom_matid >= 0).all()  # mjx.ray / the pixel renderer need materials
    assert m.camera(task.default_camera).id == 0  # DMC's camera 0 is the default view
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(params))
    # params.model is the model env.mj_model describes (variants included).
    np.testing.assert_array_equal(np.asarray(params.model.geom_size), m.geom_size.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(params.model.dof_damping), m.dof_damping.astype(np.float32))
    hash(task)
    with pytest.raises(ValueError, match="n_substeps must be an integer >= 1"):
        make(name, n_substeps=0)
    assert make(name, episode_length=50, n_substeps=3)[0].unwrapped.dt == pytest.approx(3 * dt / n_substeps)


def test_acrobot_model_as_specified():
    m = make("acrobot_swingup")[0].mj_model
    assert m.opt.timestep == 0.01 and m.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    assert m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_CONSTRAINT
    assert m.nq == m.nv == 2 and m.nu == 1 and m.actuator("elbow").gear[0] == 2
    assert m.actuator_trnid[0, 0] == m.joint("elbow").id
    np.testing.assert_allclose(m.dof_damping, [0.05, 0.05])
    for link, radius in (("upper_arm", 0.05), ("lower_arm", 0.049)):
        assert m.body(link).mass[0] == pytest.approx(1.0)
        assert m.geom(link).size[0] == pytest.approx(radius) and m.geom(link).size[1] == pytest.approx(0.5)
    np.testing.assert_allclose(m.body("upper_arm").pos, [0, 0, 2])
    np.testing.assert_allclose(m.body("lower_arm").pos, [0, 0, 1])
    np.testing.assert_allclose(m.site("tip").pos, [0, 0, 1])
    np.testing.assert_allclose(m.site("target").pos, [0, 0, 4])
    assert m.site("target").size[0] == pytest.approx(0.2)
    # Closed-form forward kinematics: angles from upright about +y, tip 2 m above the shoulder when upright.
    d = mujoco.MjData(m)
    for q in np.random.default_rng(0).uniform(-np.pi, np.pi, (8, 2)):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        a, b = q[0], q[0] + q[1]
        np.testing.assert_allclose(d.site("tip").xpos, [math.sin(a) + math.sin(b), 0, 2 + math.cos(a) + math.cos(b)], atol=1e-12)
        np.testing.assert_allclose(d.body("lower_arm").xmat[[2, 8]], [math.sin(b), math.cos(b)], atol=1e-12)


def test_point_mass_model_as_specified():
    m = make("point_mass_easy")[0].mj_model
    assert m.opt.timestep == 0.02 and m.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    assert m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_CONTACT
    assert m.body("pointmass").mass[0] == pytest.approx(0.3) and m.geom("pointmass").size[0] == pytest.approx(0.01)
    assert m.geom("target").size[0] == pytest.approx(0.015)
    np.testing.assert_allclose(m.geom("target").pos, [0, 0, 0.01])
    np.testing.assert_allclose(m.body("pointmass").pos, [0, 0, 0.01])
    assert m.jnt_limited.all() and np.allclose(m.jnt_range, [[-0.29, 0.29]] * 2)
    assert (m.jnt_type == mujoco.mjtJoint.mjJNT_SLIDE).all() and np.allclose(m.jnt_axis, [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_allclose(m.dof_damping, [1.0, 1.0])
    np.testing.assert_allclose(m.actuator_gear[:, 0], [0.1, 0.1])
    np.testing.assert_array_equal(m.actuator_trnid[:, 0], [m.joint("root_x").id, m.joint("root_y").id])


@pytest.mark.parametrize("hard", [False, True])
def test_reacher_model_as_specified(hard):
    m = make("reacher_hard" if hard else "reacher_easy")[0].mj_model
    assert m.opt.timestep == 0.02 and m.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    assert m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_CONTACT
    assert m.geom("target").size[0] == pytest.approx(0.015 if hard else 0.05)
    assert m.geom("finger").size[0] == pytest.approx(0.01)
    assert m.body("target").mocapid[0] == 0 and m.body("target").pos[2] == pytest.approx(0.01)
    assert m.body("arm").mass[0] == pytest.approx(capsule_mass(0.01, 0.12))
    finger_mass = DENSITY * 4.0 / 3.0 * math.pi * 0.01**3
    assert m.body("hand").mass[0] + m.body("finger").mass[0] == pytest.approx(capsule_mass(0.01, 0.1) + finger_mass)
    np.testing.assert_allclose(m.dof_damping, [0.01, 0.01])
    np.testing.assert_allclose(m.actuator_gear[:, 0], [0.05, 0.05])
    assert not m.joint("shoulder").limited and m.joint("wrist").limited
    np.testing.assert_allclose(m.joint("wrist").range, np.radians([-160, 160]))
    d = mujoco.MjData(m)  # links of 0.12 m each to the fingertip, angles about +z
    for q in np.random.default_rng(1).uniform(-2.5, 2.5, (8, 2)):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        a, b = q[0], q[0] + q[1]
        expected = [0.12 * (math.cos(a) + math.cos(b)), 0.12 * (math.sin(a) + math.sin(b)), 0.01]
        np.testing.assert_allclose(d.geom("finger").xpos, expected, atol=1e-12)


def test_finger_model_as_specified():
    m = make("finger_spin")[0].mj_model
    assert m.opt.timestep == 0.01 and m.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    assert m.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC and m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_GRAVITY
    assert m.opt.iterations >= 4 and m.opt.ls_iterations >= 14  # below these C's Newton stops early (XML comment)
    np.testing.assert_allclose(m.actuator_gear[:, 0], [30, 15])
    np.testing.assert_allclose(m.dof_damping, [2.5, 2.5, 0.03])  # spin's hinge damping (the file says 0.5)
    assert mujoco.MjModel.from_xml_path(asset_path("finger.xml")).dof_damping[2] == pytest.approx(0.5)
    np.testing.assert_allclose(m.dof_frictionloss, [0, 0, 0.1])
    np.testing.assert_allclose(m.jnt_range[:2], np.radians([[-110, 110]] * 2))
    np.testing.assert_allclose(m.qpos0, [-math.pi / 2, 0, 0])  # proximal ref -90 deg
    np.testing.assert_allclose(m.jnt_axis, [[0, -1, 0]] * 3)
    # Masses from DMC's geometry, decorations included.
    assert m.body("proximal").mass[0] == pytest.approx(capsule_mass(0.03, 0.17) + cylinder_mass(0.034, 0.066))
    assert m.body("distal").mass[0] == pytest.approx(capsule_mass(0.028, 0.16) + capsule_mass(0.03, 0.031))
    assert m.body("spinner").mass[0] == pytest.approx(2 * capsule_mass(0.04, 0.18) + cylinder_mass(0.02, 0.09))
    for cap, x in (("cap1", 0.02), ("cap2", -0.02)):
        np.testing.assert_allclose(m.geom(cap).size[:2], [0.04, 0.09])
        np.testing.assert_allclose(m.geom(cap).pos, [x, 0, 0])
    np.testing.assert_allclose(m.geom_solref[m.geom("cap1").id], [0.02, 1])
    np.testing.assert_allclose(m.geom_solimp[m.geom("cap1").id, :3], [0, 0.9, 0.01])
    # The only geom pairs that may collide are the fingertip against the two capsules.
    pairs = {(m.geom(i).name, m.geom(j).name) for i in range(m.ngeom) for j in range(m.ngeom)
             if i < j and (m.geom_contype[i] & m.geom_conaffinity[j] or m.geom_contype[j] & m.geom_conaffinity[i])}
    assert pairs == {("fingertip", "cap1"), ("fingertip", "cap2")}
    # Tip marker 0.13 m from the hinge, turning about -y; hidden (group 3, alpha 0) in spin.
    d = mujoco.MjData(m)
    d.qpos[2] = 0.7
    mujoco.mj_kinematics(m, d)
    expected = [-0.13 * math.sin(0.7), 0, 0.13 * math.cos(0.7)]
    np.testing.assert_allclose(d.site("tip").xpos - d.body("spinner").xpos, expected, atol=1e-12)
    assert m.geom("tip").group == 3 and m.geom("target").group == 3 and m.geom("tip").rgba[3] == 0


@pytest.mark.parametrize("hard", [False, True])
def test_finger_turn_model_as_specified(hard):
    m = make("finger_turn_hard" if hard else "finger_turn_easy")[0].mj_model
    np.testing.assert_allclose(m.dof_damping, [2.5, 2.5, 0.5])  # the file's hinge damping: only spin lowers it
    assert m.geom("target").size[0] == pytest.approx(0.03 if hard else 0.07)
    assert m.body("target").mocapid[0] == 0 and m.geom("target").contype == m.geom("target").conaffinity == 0
    assert m.geom("tip").group == m.geom("target").group == 0  # drawn, as DMC's turn tasks draw them
    assert m.body("spinner").mass[0] == pytest.approx(2 * capsule_mass(0.04, 0.18) + cylinder_mass(0.02, 0.09))


# ============================================================================ obs and reward vs NumPy


def np_acrobot(m, d, sparse):
    upper, lower = d.body("upper_arm").xmat, d.body("lower_arm").xmat  # row-major 3x3: xz = [2], zz = [8]
    obs = [upper[2], lower[2], upper[8], lower[8], *d.qvel]
    distance = np.linalg.norm(d.site("target").xpos - d.site("tip").xpos)
    return obs, np_tolerance(distance, 0.0, 0.2, 0.0 if sparse else 1.0, "gaussian", 0.1)


def np_point_mass(m, d, sparse=None):
    distance = np.linalg.norm(d.geom("target").xpos - d.geom("pointmass").xpos)
    near = np_tolerance(distance, 0.0, 0.015, 0.015, "gaussian", 0.1)
    control = np.mean([np_tolerance(u, 0.0, 0.0, 1.0, "quadratic", 0.0) for u in d.ctrl])
    return [*d.qpos, *d.qvel], near * (4 + control) / 5


def np_reacher(m, d, sparse=None):
    to_target = d.geom("target").xpos[:2] - d.geom("finger").xpos[:2]
    radii = m.geom("target").size[0] + m.geom("finger").size[0]
    return [*d.qpos, *to_target, *d.qvel], float(np.linalg.norm(to_target) <= radii)


def np_finger_spin(m, d, sparse=None):
    tip = (d.site("tip").xpos - d.body("spinner").xpos)[[0, 2]]
    touch = np.log1p(d.sensordata[[m.sensor("touchtop").adr[0], m.sensor("touchbottom").adr[0]]])
    return [*d.qpos[:2], *tip, *d.qvel, *touch], float(d.qvel[2] <= -15.0)


def np_finger_turn(m, d, sparse=None):
    obs, _ = np_finger_spin(m, d)
    spinner = d.body("spinner").xpos
    target, tip = (d.geom("target").xpos - spinner)[[0, 2]], (d.site("tip").xpos - spinner)[[0, 2]]
    distance = np.linalg.norm(target - tip) - m.geom("target").size[0]
    return [*obs, *target, distance], float(distance <= 0)


REFERENCES = {"acrobot": np_acrobot, "point_mass": np_point_mass, "reacher": np_reacher,
              "finger_spin": np_finger_spin, "finger_turn": np_finger_turn}


def chosen_states(name, m, n=64):
    """(qpos, qvel, ctrl, mocap_pos, sensordata), each [n, ...], covering every regime of the task's reward."""
    rng = np.random.default_rng(0)
    qvel = rng.normal(0, 2, (n, m.nv))
    ctrl = rng.uniform(-1, 1, (n, m.nu))
    ctrl[:4] = np.array([[-1.0], [1.0], [0.0], [0.5]]) * np.ones(m.nu)
    mocap = np.tile(m.body_pos[m.body_mocapid >= 0], (n, 1, 1)) if m.nmocap else np.zeros((n, 0, 3))
    sensordata = np.zeros((n, m.nsensordata))
    if name.startswith("acrobot"):
        qpos = rng.uniform(-np.pi, np.pi, (n, 2))
        qpos[:24] = rng.uniform(-0.25, 0.25, (24, 2)) * np.linspace(0.1, 3, 24)[:, None]  # from the target outwards
    elif name.startswith("point_mass"):
        qpos = rng.uniform(-0.29, 0.29, (n, 2))
        qpos[:24] = rng.normal(0, 1, (24, 2)) / np.sqrt(2) * np.linspace(0.002, 0.06, 24)[:, None]  # near the target
    elif name.startswith("reacher"):
        qpos = np.stack([rng.uniform(-np.pi, np.pi, n), rng.uniform(-2.79, 2.79, n)], -1)
        angle, radius = rng.uniform(0, 2 * np.pi, n), rng.uniform(0.05, 0.2, n)
        mocap[:, 0, :2] = np.stack([radius * np.sin(angle), radius * np.cos(angle)], -1)
        d = mujoco.MjData(m)
        radii = m.geom("target").size[0] + m.geom("finger").size[0]
        for i in range(24):  # the target at distance 0 .. 2 * radii from the fingertip
            d.qpos[:] = qpos[i]
            mujoco.mj_kinematics(m, d)
            r = radii * (2 * i / 23 if abs(2 * i / 23 - 1) > 0.02 else 0.9)  # stay off the boundary
            mocap[i, 0, :2] = d.geom("finger").xpos[:2] + r * np.array([math.cos(i), math.sin(i)])
    else:  # finger
        qpos = np.stack([*rng.uniform(-1.9, 1.9, (2, n)), rng.uniform(-np.pi, np.pi, n)], -1)
        qvel[:, 2] = rng.choice([-40.0, -15.5, -15.001, -14.999, -10.0, 0.0, 15.5, 30.0], n)
        sensordata[:] = rng.choice([0.0, 0.3, 2.0, 50.0], sensordata.shape)
        if name.startswith("finger_turn"):  # targets on the tip marker's circle; the first 24 near the tip
            angle = rng.uniform(-np.pi, np.pi, n)
            mocap[:, 0] = np.stack([0.2 + 0.13 * np.sin(angle), np.zeros(n), 0.4 + 0.13 * np.cos(angle)], -1)
            radius = m.geom("target").size[0]
            gap = radius * np.linspace(0, 2, 24)  # tip-to-target distance
            gap[np.abs(gap - radius) < 0.02 * radius] = 0.9 * radius  # stay off the boundary
            qpos[:24, 2] = -angle[:24] + 2 * np.arcsin(gap / 0.26)  # hinge angle -a puts the tip on the target
    return qpos, qvel, ctrl, mocap, sensordata


def c_data(m, qpos, qvel, ctrl, mocap, sensordata) -> mujoco.MjData:
    """MuJoCo C data at one chosen state: poses from ``mj_kinematics``, sensordata as given."""
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:], d.ctrl[:], d.mocap_pos[:] = qpos, qvel, ctrl, mocap
    mujoco.mj_kinematics(m, d)
    d.sensordata[:] = sensordata
    return d


@pytest.mark.parametrize("name", list(TASKS))
def test_obs_and_reward_match_numpy_on_chosen_states(name):
    """The task's observe / reward on C data (float32, via mjx.put_data) equal the NumPy references on the same data.

    The poses come from C's kinematics, so only the tasks' own formulas are
    compared here; that the poses MJX computes after a step are current is the
    harness's check (tests/test_suite.py).
    """
    env, params = make(name)
    task, m = env.unwrapped, env.mj_model
    datas = [c_data(m, *state) for state in zip(*(x.astype(np.float32) for x in chosen_states(name, m)))]
    to32 = lambda x: np.asarray(x, np.float32) if np.issubdtype(np.asarray(x).dtype, np.floating) else x  # noqa: E731
    batch = jax.tree.map(lambda *xs: np.stack([to32(x) for x in xs]), *[mjx.put_data(m, d, impl="jax") for d in datas])
    obs, rew = jax.jit(jax.vmap(lambda data: (task.observe(data, params), task.reward(data, data.ctrl, params))))(batch)
    assert obs.shape == (64, TASKS[name][2]) and obs.dtype == jnp.float32 and rew.dtype == jnp.float32
    reference = REFERENCES[next(k for k in REFERENCES if name.startswith(k))]
    expected = [reference(m, d, sparse=name.endswith("sparse")) for d in datas]
    np.testing.assert_allclose(obs, np.array([o for o, _ in expected]), atol=2e-6)
    np.testing.assert_allclose(rew, np.array([r for _, r in expected]), atol=2e-6)
    values = set(np.unique(np.asarray(rew)).tolist())
    if name.endswith("sparse") or name.startswith(("reacher", "finger")):
        assert values == {0.0, 1.0}  # indicator rewards: both outcomes covered
    else:  # smooth rewards: the target region, the decaying margin and far away all covered
        assert max(values) > 0.99 and any(0.05 < v < 0.95 for v in values) and min(values) < 0.01


# ============================================================================ initial states

N_INIT = 4000


def _initial(name, n=N_INIT):
    env, params = make(name)
    keys = jax.random.split(jax.random.PRNGKey(3), n)
    qpos, qvel = jax.jit(jax.vmap(env.unwrapped.initial_qpos_qvel, in_axes=(0, None)))(keys, params)
    return np.asarray(qpos), np.asarray(qvel)


def assert_uniform(x, low, high):
    """Samples ``x`` [n] look uniform on [low, high]: inside, near both ends, mean and std as uniform."""
    span = high - low
    assert x.min() >= low and x.max() <= high
    assert x.min() < low + 0.01 * span and x.max() > high - 0.01 * span
    assert abs(x.mean() - (low + high) / 2) < 0.03 * span and x.std() == pytest.approx(span / math.sqrt(12), rel=0.05)


@pytest.mark.parametrize("name,ranges", [
    ("acrobot_swingup", [math.pi, math.pi]),
    ("point_mass_easy", [0.29, 0.29]),
])
def test_uniform_joint_initial_states(name, ranges):
    qpos, qvel = _initial(name)
    assert qpos.dtype == np.float32 and qpos.shape == (N_INIT, len(ranges))
    for i, r in enumerate(ranges):
        assert_uniform(qpos[:, i], -r, r)
    assert abs(np.corrcoef(qpos.T)[0, 1]) < 0.05  # independent draws
    assert not qvel.any()


def test_reacher_initial_data_places_target_in_mocap():
    """``reset`` = kinematics of ``initial_data``: the arm pose and a target uniform on its annulus, in mocap_pos."""
    env, params = make("reacher_hard")
    keys = jax.random.split(jax.random.PRNGKey(5), N_INIT)
    data = jax.jit(jax.vmap(env.unwrapped.initial_data, in_axes=(0, None)))(keys, params)
    qpos, mocap = np.asarray(data.qpos), np.asarray(data.mocap_pos)
    assert qpos.dtype == mocap.dtype == np.float32 and mocap.shape == (N_INIT, 1, 3)
    assert_uniform(qpos[:, 0], -math.pi, math.pi)
    assert_uniform(qpos[:, 1], -math.radians(160), math.radians(160))
    assert not np.asarray(data.qvel).any()
    x, y, z = mocap[:, 0].T
    assert_uniform(np.hypot(x, y), 0.05, 0.2)
    assert_uniform(np.arctan2(x, y), -np.pi, np.pi)  # x = r sin a, y = r cos a
    np.testing.assert_allclose(z, 0.01)
    assert abs(np.corrcoef(np.arctan2(x, y), qpos[:, 0])[0, 1]) < 0.05  # independent of the arm's draw


def test_finger_initial_state_is_uniform_and_collision_free():
    """Joint angles uniform in their ranges, redrawn while the fingertip touches the spinner (DMC's rule).

    Checked with MuJoCo C's collision detection: about 10% of uniform draws touch,
    so a sampler without the rejection step would leave ~50 of 512 states in contact.
    Drawn through finger_turn_easy's ``initial_data`` (what ``reset`` steps from;
    spin shares the sampler), so the target's placement in mocap_pos is checked too.
    """
    env, params = make("finger_turn_easy")
    m = env.mj_model
    data = jax.jit(jax.vmap(env.unwrapped.initial_data, in_axes=(0, None)))(jax.random.split(jax.random.PRNGKey(3), 512), params)
    qpos = np.asarray(data.qpos)
    assert qpos.dtype == np.float32 and qpos.shape == (512, 3) and not np.asarray(data.qvel).any()
    for i, r in enumerate([math.radians(110), math.radians(110), math.pi]):
        assert np.abs(qpos[:, i]).max() <= r and np.abs(qpos[:, i]).max() > 0.97 * r
        assert qpos[:, i].std() == pytest.approx(2 * r / math.sqrt(12), rel=0.1)
    target = np.asarray(data.mocap_pos)[:, 0] - [0.2, 0.0, 0.4]
    np.testing.assert_allclose(np.hypot(target[:, 0], target[:, 2]), 0.13, atol=1e-6)
    d = mujoco.MjData(m)

    def c_touching(q):
        d.qpos[:] = q
        mujoco.mj_forward(m, d)
        return d.ncon > 0

    assert not any(c_touching(q) for q in qpos)
    raw = np.random.default_rng(0).uniform(-1, 1, (512, 3)) * [math.radians(110), math.radians(110), math.pi]
    assert 25 < sum(c_touching(q) for q in raw) < 100


def test_finger_turn_target_on_the_tip_circle():
    env, params = make("finger_turn_easy")
    task = env.unwrapped
    keys = jax.random.split(jax.random.PRNGKey(6), N_INIT)
    mocap0 = jnp.asarray(env.mj_model.body_pos[env.mj_model.body("target").id])[None]
    target = np.asarray(jax.jit(jax.vmap(task.initial_mocap_pos, in_axes=(0, None, None)))(keys, params, mocap0))[:, 0]
    rel = target - [0.2, 0.0, 0.4]  # the hinge axis
    np.testing.assert_allclose(np.hypot(rel[:, 0], rel[:, 2]), 0.13, atol=1e-6)
    assert not rel[:, 1].any()
    assert_uniform(np.arctan2(rel[:, 0], rel[:, 2]), -np.pi, np.pi)  # angle from the top, x = sin, z = cos
