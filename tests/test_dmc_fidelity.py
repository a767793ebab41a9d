"""Every task's DEFAULT physics against DM Control's own model of it (issue 18).

DM Control ships each domain's MJCF in its package (``dm_control/suite/<domain>.xml`` with
``./common`` includes; ``dm_control`` is a test dependency). Its Python physics layer
(1.0.50) does not load under MuJoCo 4.0, so nothing of ``dm_control`` is imported: its XML is
loaded with ``mujoco`` directly and stepped by MuJoCo's C engine, and its task constants
(control timestep, time limit) are read from its task files' source text. jaxrl's model of the
task (``env.mj_model`` of the default, ``physics="faithful"``) is stepped by C beside it;
tests/test_suite.py checks that jaxrl's MJX stepping equals C on ``env.mj_model`` (per-task
float32 tolerances), so the two checks together tie the default env to DM Control.

Per domain (9 domains; the 19 tasks share their domain's physics, except ``finger_spin``'s
lower hinge damping, which DM Control's ``Spin`` task sets and which is applied to its model
here):

* settings: control timestep, episode length in seconds, integrator, solver, caps, cone,
  tolerances, gravity, every flag that changes dynamics;
* collision pairs: the body pairs that can collide are DM Control's (finger: a subset, and no
  pair outside it ever touches in DM Control's rollouts);
* one env step from the same states (qpos, qvel, ctrl, the solver's warm start), taken from
  DM Control's own rollouts under random actions from jaxrl's initial-state distribution:
  qpos within 1e-4 and qvel within 1e-3 (the issue's bounds; measured: equal to the last bit
  on every task but the cheetah, 4e-12 / 4e-10: its floor plane is placed differently); the
  rollouts must contain contacts where the task has them (self-contacts for the hopper), so
  contact handling is compared, not skipped;
* kinematics that observations and rewards read: every body's and site's world pose matched
  by name on those states (equal: the task's observe/reward are checked against NumPy
  references of DM Control's definitions on C data in tests/test_tasks_*.py).

The ``fast`` preset is checked to differ where it says it does (and printed with its gap).
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib
import re
import sys

import jax
import mujoco
import numpy as np
import pytest

from jaxrl.envs import make
from jaxrl.envs.mjx_env import MjxTask

# One task per domain: its physics (the other tasks of a domain step the same model, which
# tests/test_suite.py's twin check shows; finger_spin differs and is listed too).
DOMAIN_TASK = {
    "acrobot": "acrobot_swingup", "cartpole": "cartpole_swingup", "cheetah": "cheetah_run",
    "finger": "finger_turn_easy", "hopper": "hopper_hop", "pendulum": "pendulum_swingup",
    "point_mass": "point_mass_easy", "reacher": "reacher_easy", "walker": "walker_walk",
}
EXTRA = {"finger_spin": "finger"}  # tasks whose physics differ from their domain's checked task
# DM Control's Spin task lowers the hinge damping (finger.py: dof_damping['hinge'] = .03).
DMC_TASK_EDITS = {"finger_spin": lambda m: m.dof_damping.__setitem__(m.joint("hinge").dofadr[0], 0.03)}
NAME_ALIASES = {"pole_1": "pole", "hinge_1": "hinge"}  # DM Control's cartpole names its pole pole_1
CONTACT_DOMAINS = {"cheetah", "finger", "hopper", "walker"}
# Links of one body touching each other in the rollouts. The cheetah can self-collide in both
# models (the pair sets are compared) but never does under random actions (0 of 10,000 steps).
SELF_CONTACT_DOMAINS = {"hopper"}
EPISODES, STEPS = 4, 150


def _dmc_suite() -> pathlib.Path:
    spec = importlib.util.find_spec("dm_control")
    if spec is None and sys.version_info >= (3, 13):  # the test extra leaves it out there (pyproject.toml)
        pytest.skip("dm_control does not install on Python 3.13 (its dependency labmaze has no wheel and does not "
                    "build); the fidelity check runs on Python 3.11 and 3.12")
    if spec is None:
        pytest.fail("dm_control is not installed: the fidelity check needs its MJCF "
                    "(pip install -e '.[test]')")
    return pathlib.Path(spec.submodule_search_locations[0]) / "suite"


def _dmc_constant(domain: str, name: str) -> float | None:
    """A module-level constant of DM Control's task file, read from its source text."""
    match = re.search(rf"^{name}\s*=\s*([0-9.eE+-]+)", (_dmc_suite() / f"{domain}.py").read_text(), re.M)
    return float(match.group(1)) if match else None


@functools.lru_cache(maxsize=None)
def _dmc_model(task: str) -> mujoco.MjModel:
    domain = EXTRA.get(task) or next(d for d, t in DOMAIN_TASK.items() if t == task)
    m = mujoco.MjModel.from_xml_path(str(_dmc_suite() / f"{domain}.xml"))
    if task in DMC_TASK_EDITS:
        DMC_TASK_EDITS[task](m)
    return m


def _name(m, kind, i) -> str:
    n = mujoco.mj_id2name(m, kind, i) or f"#{i}"
    return NAME_ALIASES.get(n, n)


def _collision_pairs(m: mujoco.MjModel) -> set[tuple[str, str]]:
    """Body-name pairs with at least one geom pair that MuJoCo's filters let collide
    (contype/conaffinity, parent-child and same-body filtering, contact/constraint flags)."""
    if m.opt.disableflags & (mujoco.mjtDisableBit.mjDSBL_CONTACT | mujoco.mjtDisableBit.mjDSBL_CONSTRAINT):
        return set()
    pairs = set()
    body, weld = m.geom_bodyid, m.body_weldid
    filter_parent = not m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_FILTERPARENT
    for i in range(m.ngeom):
        for j in range(i + 1, m.ngeom):
            bi, bj = body[i], body[j]
            wi, wj = weld[bi], weld[bj]
            if wi == wj:  # same (welded) body
                continue
            parent_child = weld[m.body_parentid[wi]] == wj or weld[m.body_parentid[wj]] == wi
            if filter_parent and parent_child and wi != 0 and wj != 0:
                continue
            if (m.geom_contype[i] & m.geom_conaffinity[j]) or (m.geom_contype[j] & m.geom_conaffinity[i]):
                names = sorted((_name(m, mujoco.mjtObj.mjOBJ_BODY, bi), _name(m, mujoco.mjtObj.mjOBJ_BODY, bj)))
                pairs.add(tuple(names))
    return pairs


def _contact_pairs(m: mujoco.MjModel, d: mujoco.MjData) -> set[tuple[str, str]]:
    return {tuple(sorted((_name(m, mujoco.mjtObj.mjOBJ_BODY, m.geom_bodyid[c.geom1]),
                          _name(m, mujoco.mjtObj.mjOBJ_BODY, m.geom_bodyid[c.geom2]))))
            for c in d.contact[:d.ncon]}


@functools.lru_cache(maxsize=None)
def _states(task: str):
    """DM Control's own C rollouts under uniform random controls from jaxrl's initial-state
    distribution: a list of (qpos, qvel, qacc_warmstart, ctrl) and the body pairs in contact."""
    env, params = make(task)
    inner = env.unwrapped
    dm = _dmc_model(task)
    d = mujoco.MjData(dm)
    init = jax.jit(inner.initial_qpos_qvel)
    rng = np.random.default_rng(0)
    states, touched = [], set()
    for e in range(EPISODES):
        q, v = init(jax.random.PRNGKey(e), params)
        mujoco.mj_resetData(dm, d)
        d.qpos[:], d.qvel[:] = np.asarray(q), np.asarray(v)
        for _ in range(STEPS):
            ctrl = rng.uniform(-1.0, 1.0, dm.nu)
            states.append((d.qpos.copy(), d.qvel.copy(), d.qacc_warmstart.copy(), ctrl))
            d.ctrl[:] = ctrl
            for _ in range(inner.n_substeps):
                mujoco.mj_step(dm, d)
                touched |= _contact_pairs(dm, d)
    return states, touched


def _step_both(task: str, model: mujoco.MjModel, n_substeps: int):
    """Max |qpos|, |qvel| difference after one env step of ``model`` and of DM Control's, and the
    max pose difference of the bodies and sites both name, over ``_states(task)``."""
    dm = _dmc_model(task)
    a, b = mujoco.MjData(dm), mujoco.MjData(model)
    def matched(kind, n):
        ids = ((i, mujoco.mj_name2id(model, kind, _name(dm, kind, i))) for i in range(n))
        return [(i, j) for i, j in ids if j >= 0]

    bodies, sites = matched(mujoco.mjtObj.mjOBJ_BODY, dm.nbody), matched(mujoco.mjtObj.mjOBJ_SITE, dm.nsite)
    err = dict(qpos=0.0, qvel=0.0, pose=0.0)
    for q, v, w, ctrl in _states(task)[0]:
        for m, d in ((dm, a), (model, b)):
            mujoco.mj_resetData(m, d)
            d.qpos[:], d.qvel[:], d.qacc_warmstart[:], d.ctrl[:] = q, v, w, ctrl
            for _ in range(n_substeps):
                mujoco.mj_step(m, d)
            mujoco.mj_kinematics(m, d)  # poses of the post-step state (what DM Control observes)
        err["qpos"] = max(err["qpos"], np.abs(a.qpos - b.qpos).max())
        err["qvel"] = max(err["qvel"], np.abs(a.qvel - b.qvel).max())
        for i, j in bodies:
            err["pose"] = max(err["pose"], np.abs(a.xpos[i] - b.xpos[j]).max(), np.abs(a.xmat[i] - b.xmat[j]).max())
        for i, j in sites:
            err["pose"] = max(err["pose"], np.abs(a.site_xpos[i] - b.site_xpos[j]).max())
    return err


TASKS = list(DOMAIN_TASK.values()) + list(EXTRA)


@pytest.mark.parametrize("task", TASKS)
def test_settings_are_dm_controls(task):
    env, _ = make(task)
    inner, m, dm = env.unwrapped, env.unwrapped.mj_model, _dmc_model(task)
    domain = EXTRA.get(task) or next(d for d, t in DOMAIN_TASK.items() if t == task)
    control_dt = _dmc_constant(domain, "_CONTROL_TIMESTEP") or dm.opt.timestep
    assert inner.dt == pytest.approx(control_dt, rel=1e-12)
    assert env.max_steps * inner.dt == pytest.approx(_dmc_constant(domain, "_DEFAULT_TIME_LIMIT"))
    for field in ("timestep", "integrator", "solver", "iterations", "ls_iterations", "tolerance",
                  "ls_tolerance", "cone", "jacobian", "noslip_iterations", "impratio", "gravity",
                  "density", "viscosity", "wind", "magnetic", "o_margin", "o_solref", "o_solimp"):
        np.testing.assert_array_equal(getattr(m.opt, field), getattr(dm.opt, field), err_msg=field)
    flags = mujoco.mjtDisableBit
    dynamics_flags = ~0
    if dm.opt.disableflags & flags.mjDSBL_CONSTRAINT:  # no constraints: the contact flag is moot
        dynamics_flags &= ~int(flags.mjDSBL_CONTACT)
    assert m.opt.disableflags & dynamics_flags == dm.opt.disableflags & dynamics_flags
    energy = int(mujoco.mjtEnableBit.mjENBL_ENERGY)  # DM Control computes energy; no effect on motion
    assert m.opt.enableflags & ~energy == dm.opt.enableflags & ~energy
    assert (m.nq, m.nv, m.nu) == (dm.nq, dm.nv, dm.nu)
    assert [_name(m, mujoco.mjtObj.mjOBJ_JOINT, i) for i in range(m.njnt)] == \
        [_name(dm, mujoco.mjtObj.mjOBJ_JOINT, i) for i in range(dm.njnt)]


@pytest.mark.parametrize("task", TASKS)
def test_collision_pairs_are_dm_controls(task):
    env, _ = make(task)
    ours, theirs = _collision_pairs(env.unwrapped.mj_model), _collision_pairs(_dmc_model(task))
    touched = _states(task)[1]
    if task.startswith("finger"):
        # jaxrl's finger keeps only the pairs that can touch (envs/assets/finger.xml): a subset,
        # and every contact of DM Control's rollouts is one of them.
        assert ours <= theirs and touched <= ours and touched, (ours, touched)
    else:
        assert ours == theirs, (ours ^ theirs)


@pytest.mark.parametrize("task", TASKS)
def test_one_step_and_poses_match_dm_control(task):
    env, _ = make(task)
    err = _step_both(task, env.unwrapped.mj_model, env.unwrapped.n_substeps)
    domain = EXTRA.get(task) or next(d for d, t in DOMAIN_TASK.items() if t == task)
    touched = _states(task)[1]
    print(task, {k: f"{v:.1e}" for k, v in err.items()}, "contact pairs:", sorted(touched))
    if domain in CONTACT_DOMAINS:
        assert any("world" in p for p in touched) or domain == "finger", touched
    if domain in SELF_CONTACT_DOMAINS:
        assert any("world" not in p for p in touched), f"{task}: no self-contact in the rollouts"
    assert err["qpos"] < 1e-4 and err["qvel"] < 1e-3 and err["pose"] < 1e-6, err


# The fast preset's edits, and the one-step gap they open (measured with EPISODES x STEPS states,
# printed): where the preset changes the dynamics of these states it must show (> 1e-6 in qpos);
# elsewhere (caps that never bind, pairs that never touch) it must stay within the faithful bounds.
FAST_CHANGES = {"acrobot_swingup", "cartpole_swingup", "hopper_hop", "walker_walk"}


@pytest.mark.parametrize("task", list(DOMAIN_TASK.values()))
def test_fast_preset_differs_only_where_it_says(task):
    fast_env, _ = make(task, physics="fast")
    default_env, _ = make(task)
    inner, faithful = fast_env.unwrapped, default_env.unwrapped.mj_model
    assert isinstance(inner, MjxTask) and inner.physics == "fast" and default_env.unwrapped.physics == "faithful"
    declared, m = type(inner).fast, inner.mj_model
    # The model differs from the faithful one in exactly the declared settings.
    euler = mujoco.mjtIntegrator.mjINT_EULER
    assert m.opt.integrator == (euler if declared.integrator == "euler" else faithful.opt.integrator)
    assert m.opt.iterations == (declared.iterations or faithful.opt.iterations)
    assert m.opt.ls_iterations == (declared.ls_iterations or faithful.opt.ls_iterations)
    pairs = _collision_pairs(m)
    if declared.floor_contacts_only:
        assert pairs and all("world" in p for p in pairs) and pairs < _collision_pairs(faithful), pairs
    else:
        assert pairs == _collision_pairs(faithful)
    err = _step_both(task, m, inner.n_substeps)
    print(task, "fast:", declared.describe(), {k: f"{v:.1e}" for k, v in err.items()})
    if task in FAST_CHANGES:
        assert err["qpos"] > 1e-6, err
    else:
        assert err["qpos"] < 1e-4 and err["qvel"] < 1e-3 and err["pose"] < 1e-6, err
