"""Pieces shared by the planar locomotion tasks (cheetah, walker, hopper).

* :func:`kinematics_and_com_velocity`: poses of the post-step ``qpos`` and the
  linear velocity of the robot's centre of mass, which is what DM Control's
  ``subtreelinvel`` sensor on the torso reads (MuJoCo's ``subtree_linvel``).
* :func:`random_joints`: DM Control's ``randomize_limited_and_rotational_joints``
  for models whose joints are all hinges and slides.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from jaxrl.envs.mjx_env import mjx


def subtree_bodies(m: mujoco.MjModel, root: str) -> np.ndarray:
    """Ids (static numpy int array) of body ``root`` and every body below it."""
    root_id = m.body(root).id
    ids = [b for b in range(m.nbody) if b == root_id or _is_below(m, b, root_id)]
    return np.asarray(ids)


def _is_below(m: mujoco.MjModel, body: int, ancestor: int) -> bool:
    while body > 0:
        body = int(m.body_parentid[body])
        if body == ancestor:
            return True
    return False


def kinematics_and_com_velocity(model: mjx.Model, data: mjx.Data, bodies: np.ndarray):
    """Kinematics of ``data.qpos`` and the velocity of the centre of mass of ``bodies``.

    ``mjx.step`` leaves poses (``xpos``, ``xmat``, ``xipos``) at the configuration
    before its last integration, so they are recomputed from ``data.qpos`` here.

    The centre-of-mass velocity is the time derivative of
    ``c(qpos) = sum_b m_b xipos_b(qpos) / sum_b m_b`` (``b`` in ``bodies``, masses
    from ``model.body_mass``, so randomised masses count): ``dc/dqpos @ qvel``, one
    forward-mode derivative through the kinematics. For hinge and slide joints
    ``qvel = d qpos / dt``, so this is exact, and equals MuJoCo's
    ``subtree_linvel`` of the subtree's root (DM Control's ``subtreelinvel`` sensor).

    Args:
      model: the ``mjx.Model`` (traced).
      data: ``mjx.Data`` with ``qpos`` ``[nq]``, ``qvel`` ``[nv]`` (``nq == nv``: hinges and slides only).
      bodies: static int array of body ids (a subtree, see :func:`subtree_bodies`).

    Returns:
      ``(kin, com_vel)``: ``kin`` is ``data`` with the kinematics of ``data.qpos``;
      ``com_vel`` is ``[3]`` float32, world-frame velocity (m/s).
    """
    if data.qpos.shape != data.qvel.shape:
        raise ValueError(f"kinematics_and_com_velocity needs hinge/slide joints only (nq == nv), "
                         f"got qpos {data.qpos.shape} and qvel {data.qvel.shape}")
    mass = model.body_mass[bodies]

    def com(qpos):
        kin = mjx.kinematics(model, data.replace(qpos=qpos))
        return mass @ kin.xipos[bodies] / jnp.sum(mass), kin

    _, com_vel, kin = jax.jvp(com, (data.qpos,), (data.qvel,), has_aux=True)
    return kin, com_vel


def random_joints(key: jax.Array, m: mujoco.MjModel, jnt_range: jax.Array, angle_range: jax.Array) -> jax.Array:
    """DM Control's ``randomize_limited_and_rotational_joints`` for hinge/slide-only models.

    Limited joints: uniform in their range (``jnt_range [njnt, 2]``, traced, so a
    randomised range counts). Unlimited hinges: uniform in
    ``[-angle_range, angle_range]`` (DM Control: ``pi``). Unlimited slides: 0.

    Returns ``qpos [nq]`` float32.
    """
    types = m.jnt_type
    if not np.all((types == mujoco.mjtJoint.mjJNT_HINGE) | (types == mujoco.mjtJoint.mjJNT_SLIDE)):
        raise ValueError(f"random_joints supports hinge and slide joints only, got joint types {types.tolist()}")
    limited = m.jnt_limited.astype(bool)
    free_hinge = ~limited & (types == mujoco.mjtJoint.mjJNT_HINGE)
    u = jax.random.uniform(key, (m.njnt,), jnp.float32)
    in_range = jnt_range[:, 0] + u * (jnt_range[:, 1] - jnt_range[:, 0])
    angle = (2.0 * u - 1.0) * angle_range
    per_joint = jnp.where(limited, in_range, jnp.where(free_hinge, angle, 0.0))
    return jnp.zeros((m.nq,), jnp.float32).at[m.jnt_qposadr].set(per_joint.astype(jnp.float32))
