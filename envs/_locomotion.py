"""Pieces shared by the planar locomotion tasks (cheetah, walker, hopper).

* :func:`com_velocity`: the linear velocity of the robot's centre of mass from
  the post-step poses, which is what DM Control's ``subtreelinvel`` sensor on
  the torso reads (MuJoCo's ``subtree_linvel``).
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


def _moving_joints(m: mujoco.MjModel, bodies: np.ndarray) -> np.ndarray:
    """Static float32 ``[len(bodies), njnt]``: 1 where joint ``j`` lies on the chain from the world to body ``b``."""
    chain = np.zeros((len(bodies), m.njnt), np.float32)
    for row, body in enumerate(bodies):
        b = int(body)
        while b > 0:
            chain[row, m.jnt_bodyid == b] = 1.0
            b = int(m.body_parentid[b])
    return chain


def com_velocity(m: mujoco.MjModel, model: mjx.Model, data: mjx.Data, bodies: np.ndarray) -> jax.Array:
    """Velocity of the centre of mass of ``bodies``, from the poses ``data`` holds and ``data.qvel``.

    ``data`` must hold the kinematics of its ``qpos`` (``xipos``, ``xanchor``, ``xaxis``): tasks
    that call this set ``refresh_poses`` so the post-step state does. The velocity of body ``b``'s
    centre of mass is the sum over the joints ``j`` on its chain of ``xaxis_j x (xipos_b - xanchor_j)
    qvel_j`` (hinges) or ``xaxis_j qvel_j`` (slides): the joint Jacobian at ``xipos_b`` (MuJoCo's
    ``mj_jac``) times ``qvel``; the result is their mean weighted by ``model.body_mass`` (traced,
    so randomised masses count). This equals MuJoCo's ``subtree_linvel`` of the subtree's root
    (DM Control's ``subtreelinvel`` sensor) for hinge and slide joints.

    Args:
      m: the host model (static: joint types, the tree).
      model: the ``mjx.Model`` (traced).
      data: ``mjx.Data`` with current poses, ``qvel [nv]``.
      bodies: static int array of body ids (a subtree, see :func:`subtree_bodies`).

    Returns:
      ``[3]`` float32, world-frame velocity (m/s).
    """
    types = m.jnt_type
    hinge, slide = types == mujoco.mjtJoint.mjJNT_HINGE, types == mujoco.mjtJoint.mjJNT_SLIDE
    if not np.all(hinge | slide):
        raise ValueError(f"com_velocity supports hinge and slide joints only, got joint types {types.tolist()}")
    rate = data.qvel[m.jnt_dofadr]  # [njnt]: one dof per hinge or slide
    lever = data.xipos[bodies][:, None, :] - data.xanchor[None]  # [B, njnt, 3]
    axis = jnp.broadcast_to(data.xaxis[None], lever.shape)
    per_joint = jnp.where(hinge[None, :, None], jnp.cross(axis, lever), axis)  # [B, njnt, 3] per unit rate
    velocity = jnp.einsum("bj,bjd->bd", _moving_joints(m, bodies) * rate, per_joint)  # [B, 3]
    mass = model.body_mass[bodies]
    return mass @ velocity / jnp.sum(mass)


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
