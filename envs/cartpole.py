"""Cart-pole balance and swing-up (DM Control's task definitions, own MJCF).

    env, params = jaxrl.envs.make("cartpole_swingup")

Registered names: ``cartpole_balance``, ``cartpole_swingup``,
``cartpole_balance_sparse``, ``cartpole_swingup_sparse``; options
``episode_length`` (default 1000 env steps), ``n_substeps`` (physics steps
of 0.01 s per env step, default 1) and ``physics``: ``"faithful"`` (default)
integrates with RK4 as DM Control does; ``"fast"`` with semi-implicit Euler
(one forward pass per step instead of four; about 7e-4 in qpos per step away
from DM Control).

Observation ``[5]`` float32: ``[cart x, cos(angle), sin(angle), cart x-velocity,
pole angular velocity]``, angle 0 = upright. Action ``[1]`` in ``[-1, 1]``
(clipped), the cart force is ``10 * action`` newtons. Never terminates.

Reward (in ``[0, 1]``), with ``u`` the clipped control:

* smooth: ``upright * centered * small_control * small_velocity`` where
  ``upright = (cos + 1) / 2``,
  ``centered = (1 + tolerance(x, margin=2)) / 2``,
  ``small_control = (4 + tolerance(u, margin=1, value_at_margin=0, sigmoid="quadratic")) / 5``,
  ``small_velocity = (1 + tolerance(angular velocity, margin=5)) / 2``;
* sparse: ``1`` if ``|x| <= 0.25`` and ``cos(angle) >= 0.995``, else ``0``.

Initial state: balance: ``x ~ U(-0.1, 0.1)``, ``angle ~ U(-0.034, 0.034)``;
swing-up: ``x ~ 0.01 N(0, 1)``, ``angle ~ pi + 0.01 N(0, 1)``; velocities
``0.01 N(0, 1)``. Every constant above lives in :class:`CartpoleParams`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs.mjx_env import FastPhysics, MjxParams, MjxTask, mjx, task_factory, f32
from jaxrl.envs.registry import register
from jaxrl.envs.rewards import tolerance


@struct.dataclass
class CartpoleParams(MjxParams):
    """Physics (``model``) plus every task constant; all leaves are traced (float32 scalars).

    Attributes:
      init_cart_range: balance: cart x starts uniform in ``[-r, r]`` (m).
      init_angle_range: balance: pole angle starts uniform in ``[-r, r]`` (rad).
      init_noise: swing-up: std of the cart x and of the angle around ``pi``;
        both tasks: std of the initial velocities.
      centered_margin: margin of the gaussian ``centered`` term (m).
      control_margin: margin of the quadratic ``small_control`` term.
      velocity_margin: margin of the gaussian ``small_velocity`` term (rad/s).
      sparse_cart_limit: sparse reward needs ``|x| <= sparse_cart_limit`` (m).
      sparse_cos_limit: sparse reward needs ``cos(angle) >= sparse_cos_limit``.
    """

    init_cart_range: jax.Array
    init_angle_range: jax.Array
    init_noise: jax.Array
    centered_margin: jax.Array
    control_margin: jax.Array
    velocity_margin: jax.Array
    sparse_cart_limit: jax.Array
    sparse_cos_limit: jax.Array


@dataclasses.dataclass(frozen=True, kw_only=True)
class Cartpole(MjxTask):
    """Cart-pole; ``swingup`` starts hanging down, ``sparse`` uses the indicator reward."""

    xml = "cartpole.xml"
    fast = FastPhysics(integrator="euler")
    obs_size = 5
    swingup: bool
    sparse: bool = False

    @property
    def name(self) -> str:
        return f"cartpole_{'swingup' if self.swingup else 'balance'}{'_sparse' if self.sparse else ''}"

    def default_params(self) -> CartpoleParams:
        base = super().default_params()
        return CartpoleParams(
            model=base.model,
            init_cart_range=f32(0.1),
            init_angle_range=f32(0.034),
            init_noise=f32(0.01),
            centered_margin=f32(2.0),
            control_margin=f32(1.0),
            velocity_margin=f32(5.0),
            sparse_cart_limit=f32(0.25),
            sparse_cos_limit=f32(0.995),
        )

    def initial_qpos_qvel(self, key, params: CartpoleParams):
        k_pos, k_vel = jax.random.split(key)
        if self.swingup:
            qpos = params.init_noise * jax.random.normal(k_pos, (2,)) + jnp.array([0.0, jnp.pi])
        else:
            u = jax.random.uniform(k_pos, (2,), minval=-1.0, maxval=1.0)
            qpos = u * jnp.stack([params.init_cart_range, params.init_angle_range])
        qvel = params.init_noise * jax.random.normal(k_vel, (2,))
        return qpos.astype(jnp.float32), qvel.astype(jnp.float32)

    def observe(self, data: mjx.Data, params) -> jax.Array:
        x, angle = data.qpos[0], data.qpos[1]
        obs = jnp.stack([x, jnp.cos(angle), jnp.sin(angle), data.qvel[0], data.qvel[1]])
        return obs.astype(jnp.float32)

    def reward(self, data: mjx.Data, action, params: CartpoleParams) -> jax.Array:
        # qpos/qvel are the post-step state; ctrl is the clipped action applied.
        x, cos = data.qpos[0], jnp.cos(data.qpos[1])
        if self.sparse:
            cart_ok = tolerance(x, (-params.sparse_cart_limit, params.sparse_cart_limit))
            angle_ok = tolerance(cos, (params.sparse_cos_limit, jnp.inf))  # cos <= 1 anyway
            return cart_ok * angle_ok
        upright = (cos + 1.0) / 2.0
        centered = (1.0 + tolerance(x, margin=params.centered_margin)) / 2.0
        u = data.ctrl[0]
        small_control = (4.0 + tolerance(u, margin=params.control_margin, value_at_margin=0.0, sigmoid="quadratic")) / 5.0
        small_velocity = (1.0 + tolerance(data.qvel[1], margin=params.velocity_margin)) / 2.0
        return upright * centered * small_control * small_velocity


register("cartpole_balance", task_factory(Cartpole, swingup=False, sparse=False))
register("cartpole_swingup", task_factory(Cartpole, swingup=True, sparse=False))
register("cartpole_balance_sparse", task_factory(Cartpole, swingup=False, sparse=True))
register("cartpole_swingup_sparse", task_factory(Cartpole, swingup=True, sparse=True))
