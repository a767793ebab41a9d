"""Every registered MJX task, checked the same way (issue 5's registry test).

For each task ONE program is compiled (``_rollout``, cached): ``NUM_ENVS`` envs
of the task in PIXEL mode (``make(name, obs="pixels", image_size=PIXELS)``, whose
inner env is exactly ``make(name)``, the state-mode env) reset and stepped
``T`` = 1000 times (the default episode length) with random actions that overshoot
the control range (so clipping is exercised). The program returns both
observations: the rendered image (``ts.obs``) and the state observation, the task's
``observe`` of the very data the step produced (what state mode returns; the state-mode
env's own ``ts.obs`` is not visible through the pixel wrapper, so a wrapper that mangled it
would be caught by tests/test_envs.py and the PPO tests, not here). Every
check below reads that rollout; MuJoCo's C engine is stepped on the host beside it.

* both modes: specs, dtypes, no NaN, rewards in ``[0, 1]``, never terminated,
  truncated exactly at step 1000, images that change as the bodies move
  (``test_rollout_contract``);
* dynamics: MJX (float32) against C ``mj_step`` (float64) on ``env.mj_model``:
  one env step from the identical state (qpos, qvel, ctrl and the solver's
  warm start) at each of the first ``T_C`` = 100 steps, and 100 steps run
  freely from the same initial state (30 for the chaotic legged contact tasks),
  tolerances stated per task below (``test_dynamics_match_mujoco_c``);
* obs and reward: the task's own ``observe`` / ``reward`` applied to C's
  post-step data (full kinematics, via ``mjx.put_data``) equal what the MJX
  rollout returned; this catches a task that reads poses ``mjx.step`` left at
  the pre-step configuration (``test_obs_and_reward_from_c_data``).
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
from jaxrl.envs import make
from jaxrl.envs.mjx_env import MjxState, MjxTask, mjx
from jaxrl.wrappers import VecEnv, find_state

NUM_ENVS, T, T_C = 2, 1000, 100
PIXELS = 8  # image side in the registry rollout: the renderer is exercised, its cost stays small


def _is_mjx(name: str) -> bool:
    return isinstance(make(name)[0].unwrapped, MjxTask)


MJX_TASKS = [n for n in envs.names() if _is_mjx(n)]

# Variants with their twin's physics and initial states, differing only in the reward (or in the
# size of a target that nothing collides with). Compiling a 1000-step program per task costs
# 20-60 s here, so in the default run a twin is checked on its base's trajectory
# (test_twin_steps_like_its_base); its own full checks are slow-marked.
TWINS = {
    "cartpole_balance_sparse": "cartpole_balance", "cartpole_swingup_sparse": "cartpole_swingup",
    "acrobot_swingup_sparse": "acrobot_swingup", "reacher_hard": "reacher_easy",
    "finger_turn_hard": "finger_turn_easy", "walker_walk": "walker_stand", "walker_run": "walker_stand",
    "hopper_hop": "hopper_stand",
}
TASK_PARAMS = [pytest.param(n, marks=pytest.mark.slow) if n in TWINS else n for n in MJX_TASKS]
# Tasks whose rollout compiles with XLA's full optimisations in the default run (tests/conftest.py marks
# every test of their group ``optimized``): their contact-rich 1000-step rollouts made test_rollout_contract
# take 197 s (hopper) and 58 s (walker) unoptimised against 47 s and 42 s, for 9 s and 8 s less compile
# (benchmarks/RESULTS.md, stop 50). The other tasks' tests take less time unoptimised.
FULL_XLA = {"hopper_stand", "walker_stand"}

# One-step tolerances (float32 MJX against float64 C from the same state, warm start included).
# Contact-free tasks agree to rounding; contact-rich ones solve the contact problem with a few
# float32 Newton iterations, so velocities differ more at impacts (walker/hopper measured up to
# 7e-4 / 2.3e-3 on qvel in the first 100 steps).
_CONTACT_ONE_STEP = dict(qpos=1e-4, qvel=1e-2)
ONE_STEP = {"default": dict(qpos=1e-4, qvel=1e-3),
            **{n: _CONTACT_ONE_STEP for n in ("walker_stand", "walker_walk", "walker_run", "hopper_stand", "hopper_hop")}}
# Free-running: both engines from the same initial state for FREE_STEPS env steps. Rounding grows
# with the system's sensitivity; legged contact dynamics are chaotic (float32 vs float64 walkers
# part ways after ~50 steps: 0.46 on qpos at 100), so they are compared over the first 30 steps
# (measured < 1e-3 / 1e-2 there).
FREE = {"default": dict(qpos=1e-2, qvel=5e-2, steps=T_C),
        **{n: dict(qpos=1e-2, qvel=5e-2, steps=30)
           for n in ("walker_stand", "walker_walk", "walker_run", "hopper_stand", "hopper_hop")}}


def _tol(table, name):
    return table.get(name, table["default"])


@functools.lru_cache(maxsize=None)
def _rollout(name: str):
    """(env, params, actions [T, B, nu], out) with out: numpy arrays, per step [T, B, ...]:
    obs (state mode), pixels (pixel mode, uint8 [PIXELS, PIXELS, 3]), reward, terminated,
    truncated, qpos, qvel, warm (qacc_warmstart), mocap (mocap_pos: a per-episode target);
    and at reset (``*0``, [B, ...]): obs0, pixels0, qpos0, qvel0, warm0, mocap0. ``env`` is the
    state-mode env."""
    env, params = make(name)
    pixel_env, _ = make(name, obs="pixels", image_size=PIXELS)
    # pixel mode = the state-mode env, observed through a camera (the cart-pole's task also keeps its
    # poses in its states then, for the renderer: keep_poses; the other tasks hold them anyway)
    kept = dataclasses.replace(env, env=dataclasses.replace(env.env, keep_poses=pixel_env.unwrapped.keep_poses))
    assert pixel_env.env == kept and pixel_env.unwrapped.holds_poses
    task = env.unwrapped
    venv = VecEnv(pixel_env, num_envs=NUM_ENVS)
    spec = env.action_spec
    lo, hi = np.asarray(spec.low_array()), np.asarray(spec.high_array())
    lo, hi = np.where(np.isfinite(lo), lo, -1.0), np.where(np.isfinite(hi), hi, 1.0)
    span = hi - lo
    actions = jax.random.uniform(jax.random.PRNGKey(7), (T, NUM_ENVS, *spec.shape),
                                 minval=lo - 0.25 * span, maxval=hi + 0.25 * span)

    def snapshot(state, ts):
        data = find_state(state, MjxState).data
        return dict(obs=jax.vmap(task.observe, in_axes=(0, None))(data, params), pixels=ts.obs,
                    qpos=data.qpos, qvel=data.qvel, warm=data.qacc_warmstart, mocap=data.mocap_pos)

    def rollout(key, params, actions):
        state, ts = venv.reset(key, params)
        first = {f"{k}0": v for k, v in snapshot(state, ts).items()}

        def body(state, xs):
            step_key, action = xs
            state, ts = venv.step(step_key, state, action, params)
            return state, dict(reward=ts.reward, terminated=ts.terminated, truncated=ts.truncated,
                               **snapshot(state, ts))

        _, traj = jax.lax.scan(body, state, (jax.random.split(key, T), actions))
        return dict(**first, **traj)

    out = jax.jit(rollout)(jax.random.PRNGKey(0), params, actions)
    return env, params, np.asarray(actions), {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize("name", TASK_PARAMS)
def test_rollout_contract(name):
    env, _, _, out = _rollout(name)
    obs_spec = env.observation_spec
    assert out["obs0"].shape == (NUM_ENVS, *obs_spec.shape) and out["obs0"].dtype == np.float32
    assert out["obs"].shape == (T, NUM_ENVS, *obs_spec.shape) and out["obs"].dtype == np.float32
    assert out["reward"].shape == (T, NUM_ENVS) and out["reward"].dtype == np.float32
    for k in ("obs0", "obs", "reward", "qpos", "qvel"):
        assert np.all(np.isfinite(out[k])), f"{name}: non-finite {k}"
    assert np.all((out["reward"] >= 0) & (out["reward"] <= 1)), (out["reward"].min(), out["reward"].max())
    assert not out["terminated"].any()
    assert not out["truncated"][:-1].any() and out["truncated"][-1].all()  # exactly at step 1000
    assert np.ptp(out["qpos"], axis=(0, 1)).max() > 0.1  # something moves
    # Pixel mode (the same rollout, observed through the task's default camera).
    pix_spec = make(name, obs="pixels", image_size=PIXELS)[0].observation_spec
    assert pix_spec.shape == (PIXELS, PIXELS, 3) and pix_spec.dtype == np.uint8
    assert out["pixels0"].shape == (NUM_ENVS, *pix_spec.shape) and out["pixels0"].dtype == np.uint8
    assert out["pixels"].shape == (T, NUM_ENVS, *pix_spec.shape) and out["pixels"].dtype == np.uint8
    assert out["pixels"].std() > 1.0  # not a blank image
    assert (np.ptp(out["pixels"].astype(np.int16), axis=0) > 0).any(axis=(1, 2, 3)).all()  # each env's image changes


def _c_stepper(env):
    """``step(qpos, qvel, warm, mocap, action) -> MjData`` after one env step of MuJoCo's C engine."""
    m, task = env.mj_model, env.unwrapped
    d = mujoco.MjData(m)
    spec = env.action_spec
    lo, hi = np.asarray(spec.low_array(), np.float64), np.asarray(spec.high_array(), np.float64)

    def step(qpos, qvel, warm, mocap, action):
        mujoco.mj_resetData(m, d)
        d.qpos[:], d.qvel[:], d.qacc_warmstart[:], d.mocap_pos[:] = qpos, qvel, warm, mocap
        d.ctrl[:] = np.clip(action.astype(np.float64), lo, hi)
        for _ in range(task.n_substeps):
            mujoco.mj_step(m, d)
        return d

    return m, d, step


@functools.lru_cache(maxsize=None)
def _c_comparison(name: str):
    env, _, actions, out = _rollout(name)
    m, d, step = _c_stepper(env)
    one_q = one_v = free_q = free_v = 0.0
    for b in range(NUM_ENVS):
        q, v, w = out["qpos0"][b], out["qvel0"][b], out["warm0"][b]
        mocap = out["mocap0"][b]  # constant within the episode
        for t in range(T_C):
            step(q, v, w, mocap, actions[t, b])
            one_q = max(one_q, np.abs(d.qpos - out["qpos"][t, b]).max())
            one_v = max(one_v, np.abs(d.qvel - out["qvel"][t, b]).max())
            q, v, w = out["qpos"][t, b], out["qvel"][t, b], out["warm"][t, b]
        q, v, w = out["qpos0"][b], out["qvel0"][b], out["warm0"][b]
        free_steps = _tol(FREE, name)["steps"]
        for t in range(free_steps):
            step(q, v, w, mocap, actions[t, b])
            q, v, w = d.qpos.copy(), d.qvel.copy(), d.qacc_warmstart.copy()
        free_q = max(free_q, np.abs(q - out["qpos"][free_steps - 1, b]).max())
        free_v = max(free_v, np.abs(v - out["qvel"][free_steps - 1, b]).max())
    return dict(one_q=one_q, one_v=one_v, free_q=free_q, free_v=free_v)


@pytest.mark.parametrize("name", TASK_PARAMS)
def test_dynamics_match_mujoco_c(name):
    c = _c_comparison(name)
    print(name, {k: f"{v:.2e}" for k, v in c.items()})
    one, free = _tol(ONE_STEP, name), _tol(FREE, name)
    assert c["one_q"] < one["qpos"] and c["one_v"] < one["qvel"], c
    assert c["free_q"] < free["qpos"] and c["free_v"] < free["qvel"], c


@pytest.mark.parametrize("name", TASK_PARAMS)
def test_obs_and_reward_from_c_data(name):
    """The task's observe/reward on C's post-step data (all kinematics current) == the MJX rollout's.

    Observation entries a task lists in ``force_obs_indices`` (hopper's touch sensors) read the
    contact forces of the LAST physics step, as DM Control does; ``mj_forward`` at the post-step
    state recomputes those forces, so they are left out here and checked by the task's own tests.
    """
    env, params, actions, out = _rollout(name)
    m, d, step = _c_stepper(env)
    task = env.unwrapped

    @jax.jit
    def obs_reward(data, action):
        return task.observe(data, params), task.reward(data, action, params)

    obs_err = rew_err = 0.0
    for b in range(NUM_ENVS):
        for t in range(0, T_C, 10):
            q, v, w = ((out["qpos0"][b], out["qvel0"][b], out["warm0"][b]) if t == 0 else
                       (out["qpos"][t - 1, b], out["qvel"][t - 1, b], out["warm"][t - 1, b]))
            step(q, v, w, out["mocap0"][b], actions[t, b])
            # Overwrite C's state with MJX's post-step state so only observe/reward differ.
            d.qpos[:], d.qvel[:] = out["qpos"][t, b], out["qvel"][t, b]
            mujoco.mj_forward(m, d)
            data = mjx.put_data(m, d, impl="jax")
            data = jax.tree.map(lambda x: x.astype(jnp.float32) if jnp.issubdtype(x.dtype, jnp.floating) else x, data)
            o, r = obs_reward(data, jnp.asarray(actions[t, b], jnp.float32))
            diff = np.abs(np.asarray(o) - out["obs"][t, b])
            diff[list(getattr(task, "force_obs_indices", ()))] = 0.0  # see below
            obs_err = max(obs_err, float(diff.max()))
            rew_err = max(rew_err, abs(float(r) - float(out["reward"][t, b])))
    assert obs_err < 1e-3, (name, obs_err)
    assert rew_err < 1e-3, (name, rew_err)


def test_every_task_is_checked_in_the_default_run():
    assert set(TWINS) <= set(MJX_TASKS) and set(TWINS.values()) <= set(MJX_TASKS) - set(TWINS)


@pytest.mark.parametrize("twin", sorted(TWINS))
def test_twin_steps_like_its_base(twin):
    """A twin's C model steps EXACTLY like its base's along the base's MJX trajectory (same
    physics), and the twin's own observe/reward on those states have its specs, are finite and
    give rewards in [0, 1]; same time limit."""
    base = TWINS[twin]
    env_b, _, actions, out = _rollout(base)
    env_t, params_t = make(twin)
    assert env_t.max_steps == env_b.max_steps == T and env_t.action_spec == env_b.action_spec
    assert env_t.n_substeps == env_b.n_substeps and type(env_t.unwrapped).initial_qpos_qvel is type(env_b.unwrapped).initial_qpos_qvel
    m_t, d_t, step_t = _c_stepper(env_t)
    _, d_b, step_b = _c_stepper(env_b)
    task = env_t.unwrapped

    @jax.jit
    def obs_reward(data, action):
        return task.observe(data, params_t), task.reward(data, action, params_t)

    rewards = []
    for b in range(NUM_ENVS):
        mocap = out["mocap0"][b]
        for t in range(0, T, 25):
            q, v, w = ((out["qpos0"][b], out["qvel0"][b], out["warm0"][b]) if t == 0 else
                       (out["qpos"][t - 1, b], out["qvel"][t - 1, b], out["warm"][t - 1, b]))
            step_b(q, v, w, mocap, actions[t, b])
            step_t(q, v, w, mocap, actions[t, b])
            np.testing.assert_array_equal(d_t.qpos, d_b.qpos)
            np.testing.assert_array_equal(d_t.qvel, d_b.qvel)
            mujoco.mj_forward(m_t, d_t)
            data = mjx.put_data(m_t, d_t, impl="jax")
            data = jax.tree.map(lambda x: x.astype(jnp.float32) if jnp.issubdtype(x.dtype, jnp.floating) else x, data)
            o, r = obs_reward(data, jnp.asarray(actions[t, b], jnp.float32))
            assert o.shape == env_t.observation_spec.shape and o.dtype == jnp.float32 and np.all(np.isfinite(o))
            rewards.append(float(r))
    assert 0.0 <= min(rewards) and max(rewards) <= 1.0


def test_solver_budget_option_reaches_mjx_and_c():
    """``make(name, solver_iterations=, ls_iterations=)`` (a faster, less exact contact solve, as
    MuJoCo Playground's ports use) sets the budgets in ``env.mj_model`` AND in ``params.model`` and
    leaves the default task untouched; MJX at a cut budget still steps like C at that budget:
    cheetah_run (ground contacts) at ONE Newton iteration, one env step from the identical state at
    each of 30 steps (measured 5e-7 / 5e-5 on qpos / qvel; against C at the default budget the same
    steps differ by 6e-2 / 6.5: the budget matters and reaches both engines). With BOTH budgets cut
    (2 Newton / 4 line-search) MJX's line search and C's part ways (0.8 on qvel, measured), so only
    the Newton budget is C-checked."""
    env, params = make("cheetah_run", solver_iterations=1)
    default_env, default_params = make("cheetah_run")
    assert env.mj_model.opt.iterations == int(params.model.opt.iterations) == 1
    assert env.mj_model.opt.ls_iterations == default_env.mj_model.opt.ls_iterations
    assert default_env.mj_model.opt.iterations == int(default_params.model.opt.iterations) > 1
    assert env.unwrapped.base_mj_model is default_env.mj_model
    ls_env, ls_params = make("walker_walk", ls_iterations=3)
    assert ls_env.mj_model.opt.ls_iterations == int(ls_params.model.opt.ls_iterations) == 3
    steps, venv = 30, VecEnv(env, num_envs=NUM_ENVS)
    actions = jax.random.uniform(jax.random.PRNGKey(3), (steps, NUM_ENVS, *env.action_spec.shape), minval=-1, maxval=1)

    def rollout(key, actions):
        def snap(state):
            data = find_state(state, MjxState).data
            return dict(qpos=data.qpos, qvel=data.qvel, warm=data.qacc_warmstart, mocap=data.mocap_pos)

        state, _ = venv.reset(key, params)

        def body(state, xs):
            state, _ = venv.step(xs[0], state, xs[1], params)
            return state, snap(state)

        _, traj = jax.lax.scan(body, state, (jax.random.split(key, steps), actions))
        return snap(state), traj

    first, traj = jax.tree.map(np.asarray, jax.jit(rollout)(jax.random.PRNGKey(0), actions))
    _, d, step = _c_stepper(env)
    err_q = err_v = 0.0
    for b in range(NUM_ENVS):
        prev = {k: v[b] for k, v in first.items()}
        for t in range(steps):
            step(prev["qpos"], prev["qvel"], prev["warm"], prev["mocap"], np.asarray(actions[t, b]))
            err_q = max(err_q, np.abs(d.qpos - traj["qpos"][t, b]).max())
            err_v = max(err_v, np.abs(d.qvel - traj["qvel"][t, b]).max())
            prev = {k: v[t, b] for k, v in traj.items()}
    print("cheetah_run at 1 Newton iteration, one-step MJX vs C:", err_q, err_v)
    assert err_q < ONE_STEP["default"]["qpos"] and err_v < ONE_STEP["default"]["qvel"], (err_q, err_v)


@pytest.mark.parametrize("overrides,match", [
    (dict(solver_iterations=0), "solver_iterations must be an integer >= 1, got 0"),
    (dict(ls_iterations=2.5), "ls_iterations must be an integer >= 1, got 2.5"),
])
def test_bad_solver_budget_raises_before_building(overrides, match):
    with pytest.raises(ValueError, match=match):
        make("walker_walk", **overrides)
