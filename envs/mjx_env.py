"""Base class for MuJoCo MJX tasks.

A task is a frozen dataclass naming an MJCF file shipped in ``jaxrl/envs/assets``.
Its host model is ``env.mj_model`` (a ``mujoco.MjModel``, loaded once and cached);
its device model lives in ``params.model`` (an ``mjx.Model`` pytree) so that
physics constants can be randomised, swept or meta-learned by replacing fields
of the params pytree, never by rebuilding the env.

Subclasses implement ``initial_qpos_qvel``, ``observe``, ``reward`` and
optionally ``terminated``; ``reset`` / ``step_env`` do the stepping.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.resources
import contextlib
import io
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from jaxrl.env import Env, timestep
from jaxrl.envs._options import positive_int
from jaxrl.spaces import Box
from jaxrl.wrappers import TimeLimit

# mujoco.mjx tries to import the optional NVIDIA Warp backend at import time and
# prints "Failed to import warp" when it is absent; jaxrl uses the portable
# impl="jax" backend, so that line is noise.
with contextlib.redirect_stdout(io.StringIO()):
    from mujoco import mjx  # noqa: E402
    from mujoco.mjx._src import collision_driver as _mjx_collision  # noqa: E402
    from mujoco.mjx._src import constraint as _mjx_constraint  # noqa: E402
    from mujoco.mjx._src import forward as _mjx_forward  # noqa: E402
    from mujoco.mjx._src import sensor as _mjx_sensor  # noqa: E402
    from mujoco.mjx._src import smooth as _mjx_smooth  # noqa: E402
    from mujoco.mjx._src import solver as _mjx_solver  # noqa: E402


def f32(x) -> jax.Array:
    """``x`` as a float32 array (task constants in a params dataclass are float32 leaves)."""
    return jnp.asarray(x, jnp.float32)


@struct.dataclass
class MjxParams:
    """Params of an MJX task. ``model`` holds every physics constant (traced)."""

    model: mjx.Model


@struct.dataclass
class MjxState:
    data: mjx.Data


def asset_path(filename: str) -> str:
    return str(importlib.resources.files("jaxrl.envs").joinpath("assets", filename))


@functools.lru_cache(maxsize=None)
def load_mj_model(filename: str) -> mujoco.MjModel:
    """Load (once) an MJCF shipped in the package."""
    return mujoco.MjModel.from_xml_path(asset_path(filename))


# Classic RK4 as four evaluations of the forward dynamics: stage i is taken at time
# t0 + RK4_STAGE[i] * dt and state0 + RK4_STAGE[i] * dt * (the previous stage's derivative), and
# weighted by RK4_WEIGHT[i].
RK4_STAGE = np.array([0.0, 0.5, 0.5, 1.0])
RK4_WEIGHT = np.array([1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0])


def _rolled_rk4_applies(model: mjx.Model) -> bool:
    """Whether :func:`mj_step` may take the rolled RK4 path: an RK4 model whose joints are
    all hinges or slides (qpos integrates as ``qpos + dt * qvel``) without actuator activations."""
    types = np.asarray(model.jnt_type)
    return (model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4 and model.na == 0
            and bool(np.all((types == mujoco.mjtJoint.mjJNT_HINGE) | (types == mujoco.mjtJoint.mjJNT_SLIDE))))


def _has_quaternion_joints(model: mjx.Model) -> bool:
    return bool(np.isin(np.asarray(model.jnt_type), (mujoco.mjtJoint.mjJNT_FREE, mujoco.mjtJoint.mjJNT_BALL)).any())


def forward_at_poses(model: mjx.Model, data: mjx.Data) -> mjx.Data:
    """``mjx.forward(model, data)`` for a ``data`` that already holds ``mjx.kinematics(model, data)``'s
    outputs (the body, joint, geom and site poses of its ``qpos``): MJX's forward pass stage for stage,
    less its first one, the kinematics. A task that holds its poses (``MjxTask.holds_poses``) computes
    them once after each physics step; without this, the next step's forward pass computed them again.

    Built from ``mujoco.mjx._src`` (the order of ``forward.forward`` and ``forward.fwd_position`` of
    mujoco-mjx 3.17, the range pyproject allows); tests/test_envs.py checks a step through it against
    one through ``mjx.forward`` (bit-equal unoptimised, float32 rounding with XLA's optimisations).
    Joints with quaternions (free, ball) are refused: kinematics also normalises their ``qpos``,
    which a second pass may round differently (:func:`mj_step` then takes the full forward pass).
    """
    if _has_quaternion_joints(model):
        raise ValueError("forward_at_poses: a model with free or ball joints needs mjx.forward (kinematics normalises qpos)")
    for stage in (_mjx_smooth.com_pos, _mjx_smooth.camlight, _mjx_smooth.tendon, _mjx_smooth.crb,
                  _mjx_smooth.tendon_armature, _mjx_smooth.factor_m, _mjx_collision.collision,
                  _mjx_constraint.make_constraint, _mjx_smooth.transmission, _mjx_sensor.sensor_pos,
                  _mjx_forward.fwd_velocity, _mjx_sensor.sensor_vel, _mjx_forward.fwd_actuation,
                  _mjx_forward.fwd_acceleration):
        data = stage(model, data)
    if data._impl.efc_J.size == 0:  # no constraint rows: mjx.forward's early return
        return data.replace(qacc=data.qacc_smooth)
    return _mjx_sensor.sensor_acc(model, _mjx_solver.solve(model, data))


# Pose fields of ``mjx.Data`` that the kinematics write, which :func:`check_poses` compares with fresh
# ones: any change of ``qpos`` moves some body's position or orientation, so these detect a stale state
# (observations, rewards, the renderer and a posed forward pass also read others: xmat, xipos, ...).
POSE_FIELDS = ("xpos", "xquat", "xanchor", "xaxis", "geom_xpos", "site_xpos")


def check_poses(model: mjx.Model, data: mjx.Data, atol: float = 1e-4) -> None:
    """Debug check (``make(name, debug=True)``): ``data`` holds the poses of its ``qpos``.

    Recomputes the kinematics and compares :data:`POSE_FIELDS`; a ``checkify.debug_check``, so it is
    live only in a checkified program (``jaxrl.runner.run(..., debug=True)``, which ``jaxrl train``
    uses for an env made with ``debug``) and a no-op elsewhere. Catches a ``qpos`` edited without
    ``mjx.kinematics`` before a posed step, whose forces would otherwise be wrong silently. ``atol``
    (metres / unit quaternion entries) leaves room for float32 rounding of the recomputation.
    Non-finite entries are not compared: a diverged state is the runner's non-finite check's to
    report, not a stale pose."""
    from jax.experimental import checkify

    fresh = mjx.kinematics(model, data)
    off = jnp.zeros((), jnp.float32)
    for name in POSE_FIELDS:
        a, b = getattr(fresh, name), getattr(data, name)
        if a.size:
            gap = jnp.where(jnp.isfinite(a) & jnp.isfinite(b), jnp.abs(a - b), 0.0)
            off = jnp.maximum(off, jnp.max(gap))
    checkify.debug_check(off <= atol, "debug: the state's poses are not those of its qpos (off by {}): after editing "
                                      "qpos, apply mjx.kinematics before stepping", off)


def _integrator(model: mjx.Model):
    """mjx's integrator of ``model`` (``mjx.step``'s dispatch), as ``(model, data after forward) -> data``."""
    integrators = {mujoco.mjtIntegrator.mjINT_EULER: _mjx_forward.euler,
                   mujoco.mjtIntegrator.mjINT_RK4: _mjx_forward.rungekutta4,
                   mujoco.mjtIntegrator.mjINT_IMPLICITFAST: _mjx_forward.implicit}
    for kind, integrate in integrators.items():
        if int(model.opt.integrator) == int(kind):
            return integrate
    raise NotImplementedError(f"integrator {model.opt.integrator} is not implemented by MJX")


def _posed_rk4_forward(model: mjx.Model, d: mjx.Data, a: jax.Array) -> mjx.Data:
    """The forward pass of the rolled RK4's stage with tableau entry ``a`` (traced, unbatched), when the
    step's ``data`` holds its poses: stage 0 (``a == 0``) is at that state's own ``qpos`` (``+ 0 * dt *
    k``, the same bits), so it reads them; stages 1-3 compute theirs."""
    d = jax.lax.cond(a == 0, lambda d: d, lambda d: _mjx_smooth.kinematics(model, d), d)
    return forward_at_poses(model, d)


def mj_step(model: mjx.Model, data: mjx.Data, posed: bool = False) -> mjx.Data:
    """One physics step: ``mjx.step(model, data)``, with the same arithmetic in fewer compiled ops.

    ``posed`` (static): ``data`` holds the poses of its ``qpos`` (see :func:`forward_at_poses`), so
    the step's first forward pass skips the kinematics (ignored for models with free or ball
    joints, which take the full pass). The numbers are ``mjx.step``'s. Stale poses would give wrong
    forces without an error: after setting ``qpos`` yourself, apply ``mjx.kinematics`` first.

    ``mjx.step`` integrates RK4 with its first forward pass outside a loop and the other three
    unrolled inside one, so XLA compiles the forward dynamics four times (for the cart-pole, about
    twice Euler's compile). Where :func:`_rolled_rk4_applies`, the four stages run as one rolled
    ``lax.scan`` (the forward dynamics compile once), stage 0 at the unchanged state
    (``state + 0 * dt * k``: the same numbers). The sums, the position update and the solver's warm
    start (the last stage's ``qacc``) are mjx's, operation for operation; tests/test_envs.py checks
    the result equals ``mjx.step``. Other models go to ``mjx.step``.
    """
    posed = posed and not _has_quaternion_joints(model)
    if not _rolled_rk4_applies(model):
        return _integrator(model)(model, forward_at_poses(model, data)) if posed else mjx.step(model, data)
    dt = model.opt.timestep

    def stage(carry, tableau):
        qvel_sum, qacc_sum, kqvel, kqacc, d = carry
        a, b = tableau
        d = d.replace(qpos=data.qpos + dt * (a * kqvel), qvel=data.qvel + (a * kqacc) * dt, time=data.time + a * dt)
        d = _posed_rk4_forward(model, d, a) if posed else mjx.forward(model, d)
        return (qvel_sum + b * d.qvel, qacc_sum + b * d.qacc, d.qvel, d.qacc, d), None

    zeros = jnp.zeros_like(data.qvel)
    tableau = jnp.asarray(np.stack([RK4_STAGE, RK4_WEIGHT], axis=1), data.qvel.dtype)
    (qvel_sum, qacc_sum, _, _, last), _ = jax.lax.scan(stage, (zeros, zeros, data.qvel, zeros, data), tableau)
    return last.replace(qpos=data.qpos + dt * qvel_sum, qvel=data.qvel + qacc_sum * dt, act=data.act,
                        time=data.time + dt, qacc_warmstart=last.qacc)


PHYSICS = ("faithful", "fast")


@dataclasses.dataclass(frozen=True)
class FastPhysics:
    """What a task's ``physics="fast"`` preset changes in its faithful (DM Control) model.

    Attributes:
      integrator: ``"euler"`` to step with semi-implicit Euler where the task's default is RK4
        (one forward pass per physics step instead of four); ``None``: keep the model's.
      iterations / ls_iterations: Newton / line-search caps (MuJoCo Playground's DM Control
        ports use 1-4 Newton iterations); ``None``: keep the model's.
      floor_contacts_only: keep only the contacts between the floor (geoms of the world body)
        and the other geoms, dropping collisions between a body's links.
    """

    integrator: str | None = None
    iterations: int | None = None
    ls_iterations: int | None = None
    floor_contacts_only: bool = False

    def describe(self) -> str:
        """One line: what the preset changes (``"nothing"`` when it changes nothing)."""
        parts = []
        if self.integrator:
            parts.append(f"{self.integrator} integrator")
        if self.iterations or self.ls_iterations:
            parts.append(f"solver caps {self.iterations or '-'} / {self.ls_iterations or '-'}")
        if self.floor_contacts_only:
            parts.append("floor contacts only")
        return ", ".join(parts) or "nothing"


def _only_floor_contacts(m: mujoco.MjModel) -> None:
    """In place: world geoms collide with everything (1 / 1), every other colliding geom only
    with them (contype 1, conaffinity 0); the bodies' aggregate bits (the OR of their geoms',
    which MuJoCo's broad phase reads) follow."""
    colliding = (m.geom_contype | m.geom_conaffinity) != 0
    world = m.geom_bodyid == 0
    m.geom_contype[:] = np.where(colliding, 1, 0)
    m.geom_conaffinity[:] = np.where(colliding & world, 1, 0)
    for b in range(m.nbody):
        mine = m.geom_bodyid == b
        m.body_contype[b] = np.bitwise_or.reduce(m.geom_contype[mine], initial=0)
        m.body_conaffinity[b] = np.bitwise_or.reduce(m.geom_conaffinity[mine], initial=0)


_INTEGRATORS = {"euler": mujoco.mjtIntegrator.mjINT_EULER}


@functools.lru_cache(maxsize=None)
def model_variant(base: mujoco.MjModel, fast: FastPhysics | None, iterations: int | None = None,
                  ls_iterations: int | None = None) -> mujoco.MjModel:
    """A copy of ``base`` (cached per model and settings) with the ``fast`` preset's edits, then
    ``opt.iterations`` / ``opt.ls_iterations`` replaced where given; ``base`` itself when nothing
    changes."""
    if fast is None and iterations is None and ls_iterations is None:
        return base
    m = copy.copy(base)
    if fast is not None:
        if fast.integrator:
            m.opt.integrator = _INTEGRATORS[fast.integrator]
        if fast.floor_contacts_only:
            _only_floor_contacts(m)
        iterations = iterations if iterations is not None else fast.iterations
        ls_iterations = ls_iterations if ls_iterations is not None else fast.ls_iterations
    if iterations is not None:
        m.opt.iterations = iterations
    if ls_iterations is not None:
        m.opt.ls_iterations = ls_iterations
    return m


def check_physics(value) -> str:
    """``value`` if it names a physics preset, else ValueError naming the choices."""
    if value not in PHYSICS:
        raise ValueError(f"physics must be one of {', '.join(map(repr, PHYSICS))}, got {value!r}")
    return value


def optional_positive_int(name: str, value) -> int | None:
    return None if value is None else positive_int(name, value)


@dataclasses.dataclass(frozen=True)
class MjxTask(Env):
    """An MJX task; ``n_substeps`` physics steps per env step (static).

    ``physics`` (static): ``"faithful"`` (the default) steps DM Control's model with DM Control's
    settings (integrator, solver caps, collision pairs; tests/test_dmc_fidelity.py checks it
    against DM Control's own MJCF stepped by MuJoCo C); ``"fast"`` applies the task's
    :class:`FastPhysics` (class attribute ``fast``: Euler for RK4, Playground-like solver caps,
    floor-only contacts), which steps and compiles faster and departs from DM Control's
    trajectories (README "Tasks" gives both presets' speed and the gap).

    ``solver_iterations`` / ``ls_iterations`` (static; ``None``: the preset's) replace the
    constraint solver's Newton and line-search iteration budgets in ``mj_model`` and so in
    ``params.model`` and in any C stepping of ``env.mj_model``: fewer iterations step faster
    and solve contacts less exactly (``benchmarks/RESULTS.md`` measures both).

    Class attributes of a subclass: ``xml`` (asset file name),
    ``obs_size`` (length of the flat observation vector) and
    ``default_camera`` (name or index of the camera that pixel observations,
    :class:`jaxrl.envs.pixels.PixelObs`, use when none is asked for).
    """

    xml: ClassVar[str]
    obs_size: ClassVar[int]
    default_camera: ClassVar[str | int] = 0
    # Indices of observation entries that read constraint forces of the last physics step (touch
    # sensors), which a recomputation from the post-step qpos/qvel cannot reproduce.
    force_obs_indices: ClassVar[tuple[int, ...]] = ()
    # What physics="fast" changes (nothing unless a task says).
    fast: ClassVar[FastPhysics] = FastPhysics()
    # mjx.step leaves body/geom/site poses at the pre-step configuration (kinematics run before
    # integration). A task whose observe/reward read poses sets this to recompute them from the
    # post-step qpos ONCE after each env step, as DM Control does (mj_step1 after every step);
    # its observe/reward then read ``data.xpos`` etc. directly, and the pixel renderer
    # (jaxrl.envs.pixels.PixelObs) skips its own kinematics. So every state such a task returns
    # must hold the poses of its qpos: MjxTask.reset computes them, and a task that overrides
    # reset must too (finger and reacher do). The next physics step relies on it: its forward pass
    # skips the kinematics it would otherwise recompute (mj_step(posed=True)), so the poses are
    # computed once per substep, not twice.
    refresh_poses: ClassVar[bool] = False
    n_substeps: int = 1
    solver_iterations: int | None = None
    ls_iterations: int | None = None
    physics: str = "faithful"
    # Hold the poses of qpos in every state, as refresh_poses does, though observe/reward do not
    # read them (static; the cart-pole's states otherwise hold none): pixel observations set it
    # (jaxrl.envs.pixels.apply_obs_options), so the renderer and the next physics step read the
    # one kinematics pass after each step instead of computing their own.
    keep_poses: bool = False
    # Debug mode (static; ``make(name, debug=True)`` sets it): each posed physics step first checks
    # that the state holds the poses of its qpos (check_poses), at the cost of a kinematics pass.
    debug_poses: bool = False

    @property
    def holds_poses(self) -> bool:
        """Every state this task returns holds the poses of its ``qpos`` (``refresh_poses`` or
        ``keep_poses``): computed once after each physics substep and at reset."""
        return self.refresh_poses or self.keep_poses

    @property
    def base_mj_model(self) -> mujoco.MjModel:
        """The task's model as its MJCF (and the task's edits of it) define it."""
        return load_mj_model(self.xml)

    @property
    def mj_model(self) -> mujoco.MjModel:
        """The host ``mujoco.MjModel`` this task steps (for ``mujoco.mj_step``, rendering):
        ``base_mj_model`` with the physics preset and the solver budget applied."""
        fast = self.fast if self.physics == "fast" else None
        return model_variant(self.base_mj_model, fast, self.solver_iterations, self.ls_iterations)

    @property
    def dt(self) -> float:
        """Seconds of simulated time per env step."""
        return float(self.mj_model.opt.timestep) * self.n_substeps

    @property
    def observation_spec(self) -> Box:
        return Box((self.obs_size,))

    @property
    def action_spec(self) -> Box:
        m = self.mj_model
        lo, hi = m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1]
        limited = m.actuator_ctrllimited.astype(bool)
        return Box((m.nu,), tuple(np.where(limited, lo, -np.inf)), tuple(np.where(limited, hi, np.inf)))

    def default_params(self) -> MjxParams:
        return MjxParams(model=mjx.put_model(self.mj_model, impl="jax"))

    # --- task hooks -------------------------------------------------------------------
    def initial_qpos_qvel(self, key, params) -> tuple[jax.Array, jax.Array]:
        raise NotImplementedError

    def observe(self, data: mjx.Data, params) -> jax.Array:
        raise NotImplementedError

    def reward(self, data: mjx.Data, action: jax.Array, params) -> jax.Array:
        raise NotImplementedError

    def terminated(self, data: mjx.Data, params) -> jax.Array:
        return jnp.zeros((), jnp.bool_)

    # --- stepping ----------------------------------------------------------------------
    def reset(self, key, params):
        """Initial state from ``initial_qpos_qvel``.

        A task that reads poses (``refresh_poses``) or keeps them (``keep_poses``: pixel
        observations) gets the kinematics of its qpos (body, geom and site poses; NOT camera
        poses, which ``mjx.camlight`` computes: see ``jaxrl.envs.pixels.update_poses``): that is
        what observations of a reset state read, and the first physics step reads them instead of
        recomputing them. A task that reads only ``qpos`` / ``qvel`` (the cart-pole from states)
        gets none: its states never hold current poses (``mjx.step`` leaves the pre-step ones). A
        task whose first observation needs velocity- or force-dependent quantities (sensors,
        ``cvel``) overrides this to call ``mjx.forward``. Keeping the reset light matters:
        auto-reset traces it into every training step (the cart-pole's kinematics were a fifth
        of its training program's compile).
        """
        qpos, qvel = self.initial_qpos_qvel(key, params)
        data = mjx.make_data(params.model, impl="jax").replace(qpos=qpos, qvel=qvel)
        if self.holds_poses:
            data = mjx.kinematics(params.model, data)
        return MjxState(data), timestep(self.observe(data, params))

    def physics_step(self, params, data: mjx.Data, action: jax.Array) -> mjx.Data:
        """Apply ``action`` as ``ctrl`` (clipped to the control range) for ``n_substeps`` steps.

        With ``holds_poses`` ``data`` must hold the poses of its ``qpos`` (every state ``reset`` and
        ``step_env`` return does; after editing ``qpos`` yourself, apply ``mjx.kinematics``; with
        ``debug_poses`` :func:`check_poses` reports a state that does not): each
        substep is ``mj_step(posed=True)`` (its forward pass reads those poses) followed by the
        kinematics of the new ``qpos``, the numbers of ``mjx.step`` then ``mjx.kinematics`` with one
        kinematics pass per substep instead of two. A model with free or ball joints (whose
        kinematics also normalise ``qpos``) steps unposed and computes the poses once at the end."""
        spec = self.action_spec
        ctrl = jnp.clip(action.astype(jnp.float32), spec.low_array(), spec.high_array())
        data = data.replace(ctrl=ctrl)
        model = params.model
        posed = self.holds_poses and not _has_quaternion_joints(model)
        if posed and self.debug_poses:
            check_poses(model, data)

        def substep(d):  # a posed substep leaves the poses of its new qpos, for the next one
            return mjx.kinematics(model, mj_step(model, d, posed=True)) if posed else mj_step(model, d)

        if self.n_substeps == 1:  # no loop at all: a 1-trip loop still costs compile time
            data = substep(data)
        else:
            data = jax.lax.fori_loop(0, self.n_substeps, lambda _, d: substep(d), data)
        return mjx.kinematics(model, data) if self.holds_poses and not posed else data

    def step_env(self, key, state, action, params):
        data = self.physics_step(params, state.data, action)
        ts = timestep(
            self.observe(data, params),
            reward=self.reward(data, action, params),
            terminated=self.terminated(data, params),
        )
        return MjxState(data), ts


def task_factory(cls: type[MjxTask], default_substeps: int = 1, **fields):
    """A registry factory: ``make(episode_length=1000, n_substeps=default_substeps,
    physics="faithful", solver_iterations=None, ls_iterations=None) -> (env, params)``.

    ``env`` is ``TimeLimit(cls(n_substeps=..., physics=..., solver_iterations=...,
    ls_iterations=..., **fields), max_steps=episode_length)``; every option is validated
    (integers >= 1; the solver budgets may be ``None``: the preset's; ``physics`` one of
    ``PHYSICS``) before anything is built.
    """

    def make(episode_length: int = 1000, n_substeps: int = default_substeps, physics: str = "faithful",
             solver_iterations: int | None = None, ls_iterations: int | None = None):
        episode_length = positive_int("episode_length", episode_length)
        env = cls(n_substeps=positive_int("n_substeps", n_substeps), physics=check_physics(physics),
                  solver_iterations=optional_positive_int("solver_iterations", solver_iterations),
                  ls_iterations=optional_positive_int("ls_iterations", ls_iterations), **fields)
        return TimeLimit(env, max_steps=episode_length), env.default_params()

    args = "".join(f", {k}={v!r}" for k, v in fields.items())
    make.__doc__ = (f"{cls.__name__}(n_substeps{args}) under a TimeLimit of episode_length env steps "
                    f"(n_substeps physics steps each, default {default_substeps}); physics: 'faithful' "
                    f"(DM Control's model and settings) or 'fast' ({cls.fast.describe()}); "
                    f"solver_iterations / ls_iterations: the constraint solver's budgets (None: the preset's).")
    return make
