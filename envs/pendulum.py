"""Pendulum swing-up (DM Control's task definition, own MJCF).

    env, params = jaxrl.envs.make("pendulum_swingup")

Options ``episode_length`` (default 1000 env steps) and ``n_substeps`` (physics
steps of 0.02 s per env step, default 1).

Observation ``[3]`` float32: ``[cos, sin]`` of the pole's angle from upright,
read from the pole body's orientation (``xmat`` zz and xz; recomputed from the
post-step ``qpos``), then the hinge angular velocity. Action ``[1]`` torque in
``[-1, 1]`` (clipped). Never terminates.

Reward: ``tolerance(cos, bounds=(cos(8 deg), 1))``, an indicator in ``{0, 1}``
of the pole being within 8 degrees of upright. Initial angle ``U(-pi, pi)``,
velocity 0.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import mujoco
from flax import struct

from jaxrl.envs.mjx_env import MjxParams, MjxTask, mjx, task_factory
from jaxrl.envs.registry import register
from jaxrl.envs.rewards import tolerance


@struct.dataclass
class PendulumParams(MjxParams):
    """Physics (``model``) plus the task constants (traced float32 scalars).

    Attributes:
      init_angle_range: the initial angle is uniform in ``[-r, r]`` (rad), ``pi`` by default.
      upright_cos: reward 1 when ``cos(angle from upright) >= upright_cos`` (``cos(8 deg)``).
    """

    init_angle_range: jax.Array
    upright_cos: jax.Array


@dataclasses.dataclass(frozen=True)
class Pendulum(MjxTask):
    """Swing a torque-limited pendulum up and hold it within 8 degrees of upright."""

    xml = "pendulum.xml"
    refresh_poses = True  # observe/reward read post-step poses
    obs_size = 3

    @property
    def name(self) -> str:
        return "pendulum_swingup"

    @property
    def _pole_id(self) -> int:
        return mujoco.mj_name2id(self.mj_model, mujoco.mjtObj.mjOBJ_BODY, "pole")

    def default_params(self) -> PendulumParams:
        base = super().default_params()
        return PendulumParams(
            model=base.model,
            init_angle_range=jnp.asarray(math.pi, jnp.float32),
            upright_cos=jnp.asarray(math.cos(math.radians(8.0)), jnp.float32),
        )

    def initial_qpos_qvel(self, key, params: PendulumParams):
        angle = jax.random.uniform(key, (1,), minval=-1.0, maxval=1.0) * params.init_angle_range
        return angle.astype(jnp.float32), jnp.zeros((1,), jnp.float32)

    def pole_orientation(self, data: mjx.Data, params) -> jax.Array:
        """``[cos, sin]`` of the pole's angle from upright: its world ``xmat`` zz and xz.

        ``data`` holds the poses of its ``qpos`` (``refresh_poses``).
        """
        xmat = data.xmat[self._pole_id]
        return jnp.stack([xmat[2, 2], xmat[0, 2]])

    def observe(self, data: mjx.Data, params) -> jax.Array:
        return jnp.concatenate([self.pole_orientation(data, params), data.qvel]).astype(jnp.float32)

    def reward(self, data: mjx.Data, action, params: PendulumParams) -> jax.Array:
        # Upper bound inf, not 1: float32 rounding can give a zz of 1 + 1e-7 when upright.
        cos = self.pole_orientation(data, params)[0]
        return tolerance(cos, (params.upright_cos, jnp.inf))


register("pendulum_swingup", task_factory(Pendulum))
