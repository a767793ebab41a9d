"""Planar walker: stand, walk and run (DM Control's task definitions, own MJCF).

    env, params = jaxrl.envs.make("walker_walk")

Registered names: ``walker_stand``, ``walker_walk``, ``walker_run``; options
``episode_length`` (default 1000 env steps, DM Control's 25 s) and
``n_substeps`` (physics steps of 0.0025 s per env step, default 10: DM
Control's 0.025 s control step).

Observation ``[24]`` float32, all of the post-step state:
``[orientations (14), torso height (1), qvel (9)]`` where ``orientations`` is,
for each body in the order torso, right_thigh, right_leg, right_foot,
left_thigh, left_leg, left_foot, its world rotation matrix entries ``xx`` and
``xz`` (``xmat[b, 0, 0], xmat[b, 0, 2]``); the torso height is the torso
frame's world z (``xpos``, m); ``qvel`` is ``[rootz, rootx, rooty, right_hip,
right_knee, right_ankle, left_hip, left_knee, left_ankle]`` velocities.

Action ``[6]`` in ``[-1, 1]`` (clipped): motors on right hip, knee, ankle, left
hip, knee, ankle with gears 100, 50, 20 N m.

Reward (in ``[0, 1]``), with ``h`` the torso height, ``zz`` the torso's
``xmat`` zz entry and ``v`` the centre-of-mass x-velocity (DM Control's torso
``subtreelinvel`` sensor, here ``d/dt`` of the mass-weighted mean of the
bodies' ``xipos``, see :func:`jaxrl.envs._locomotion.com_velocity`):

* ``standing = tolerance(h, (stand_height, inf), margin=stand_margin)`` (gaussian,
  value 0.1 at the margin; 1.2 m and 0.6 m);
* ``upright = (1 + zz) / 2``; ``stand = (3 standing + upright) / 4``;
* ``walker_stand``: ``stand``;
* ``walker_walk`` / ``walker_run``: ``stand * (5 move + 1) / 6`` with
  ``move = tolerance(v, (move_speed, inf), margin=move_margin, value_at_margin=0.5,
  sigmoid="linear")``, ``move_speed`` 1 (walk) or 8 (run) m/s, margin half of it.

Never terminates. Initial state (DM Control's
``randomize_limited_and_rotational_joints``): every leg joint uniform in its
range, ``rooty`` uniform in ``[-pi, pi]``, ``rootz = rootx = 0`` (torso frame
at 1.3 m), zero velocity; the walker then falls to the floor (parts may start
below it, as in DM Control, and are pushed out by the soft contacts).

Physics (``physics="faithful"``, the default, as DM Control): Euler at 0.0025 s
(damping implicit), Newton with iterations 100 / ls_iterations 50, only
body-vs-floor contacts (exactly DM Control's filter). ``physics="fast"``: caps
6 / 8; see ``assets/walker.xml`` for why. Every constant above lives in :class:`WalkerParams`.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs._locomotion import com_velocity, random_joints, subtree_bodies
from jaxrl.envs.mjx_env import FastPhysics, MjxParams, MjxTask, mjx, task_factory, f32
from jaxrl.envs.registry import register
from jaxrl.envs.rewards import tolerance

MOVE_SPEEDS = {"stand": 0.0, "walk": 1.0, "run": 8.0}


@struct.dataclass
class WalkerParams(MjxParams):
    """Physics (``model``) plus every task constant; all leaves are traced float32 scalars.

    Attributes:
      stand_height: torso height (m) from which ``standing`` is 1 (1.2).
      stand_margin: gaussian margin of ``standing`` below ``stand_height`` (0.6 m).
      move_speed: centre-of-mass x-velocity (m/s) from which ``move`` is 1
        (walk 1, run 8; unused by ``walker_stand``).
      move_margin: linear margin of ``move`` (half of ``move_speed``).
      init_angle_range: ``rooty`` starts uniform in ``[-r, r]`` (``pi``).
    """

    stand_height: jax.Array
    stand_margin: jax.Array
    move_speed: jax.Array
    move_margin: jax.Array
    init_angle_range: jax.Array


@dataclasses.dataclass(frozen=True)
class Walker(MjxTask):
    """Planar walker; ``task`` (static) is ``"stand"``, ``"walk"`` or ``"run"``."""

    xml = "walker.xml"
    refresh_poses = True  # observe/reward read post-step poses
    fast = FastPhysics(iterations=6, ls_iterations=8)
    obs_size = 24
    default_camera = "side"
    n_substeps: int = 10
    task: str = "stand"

    def __post_init__(self):
        if self.task not in MOVE_SPEEDS:
            raise ValueError(f"Walker task must be one of {', '.join(MOVE_SPEEDS)}, got {self.task!r}")

    @property
    def name(self) -> str:
        return f"walker_{self.task}"

    @property
    def _bodies(self):
        return subtree_bodies(self.mj_model, "torso")

    @property
    def _torso(self) -> int:
        return self.mj_model.body("torso").id

    def default_params(self) -> WalkerParams:
        speed = MOVE_SPEEDS[self.task]
        return WalkerParams(
            model=super().default_params().model,
            stand_height=f32(1.2),
            stand_margin=f32(0.6),
            move_speed=f32(speed),
            move_margin=f32(speed / 2),
            init_angle_range=f32(math.pi),
        )

    def initial_qpos_qvel(self, key, params: WalkerParams):
        qpos = random_joints(key, self.mj_model, params.model.jnt_range, params.init_angle_range)
        return qpos, jnp.zeros((self.mj_model.nv,), jnp.float32)

    def observe(self, data: mjx.Data, params) -> jax.Array:
        orientations = data.xmat[1:, 0, ::2].reshape(-1)  # [7 bodies x (xx, xz)]
        height = data.xpos[self._torso, 2]
        return jnp.concatenate([orientations, height[None], data.qvel]).astype(jnp.float32)

    def reward(self, data: mjx.Data, action, params: WalkerParams) -> jax.Array:
        speed = com_velocity(self.mj_model, params.model, data, self._bodies)[0]
        return self.reward_from(data.xpos[self._torso, 2], data.xmat[self._torso, 2, 2], speed, params)

    def reward_from(self, height: jax.Array, upright_zz: jax.Array, speed: jax.Array, params: WalkerParams) -> jax.Array:
        """The reward from the torso height (m), the torso's ``xmat`` zz and the centre-of-mass x-velocity (m/s).

        Scalars (or any common shape ``[...]``, float32); returns the same shape.
        """
        standing = tolerance(height, (params.stand_height, jnp.inf), margin=params.stand_margin)
        upright = (1.0 + upright_zz) / 2.0
        stand = (3.0 * standing + upright) / 4.0
        if self.task == "stand":
            return stand
        move = tolerance(speed, (params.move_speed, jnp.inf), margin=params.move_margin,
                         value_at_margin=0.5, sigmoid="linear")
        return stand * (5.0 * move + 1.0) / 6.0


for _task in MOVE_SPEEDS:
    register(f"walker_{_task}", task_factory(Walker, default_substeps=10, task=_task))
