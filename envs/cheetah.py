"""Planar cheetah: run (DM Control's task definition, own MJCF).

    env, params = jaxrl.envs.make("cheetah_run")

Options ``episode_length`` (default 1000 env steps, DM Control's 10 s) and
``n_substeps`` (physics steps of 0.01 s per env step, default 1: DM Control's
control step is its physics step).

Observation ``[17]`` float32: ``[qpos[1:] (8), qvel (9)]``, i.e. ``[rootz,
rooty, bthigh, bshin, bfoot, fthigh, fshin, ffoot]`` positions (the horizontal
position ``rootx`` is left out) and ``[rootx, rootz, rooty, bthigh, bshin,
bfoot, fthigh, fshin, ffoot]`` velocities.

Action ``[6]`` in ``[-1, 1]`` (clipped): motors on the back thigh, shin, foot
and front thigh, shin, foot with gears 120, 90, 60, 90, 60, 30 N m.

Reward (in ``[0, 1]``): ``tolerance(v, (run_speed, inf), margin=run_speed,
value_at_margin=0, sigmoid="linear")`` = ``clip(v / run_speed, 0, 1)`` with
``run_speed`` 10 m/s and ``v`` the centre-of-mass x-velocity (DM Control's torso
``subtreelinvel`` sensor; here ``d/dt`` of the mass-weighted mean of the bodies'
``xipos``, see :func:`jaxrl.envs._locomotion.com_velocity`).
Never terminates.

Initial state, as in DM Control: the six leg joints uniform in their ranges,
the torso frame at 0.7 m, then 200 physics steps (2 s) with zero control so the
cheetah lands and settles. Running those 200 steps inside ``reset`` would put
a second copy of the physics step into every compiled training program, cost
200 steps per episode, and, once ``reset`` is batched under ``vmap`` (a sweep,
where ``AutoReset``'s ``lax.cond`` becomes a select), 200 steps per env step.
So the settling is done ONCE, by MuJoCo's C engine, when the params are built:
``CheetahParams.init_qpos`` / ``init_qvel`` hold ``POOL_SIZE`` = 256 settled
states (seeded, deterministic; about 1 s, cached per process) and ``reset``
draws one uniformly. The distribution is DM Control's, sampled 256 times (a
deviation: DM Control draws a fresh state per episode); the settled states
depend on the nominal physics, so a user who randomises ``params.model`` and
wants the settling under those physics rebuilds the pool with
:func:`settled_states`.

Physics (``physics="faithful"``, the default, as DM Control): Euler at 0.01 s
(damping implicit), Newton with iterations 100 / ls_iterations 50, every geom
colliding with the floor and with non-adjacent links. ``physics="fast"``: caps
6 / 8 and body-vs-floor contacts only; see ``assets/cheetah.xml`` for why.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from jaxrl.envs._locomotion import com_velocity, subtree_bodies
from jaxrl.envs.mjx_env import FastPhysics, MjxParams, MjxTask, load_mj_model, mjx, task_factory
from jaxrl.envs.registry import register
from jaxrl.envs.rewards import tolerance

POOL_SIZE = 256
SETTLE_STEPS = 200


@struct.dataclass
class CheetahParams(MjxParams):
    """Physics (``model``) plus every task constant (traced leaves).

    Attributes:
      run_speed: float32 scalar, centre-of-mass x-velocity (m/s) from which the reward is 1 (10).
      init_qpos: ``[POOL_SIZE, 9]`` float32, settled initial configurations (see :func:`settled_states`).
      init_qvel: ``[POOL_SIZE, 9]`` float32, their velocities (small: the settling leaves < 0.3 rad/s).
    """

    run_speed: jax.Array
    init_qpos: jax.Array
    init_qvel: jax.Array


@functools.lru_cache(maxsize=None)
def _settled_pool(xml: str, n: int, seed: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    m = load_mj_model(xml)
    return settled_states(m, n, seed, steps)


def settled_states(m: mujoco.MjModel, n: int = POOL_SIZE, seed: int = 0, steps: int = SETTLE_STEPS):
    """DM Control's cheetah initial states, by MuJoCo's C engine (float64).

    For each of ``n`` episodes (``numpy.random.default_rng(seed)``): reset, set
    every limited joint uniform in its range, then ``steps`` ``mj_step`` calls
    with zero control. Returns ``(qpos [n, nq], qvel [n, nv])`` float32.
    """
    rng = np.random.default_rng(seed)
    d = mujoco.MjData(m)
    limited = m.jnt_limited.astype(bool)
    lo, hi = m.jnt_range[limited, 0], m.jnt_range[limited, 1]
    qpos, qvel = np.empty((n, m.nq), np.float32), np.empty((n, m.nv), np.float32)
    for i in range(n):
        mujoco.mj_resetData(m, d)
        d.qpos[m.jnt_qposadr[limited]] = rng.uniform(lo, hi)
        mujoco.mj_step(m, d, steps)
        qpos[i], qvel[i] = d.qpos, d.qvel
    return qpos, qvel


@dataclasses.dataclass(frozen=True)
class Cheetah(MjxTask):
    """Make a planar cheetah run forward as fast as it can (reward saturates at 10 m/s)."""

    xml = "cheetah.xml"
    refresh_poses = True  # observe/reward read post-step poses
    fast = FastPhysics(iterations=6, ls_iterations=8, floor_contacts_only=True)
    obs_size = 17
    default_camera = "side"
    n_substeps: int = 1

    @property
    def name(self) -> str:
        return "cheetah_run"

    def default_params(self) -> CheetahParams:
        qpos, qvel = _settled_pool(self.xml, POOL_SIZE, 0, SETTLE_STEPS)
        return CheetahParams(
            model=super().default_params().model,
            run_speed=jnp.asarray(10.0, jnp.float32),
            init_qpos=jnp.asarray(qpos),
            init_qvel=jnp.asarray(qvel),
        )

    def initial_qpos_qvel(self, key, params: CheetahParams):
        i = jax.random.randint(key, (), 0, params.init_qpos.shape[0])
        return params.init_qpos[i], params.init_qvel[i]

    def observe(self, data: mjx.Data, params) -> jax.Array:
        return jnp.concatenate([data.qpos[1:], data.qvel]).astype(jnp.float32)

    def reward(self, data: mjx.Data, action, params: CheetahParams) -> jax.Array:
        speed = com_velocity(self.mj_model, params.model, data, subtree_bodies(self.mj_model, "torso"))[0]
        return self.reward_from(speed, params)

    def reward_from(self, speed: jax.Array, params: CheetahParams) -> jax.Array:
        """The reward from the centre-of-mass x-velocity (m/s), any shape ``[...]`` float32."""
        return tolerance(speed, (params.run_speed, jnp.inf), margin=params.run_speed,
                         value_at_margin=0.0, sigmoid="linear")


register("cheetah_run", task_factory(Cheetah))
