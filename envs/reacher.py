"""Two-link planar reacher (DM Control's ``reacher-easy`` / ``reacher-hard``, own MJCF).

    env, params = jaxrl.envs.make("reacher_easy")

Registered names: ``reacher_easy`` (target radius 0.05 m) and ``reacher_hard``
(0.015 m); options ``episode_length`` (default 1000 env steps, DMC's 20 s) and
``n_substeps`` (physics steps of 0.02 s per env step, default 1: DMC's control
timestep).

Observation ``[6]`` float32: ``[shoulder, wrist, target x - finger x,
target y - finger y, shoulder velocity, wrist velocity]`` (DMC's ``position``
(raw ``qpos``, the shoulder angle is not wrapped), ``to_target``, ``velocity``),
positions from the post-step pose. Action ``[2]`` in ``[-1, 1]`` (clipped):
joint torques ``0.05 * action`` N m. Never terminates.

Reward: ``1`` if the distance between the fingertip's and the target's centres
is at most ``target_size + finger_size`` (the two spheres touch), else ``0``
(DMC's ``tolerance(d, (0, radii))`` with margin 0).

Initial state: shoulder ``U(-pi, pi)``, wrist ``U(-160, 160)`` degrees (the
joint range), velocities 0; the target is placed at ``r * (sin a, cos a)`` with
``a ~ U(0, 2 pi)``, ``r ~ U(0.05, 0.2)`` m. The target is a mocap body, so its
per-episode position is ``data.mocap_pos`` (DMC edits the model's ``geom_pos``).

Physics (envs/assets/reacher.xml): semi-implicit Euler at 0.02 s as in DMC,
contacts disabled, the wrist's range limit the only constraint (Newton,
DMC's 100 iterations / 50 line-search iterations; ``physics="fast"``: 4 / 8). ``env.mj_model`` of ``reacher_hard`` is
a copy of the MJCF with the drawn target shrunk to 0.015 m (no effect on the
dynamics). Every task constant lives in :class:`ReacherParams`.
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

TARGET_SIZE = {"easy": 0.05, "hard": 0.015}  # DMC's _BIG_TARGET, _SMALL_TARGET (m)


@functools.lru_cache(maxsize=None)
def _reacher_model(target_size: float) -> mujoco.MjModel:
    """reacher.xml with the target sphere's radius set to ``target_size`` (m)."""
    spec = mujoco.MjSpec.from_file(asset_path(Reacher.xml))
    spec.geom("target").size[0] = target_size
    return spec.compile()


@struct.dataclass
class ReacherParams(MjxParams):
    """Physics (``model``) plus the task constants; all leaves traced float32 scalars.

    Attributes:
      target_size: target radius (m) in the reward: 0.05 easy, 0.015 hard.
      finger_size: fingertip radius (m) in the reward, 0.01.
      shoulder_init_range: the shoulder starts uniform in ``[-r, r]`` (rad), ``pi``.
      wrist_init_range: the wrist starts uniform in ``[-r, r]`` (rad), 160 degrees.
      target_min_radius, target_max_radius: the target's distance from the
        shoulder axis is uniform in ``[min, max]`` (m), 0.05 and 0.2.
    """

    target_size: jax.Array
    finger_size: jax.Array
    shoulder_init_range: jax.Array
    wrist_init_range: jax.Array
    target_min_radius: jax.Array
    target_max_radius: jax.Array


@dataclasses.dataclass(frozen=True, kw_only=True)
class Reacher(MjxTask):
    """Reach a random target with a two-link planar arm; ``hard`` shrinks the target.

    Static (hashable) fields: ``n_substeps`` and ``hard`` (picks the model copy and
    the default ``target_size``). Everything traced lives in :class:`ReacherParams`.
    """

    xml = "reacher.xml"
    fast = FastPhysics(iterations=4, ls_iterations=8)
    obs_size = 6
    default_camera: ClassVar[str] = "fixed"
    refresh_poses = True  # observe/reward read post-step poses
    hard: bool = False

    @property
    def name(self) -> str:
        return f"reacher_{'hard' if self.hard else 'easy'}"

    @property
    def base_mj_model(self) -> mujoco.MjModel:
        return _reacher_model(TARGET_SIZE["hard" if self.hard else "easy"])

    def default_params(self) -> ReacherParams:
        base = super().default_params()
        m = self.mj_model
        return ReacherParams(
            model=base.model,
            target_size=f32(m.geom("target").size[0]),
            finger_size=f32(m.geom("finger").size[0]),
            shoulder_init_range=f32(math.pi),
            wrist_init_range=f32(m.joint("wrist").range[1]),
            target_min_radius=f32(0.05),
            target_max_radius=f32(0.2),
        )

    def initial_qpos_qvel(self, key, params: ReacherParams):
        u = jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0)
        qpos = u * jnp.stack([params.shoulder_init_range, params.wrist_init_range])
        return qpos.astype(jnp.float32), jnp.zeros((2,), jnp.float32)

    def initial_target(self, key, params: ReacherParams) -> jax.Array:
        """Target centre ``[x, y]`` (m, float32): ``r * (sin a, cos a)``, ``a ~ U(0, 2 pi)``, ``r ~ U(min, max)``."""
        k_angle, k_radius = jax.random.split(key)
        angle = jax.random.uniform(k_angle, (), maxval=2.0 * jnp.pi)
        radius = jax.random.uniform(k_radius, (), minval=params.target_min_radius, maxval=params.target_max_radius)
        return (radius * jnp.stack([jnp.sin(angle), jnp.cos(angle)])).astype(jnp.float32)

    def initial_data(self, key, params: ReacherParams) -> mjx.Data:
        """Initial ``mjx.Data`` before kinematics: random arm pose, target in ``mocap_pos`` (height from the MJCF)."""
        k_arm, k_target = jax.random.split(key)
        qpos, qvel = self.initial_qpos_qvel(k_arm, params)
        data = mjx.make_data(params.model, impl="jax")
        mocap_pos = data.mocap_pos.at[0, :2].set(self.initial_target(k_target, params))
        return data.replace(qpos=qpos, qvel=qvel, mocap_pos=mocap_pos)

    def reset(self, key, params: ReacherParams):
        data = mjx.kinematics(params.model, self.initial_data(key, params))
        return MjxState(data), timestep(self.observe(data, params))

    def finger_to_target(self, data: mjx.Data) -> jax.Array:
        """``[2]``: target centre minus fingertip centre in the plane (m)."""
        m = self.mj_model
        return data.geom_xpos[m.geom("target").id, :2] - data.geom_xpos[m.geom("finger").id, :2]

    def observe(self, data: mjx.Data, params) -> jax.Array:
        return jnp.concatenate([data.qpos, self.finger_to_target(data), data.qvel]).astype(jnp.float32)

    def reward(self, data: mjx.Data, action, params: ReacherParams) -> jax.Array:
        distance = jnp.linalg.norm(self.finger_to_target(data))
        return tolerance(distance, (0.0, params.target_size + params.finger_size))


register("reacher_easy", task_factory(Reacher, hard=False))
register("reacher_hard", task_factory(Reacher, hard=True))
