"""Planar point mass reaching a fixed target (DM Control's ``point_mass-easy``, own MJCF).

    env, params = jaxrl.envs.make("point_mass_easy")

Options ``episode_length`` (default 1000 env steps, DMC's 20 s) and
``n_substeps`` (physics steps of 0.02 s per env step, default 1: DMC's control
timestep).

Observation ``[4]`` float32: ``[x, y, x-velocity, y-velocity]`` (``qpos``,
``qvel``; DMC's ``position`` then ``velocity``). Action ``[2]`` in ``[-1, 1]``
(clipped): forces ``0.1 * action`` N along x and y. Never terminates.

Reward (in ``[0, 1]``): ``near * small_control`` with ``d`` the distance between
the mass's and the target's centres and ``u`` the clipped control,

* ``near = tolerance(d, bounds=(0, 0.015), margin=0.015)`` (gaussian, 0.1 at the
  margin; 0.015 m is the target's radius);
* ``small_control = (4 + mean_i tolerance(u_i, margin=1, value_at_margin=0,
  sigmoid="quadratic")) / 5``, i.e. ``(4 + mean(1 - u_i^2)) / 5``.

Initial state: ``x, y ~ U(-0.29, 0.29)`` (the joints' whole range, DMC's
``randomize_limited_and_rotational_joints``), velocities 0; the target is fixed
at the arena's centre.

Physics (envs/assets/point_mass.xml): semi-implicit Euler at 0.02 s as in DMC,
contacts disabled; the joint range limits are the only constraints (Newton,
DMC's 100 iterations / 50 line-search iterations; ``physics="fast"``: 4 / 8). Motors act on the joints directly
(DMC routes them through identity fixed tendons: the same forces). Every task
constant lives in :class:`PointMassParams`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs.mjx_env import FastPhysics, MjxParams, MjxTask, mjx, task_factory
from jaxrl.envs.registry import register
from jaxrl.envs.rewards import tolerance


@struct.dataclass
class PointMassParams(MjxParams):
    """Physics (``model``) plus the task constants; all leaves traced float32 scalars.

    Attributes:
      init_range: x and y start uniform in ``[-r, r]`` (m), 0.29 (the joint range).
      target_size: ``near`` is 1 within this distance (m), 0.015 (the target's radius).
      near_margin: gaussian margin of ``near`` (m), 0.015.
      control_margin: margin of the quadratic control term, 1.
    """

    init_range: jax.Array
    target_size: jax.Array
    near_margin: jax.Array
    control_margin: jax.Array


@dataclasses.dataclass(frozen=True)
class PointMass(MjxTask):
    """Push a damped planar point mass onto the target at the arena's centre.

    Static (hashable) field: ``n_substeps``. Everything traced lives in :class:`PointMassParams`.
    """

    xml = "point_mass.xml"
    fast = FastPhysics(iterations=4, ls_iterations=8)
    obs_size = 4
    default_camera: ClassVar[str] = "fixed"
    refresh_poses = True  # observe/reward read post-step poses

    @property
    def name(self) -> str:
        return "point_mass_easy"

    def default_params(self) -> PointMassParams:
        base = super().default_params()
        m = self.mj_model
        target_size = float(m.geom("target").size[0])
        return PointMassParams(
            model=base.model,
            init_range=jnp.asarray(m.joint("root_x").range[1], jnp.float32),
            target_size=jnp.asarray(target_size, jnp.float32),
            near_margin=jnp.asarray(target_size, jnp.float32),
            control_margin=jnp.asarray(1.0, jnp.float32),
        )

    def initial_qpos_qvel(self, key, params: PointMassParams):
        qpos = jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0) * params.init_range
        return qpos.astype(jnp.float32), jnp.zeros((2,), jnp.float32)

    def observe(self, data: mjx.Data, params) -> jax.Array:
        return jnp.concatenate([data.qpos, data.qvel]).astype(jnp.float32)

    def mass_to_target(self, data: mjx.Data) -> jax.Array:
        """Distance (m, scalar) between the mass's and the target's centres."""
        m = self.mj_model
        return jnp.linalg.norm(data.geom_xpos[m.geom("target").id] - data.geom_xpos[m.geom("pointmass").id])

    def reward(self, data: mjx.Data, action, params: PointMassParams) -> jax.Array:
        # data.ctrl is the clipped action that was applied.
        near = tolerance(self.mass_to_target(data), (0.0, params.target_size), margin=params.near_margin)
        control = tolerance(data.ctrl, margin=params.control_margin, value_at_margin=0.0, sigmoid="quadratic")
        return near * (4.0 + jnp.mean(control)) / 5.0


register("point_mass_easy", task_factory(PointMass))
