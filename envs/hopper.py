"""Planar one-legged hopper: stand and hop (DM Control's task definitions, own MJCF).

    env, params = jaxrl.envs.make("hopper_hop")

Registered names: ``hopper_stand``, ``hopper_hop``; options ``episode_length``
(default 1000 env steps, DM Control's 20 s) and ``n_substeps`` (physics steps of
0.005 s per env step, default 4: DM Control's 0.02 s control step).

Observation ``[15]`` float32: ``[qpos[1:] (6), qvel (7), touch (2)]`` where
``qpos[1:]`` is ``[rootz, rooty, waist, hip, knee, ankle]`` (the horizontal
position ``rootx`` is left out), ``qvel`` is ``[rootx, rootz, rooty, waist, hip,
knee, ankle]`` velocities and ``touch = log(1 + [toe, heel])`` with ``toe`` and
``heel`` MuJoCo's touch sensors (N), each the summed normal force of the foot's
contacts whose point lies in (or whose normal ray crosses) a 5 cm sphere at the
foot's front or back end. DM Control reads them from the sensors after
stepping, i.e. the forces of the env step's last physics step (sensors are
computed before integration); here :func:`touch` computes the same formula from
the contacts and constraint forces ``mjx.step`` leaves, once per env step. qpos
and qvel are the post-step state. One deviation: the reset computes kinematics
only, not forces, so the first observation of an episode has ``touch = 0``
(DM Control runs ``mj_forward`` after a reset and reports the forces of the
initial contacts); a full forward pass in ``reset`` would add a second copy of
the contact solver to every compiled training program.

Action ``[4]`` in ``[-1, 1]`` (clipped): motors on waist, hip, knee, ankle with
gears 30, 40, 30, 10 N m.

Reward (in ``[0, 1]``), with ``h`` the torso's centre-of-mass height above the
foot's (``xipos`` z difference), ``v`` the centre-of-mass x-velocity (DM
Control's torso ``subtreelinvel`` sensor, here ``d/dt`` of the mass-weighted mean
of the bodies' ``xipos``, see :func:`jaxrl.envs._locomotion.com_velocity`)
and ``u`` the clipped control:

* ``standing = 1`` if ``stand_height <= h <= stand_height_max`` (0.6 m, 2 m) else 0;
* ``hopper_stand``: ``standing * (4 + mean_i tolerance(u_i, margin=control_margin,
  value_at_margin=0, sigmoid="quadratic")) / 5`` (``control_margin`` 1);
* ``hopper_hop``: ``standing * tolerance(v, (hop_speed, inf), margin=hop_margin,
  value_at_margin=0.5, sigmoid="linear")`` (2 m/s, margin 1 m/s).

Never terminates. Initial state (DM Control's
``randomize_limited_and_rotational_joints``): waist, hip, knee, ankle uniform in
their ranges, ``rooty`` uniform in ``[-pi, pi]``, ``rootx = rootz = 0`` (torso
at 1 m), zero velocity; the hopper then falls (parts may start below the
floor, as in DM Control, and are pushed out by the soft contacts).

Physics (``physics="faithful"``, the default, as DM Control): Euler at 0.005 s
(damping implicit), Newton with iterations 100 / ls_iterations 50, every geom
colliding with the floor and with non-adjacent links. ``physics="fast"``: caps
6 / 8 and body-vs-floor contacts only; see ``assets/hopper.xml``. Every constant above lives in :class:`HopperParams`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from jaxrl.envs._locomotion import com_velocity, random_joints, subtree_bodies
from jaxrl.envs.mjx_env import FastPhysics, MjxParams, MjxTask, mjx, task_factory, f32
from jaxrl.envs.registry import register
from jaxrl.envs.rewards import tolerance


def touch(m: mujoco.MjModel, data: mjx.Data, sites: tuple[str, ...]) -> jax.Array:
    """MuJoCo's touch sensor on each of ``sites``, from ``data``'s contacts and constraint forces.

    For every contact with a constraint row (``efc_address >= 0``) that involves
    the site's body, with normal force ``f > 0`` (pyramidal cone: the sum of its
    ``2 (condim - 1)`` pyramid-edge forces), MuJoCo adds ``f`` when the ray from
    the contact point along the contact normal (flipped when the site's body is
    the contact's second geom) meets the site's sphere, which always holds when
    the point is inside it. After ``mjx.step`` the contacts and forces are those
    of its last physics step, which is what DM Control observes (it reads the
    sensor after stepping; the sensor is computed before integration).

    Args:
      m: host model (static: site bodies, sizes, contact dims).
      data: ``mjx.Data`` (jax impl) whose ``site_xpos`` match its contacts.
      sites: names of sphere sites.

    Returns:
      ``[len(sites)]`` float32, newtons.
    """
    ids = np.array([m.site(name).id for name in sites])
    if np.any(m.site_type[ids] != mujoco.mjtGeom.mjGEOM_SPHERE) or m.opt.cone != mujoco.mjtCone.mjCONE_PYRAMIDAL:
        raise ValueError(f"touch supports sphere sites and pyramidal cones only (sites {sites}, cone {m.opt.cone})")
    con, efc_force = data._impl.contact, data._impl.efc_force
    if con.pos.shape[0] == 0:
        return jnp.zeros((len(ids),), jnp.float32)
    dims = np.asarray(con.dim)
    rows = np.where(dims == 1, 1, 2 * (dims - 1))
    edges = np.arange(rows.max())
    edge_force = efc_force[con.efc_address[:, None] + edges[None]]
    normal_force = jnp.sum(jnp.where(edges[None] < rows[:, None], edge_force, 0.0), axis=1)  # [ncon]
    conbody = jnp.asarray(m.geom_bodyid)[con.geom]  # [ncon, 2]

    def one_site(site_id):
        body = m.site_bodyid[site_id]
        on_body = (conbody[:, 0] == body) | (conbody[:, 1] == body)
        ray = jnp.where((conbody[:, 1] == body)[:, None], -con.frame[:, 0], con.frame[:, 0])
        to_center = data.site_xpos[site_id][None] - con.pos  # [ncon, 3]
        dist2 = jnp.sum(to_center * to_center, axis=1)
        along = jnp.sum(to_center * ray, axis=1)
        radius2 = m.site_size[site_id, 0] ** 2
        hits = (dist2 <= radius2) | ((along >= 0) & (dist2 - along * along <= radius2))
        counted = on_body & hits & (con.efc_address >= 0) & (normal_force > 0)
        return jnp.sum(jnp.where(counted, normal_force, 0.0))

    return jnp.stack([one_site(i) for i in ids]).astype(jnp.float32)


@struct.dataclass
class HopperParams(MjxParams):
    """Physics (``model``) plus every task constant; all leaves are traced float32 scalars.

    Attributes:
      stand_height: ``standing`` needs the torso-over-foot height ``>= stand_height`` (0.6 m).
      stand_height_max: ... and ``<= stand_height_max`` (2 m).
      hop_speed: centre-of-mass x-velocity (m/s) from which ``hopping`` is 1 (2).
      hop_margin: linear margin of ``hopping`` (1 m/s; value 0.5 there).
      control_margin: quadratic margin of the stand task's small-control term (1).
      init_angle_range: ``rooty`` starts uniform in ``[-r, r]`` (``pi``).
    """

    stand_height: jax.Array
    stand_height_max: jax.Array
    hop_speed: jax.Array
    hop_margin: jax.Array
    control_margin: jax.Array
    init_angle_range: jax.Array


@dataclasses.dataclass(frozen=True)
class Hopper(MjxTask):
    """Planar hopper; ``hop`` (static) picks hopping forward over standing still."""

    xml = "hopper.xml"
    refresh_poses = True  # observe/reward read post-step poses
    fast = FastPhysics(iterations=6, ls_iterations=8, floor_contacts_only=True)
    obs_size = 15
    default_camera = "side"
    # Observation entries read from the contact forces of the env step's last physics step
    # (DM Control's timing), not functions of the post-step qpos/qvel: a check that recomputes
    # the observation from the post-step state with mj_forward must leave them out.
    force_obs_indices: ClassVar[tuple[int, ...]] = (13, 14)
    n_substeps: int = 4
    hop: bool = False

    @property
    def name(self) -> str:
        return "hopper_hop" if self.hop else "hopper_stand"

    @property
    def _bodies(self):
        return subtree_bodies(self.mj_model, "torso")

    def default_params(self) -> HopperParams:
        return HopperParams(
            model=super().default_params().model,
            stand_height=f32(0.6),
            stand_height_max=f32(2.0),
            hop_speed=f32(2.0),
            hop_margin=f32(1.0),
            control_margin=f32(1.0),
            init_angle_range=f32(math.pi),
        )

    def initial_qpos_qvel(self, key, params: HopperParams):
        qpos = random_joints(key, self.mj_model, params.model.jnt_range, params.init_angle_range)
        return qpos, jnp.zeros((self.mj_model.nv,), jnp.float32)

    def observe(self, data: mjx.Data, params) -> jax.Array:
        foot_touch = jnp.log1p(touch(self.mj_model, data, ("toe", "heel")))
        return jnp.concatenate([data.qpos[1:], data.qvel, foot_touch]).astype(jnp.float32)

    def reward(self, data: mjx.Data, action, params: HopperParams) -> jax.Array:
        m = self.mj_model
        height = data.xipos[m.body("torso").id, 2] - data.xipos[m.body("foot").id, 2]
        return self.reward_from(height, com_velocity(m, params.model, data, self._bodies)[0], data.ctrl, params)

    def reward_from(self, height: jax.Array, speed: jax.Array, ctrl: jax.Array, params: HopperParams) -> jax.Array:
        """The reward from the torso-over-foot height (m), the centre-of-mass x-velocity (m/s) and ``ctrl [4]``.

        ``height`` and ``speed`` are float32 scalars; returns a float32 scalar.
        """
        standing = tolerance(height, (params.stand_height, params.stand_height_max))
        if self.hop:
            return standing * tolerance(speed, (params.hop_speed, jnp.inf), margin=params.hop_margin,
                                        value_at_margin=0.5, sigmoid="linear")
        small = tolerance(ctrl, margin=params.control_margin, value_at_margin=0.0, sigmoid="quadratic")
        return standing * (4.0 + jnp.mean(small)) / 5.0


for _hop in (False, True):
    register("hopper_hop" if _hop else "hopper_stand", task_factory(Hopper, default_substeps=4, hop=_hop))
