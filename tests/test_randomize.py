"""Domain randomisation (envs/randomize.py): the range spec, the draws, the physics they give, the wrapper.

The physics checks compare against MuJoCo itself: a model RECOMPILED from the
MJCF with the drawn masses / gains / damping / gravity (so the compiler, not
our code, derives the inertia and the actuator parameters) must equal the
randomised fields, and MJX stepping the randomised params must follow MuJoCo's
C engine stepping the recompiled model.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from flax import struct

from jaxrl import envs
from jaxrl.algos import ppo
from jaxrl.envs import DomainRandomization, Range, randomize
from jaxrl.envs.mjx_env import MjxParams, MjxTask, asset_path, mjx
from jaxrl.envs.randomize import apply, check_ranges, episode_params, parameters, sample
from jaxrl.wrappers import TimeLimit, training_stack

ENV, PARAMS = envs.make("cartpole_balance")
TASK = ENV.unwrapped
NBODY, NGEOM = 3, 4  # cartpole: world, cart, pole; floor, rail, cart, pole


# ============================================================================ the spec and its errors


def _error(params, ranges) -> str:
    with pytest.raises(ValueError) as err:
        check_ranges(params, ranges)
    return str(err.value)


def test_unknown_parameter_lists_what_exists():
    msg = _error(PARAMS, {"body_mas": ("scale", 0.5, 2.0)})
    assert "unknown parameter 'body_mas'" in msg
    for name in ("body_mass[3]", "geom_friction[4, 3]", "dof_damping[2]", "actuator_gain[1]", "gravity[3]",
                 "gravity_z[]", "init_noise[]", "sparse_cos_limit[]"):
        assert name in msg
    assert "unknown parameter 'model'" in _error(PARAMS, {"model": ("scale", 1, 2)})
    assert "nothing to randomize" in _error((), {"gravity": ("set", 1, 2)})  # probe envs have no params


@pytest.mark.parametrize("spec, match", [
    (("scale", 2.0, 1.0), "low must be <= high"),
    (("scale", (1.0, 3.0, 1.0), (2.0, 2.0, 2.0)), "low must be <= high"),
    (("multiply", 0.5, 2.0), "unknown mode 'multiply'; modes are: scale, set, add"),
    (("scale", 0.5, 2.0, "per_body"), "unknown draw 'per_body'; draws are: each, shared"),
    ((0.5, 2.0), r"must be \(mode, low, high\) or \(mode, low, high, draw\)"),
    ("scale", r"must be \(mode, low, high\)"),
    (("scale", 0.5, float("inf")), "bounds must be finite"),
    (("scale", "a", 2.0), "bounds must be numbers"),
    (("scale", (1.0, 1.0), (2.0, 2.0)), r"bounds of shape \(2,\) for 'body_mass' do not broadcast to its shape \(3,\)"),
    (("scale", -0.1, 2.0), "body_mass must stay >= 0; a 'scale' range needs low >= 0"),
    (("add", -2.0, 0.0), "body_mass must stay >= 0; nominal \\+ low goes below 0"),
])
def test_malformed_range_is_a_clear_error(spec, match):
    msg = _error(PARAMS, {"body_mass": spec})
    assert "body_mass" in msg
    assert re.search(match, msg), msg


def test_bad_input_fails_before_anything_compiles():
    with pytest.raises(ValueError, match="unknown parameter 'mass'"):
        DomainRandomization(ENV, {"mass": ("scale", 0.5, 2.0)})  # at construction, from env.default_params()
    with pytest.raises(ValueError, match="low must be <= high"):
        DomainRandomization(ENV, {"body_mass": Range("scale", 2.0, 1.0)})
    with pytest.raises(ValueError, match="num must be an integer >= 1"):
        randomize(PARAMS, jax.random.key(0), {"body_mass": ("scale", 1, 2)}, num=0)
    with pytest.raises(ValueError, match="ranges must map parameter names to ranges"):
        randomize(PARAMS, jax.random.key(0), ["body_mass"])


@struct.dataclass
class ToyParams:
    """Params of some non-MJX env: a Python float, a float array, an int and a static string."""

    gravity: float = 9.8
    lengths: jax.Array = dataclasses.field(default_factory=lambda: jnp.array([0.5, 1.0]))
    max_steps: int = 500
    tag: str = struct.field(pytree_node=False, default="toy")


def test_task_constants_of_any_params_dataclass():
    params = ToyParams()
    assert parameters(params) == {"gravity": (), "lengths": (2,)}  # no physics names: there is no mjx.Model
    msg = _error(params, {"max_steps": ("scale", 1.0, 2.0)})
    assert "'max_steps' has dtype int32; only float parameters" in msg and "gravity[], lengths[2]" in msg
    assert "unknown parameter 'tag'" in _error(params, {"tag": ("set", 1, 2)})
    assert "unknown parameter 'body_mass'" in _error(params, {"body_mass": ("scale", 1, 2)})
    ranges = {"gravity": ("set", 5.0, 15.0), "lengths": ("scale", (1.0, 2.0), (1.5, 3.0))}
    drawn = jax.jit(lambda k: randomize(params, k, ranges, num=64))(jax.random.key(0))  # num=n: vmap over split(key, n)
    assert np.all((drawn.gravity >= 5) & (drawn.gravity <= 15)) and np.ptp(drawn.gravity) > 5
    ratio = drawn.lengths / params.lengths
    assert np.all((ratio[:, 0] >= 1) & (ratio[:, 0] <= 1.5) & (ratio[:, 1] >= 2) & (ratio[:, 1] <= 3))
    np.testing.assert_array_equal(drawn.max_steps, np.full(64, 500))  # untouched fields broadcast, unchanged
    assert drawn.tag == "toy" and drawn.lengths.dtype == jnp.float32
    third = randomize(params, jax.random.split(jax.random.key(0), 64)[3], ranges)  # eager
    np.testing.assert_allclose(third.lengths, drawn.lengths[3], rtol=1e-6)


def test_every_mjx_task_lists_its_physics():
    """Any MjxTask (every registered one, whatever its Params class): the physics parameters' shapes."""
    tasks = 0
    for name in envs.names():
        env, params = envs.make(name)
        if not isinstance(env.unwrapped, MjxTask):
            continue
        tasks += 1
        m = env.unwrapped.mj_model
        shapes = parameters(params)
        assert shapes["body_mass"] == (m.nbody,) and shapes["geom_friction"] == (m.ngeom, 3), name
        assert shapes["dof_damping"] == (m.nv,) and shapes["actuator_gain"] == (m.nu,), name
        assert shapes["gravity"] == (3,) and shapes["gravity_z"] == (), name
        assert "model" not in shapes
    assert tasks >= 2  # cartpole_* and pendulum_swingup at least


# ============================================================================ what is drawn


RANGES = {
    "body_mass": ("scale", 0.5, 2.0),  # each body its own factor
    "geom_friction": ("add", 0.0, 0.5),
    "dof_damping": ("set", (0.0, 1.0), (0.1, 2.0)),  # per-element bounds: slider in [0, .1], hinge in [1, 2]
    "actuator_gain": ("scale", 0.5, 1.5, "shared"),
    "gravity_z": ("set", -11.0, -8.5),
    "init_noise": ("scale", 0.5, 2.0),
}
N_DRAWS = 256
FIELDS = ("body_mass", "body_inertia", "body_subtreemass", "body_pos", "geom_friction", "dof_damping",
          "actuator_gainprm", "actuator_biasprm")


def _fields(p) -> dict:
    """The leaves these tests read (returning the whole model from a vmap costs seconds of XLA compile)."""
    out = {f: getattr(p.model, f) for f in FIELDS}
    return {**out, "gravity": p.model.opt.gravity, "init_noise": p.init_noise, "init_cart_range": p.init_cart_range}


@functools.lru_cache(maxsize=None)
def _draws():
    keys = jax.random.split(jax.random.key(0), N_DRAWS)
    return keys, jax.device_get(jax.jit(jax.vmap(lambda k: _fields(randomize(PARAMS, k, RANGES))))(keys))


def test_draws_follow_each_mode_and_stay_in_range():
    _, d = _draws()
    m0 = jax.device_get(PARAMS.model)
    mass_ratio = d["body_mass"][:, 1:] / m0.body_mass[1:]
    np.testing.assert_array_equal(d["body_mass"][:, 0], 0.0)  # the world body never changes
    assert np.all((mass_ratio >= 0.5 - 1e-6) & (mass_ratio <= 2.0 + 1e-6))
    assert np.all(np.abs(mass_ratio[:, 0] - mass_ratio[:, 1]) > 0) and abs(mass_ratio.mean() - 1.25) < 0.1
    friction = d["geom_friction"] - m0.geom_friction
    assert np.all((friction >= 0) & (friction <= 0.5)) and np.unique(friction[0]).size == NGEOM * 3  # per element
    damping = d["dof_damping"]
    assert np.all((damping[:, 0] >= 0) & (damping[:, 0] <= 0.1) & (damping[:, 1] >= 1) & (damping[:, 1] <= 2))
    gain = d["actuator_gainprm"][:, 0, 0] / m0.actuator_gainprm[0, 0]
    assert np.all((gain >= 0.5) & (gain <= 1.5)) and np.ptp(gain) > 0.5
    g = d["gravity"]
    assert np.all((g[:, 2] >= -11) & (g[:, 2] <= -8.5)) and np.all(g[:, :2] == 0)
    noise = d["init_noise"] / float(PARAMS.init_noise)
    assert np.all((noise >= 0.5 - 1e-6) & (noise <= 2.0 + 1e-6)) and np.ptp(noise) > 1.0
    # Everything not named is the nominal value, broadcast over the draws.
    np.testing.assert_array_equal(d["body_pos"], np.broadcast_to(m0.body_pos, d["body_pos"].shape))
    np.testing.assert_array_equal(d["init_cart_range"], float(PARAMS.init_cart_range))


def test_coupled_fields_scale_with_mass():
    _, d = _draws()
    m0 = jax.device_get(PARAMS.model)
    ratio = d["body_mass"][:, 1:] / m0.body_mass[1:]
    np.testing.assert_allclose(d["body_inertia"][:, 1:], m0.body_inertia[1:] * ratio[..., None], rtol=1e-6)
    cart, pole = d["body_mass"][:, 1], d["body_mass"][:, 2]
    np.testing.assert_allclose(d["body_subtreemass"], np.stack([cart + pole, cart + pole, pole], -1), rtol=1e-6)


def test_shared_draw_uses_one_number_for_all_elements():
    ranges = {"body_mass": ("scale", (1.0, 1.0, 2.0), (1.0, 2.0, 4.0), "shared"), "geom_friction": ("scale", 0, 3, "shared")}
    values = jax.jit(jax.vmap(lambda k: sample(PARAMS, k, ranges)))(jax.random.split(jax.random.key(1), 32))
    m0 = PARAMS.model
    r_cart = values["body_mass"][:, 1] / m0.body_mass[1]  # in [1, 2]
    r_pole = values["body_mass"][:, 2] / m0.body_mass[2]  # in [2, 4]: the same uniform number
    np.testing.assert_allclose((r_pole - 2.0) / 2.0, r_cart - 1.0, atol=1e-5)
    r = values["geom_friction"] / m0.geom_friction
    np.testing.assert_allclose(r, np.broadcast_to(r[:, :1, :1], r.shape), rtol=1e-5)
    assert np.ptp(r_cart) > 0.5


def test_vmap_equals_loop_jit_equals_eager_and_names_draw_independently():
    keys, d = _draws()
    one = jax.jit(lambda k: _fields(randomize(PARAMS, k, RANGES)))
    for i in range(3):
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[i], rtol=1e-6), jax.device_get(one(keys[i])), d)
    alone = sample(PARAMS, keys[0], {"gravity_z": RANGES["gravity_z"]})  # eager
    np.testing.assert_allclose(alone["gravity_z"], d["gravity"][0, 2], rtol=1e-6)  # other names don't shift its draw
    eager = apply(PARAMS, alone)
    np.testing.assert_array_equal(eager.model.opt.gravity[:2], 0.0)
    np.testing.assert_allclose(eager.model.opt.gravity[2], d["gravity"][0, 2], rtol=1e-6)


# ============================================================================ against MuJoCo's compiler


# A body with two geoms (inertia about a combined COM), and one actuator of each affine kind.
SERVOS_XML = """
<mujoco>
  <worldbody>
    <body name="a">
      <joint name="ja" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0 0 .5" size=".05" mass="{ma1}"/>
      <geom type="sphere" pos=".1 0 .5" size=".08" mass="{ma2}"/>
      <body name="b" pos="0 0 .5">
        <joint name="jb" type="slide" axis="1 0 0"/>
        <geom type="box" size=".1 .05 .02" mass="{mb}"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <general joint="ja" gear="3" gainprm="{g_motor}"/>
    <position joint="jb" kp="{kp}"/>
    <velocity joint="ja" kv="{kv}"/>
    <position joint="ja" kp="{kp2}" kv="{kv2}"/>
  </actuator>
</mujoco>
"""


def _servos(mass_scale=(1, 1), gain_scale=(1, 1, 1, 1)):
    sa, sb = mass_scale
    g = gain_scale
    return mujoco.MjModel.from_xml_string(SERVOS_XML.format(
        ma1=0.7 * sa, ma2=0.3 * sa, mb=0.5 * sb, g_motor=1.0 * g[0], kp=20.0 * g[1], kv=2.0 * g[2],
        kp2=50.0 * g[3], kv2=5.0 * g[3]))


def test_mass_and_gain_equal_a_model_recompiled_with_them():
    """Scaling masses (inertia along) and actuator gains (motor, position, velocity servos) as the MJCF would."""
    params = MjxParams(mjx.put_model(_servos(), impl="jax"))
    mass_scale, gain_scale = (1.7, 0.6), (2.0, 0.5, 3.0, 1.5)
    fixed = {  # low == high: a deterministic draw
        "body_mass": ("scale", (1.0, *mass_scale), (1.0, *mass_scale)),
        "actuator_gain": ("scale", gain_scale, gain_scale),
    }
    got = randomize(params, jax.random.key(0), fixed).model
    want = _servos(mass_scale, gain_scale)
    for field in ("body_mass", "body_inertia", "body_subtreemass", "actuator_gainprm", "actuator_biasprm"):
        np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=2e-6, atol=1e-9, err_msg=field)
    np.testing.assert_allclose(got.body_ipos, want.body_ipos, atol=1e-7)  # the centre of mass did not move
    # "set" on the gain sets gainprm[:, 0] (a servo's kp) and keeps each servo a servo (bias -kp).
    kp = randomize(params, jax.random.key(0), {"actuator_gain": ("set", 7.0, 7.0)}).model
    np.testing.assert_allclose(kp.actuator_gainprm[:, 0], 7.0)
    np.testing.assert_allclose(kp.actuator_biasprm[1, 1], -7.0)


def test_muscle_actuators_are_refused_for_actuator_gain():
    m = mujoco.MjModel.from_xml_string("""
      <mujoco><worldbody><body><joint name="j" range="-1 1"/><geom size=".1" mass="1"/></body></worldbody>
      <actuator><muscle joint="j" lengthrange="-1 1"/></actuator></mujoco>""")
    params = MjxParams(mjx.put_model(m, impl="jax"))
    assert "actuator_gain needs fixed/affine gain and bias; actuators [0]" in _error(params, {"actuator_gain": ("scale", 1, 2)})
    check_ranges(params, {"body_mass": ("scale", 1, 2)})  # other parameters are fine


# ============================================================================ the wrapper, against MuJoCo's C engine


DR_RANGES = {
    "body_mass": ("scale", 0.5, 2.0),
    "dof_damping": ("set", 0.0, 0.3),
    "actuator_gain": ("scale", 0.5, 1.5),
    "gravity_z": ("set", -12.0, -7.0),
    # Task constants: every episode starts at rest, upright and centred, so only the physics differ.
    "init_cart_range": ("set", 0.0, 0.0),
    "init_angle_range": ("set", 0.0, 0.0),
    "init_noise": ("set", 0.0, 0.0),
}
EPISODE, B, STEPS = 30, 3, 65
ACTIONS = (0.6 * np.sin(np.arange(STEPS) / 6.0)).astype(np.float32)  # the same for every env


def _drawn(p) -> dict:
    """The drawn physics a C model needs (only these leave the compiled program)."""
    m = p.model
    return {"body_mass": m.body_mass, "dof_damping": m.dof_damping, "gain": m.actuator_gainprm[..., 0], "gravity": m.opt.gravity}


@functools.lru_cache(maxsize=None)
def _wrapped_rollout():
    """B randomised cartpoles under training_stack(DomainRandomization(...)), ``STEPS`` steps: ONE MJX compile."""
    env, params = envs.make("cartpole_balance", episode_length=EPISODE)
    stack = training_stack(DomainRandomization(env, DR_RANGES), num_envs=B)

    @jax.jit
    def go(key):
        state, ts0 = stack.reset(key, params)
        first = _drawn(episode_params(state, params))

        def body(state, xs):
            k, a = xs
            state, ts = stack.step(k, state, jnp.full((B, 1), a), params)
            return state, (ts, episode_params(state, params).model.body_mass)

        _, (ts, mass) = jax.lax.scan(body, state, (jax.random.split(key, STEPS), ACTIONS))
        return ts0, first, ts, mass

    return jax.device_get(go(jax.random.key(0)))


def test_wrapper_draws_per_env_and_per_episode():
    _, first, ts, mass = _wrapped_rollout()
    mass0 = first["body_mass"]
    assert mass0.shape == (B, NBODY) and mass.shape == (STEPS, B, NBODY)
    assert len({tuple(m) for m in mass0}) == B  # every env its own masses
    assert len({tuple(g) for g in first["gravity"]}) == B and len(set(first["gain"].ravel())) == B
    done = ts.terminated | ts.truncated
    np.testing.assert_array_equal(done, np.broadcast_to(((np.arange(STEPS) + 1) % EPISODE == 0)[:, None], done.shape))
    # Constant within an episode, redrawn at every reset (the world body's 0 aside).
    e = EPISODE
    np.testing.assert_array_equal(mass[: e - 1], np.broadcast_to(mass0, (e - 1, B, NBODY)))
    np.testing.assert_array_equal(mass[e: 2 * e - 1], np.broadcast_to(mass[e - 1], (e - 1, B, NBODY)))
    assert np.all(mass[e - 1, :, 1:] != mass0[:, 1:]) and np.all(mass[2 * e - 1, :, 1:] != mass[e - 1, :, 1:])


def _recompiled_cartpole(drawn: dict, b: int) -> mujoco.MjModel:
    """cartpole.xml recompiled by MuJoCo with env ``b``'s drawn physical values."""
    spec = mujoco.MjSpec.from_file(asset_path("cartpole.xml"))
    for body, geom in ((1, "cart"), (2, "pole")):  # one geom per body: its mass is the body's
        spec.geom(geom).mass = float(drawn["body_mass"][b, body])
    for dof, joint in ((0, "slider"), (1, "hinge")):
        spec.joint(joint).damping[0] = float(drawn["dof_damping"][b, dof])
    spec.actuator("push").gainprm[0] = float(drawn["gain"][b, 0])
    spec.option.gravity = np.asarray(drawn["gravity"][b], np.float64)
    return spec.compile()


def _c_observations(model: mujoco.MjModel, steps: int) -> np.ndarray:
    """Cartpole observations stepping MuJoCo's C engine from rest with ``ACTIONS``."""
    data = mujoco.MjData(model)
    out = []
    for a in ACTIONS[:steps]:
        data.ctrl[:] = a
        mujoco.mj_step(model, data)
        x, angle = data.qpos
        out.append([x, np.cos(angle), np.sin(angle), *data.qvel])
    return np.array(out)


def test_wrapper_dynamics_are_the_drawn_physics_as_mujoco_c_steps_them():
    ts0, first, ts, _ = _wrapped_rollout()
    np.testing.assert_array_equal(ts0.obs, np.broadcast_to([0.0, 1.0, 0.0, 0.0, 0.0], ts0.obs.shape))  # same start
    obs = ts.info["final_obs"][:EPISODE]  # the first episodes' true observations [T, B, 5]
    for b in range(B):
        model = _recompiled_cartpole(first, b)
        ref = _c_observations(model, EPISODE)
        assert np.abs(ref[:, 0]).max() < 1.7  # the slider limit never engages (its constants are not randomised)
        np.testing.assert_allclose(obs[:, b], ref, atol=2e-3, err_msg=f"env {b}")
    # Same start, same actions, different physics: different trajectories.
    for a, b in ((0, 1), (1, 2), (0, 2)):
        assert np.abs(obs[:, a] - obs[:, b]).max() > 0.05


def test_a_randomized_batch_runs_under_vec_env_with_batched_params():
    """``randomize(..., num=B)`` feeds ``training_stack(batched_params=True)``: env i steps with draw i."""
    from test_brax_adapter import Slider  # v' = (1 - drag) v + 0.2 a: velocity after n pushes is known

    env = TimeLimit(Slider(), max_steps=10)
    batch = randomize(env.default_params(), jax.random.key(0), {"drag": ("set", 0.0, 0.5)}, num=4)
    venv = training_stack(env, num_envs=4, batched_params=True)

    @jax.jit
    def go(key):
        state, _ = venv.reset(key, batch)
        for _ in range(4):
            state, ts = venv.step(key, state, jnp.ones((4, 1)), batch)
        return ts

    v = np.asarray(go(jax.random.key(1)).obs[:, 1])
    drag = np.asarray(batch.drag)
    np.testing.assert_allclose(v, 0.2 * sum((1 - drag) ** i for i in range(4)), rtol=1e-5)
    assert np.ptp(drag) > 0.1


@pytest.mark.timeout(300)
def test_ppo_trains_on_randomized_params_unchanged():
    """Any trainer, any Params dataclass: jaxrl's PPO on a randomised toy env (cheap to compile)."""
    from test_brax_adapter import Slider

    env = DomainRandomization(TimeLimit(Slider(), max_steps=10), {"drag": ("set", 0.0, 0.3), "limit": ("scale", 0.8, 1.5)})
    params = env.default_params()
    config = ppo.PPOConfig(total_timesteps=4 * 16 * 2, num_envs=4, num_steps=16, num_minibatches=2, update_epochs=1,
                           hidden_sizes=(8,))
    state, metrics = jax.device_get(jax.jit(ppo.make_train(config, env, params))(jax.random.key(0), ppo.PPOHparams()))
    for name, value in metrics.items():
        assert np.all(np.isfinite(value)), name
    assert np.all(metrics["episodes"] >= 4)
    drawn = episode_params(state.rollout.env_state, params)  # [num_envs] params of the running episodes
    assert drawn.drag.shape == (4,) and len(set(drawn.drag.tolist())) == 4 and np.all(drawn.drag <= 0.3)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ppo_trains_on_randomized_cartpole_balance():
    env, params = envs.make("cartpole_balance", episode_length=10)
    env = DomainRandomization(env, {"body_mass": ("scale", 0.5, 2.0), "actuator_gain": ("scale", 0.5, 1.5)})
    config = ppo.PPOConfig(total_timesteps=4 * 16 * 2, num_envs=4, num_steps=16, num_minibatches=2, update_epochs=1,
                           hidden_sizes=(8,))
    train = ppo.make_train(config, env, params)
    state, metrics = jax.device_get(jax.jit(train)(jax.random.key(0), ppo.PPOHparams()))
    for name, value in metrics.items():
        assert np.all(np.isfinite(value)), name
    np.testing.assert_array_equal(metrics["episodes"], [4, 8])  # 4 envs, 10-step episodes: done at steps 10, 20, 30
    np.testing.assert_array_equal(metrics["episode_length"], [10, 10])
    masses = episode_params(state.rollout.env_state, params).model.body_mass  # [num_envs, nbody]
    assert masses.shape == (4, NBODY) and len({tuple(m) for m in np.asarray(masses)}) == 4
    assert not np.allclose(masses[:, 1:], np.asarray(params.model.body_mass[1:]))
