"""Acrobot swing-up (DM Control's task definitions, own MJCF).

    env, params = jaxrl.envs.make("acrobot_swingup")

Registered names: ``acrobot_swingup`` and ``acrobot_swingup_sparse``; options
``episode_length`` (default 1000 env steps, DMC's 10 s) and ``n_substeps``
(physics steps of 0.01 s per env step, default 1: DMC's control timestep).

Observation ``[6]`` float32: ``[upper xz, lower xz, upper zz, lower zz,
shoulder velocity, elbow velocity]``: the world x and z components of each
link's axis (its body z axis, read from the post-step pose), i.e. ``sin`` and
``cos`` of the link's angle from upright (``shoulder`` for the upper link,
``shoulder + elbow`` for the lower one), then ``qvel``. Same order as DMC's
``orientations`` (horizontal, then vertical) and ``velocity``.

Action ``[1]`` in ``[-1, 1]`` (clipped): elbow torque ``2 * action`` N m; the
shoulder is passive. Never terminates.

Reward (in ``[0, 1]``), with ``d`` the distance from the tip (end of the lower
link) to the target centre, 4 m above the floor (where the tip is when both
links stand upright):

* ``acrobot_swingup``: ``tolerance(d, bounds=(0, 0.2), margin=1)`` (gaussian,
  0.1 at the margin);
* ``acrobot_swingup_sparse``: ``1`` if ``d <= 0.2`` else ``0`` (margin 0).

Initial state: shoulder and elbow angles ``U(-pi, pi)`` each, velocities 0.

Physics (envs/assets/acrobot.xml): RK4 at 0.01 s as in DMC
(``physics="fast"``: semi-implicit Euler), constraints and contacts disabled, so MJX's solver never runs. Every
task constant lives in :class:`AcrobotParams`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs.mjx_env import FastPhysics, MjxParams, MjxTask, mjx, task_factory
from jaxrl.envs.registry import register
from jaxrl.envs.rewards import tolerance


@struct.dataclass
class AcrobotParams(MjxParams):
    """Physics (``model``) plus the task constants; all leaves traced float32 scalars.

    Attributes:
      init_angle_range: both joint angles start uniform in ``[-r, r]`` (rad), ``pi``.
      target_radius: reward 1 within this distance of the target centre (m), 0.2
        (the radius of the ``target`` site in the MJCF).
      distance_margin: gaussian margin of the reward beyond ``target_radius`` (m):
        1 for ``acrobot_swingup``, 0 (indicator) for ``acrobot_swingup_sparse``.
    """

    init_angle_range: jax.Array
    target_radius: jax.Array
    distance_margin: jax.Array


@dataclasses.dataclass(frozen=True, kw_only=True)
class Acrobot(MjxTask):
    """Swing the two-link acrobot up by its elbow and hold the tip at the target.

    Static (hashable) fields: ``n_substeps`` and ``sparse`` (which only picks the
    default ``distance_margin``; the reward itself reads the traced params).
    """

    xml = "acrobot.xml"
    fast = FastPhysics(integrator="euler")
    obs_size = 6
    default_camera: ClassVar[str] = "fixed"
    refresh_poses = True  # observe/reward read post-step poses
    sparse: bool = False

    @property
    def name(self) -> str:
        return f"acrobot_swingup{'_sparse' if self.sparse else ''}"

    def default_params(self) -> AcrobotParams:
        base = super().default_params()
        m = self.mj_model
        return AcrobotParams(
            model=base.model,
            init_angle_range=jnp.asarray(math.pi, jnp.float32),
            target_radius=jnp.asarray(m.site("target").size[0], jnp.float32),
            distance_margin=jnp.asarray(0.0 if self.sparse else 1.0, jnp.float32),
        )

    def initial_qpos_qvel(self, key, params: AcrobotParams):
        qpos = jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0) * params.init_angle_range
        return qpos.astype(jnp.float32), jnp.zeros((2,), jnp.float32)

    def observe(self, data: mjx.Data, params) -> jax.Array:
        m = self.mj_model
        axes = data.xmat[jnp.array([m.body("upper_arm").id, m.body("lower_arm").id])]  # [2, 3, 3]
        return jnp.concatenate([axes[:, 0, 2], axes[:, 2, 2], data.qvel]).astype(jnp.float32)

    def tip_to_target(self, data: mjx.Data) -> jax.Array:
        """Distance (m, scalar) from the tip site to the target site."""
        m = self.mj_model
        return jnp.linalg.norm(data.site_xpos[m.site("target").id] - data.site_xpos[m.site("tip").id])

    def reward(self, data: mjx.Data, action, params: AcrobotParams) -> jax.Array:
        return tolerance(self.tip_to_target(data), (0.0, params.target_radius), margin=params.distance_margin)


register("acrobot_swingup", task_factory(Acrobot, sparse=False))
register("acrobot_swingup_sparse", task_factory(Acrobot, sparse=True))
