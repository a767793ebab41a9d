"""Registry, reward helpers and MJX tasks (cartpole, pendulum).

Compiling an MJX step takes 10-20 s on a small CPU, so each task is compiled
ONCE, as a batched 1000-step rollout (``_rollout``, cached), and every physics
check reads that rollout. Checks that only need tracing use ``jax.eval_shape``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import jaxrl.envs as envs
from jaxrl.envs import UnknownEnvError, make
from jaxrl.envs.cartpole import Cartpole
from jaxrl.envs.mjx_env import MjxState, mjx
from jaxrl.envs.pendulum import Pendulum
from jaxrl.envs.rewards import tolerance
from jaxrl.spaces import SpecError
from jaxrl.wrappers import TimeLimit, VecEnv, find_state

MJX_NAMES = ["cartpole_balance", "cartpole_swingup", "cartpole_balance_sparse", "cartpole_swingup_sparse", "pendulum_swingup"]
PROBE_NAMES = ["probe_action", "probe_constant", "probe_continuous", "probe_discount", "probe_obs_reward"]

# ============================================================================ registry


def test_names_lists_every_env():
    assert set(MJX_NAMES + PROBE_NAMES) <= set(envs.names())
    assert envs.names() == sorted(envs.names())


def test_unknown_name_lists_known_names():
    with pytest.raises(UnknownEnvError) as err:
        make("cartpole_balanse")
    msg = str(err.value)
    assert "cartpole_balanse" in msg and "did you mean 'cartpole_balance'" in msg
    for name in envs.names():
        assert name in msg


def test_unknown_override_lists_options():
    with pytest.raises(ValueError, match="episode_length=1000.*n_substeps=1") as err:
        make("cartpole_swingup", episode_lenght=10)
    assert "episode_lenght" in str(err.value)


@pytest.mark.parametrize("name", ["cartpole_balance", "cartpole_swingup_sparse", "pendulum_swingup"])
@pytest.mark.parametrize("bad", [{"episode_length": 0}, {"episode_length": -5}, {"episode_length": 2.5},
                                 {"episode_length": True}, {"n_substeps": 0}, {"n_substeps": "2"}])
def test_bad_options_rejected(name, bad):
    key = next(iter(bad))
    with pytest.raises(ValueError, match=f"{key} must be an integer >= 1"):
        make(name, **bad)


@pytest.mark.parametrize("bad", ["Fast", "dmc", 1, None])
def test_bad_physics_preset_rejected(bad):
    with pytest.raises(ValueError, match=f"physics must be one of 'faithful', 'fast', got {bad!r}"):
        make("walker_walk", physics=bad)


def test_options_and_time_limit():
    assert envs.options("pendulum_swingup") == {"episode_length": 1000, "n_substeps": 1, "physics": "faithful",
                                                 "solver_iterations": None,
                                                 "ls_iterations": None, "obs": "state", "image_size": 64,
                                                 "camera": None, "depth": False, "frame_stack": 1, "action_repeat": 1, "debug": False,
                                                 "distractors": None, "camera_jitter": 0.0}
    env, _ = make("cartpole_balance", episode_length=200, n_substeps=2)
    assert isinstance(env, TimeLimit) and env.max_steps == 200
    assert env.unwrapped == Cartpole(n_substeps=2, swingup=False)
    assert env.dt == pytest.approx(0.02)


@pytest.mark.parametrize("name", MJX_NAMES)
def test_mjx_task_static_parts(name):
    env, params = make(name)
    assert isinstance(env.mj_model, mujoco.MjModel)
    m = env.mj_model
    assert m.nmat >= 1 and m.ncam >= 1 and m.ngeom <= 4  # mjx.ray needs materials
    assert m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_CONTACT
    hash(env)  # static argument of every compiled function
    assert env.action_spec.shape == (1,) and env.action_spec.low == (-1.0,) and env.action_spec.high == (1.0,)
    # Everything an experimenter may randomise is a traced leaf of params.
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(params))


def test_models_as_specified():
    cp = Cartpole(swingup=False).mj_model
    assert cp.opt.timestep == 0.01 and cp.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4  # as DM Control
    assert Cartpole(swingup=False, physics="fast").mj_model.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    slider = cp.joint("slider")
    assert slider.limited and np.allclose(slider.range, [-1.8, 1.8])
    assert cp.body("pole").mass[0] == pytest.approx(0.1) and cp.actuator("push").gear[0] == 10
    pole = cp.geom("pole")
    assert pole.type == mujoco.mjtGeom.mjGEOM_CAPSULE and pole.size[1] == pytest.approx(0.5)  # half-length
    pd = Pendulum().mj_model
    assert pd.opt.timestep == 0.02 and pd.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    assert pd.dof_damping[0] == pytest.approx(0.1) and pd.body("pole").mass[0] == pytest.approx(1.0)
    assert np.allclose(pd.geom("ball").pos, [0, 0, 0.5]) and pd.actuator("torque").gear[0] == 1


# ============================================================================ tolerance


def np_tolerance(x, lower, upper, margin, sigmoid, v):
    """Hand-written reference, one float at a time, in closed forms (gaussian: v ** d^2)."""
    if lower <= x <= upper:
        return 1.0
    if margin == 0:
        return 0.0
    d = (lower - x if x < lower else x - upper) / margin
    if sigmoid == "gaussian":
        return v ** (d * d)
    if sigmoid == "quadratic":
        return max(0.0, 1.0 - d * d * (1.0 - v))
    if sigmoid == "linear":
        return max(0.0, 1.0 - d * (1.0 - v))
    if sigmoid == "long_tail":
        return 1.0 / (1.0 + d * d * (1.0 / v - 1.0))
    if sigmoid == "reciprocal":
        return 1.0 / (1.0 + d * (1.0 / v - 1.0))
    raise ValueError(sigmoid)


TOL_CASES = [
    ((0.0, 0.0), 2.0, "gaussian", 0.1),
    ((-0.5, 1.0), 1.5, "gaussian", 0.3),
    ((0.0, 0.0), 1.0, "quadratic", 0.0),
    ((0.2, 0.4), 0.5, "quadratic", 0.5),
    ((0.0, 0.0), 1.0, "linear", 0.0),
    ((-1.0, 1.0), 2.0, "linear", 0.25),
    ((0.0, 0.0), 3.0, "long_tail", 0.1),
    ((0.0, 1.0), 1.0, "reciprocal", 0.2),
    ((-0.25, 0.25), 0.0, "gaussian", 0.1),  # margin 0: indicator
    ((0.99, math.inf), 0.0, "gaussian", 0.1),  # one-sided indicator
    ((0.0, math.inf), 1.0, "long_tail", 0.1),  # one-sided smooth
]


@pytest.mark.parametrize("bounds,margin,sigmoid,v", TOL_CASES)
def test_tolerance_matches_numpy(bounds, margin, sigmoid, v):
    x = np.concatenate([np.linspace(-4, 4, 81), [bounds[0], bounds[0] + margin, bounds[0] - margin]])
    x = x[np.isfinite(x)].astype(np.float32)
    expected = np.array([np_tolerance(float(xi), *bounds, margin, sigmoid, v) for xi in x])
    got = tolerance(jnp.asarray(x), bounds, margin, sigmoid, v)
    assert got.shape == x.shape and got.dtype == jnp.float32
    np.testing.assert_allclose(got, expected, atol=2e-6)
    jitted = jax.jit(lambda x: tolerance(x, bounds, margin, sigmoid, v))(x)
    np.testing.assert_allclose(jitted, got, atol=1e-7)
    if margin > 0:
        assert np_tolerance(bounds[0] - margin, *bounds, margin, sigmoid, v) == pytest.approx(v)
        np.testing.assert_allclose(tolerance(bounds[0] - margin, bounds, margin, sigmoid, v), v, atol=1e-6)


def test_tolerance_traced_margin_and_bounds_vmap_equals_loop():
    x = jnp.linspace(-3.0, 3.0, 13)
    margins = jnp.array([0.5, 1.0, 2.0, 0.0])
    lowers = jnp.array([-0.5, 0.0, 0.25, -0.25])
    f = jax.jit(jax.vmap(lambda lo, mg: tolerance(x, (lo, lo + 0.5), margin=mg)))
    got = f(lowers, margins)
    for i in range(4):
        lo, mg = float(lowers[i]), float(margins[i])
        expected = [np_tolerance(float(xi), lo, lo + 0.5, mg, "gaussian", 0.1) for xi in x]
        np.testing.assert_allclose(got[i], expected, atol=2e-6)


def test_tolerance_rejects_bad_arguments():
    with pytest.raises(ValueError, match="lower <= upper"):
        tolerance(0.0, (1.0, 0.0))
    with pytest.raises(ValueError, match="margin must be >= 0"):
        tolerance(0.0, margin=-1.0)
    with pytest.raises(ValueError, match="value_at_margin"):
        tolerance(0.0, margin=1.0, value_at_margin=0.0)  # gaussian never reaches 0
    with pytest.raises(ValueError, match="unknown sigmoid"):
        tolerance(0.0, margin=1.0, sigmoid="sigmoidal")


# ============================================================================ numpy references of the tasks


def np_cartpole_reward(d: mujoco.MjData, sparse: bool) -> float:
    x, angle, angvel, u = d.qpos[0], d.qpos[1], d.qvel[1], d.ctrl[0]
    cos = math.cos(angle)
    if sparse:
        return float(abs(x) <= 0.25 and cos >= 0.995)
    upright = (cos + 1) / 2
    centered = (1 + np_tolerance(x, 0, 0, 2.0, "gaussian", 0.1)) / 2
    small_control = (4 + np_tolerance(u, 0, 0, 1.0, "quadratic", 0.0)) / 5
    small_velocity = (1 + np_tolerance(angvel, 0, 0, 5.0, "gaussian", 0.1)) / 2
    return upright * centered * small_control * small_velocity


def np_cartpole_obs(m: mujoco.MjModel, d: mujoco.MjData) -> np.ndarray:
    return np.array([d.qpos[0], math.cos(d.qpos[1]), math.sin(d.qpos[1]), d.qvel[0], d.qvel[1]])


def np_pendulum_obs(m: mujoco.MjModel, d: mujoco.MjData) -> np.ndarray:
    mujoco.mj_kinematics(m, d)  # mj_step leaves xmat at the pre-step pose
    xmat = d.body("pole").xmat.reshape(3, 3)
    return np.array([xmat[2, 2], xmat[0, 2], d.qvel[0]])


def np_pendulum_reward(d: mujoco.MjData, sparse=None) -> float:
    return float(d.body("pole").xmat[8] >= math.cos(math.radians(8)))  # after np_pendulum_obs


def references(name):
    if name.startswith("cartpole"):
        return np_cartpole_obs, functools.partial(np_cartpole_reward, sparse=name.endswith("sparse"))
    return np_pendulum_obs, np_pendulum_reward


# ============================================================================ the compiled rollout

NUM_ENVS, T = 4, 1000
# Full 1000-step rollouts (one compile each). The pendulum runs with 2 physics
# substeps per env step so that the n_substeps path is compared against C too.
ROLLOUTS = {"cartpole_balance": {}, "cartpole_swingup": {}, "pendulum_swingup": {"n_substeps": 2}}
# The sparse variants step exactly like their smooth twins (only the reward
# differs, checked cheaply below); their own full rollouts are slow-marked.
SLOW_ROLLOUTS = {"cartpole_balance_sparse": {}, "cartpole_swingup_sparse": {}}
SHARED = ("cartpole_balance", "cartpole_swingup")  # rollouts shared with tests/test_suite.py


@functools.lru_cache(maxsize=None)
def _rollout(name: str):
    """Reset ``NUM_ENVS`` envs and step them ``T`` times with random actions in [-1.5, 1.5] (clipping exercised).

    Returns (env, params, actions[T, B, 1], out) with out a dict of numpy arrays:
    reset obs [B, obs], qpos0/qvel0 [B, n], and per step [T, B, ...] obs, reward,
    terminated, truncated, qpos, qvel.

    Tasks in ``SHARED`` reuse tests/test_suite.py's registry rollout (the same program: 2 envs,
    actions overshooting the control range by 25%; tests/conftest.py puts these tests on that
    task's worker), so they are compiled once per test session.
    """
    if name in SHARED:
        from test_suite import _rollout as suite_rollout

        env, params, actions, out = suite_rollout(name)
        return env, params, actions, {"reset_obs": out["obs0"], **out}
    overrides = {**ROLLOUTS, **SLOW_ROLLOUTS}[name]
    env, params = make(name, **overrides)
    venv = VecEnv(env, num_envs=NUM_ENVS)
    actions = jax.random.uniform(jax.random.PRNGKey(7), (T, NUM_ENVS, 1), minval=-1.5, maxval=1.5)

    def rollout(key, params, actions):
        state, ts = venv.reset(key, params)
        data0 = find_state(state, MjxState).data

        def body(state, xs):
            step_key, action = xs
            state, ts = venv.step(step_key, state, action, params)
            data = find_state(state, MjxState).data
            return state, dict(obs=ts.obs, reward=ts.reward, terminated=ts.terminated,
                               truncated=ts.truncated, qpos=data.qpos, qvel=data.qvel)

        _, traj = jax.lax.scan(body, state, (jax.random.split(key, T), actions))
        return dict(reset_obs=ts.obs, qpos0=data0.qpos, qvel0=data0.qvel, **traj)

    out = jax.jit(rollout)(jax.random.PRNGKey(0), params, actions)
    out = {k: np.asarray(v) for k, v in out.items()}
    return env, params, np.asarray(actions), out


rollout_names = list(ROLLOUTS) + [pytest.param(n, marks=pytest.mark.slow) for n in SLOW_ROLLOUTS]


@pytest.mark.parametrize("name", ["cartpole_swingup"])  # grouped with test_suite's rollout of the task
def test_rolled_rk4_step_gives_mjx_steps_numbers(name):
    """``mj_step`` (what every MJX task steps with) runs RK4's four forward passes in one rolled loop,
    compiled once instead of four times; it must give ``mjx.step``'s numbers. Each of the 2 x 1000
    steps of test_suite's cart-pole rollout (RK4, clipped random actions) is redone by ``mjx.step``
    from the same state (qpos, qvel, ctrl, the solver's warm start): equal to float32 rounding.
    The pendulum (Euler) does not take the rolled path."""
    from jaxrl.envs.mjx_env import _rolled_rk4_applies

    env, params, actions, out = _rollout(name)
    assert _rolled_rk4_applies(params.model)
    assert not _rolled_rk4_applies(make("pendulum_swingup")[1].model)
    qpos = np.concatenate([out["qpos0"][None], out["qpos"][:-1]]).reshape(-1, out["qpos"].shape[-1])
    qvel = np.concatenate([out["qvel0"][None], out["qvel"][:-1]]).reshape(-1, out["qvel"].shape[-1])
    warm = np.concatenate([out["warm0"][None], out["warm"][:-1]]).reshape(qvel.shape)
    spec = env.action_spec
    ctrl = np.clip(actions, spec.low_array(), spec.high_array()).reshape(-1, actions.shape[-1])

    @jax.jit
    def reference(qpos, qvel, warm, ctrl):
        def one(q, v, w, u):
            data = mjx.make_data(params.model, impl="jax").replace(qpos=q, qvel=v, qacc_warmstart=w, ctrl=u)
            data = mjx.step(params.model, data)
            return data.qpos, data.qvel, data.qacc_warmstart
        return jax.vmap(one)(qpos, qvel, warm, ctrl)

    got = [np.asarray(x) for x in reference(qpos, qvel, warm, ctrl.astype(np.float32))]
    for k, ref in zip(("qpos", "qvel", "warm"), got):
        mine = out[k].reshape(ref.shape)
        print(k, "max |diff|", np.abs(mine - ref).max(), "exact", np.mean(mine == ref))
        # Measured (2 x 1000 steps): qpos / qvel 99.9% / 97% of entries bit-equal, max |diff| 4.8e-7;
        # the warm start (accelerations, up to ~1e2) 86% bit-equal, max 5.7e-6: XLA fuses the two
        # programs differently, the arithmetic is the same.
        np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("name, substeps", [("cheetah_run", 2), ("acrobot_swingup", 1)])
def test_posed_physics_step_keeps_the_numbers_and_reads_the_poses(name, substeps):
    """A task that holds its poses steps each substep with ``mj_step(posed=True)`` (its forward pass reads
    the poses the state holds) then the kinematics of the new ``qpos``. From reset states and random
    controls, its ``physics_step`` gives the previous step's numbers (``mj_step`` unposed per substep,
    then the kinematics): every float leaf of the stepped ``mjx.Data``. Cheetah at 2 substeps (the
    substep loop; Euler; its reset states have settled on the floor, so contacts and the constraint
    solver are in play); acrobot: the rolled RK4 path, whose stage 0 skips the kinematics. Measured on
    this CPU: bit-equal as the default run compiles (unoptimised); with XLA's optimisations
    (``JAXRL_TEST_XLA=full``) a few entries differ in the last bits (acrobot qvel, 2 of 6, 2.2e-8; the
    finger's solver warm start, accelerations ~1e2, 1 of 9 by 1.1e-6 relative, in an earlier version of
    this test), the two programs being fused differently: asserted to float32 rounding, 1e-5 as for the
    rolled RK4 above. Integer leaves (the solver's iteration count) are left out: a last-bit difference
    may cost an iteration elsewhere. The posed step does read the poses: with the state's body and geom
    positions zeroed its result moves."""
    from jaxrl.envs.mjx_env import mj_step

    env, params = make(name, n_substeps=substeps)
    task, model = env.unwrapped, params.model
    assert task.holds_poses and task.n_substeps == substeps
    spec = env.action_spec

    def previous(data, u):  # the physics step before posed stepping (git show ecb417e:envs/mjx_env.py)
        data = data.replace(ctrl=jnp.clip(u, spec.low_array(), spec.high_array()))
        if substeps > 1:
            data = jax.lax.fori_loop(0, substeps, lambda _, d: mj_step(model, d), data)
        else:
            data = mj_step(model, data)
        return mjx.kinematics(model, data)

    @jax.jit
    def steps(key):
        data = task.reset(key, params)[0].data
        u = jax.random.uniform(jax.random.fold_in(key, 1), (model.nu,), minval=-1.0, maxval=1.0)
        stale = data.replace(xpos=jnp.zeros_like(data.xpos), xipos=jnp.zeros_like(data.xipos),
                             geom_xpos=jnp.zeros_like(data.geom_xpos))
        return task.physics_step(params, data, u), previous(data, u), task.physics_step(params, stale, u).qvel

    posed, plain, stale_qvel = jax.vmap(steps)(jax.random.split(jax.random.key(3), 3))
    if name == "cheetah_run":  # feet on the floor: contacts within their margin
        assert (np.asarray(posed._impl.contact.dist) < 1e-3).any()
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(posed), jax.tree.leaves(plain)):
        if jnp.issubdtype(a.dtype, jnp.floating):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5, err_msg=jax.tree_util.keystr(path))
    assert np.abs(np.asarray(stale_qvel) - np.asarray(posed.qvel)).max() > 1e-3


def test_posed_forward_refuses_quaternion_joints():
    """Kinematics normalises free and ball joints' quaternions in ``qpos``; skipping it could change
    the bits, so :func:`forward_at_poses` refuses such models (before tracing anything heavy), and
    ``mj_step(posed=True)`` takes the full forward pass for them (a task of the user's with a free
    body and ``refresh_poses`` keeps working)."""
    from jaxrl.envs.mjx_env import forward_at_poses, mj_step

    m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><body><freejoint/><geom size=".1"/></body></worldbody></mujoco>')
    model = mjx.put_model(m, impl="jax")
    data = mjx.make_data(model, impl="jax")
    with pytest.raises(ValueError, match="free or ball joints"):
        forward_at_poses(model, data)
    stepped = jax.eval_shape(lambda d: mj_step(model, d, posed=True), data)  # traced only
    assert stepped.qpos.shape == (7,)


def test_debug_mode_reports_a_state_whose_poses_are_not_its_qpos():
    """A posed step reads the poses the state holds, so a ``qpos`` edited without ``mjx.kinematics``
    would step with wrong forces, silently. ``make(name, debug=True)`` checks each posed step's poses
    against fresh kinematics (a checkify debug check): an edit of 1 rad or of 0.01 rad (~5 mm at the
    pendulum's tip, 50x the check's 1e-4 tolerance) is reported with the fix in the message; a state
    from ``reset`` / ``step``, an edit followed by ``mjx.kinematics``, and a diverged (NaN) ``qpos``,
    which is the non-finite check's to report, pass. The flag reaches a pixel env (the cart-pole from
    pixels holds its poses) and not a task that holds none (the cart-pole from states). Off (no
    ``debug``), the check is not in the program at all. Pendulum: one hinge, cheap."""
    from jax.experimental import checkify

    env, params = make("pendulum_swingup", debug=True)
    task = env.unwrapped
    assert task.debug_poses and not make("pendulum_swingup")[0].unwrapped.debug_poses
    assert make("cartpole_balance", obs="pixels", image_size=8, debug=True)[0].unwrapped.debug_poses
    assert not make("cartpole_balance", debug=True)[0].unwrapped.debug_poses
    step = jax.jit(checkify.checkify(env.step, errors=checkify.user_checks))
    key, action = jax.random.key(0), jnp.zeros(env.action_spec.shape)
    state, _ = env.reset(key, params)

    def with_qpos(s, data):
        return s.replace(inner=s.inner.replace(data=data))

    def edit(by):
        return state.inner.data.replace(qpos=state.inner.data.qpos + by)

    for by in (1.0, 1e-2):
        err, (stepped, _) = step(key, with_qpos(state, edit(by)), action, params)
        assert "poses are not those of its qpos" in str(err.get()) and "apply mjx.kinematics" in str(err.get()), by
    for fine in (state, stepped, with_qpos(state, mjx.kinematics(params.model, edit(1.0))), with_qpos(state, edit(jnp.nan))):
        err, _ = step(key, fine, action, params)
        assert err.get() is None
    plain, _ = make("pendulum_swingup")
    assert "check" not in str(jax.make_jaxpr(plain.step)(key, state, action, params))


@pytest.mark.parametrize("name", rollout_names)
def test_rollout_shapes_flags_and_ranges(name):
    env, _, _, out = _rollout(name)
    obs_shape, B = env.observation_spec.shape, out["qpos"].shape[1]
    assert out["reset_obs"].shape == (B, *obs_shape) and out["reset_obs"].dtype == np.float32
    assert out["obs"].shape == (T, B, *obs_shape) and out["obs"].dtype == np.float32
    assert out["reward"].shape == (T, B) and out["reward"].dtype == np.float32
    assert out["terminated"].dtype == np.bool_ and out["truncated"].dtype == np.bool_
    for k in ("obs", "reward", "qpos", "qvel"):
        assert np.all(np.isfinite(out[k])), k
    assert np.all((out["reward"] >= 0) & (out["reward"] <= 1))
    assert not out["terminated"].any()
    assert not out["truncated"][:-1].any() and out["truncated"][-1].all()  # exactly at step 1000
    # The pole is actually moving (the rollout is not trivially at rest).
    assert np.ptp(out["qpos"][..., -1]) > 0.5


@functools.lru_cache(maxsize=None)
def _c_comparison(name: str):
    """Step MuJoCo's C engine alongside the MJX rollout.

    free: from each env's initial state, C follows the same (clipped) actions on
    its own for 200 env steps; max |qpos|, |qvel| difference to MJX.
    one_step: at every step t, C starts from the MJX state at t and takes one env
    step; max difference to the MJX state at t + 1, and C's obs / reward (numpy
    re-computation from the C data) next to MJX's.
    """
    env, _, actions, out = _rollout(name)
    m, task = env.mj_model, env.unwrapped
    np_obs, np_reward = references(name)
    d = mujoco.MjData(m)
    lo, hi = m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1]

    def env_step(qpos, qvel, action):
        d.qpos[:], d.qvel[:] = qpos, qvel
        d.ctrl[:] = np.clip(action.astype(np.float64), lo, hi)
        for _ in range(task.n_substeps):
            mujoco.mj_step(m, d)

    free_q = free_v = 0.0
    for b in range(out["qpos"].shape[1]):
        qpos, qvel = out["qpos0"][b], out["qvel0"][b]
        for t in range(200):
            env_step(qpos, qvel, actions[t, b])
            qpos, qvel = d.qpos.copy(), d.qvel.copy()
            free_q = max(free_q, np.abs(qpos - out["qpos"][t, b]).max())
            free_v = max(free_v, np.abs(qvel - out["qvel"][t, b]).max())

    one_q = one_v = one_v_free = obs_err = rew_err = 0.0
    rewards = []
    for b in range(out["qpos"].shape[1]):
        qpos, qvel = out["qpos0"][b], out["qvel0"][b]
        for t in range(T):
            env_step(qpos, qvel, actions[t, b])
            at_limit = bool(d.nefc) and d.efc_force.any()  # cartpole slider range constraint active
            qpos, qvel = out["qpos"][t, b], out["qvel"][t, b]
            one_q = max(one_q, np.abs(d.qpos - qpos).max())
            one_v = max(one_v, np.abs(d.qvel - qvel).max())
            if not at_limit:
                one_v_free = max(one_v_free, np.abs(d.qvel - qvel).max())
            obs_err = max(obs_err, np.abs(np_obs(m, d) - out["obs"][t, b]).max())
            r = np_reward(d)
            rewards.append(r)
            rew_err = max(rew_err, abs(r - out["reward"][t, b]))
    return dict(free_q=free_q, free_v=free_v, one_q=one_q, one_v=one_v, one_v_free=one_v_free, obs=obs_err, reward=rew_err,
                mean_reward=float(np.mean(rewards)))


@pytest.mark.parametrize("name", rollout_names)
def test_dynamics_match_mujoco_c(name):
    """MJX (float32) follows MuJoCo's C ``mj_step`` (float64) on the same model and actions.

    ``data.ctrl`` = action clipped to ctrlrange, ``n_substeps`` mj_step calls per env step.
    Tolerances (float32 against float64; eps32 = 1.2e-7, |qpos| up to ~40 rad):

    * one env step from an identical state: qpos agrees to rounding (measured
      <= 2e-6, asserted 2e-5); qvel to <= 1e-6 while no constraint is active
      (asserted 1e-5). While the cartpole's slider sits on its range limit, the
      stiff soft constraint is solved iteratively (Newton, tolerance 1e-8 on a
      float32 cost) and one step's qvel differs by up to ~1.2e-4 (asserted 1e-3).
    * 200 free-running env steps (2 s cartpole, 8 s pendulum) from the same
      initial state: rounding is amplified by the unstable pole; measured
      <= ~4e-5, asserted 1e-3 on qpos and qvel.

    A wrong control mapping, missing clipping, substep count or integrator gives
    errors orders of magnitude larger (e.g. an unclipped action of 1.5 changes the
    cart velocity by 0.05 in one step).
    """
    c = _c_comparison(name)
    print(name, {k: f"{v:.2e}" for k, v in c.items()})
    assert c["one_q"] < 2e-5 and c["one_v_free"] < 1e-5 and c["one_v"] < 1e-3, c
    assert c["free_q"] < 1e-3 and c["free_v"] < 1e-3, c


@pytest.mark.parametrize("name", rollout_names)
def test_obs_and_reward_match_numpy_from_c_data(name):
    """Obs and reward recomputed in NumPy from C's post-step data (float64) match MJX's (float32).

    The pendulum's obs uses the pole's orientation, so this also proves it is the
    post-step pose (MJX's ``xmat`` after ``mjx.step`` is the pre-step one).
    """
    c = _c_comparison(name)
    assert c["obs"] < 1e-3, c  # the obs holds qvel: same tolerance as one_v above
    # Smooth rewards agree to rounding; indicator rewards could flip only within
    # ~1e-5 of their threshold, which these fixed-seed rollouts never reach.
    assert c["reward"] < 1e-5, c


# ============================================================================ cheap per-variant checks


@pytest.mark.parametrize("name", MJX_NAMES)
def test_reward_function_matches_numpy_on_chosen_states(name):
    """Every variant's reward (and obs), on states chosen to cover its regimes, against NumPy on C data."""
    env, params = make(name)
    task, m = env.unwrapped, env.mj_model
    rng = np.random.default_rng(0)
    n = 64
    if name.startswith("cartpole"):
        qpos = np.stack([rng.uniform(-1.8, 1.8, n), rng.uniform(-np.pi, np.pi, n)], -1)
        qpos[:16, 1] = rng.uniform(-0.12, 0.12, 16)  # near upright: sparse reward 1 sometimes
        qpos[:8, 0] = rng.uniform(-0.3, 0.3, 8)
    else:
        qpos = rng.uniform(-np.pi, np.pi, (n, 1))
        qpos[:16, 0] = rng.uniform(-0.3, 0.3, 16)
        qpos[16, 0] = 0.0
    qvel = rng.normal(0, 4, (n, m.nv))
    ctrl = rng.uniform(-1, 1, (n, m.nu))
    ctrl[:4] = [[-1.0], [1.0], [0.0], [0.999]]
    template = mjx.make_data(params.model, impl="jax")

    @jax.jit
    def f(qpos, qvel, ctrl):
        def one(q, v, u):
            data = mjx.kinematics(params.model, template.replace(qpos=q, qvel=v, ctrl=u))  # poses of q, as after a step
            return task.observe(data, params), task.reward(data, u, params)
        return jax.vmap(one)(qpos, qvel, ctrl)

    obs, rew = f(jnp.asarray(qpos, jnp.float32), jnp.asarray(qvel, jnp.float32), jnp.asarray(ctrl, jnp.float32))
    assert obs.dtype == jnp.float32 and rew.dtype == jnp.float32
    np_obs, np_reward = references(name)
    d = mujoco.MjData(m)
    expected_obs, expected_rew = [], []
    for i in range(n):
        d.qpos[:], d.qvel[:], d.ctrl[:] = qpos[i].astype(np.float32), qvel[i].astype(np.float32), ctrl[i].astype(np.float32)
        expected_obs.append(np_obs(m, d))
        expected_rew.append(np_reward(d))
    np.testing.assert_allclose(obs, np.array(expected_obs), atol=1e-5)
    np.testing.assert_allclose(rew, np.array(expected_rew), atol=1e-5)
    if name.endswith("sparse") or name.startswith("pendulum"):
        assert set(np.unique(np.asarray(rew))) == {0.0, 1.0}  # both outcomes covered
    else:
        assert 0.0 < float(rew.min()) and float(rew.max()) > 0.7


@pytest.mark.parametrize("swingup", [False, True])
def test_cartpole_initial_state_distribution(swingup):
    task = Cartpole(swingup=swingup)
    params = task.default_params()
    keys = jax.random.split(jax.random.PRNGKey(3), 4000)
    qpos, qvel = jax.jit(jax.vmap(task.initial_qpos_qvel, in_axes=(0, None)))(keys, params)
    qpos, qvel = np.asarray(qpos), np.asarray(qvel)
    assert qpos.dtype == np.float32 and qpos.shape == (4000, 2)
    if swingup:
        assert abs(qpos[:, 0].mean()) < 1e-3 and qpos[:, 0].std() == pytest.approx(0.01, rel=0.05)
        assert abs(qpos[:, 1].mean() - np.pi) < 1e-3 and qpos[:, 1].std() == pytest.approx(0.01, rel=0.05)
    else:
        assert np.abs(qpos[:, 0]).max() <= 0.1 and np.abs(qpos[:, 0]).max() > 0.099
        assert np.abs(qpos[:, 1]).max() <= 0.034 and np.abs(qpos[:, 1]).max() > 0.0335
        assert qpos[:, 0].std() == pytest.approx(0.2 / np.sqrt(12), rel=0.05)
    assert abs(qvel.mean()) < 1e-3 and qvel.std() == pytest.approx(0.01, rel=0.05)


def test_pendulum_initial_state_distribution():
    task = Pendulum()
    params = task.default_params()
    keys = jax.random.split(jax.random.PRNGKey(4), 4000)
    qpos, qvel = jax.jit(jax.vmap(task.initial_qpos_qvel, in_axes=(0, None)))(keys, params)
    assert np.abs(np.asarray(qpos)).max() <= np.pi and np.asarray(qpos).std() == pytest.approx(np.pi / np.sqrt(3), rel=0.05)
    assert not np.asarray(qvel).any()


# ============================================================================ action checks at trace time


@functools.lru_cache(maxsize=None)
def _state_shapes(name):
    env, params = make(name)
    return jax.eval_shape(env.reset, jax.random.PRNGKey(0), params)[0]


@pytest.mark.parametrize("name", ["cartpole_swingup", "pendulum_swingup"])
@pytest.mark.parametrize("action", [jnp.zeros((2,)), jnp.zeros(()), jnp.zeros((1,), jnp.int32), jnp.zeros((1, 1))],
                         ids=["shape2", "scalar", "int", "shape1x1"])
def test_wrong_action_raises_spec_error_at_trace_time(name, action):
    env, params = make(name)
    state = _state_shapes(name)
    with pytest.raises(SpecError, match="action must be a float array of shape \\(1,\\)"):
        jax.eval_shape(env.step, jax.random.PRNGKey(0), state, action, params)


def test_wrong_batched_action_raises_spec_error():
    env, params = make("cartpole_swingup")
    venv = VecEnv(env, num_envs=4)
    with pytest.raises(SpecError, match="batched action"):
        jax.eval_shape(venv.step, jax.random.PRNGKey(0), None, jnp.zeros((3, 1)), params)
