"""Finger spin and turn (DM Control's ``finger`` tasks, own MJCF).

    env, params = jaxrl.envs.make("finger_spin")

Registered names: ``finger_spin``, ``finger_turn_easy``, ``finger_turn_hard``;
options ``episode_length`` (default 1000 env steps, DMC's 20 s) and
``n_substeps`` (physics steps of 0.01 s per env step, default 2: DMC's 0.02 s
control timestep).

A planar two-link finger (``qpos[0:2]``: proximal and distal joint angles) and a
free-spinning body on a hinge (``qpos[2]``). Action ``[2]`` in ``[-1, 1]``
(clipped): joint torques ``30 * action[0]`` and ``15 * action[1]`` N m. Never
terminates.

Observation (float32), in DMC's order, positions from the post-step pose:

* ``finger_spin`` ``[9]``: ``[proximal, distal, tip x, tip z, proximal
  velocity, distal velocity, hinge velocity, log1p(touch top),
  log1p(touch bottom)]``, with ``tip`` the spinner's tip marker (0.13 m from
  the hinge) relative to the hinge axis (DMC's ``bounded_position``,
  ``velocity``, ``touch``). The touch sensors sum the normal force (N) of
  contacts inside two small ellipsoids at the fingertip. As in DMC (whose step
  ends with ``mj_step1``, which leaves acceleration-stage sensors alone) they
  report the contact forces solved in the env step's last physics step, i.e.
  at the state before its integration;
* ``finger_turn_*`` ``[12]``: the same nine, then the target's position
  relative to the hinge ``[x, z]`` and the signed distance from the tip
  marker's centre to the target's surface (negative inside).

Reward (``{0, 1}``):

* spin: ``1`` if the hinge velocity is ``<= -15`` rad/s (spinning fast in the
  negative direction), else ``0``;
* turn: ``1`` if the tip marker's centre is inside the target sphere
  (radius 0.07 m easy, 0.03 m hard), else ``0``.

Initial state: finger joints ``U(-110, 110)`` degrees (their range) and the
hinge ``U(-pi, pi)``, redrawn (up to 1000 times, as DMC) until the fingertip
touches neither spinner capsule; velocities 0. Turn: the target sits on the
circle swept by the tip marker (radius 0.13 m around the hinge) at angle
``U(-pi, pi)`` from the top; it is a mocap body, so its position is
``data.mocap_pos`` (DMC edits the model's ``site_pos``).

Physics (envs/assets/finger.xml): semi-implicit Euler at 0.01 s, elliptic
friction cones, gravity off, Newton with DMC's 200 iterations / 50 line-search
iterations (``physics="fast"``: 8 / 16), contacts only between the fingertip and
the spinner capsules (the only pairs that can touch in DMC's model). ``finger_spin``'s
``env.mj_model`` is a copy of the MJCF with the hinge damping lowered from 0.5
to 0.03 and the tip marker and target hidden (DMC's ``Spin`` does the same);
the turn tasks' copy sets the target's drawn radius. Every task constant lives
in :class:`FingerParams`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco
from flax import struct

from jaxrl.env import timestep
from jaxrl.envs.mjx_env import FastPhysics, MjxParams, MjxState, MjxTask, asset_path, mjx, task_factory, f32
from jaxrl.envs.registry import register
from jaxrl.envs.rewards import tolerance

SPIN_HINGE_DAMPING = 0.03  # DMC's Spin.initialize_episode
TURN_TARGET_RADIUS = {"easy": 0.07, "hard": 0.03}  # DMC's _EASY_TARGET_SIZE, _HARD_TARGET_SIZE (m)
MAX_INIT_ATTEMPTS = 1000  # DMC's _set_random_joint_angles


@functools.lru_cache(maxsize=None)
def _finger_model(variant: str) -> mujoco.MjModel:
    """finger.xml edited for ``variant`` ("spin", "turn_easy" or "turn_hard"), as DMC's tasks edit it."""
    spec = mujoco.MjSpec.from_file(asset_path("finger.xml"))
    if variant == "spin":
        spec.joint("hinge").damping[0] = SPIN_HINGE_DAMPING
        for name in ("tip", "target"):  # hidden, as DMC's Spin makes its sites transparent
            spec.geom(name).rgba[3] = 0.0
            spec.geom(name).group = 3
    else:
        spec.geom("target").size[0] = TURN_TARGET_RADIUS[variant.removeprefix("turn_")]
    return spec.compile()


@struct.dataclass
class FingerParams(MjxParams):
    """Physics (``model``) plus the task constants; all leaves traced float32 scalars.

    Attributes:
      finger_init_range: both finger joints start uniform in ``[-r, r]`` (rad), 110 degrees.
      hinge_init_range: the spinner starts uniform in ``[-r, r]`` (rad), ``pi``.
      spin_velocity: spin: reward 1 when the hinge velocity is ``<= -spin_velocity`` (rad/s), 15.
      target_radius: turn: the target sphere's radius (m), 0.07 easy / 0.03 hard.
      target_angle_range: turn: the target's angle from the top is uniform in ``[-r, r]`` (rad), ``pi``.
      target_distance: turn: the target's distance from the hinge axis (m), 0.13 (the tip marker's).
    """

    finger_init_range: jax.Array
    hinge_init_range: jax.Array
    spin_velocity: jax.Array
    target_radius: jax.Array
    target_angle_range: jax.Array
    target_distance: jax.Array


@dataclasses.dataclass(frozen=True)
class Finger(MjxTask):
    """Shared model, initial state and observations of the finger tasks (not registered itself).

    Static (hashable) fields: ``n_substeps`` (physics steps of 0.01 s per env
    step); the turn tasks add ``hard``. Everything traced lives in :class:`FingerParams`.
    """

    xml = "finger.xml"
    fast = FastPhysics(iterations=8, ls_iterations=16)
    default_camera: ClassVar[str] = "cam0"
    refresh_poses = True  # observe/reward read post-step poses
    # The touch entries of the observation (log1p of the touch sensors) are the contact forces of
    # the env step's last physics step (DM Control's timing), not functions of the post-step state.
    force_obs_indices: ClassVar[tuple[int, ...]] = (7, 8)
    n_substeps: int = 2

    @property
    def variant(self) -> str:
        """Which edit of finger.xml this task steps: "spin", "turn_easy" or "turn_hard"."""
        raise NotImplementedError

    @property
    def base_mj_model(self) -> mujoco.MjModel:
        return _finger_model(self.variant)

    def default_params(self) -> FingerParams:
        base = super().default_params()
        m = self.mj_model
        return FingerParams(
            model=base.model,
            finger_init_range=f32(m.joint("proximal").range[1]),
            hinge_init_range=f32(math.pi),
            spin_velocity=f32(15.0),
            target_radius=f32(m.geom("target").size[0]),
            target_angle_range=f32(math.pi),
            target_distance=f32(m.site("tip").pos[2]),
        )

    # --- initial state ----------------------------------------------------------------
    def touching(self, params, qpos: jax.Array) -> jax.Array:
        """Whether the fingertip touches a spinner capsule at ``qpos`` ``[3]`` (bool scalar).

        MJX's own collision test (at zero margin, like C's ``ncon > 0``). mjx 3.17
        keeps contacts in ``Data._impl`` only.
        """
        data = mjx.make_data(params.model, impl="jax").replace(qpos=qpos)
        data = mjx.collision(params.model, mjx.kinematics(params.model, data))
        return jnp.any(data._impl.contact.dist < 0)

    def initial_qpos_qvel(self, key, params: FingerParams):
        """Uniform joint angles ``[3]``, redrawn while the fingertip touches the spinner (DMC's rejection sampling).

        A ``lax.while_loop``: under ``vmap`` it runs until every env has a free
        draw (a handful of rounds: about 10% of draws touch). After
        ``MAX_INIT_ATTEMPTS`` touching draws (DMC raises there) the last is kept.
        """
        scale = jnp.stack([params.finger_init_range, params.finger_init_range, params.hinge_init_range])

        def draw(carry):
            key, _, _, attempts = carry
            key, sub = jax.random.split(key)
            qpos = (jax.random.uniform(sub, (3,), minval=-1.0, maxval=1.0) * scale).astype(jnp.float32)
            return key, qpos, self.touching(params, qpos), attempts + 1

        def again(carry):
            return carry[2] & (carry[3] < MAX_INIT_ATTEMPTS)

        init = (key, jnp.zeros((3,), jnp.float32), jnp.ones((), jnp.bool_), jnp.zeros((), jnp.int32))
        _, qpos, _, _ = jax.lax.while_loop(again, draw, init)
        return qpos, jnp.zeros((3,), jnp.float32)

    def initial_mocap_pos(self, key, params: FingerParams, mocap_pos: jax.Array) -> jax.Array:
        """``[nmocap, 3]`` target position at reset; the MJCF's (hidden) for spin."""
        return mocap_pos

    def initial_data(self, key, params: FingerParams) -> mjx.Data:
        """Initial ``mjx.Data`` before kinematics: collision-free joint angles, target in ``mocap_pos``."""
        k_joints, k_target = jax.random.split(key)
        qpos, qvel = self.initial_qpos_qvel(k_joints, params)
        data = mjx.make_data(params.model, impl="jax")
        return data.replace(qpos=qpos, qvel=qvel, mocap_pos=self.initial_mocap_pos(k_target, params, data.mocap_pos))

    def reset(self, key, params: FingerParams):
        # No contact at the initial state, so the touch sensors' zeros are exact without mjx.forward.
        data = mjx.kinematics(params.model, self.initial_data(key, params))
        return MjxState(data), timestep(self.observe(data, params))

    # --- stepping and observations ----------------------------------------------------
    def relative_to_hinge(self, data: mjx.Data, xpos: jax.Array) -> jax.Array:
        """``[2]``: ``[x, z]`` of the world point ``xpos`` ``[3]`` relative to the spinner's frame origin."""
        return (xpos - data.xpos[self.mj_model.body("spinner").id])[jnp.array([0, 2])]

    def tip_position(self, data: mjx.Data) -> jax.Array:
        return self.relative_to_hinge(data, data.site_xpos[self.mj_model.site("tip").id])

    def observe(self, data: mjx.Data, params) -> jax.Array:
        m = self.mj_model
        touch = data.sensordata[jnp.array([m.sensor("touchtop").adr[0], m.sensor("touchbottom").adr[0]])]
        obs = [data.qpos[:2], self.tip_position(data), data.qvel, jnp.log1p(touch)]
        return jnp.concatenate(obs).astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class FingerSpin(Finger):
    """Spin the free body faster than 15 rad/s (in the negative direction) by flicking it."""

    obs_size = 9

    @property
    def variant(self) -> str:
        return "spin"

    @property
    def name(self) -> str:
        return "finger_spin"

    def reward(self, data: mjx.Data, action, params: FingerParams) -> jax.Array:
        hinge_velocity = data.qvel[self.mj_model.joint("hinge").dofadr[0]]
        return tolerance(hinge_velocity, (-jnp.inf, -params.spin_velocity))


@dataclasses.dataclass(frozen=True, kw_only=True)
class FingerTurn(Finger):
    """Turn the free body until its tip marker is inside a target on its circle."""

    obs_size = 12
    hard: bool = False

    @property
    def variant(self) -> str:
        return f"turn_{'hard' if self.hard else 'easy'}"

    @property
    def name(self) -> str:
        return f"finger_{self.variant}"

    def initial_mocap_pos(self, key, params: FingerParams, mocap_pos: jax.Array) -> jax.Array:
        angle = jax.random.uniform(key, (), minval=-1.0, maxval=1.0) * params.target_angle_range
        hinge = jnp.asarray(self.mj_model.body("spinner").pos, jnp.float32)  # the hinge axis passes through it
        target = hinge + params.target_distance * jnp.stack([jnp.sin(angle), 0.0, jnp.cos(angle)])
        return mocap_pos.at[0].set(target)

    def target_position(self, data: mjx.Data) -> jax.Array:
        return self.relative_to_hinge(data, data.xpos[self.mj_model.body("target").id])

    def dist_to_target(self, data: mjx.Data, params: FingerParams) -> jax.Array:
        """Signed distance (m, scalar) from the tip marker's centre to the target's surface."""
        return jnp.linalg.norm(self.target_position(data) - self.tip_position(data)) - params.target_radius

    def observe(self, data: mjx.Data, params) -> jax.Array:
        extra = [self.target_position(data), self.dist_to_target(data, params)[None]]
        return jnp.concatenate([super().observe(data, params), *extra]).astype(jnp.float32)

    def reward(self, data: mjx.Data, action, params: FingerParams) -> jax.Array:
        return tolerance(self.dist_to_target(data, params), (-jnp.inf, 0.0))


register("finger_spin", task_factory(FingerSpin, default_substeps=2))
register("finger_turn_easy", task_factory(FingerTurn, default_substeps=2, hard=False))
register("finger_turn_hard", task_factory(FingerTurn, default_substeps=2, hard=True))
