"""Domain randomisation: draw env params whose physics and task constants differ.

    ranges = {
        "body_mass": ("scale", 0.8, 1.2),            # every body's mass x U(0.8, 1.2), drawn per body
        "actuator_gain": ("scale", 0.7, 1.3, "shared"),  # one factor for all actuators
        "gravity_z": ("set", -11.0, -8.5),
        "init_noise": ("scale", 0.5, 2.0),           # a task constant of CartpoleParams
    }
    batch = randomize(params, key, ranges, num=64)   # every leaf gains [64]: VecEnv(batched_params=True)
    one = randomize(params, key, ranges)             # or jax.vmap(lambda k: randomize(params, k, ranges))(keys)
    env = DomainRandomization(env, ranges)           # redraws at every reset; any trainer, unchanged

A range is ``(mode, low, high)`` or ``(mode, low, high, draw)`` (or a :class:`Range`):

* ``mode``: ``"scale"`` (new = nominal * u), ``"set"`` (new = u) or ``"add"``
  (new = nominal + u), with ``u ~ Uniform(low, high)``;
* ``low``, ``high``: finite numbers, or arrays broadcastable to the parameter's
  shape (per-element bounds, e.g. a different range per body), ``low <= high``;
* ``draw``: ``"each"`` (default: an independent ``u`` per element) or
  ``"shared"`` (one uniform number per draw for all elements:
  ``u = low + v * (high - low)`` with one ``v``, so per-element bounds stay
  perfectly correlated).

Parameters (:func:`parameters` lists them, with shapes, for given params):

=================  ===========  ==========================================================
name               shape        what changes
=================  ===========  ==========================================================
``body_mass``      ``[nbody]``  ``model.body_mass``; ``body_inertia`` is scaled by the same
                                factor (same shape and mass distribution, new density) and
                                ``body_subtreemass`` recomputed. Body 0 (the world) never
                                changes.
``geom_friction``  ``[ngeom,3]`` ``model.geom_friction`` (sliding, torsional, rolling).
``dof_damping``    ``[nv]``     ``model.dof_damping``.
``actuator_gain``  ``[nu]``     ``model.actuator_gainprm[:, 0]``; the actuator's whole
                                force law scales with it (``gainprm[:, :3]`` and
                                ``biasprm[:, :3]`` by new/nominal gain): a motor's force per
                                unit control, a position servo's ``kp`` with its ``-kp``
                                bias (and ``kv``), a velocity servo's ``kv``. Needs
                                fixed/affine gain and bias; a nominal gain of 0 is left as is.
``gravity``        ``[3]``      ``model.opt.gravity``.
``gravity_x|y|z``  ``[]``       one component of ``model.opt.gravity``.
task constants     any          every float field of the params dataclass other than
                                ``model`` (e.g. Cartpole's ``init_noise``; gymnax's
                                ``EnvParams.gravity``). Integer fields cannot be randomised.
=================  ===========  ==========================================================

The physics names exist when ``params.model`` is an ``mjx.Model`` (every
:class:`~jaxrl.envs.mjx_env.MjxTask`). ``body_mass``, ``geom_friction``,
``dof_damping`` and ``actuator_gain`` must stay >= 0: ``scale``/``set`` ranges
need ``low >= 0``, an ``add`` range is checked against the nominal values when
they are concrete. Constants MuJoCo derives from the masses at load time for
the constraint solver's regularisation (``dof_invweight0``, ``body_invweight0``,
``actuator_acc0``, ``stat.meaninertia``) keep their nominal values, exactly as
in MuJoCo when ``body_mass`` is changed without calling ``mj_setConst`` (and
as in Brax's and MuJoCo Playground's randomisers).

Every range is checked (names, modes, bounds, shapes) in Python, before
anything compiles; ``ranges`` is static and ``key``/``params`` may be traced.
Each name draws from ``fold_in(key, crc32(name))``, so adding a range does not
change what the others draw.
"""

from __future__ import annotations

import dataclasses
import numbers
import zlib
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.env import Wrapper
from jaxrl.envs.mjx_env import mjx
from jaxrl.wrappers import find_state

MODES = ("scale", "set", "add")
DRAWS = ("each", "shared")


def _freeze(bound):
    """A hashable bound: a float, or nested tuples of floats."""
    a = np.asarray(bound)
    if a.dtype.kind not in "biuf" or a.dtype == np.bool_:
        raise ValueError(f"bounds must be numbers or arrays of numbers, got {bound!r}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"bounds must be finite, got {bound!r}")
    a = a.astype(np.float64)
    return float(a) if a.ndim == 0 else _tuplify(a.tolist())


def _tuplify(x):
    return tuple(_tuplify(v) for v in x) if isinstance(x, list) else x


@dataclasses.dataclass(frozen=True)
class Range:
    """How to draw one parameter (static, hashable; see the module docstring).

    Attributes:
      mode: ``"scale"``, ``"set"`` or ``"add"``.
      low, high: bounds of the uniform draw, floats or nested tuples broadcastable
        to the parameter's shape.
      draw: ``"each"`` (one draw per element) or ``"shared"`` (one for all).
    """

    mode: str
    low: Any
    high: Any
    draw: str = "each"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; modes are: {', '.join(MODES)}")
        if self.draw not in DRAWS:
            raise ValueError(f"unknown draw {self.draw!r}; draws are: {', '.join(DRAWS)}")
        low, high = _freeze(self.low), _freeze(self.high)
        try:
            ok = np.all(np.asarray(low) <= np.asarray(high))
        except ValueError:
            raise ValueError(f"low shape {np.shape(low)} and high shape {np.shape(high)} do not broadcast") from None
        if not ok:
            raise ValueError(f"low must be <= high, got low={self.low!r}, high={self.high!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def shape(self) -> tuple[int, ...]:
        """The broadcast shape of the bounds."""
        return np.broadcast_shapes(np.shape(self.low), np.shape(self.high))


def _as_range(name: str, spec) -> Range:
    try:
        if isinstance(spec, Range):
            return spec
        if isinstance(spec, (tuple, list)) and len(spec) in (3, 4):
            return Range(*spec)
        raise ValueError(f"must be (mode, low, high) or (mode, low, high, draw), got {spec!r}")
    except (ValueError, TypeError) as err:
        raise ValueError(f"randomize: range for {name!r}: {err}") from None


def parse_ranges(ranges) -> tuple[tuple[str, Range], ...]:
    """``ranges`` (a mapping name -> range, or pairs) as sorted ``(name, Range)`` pairs (hashable).

    Checks each range alone (format, mode, draw, finite bounds, ``low <= high``);
    :func:`check_ranges` also checks them against the params.
    """
    items = ranges.items() if isinstance(ranges, Mapping) else ranges
    try:
        pairs = [(name, spec) for name, spec in items]
    except (TypeError, ValueError):
        raise ValueError(f"randomize: ranges must map parameter names to ranges, got {ranges!r}") from None
    seen = set()
    for name, _ in pairs:
        if not isinstance(name, str):
            raise ValueError(f"randomize: parameter names must be strings, got {name!r}")
        if name in seen:
            raise ValueError(f"randomize: {name!r} has two ranges")
        seen.add(name)
    return tuple(sorted(((name, _as_range(name, spec)) for name, spec in pairs), key=lambda pair: pair[0]))


# ----------------------------------------------------------------------------- parameters


class _Target(NamedTuple):
    """One randomisable parameter: read its nominal value, write a new one (with coupled fields)."""

    get: Callable[[Any], jax.Array]
    put: Callable[[Any, jax.Array], Any]
    nonnegative: bool = False
    check: Callable[[Any], None] | None = None  # extra validity check against the params


def _model_of(params):
    model = getattr(params, "model", None)
    return model if isinstance(model, mjx.Model) else None


def _set_model(params, **fields):
    return dataclasses.replace(params, model=dataclasses.replace(params.model, **fields))


def _ratio(new, old):
    """``new / old`` where ``old > 0``, else 1 (nothing to scale)."""
    positive = old > 0
    return jnp.where(positive, new / jnp.where(positive, old, 1.0), 1.0)


def _subtree_matrix(parent_id: np.ndarray) -> np.ndarray:
    """``S[j, i] = 1`` where body ``j`` is in the subtree of body ``i`` (itself included)."""
    n = len(parent_id)
    s = np.eye(n, dtype=np.float32)
    for j in range(n - 1, 0, -1):  # MuJoCo orders every body after its parent
        s[:, parent_id[j]] += s[:, j]
    return s


def _put_body_mass(params, mass):
    m = params.model
    mass = mass.at[0].set(m.body_mass[0])  # the world body stays as it is
    ratio = _ratio(mass, m.body_mass)
    return _set_model(
        params,
        body_mass=mass,
        body_inertia=m.body_inertia * ratio[:, None],
        body_subtreemass=mass @ _subtree_matrix(np.asarray(m.body_parentid)),
    )


def _put_gain(params, gain):
    m = params.model
    ratio = _ratio(gain, m.actuator_gainprm[:, 0])[:, None]
    return _set_model(
        params,
        actuator_gainprm=m.actuator_gainprm.at[:, :3].multiply(ratio),
        actuator_biasprm=m.actuator_biasprm.at[:, :3].multiply(ratio),
    )


def _check_gain(params):
    m = params.model
    gain_ok = np.isin(np.asarray(m.actuator_gaintype), (mjx.GainType.FIXED, mjx.GainType.AFFINE))
    bias_ok = np.isin(np.asarray(m.actuator_biastype), (mjx.BiasType.NONE, mjx.BiasType.AFFINE))
    bad = np.flatnonzero(~(gain_ok & bias_ok))
    if bad.size:
        raise ValueError(f"randomize: actuator_gain needs fixed/affine gain and bias; actuators {bad.tolist()} are not")


def _field(name):
    return _Target(
        get=lambda p: getattr(p.model, name),
        put=lambda p, v: _set_model(p, **{name: v}),
        nonnegative=True,
    )


def _gravity_component(i):
    def put(p, v):
        opt = p.model.opt
        return _set_model(p, opt=dataclasses.replace(opt, gravity=opt.gravity.at[i].set(v)))

    return _Target(get=lambda p: p.model.opt.gravity[i], put=put)


_PHYSICS: dict[str, _Target] = {
    "body_mass": _Target(lambda p: p.model.body_mass, _put_body_mass, nonnegative=True),
    "geom_friction": _field("geom_friction"),
    "dof_damping": _field("dof_damping"),
    "actuator_gain": _Target(lambda p: p.model.actuator_gainprm[:, 0], _put_gain, True, _check_gain),
    "gravity": _Target(
        get=lambda p: p.model.opt.gravity,
        put=lambda p, v: _set_model(p, opt=dataclasses.replace(p.model.opt, gravity=v)),
    ),
    "gravity_x": _gravity_component(0),
    "gravity_y": _gravity_component(1),
    "gravity_z": _gravity_component(2),
}


def _float_dtype(value):
    """The dtype of a float scalar/array field value, else None."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray, np.generic, jax.Array)):
        return None
    dtype = jnp.result_type(value)
    return dtype if jnp.issubdtype(dtype, jnp.floating) else None


def _constant(name):
    return _Target(get=lambda p: jnp.asarray(getattr(p, name)), put=lambda p, v: dataclasses.replace(p, **{name: v}))


def _targets(params) -> dict[str, _Target]:
    targets = dict(_PHYSICS) if _model_of(params) is not None else {}
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        for f in dataclasses.fields(params):
            if f.name != "model" and _float_dtype(getattr(params, f.name)) is not None:
                if f.name in targets:
                    raise ValueError(f"randomize: task constant {f.name!r} shadows the physics parameter of that name")
                targets[f.name] = _constant(f.name)
    return targets


def parameters(params) -> dict[str, tuple[int, ...]]:
    """Every parameter of ``params`` that can be randomised, with its shape."""
    return {name: tuple(jnp.shape(t.get(params))) for name, t in _targets(params).items()}


def _describe(params) -> str:
    listed = ", ".join(f"{n}{list(s)}" for n, s in parameters(params).items())
    return f"{type(params).__name__} has: {listed or 'nothing to randomize'}"


def check_ranges(params, ranges) -> tuple[tuple[str, Range], ...]:
    """Validate ``ranges`` against ``params``; return them as sorted ``(name, Range)`` pairs.

    Raises:
      ValueError: a malformed range (see :func:`parse_ranges`), a name ``params``
        does not have (the message lists what it has), an integer field, bounds
        that do not broadcast to the parameter's shape, or a range that would
        make a mass, friction, damping or gain negative.
    """
    pairs = parse_ranges(ranges)
    targets = _targets(params)
    for name, r in pairs:
        if name not in targets:
            fields = {f.name for f in dataclasses.fields(params)} if dataclasses.is_dataclass(params) else set()
            if name in fields and _is_numeric(getattr(params, name)):
                raise ValueError(f"randomize: {name!r} has dtype {jnp.result_type(getattr(params, name))}; only float "
                                 f"parameters can be randomized ({_describe(params)})")
            raise ValueError(f"randomize: unknown parameter {name!r}; {_describe(params)}")
        target = targets[name]
        shape = tuple(jnp.shape(target.get(params)))
        if not _broadcasts(r.shape, shape) or np.broadcast_shapes(r.shape, shape) != shape:
            raise ValueError(f"randomize: bounds of shape {r.shape} for {name!r} do not broadcast to its shape {shape}")
        if target.check is not None:
            target.check(params)
        if target.nonnegative:
            _check_nonnegative(name, r, target.get(params))
    return pairs


def _is_numeric(value) -> bool:
    try:
        jnp.result_type(value)
        return True
    except TypeError:
        return False


def _broadcasts(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _check_nonnegative(name: str, r: Range, nominal) -> None:
    if r.mode in ("scale", "set"):
        if np.any(np.asarray(r.low) < 0):
            raise ValueError(f"randomize: {name} must stay >= 0; a {r.mode!r} range needs low >= 0, got low={r.low!r}")
        return
    try:
        nominal = np.asarray(nominal)
    except jax.errors.TracerArrayConversionError:
        return  # traced params: nothing to check against
    if np.any(nominal + np.asarray(r.low) < 0):
        raise ValueError(f"randomize: {name} must stay >= 0; nominal + low goes below 0 (low={r.low!r})")


# ----------------------------------------------------------------------------- drawing


def _name_key(key, name: str):
    return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)


def sample(params, key: jax.Array, ranges) -> dict[str, jax.Array]:
    """Draw new values ``{name: array of the parameter's shape and dtype}`` (apply them with :func:`apply`).

    ``params`` gives the nominal values ``scale`` and ``add`` start from.
    """
    targets = _targets(params)
    values = {}
    for name, r in check_ranges(params, ranges):
        nominal = targets[name].get(params)
        low = jnp.asarray(r.low, nominal.dtype)
        high = jnp.asarray(r.high, nominal.dtype)
        u = jax.random.uniform(_name_key(key, name), () if r.draw == "shared" else nominal.shape, nominal.dtype)
        u = low + u * (high - low)
        new = {"scale": nominal * u, "set": u, "add": nominal + u}[r.mode]
        values[name] = jnp.broadcast_to(new, nominal.shape).astype(nominal.dtype)
    return values


def apply(params, values: Mapping[str, jax.Array]):
    """``params`` with each parameter of ``values`` set (and its coupled fields updated, e.g. inertia)."""
    targets = _targets(params)
    for name in sorted(values):
        if name not in targets:
            raise ValueError(f"randomize: unknown parameter {name!r}; {_describe(params)}")
        params = targets[name].put(params, values[name])
    return params


def randomize(params, key: jax.Array, ranges, num: int | None = None):
    """Params with the parameters named in ``ranges`` drawn at random.

    Args:
      params: nominal params (e.g. from ``jaxrl.envs.make``); may be traced.
      key: PRNG key.
      ranges: ``{name: (mode, low, high[, draw])}`` (static; see the module docstring).
      num: if given, draw ``num`` params: every leaf gains a leading ``[num]``
        axis (for ``VecEnv(batched_params=True)`` / ``training_stack``).

    Returns:
      Params of the same structure, randomised leaves of the same dtype.
    """
    if num is not None:
        if isinstance(num, bool) or not isinstance(num, numbers.Integral) or num < 1:
            raise ValueError(f"randomize: num must be an integer >= 1, got {num!r}")
        check_ranges(params, ranges)  # fail before vmap traces anything
        return jax.vmap(lambda k: randomize(params, k, ranges))(jax.random.split(key, int(num)))
    return apply(params, sample(params, key, ranges))


# ----------------------------------------------------------------------------- wrapper


@struct.dataclass
class DomainRandomizationState:
    """State of :class:`DomainRandomization`.

    Attributes:
      inner: the wrapped env's state.
      values: ``{name: value}`` drawn at this episode's reset (traced; :func:`sample`).
    """

    inner: Any
    values: dict


@dataclasses.dataclass(frozen=True)
class DomainRandomization(Wrapper):
    """Redraw the params at every reset and keep them in the env state for the episode.

    ``DomainRandomization(env, ranges)``: ``reset(key, params)`` draws values
    with :func:`sample` from the nominal ``params`` and resets the inner env
    with them; ``step`` applies the episode's values to the ``params`` it is
    given. Under :class:`jaxrl.wrappers.AutoReset` every new episode gets new
    physics, under ``VecEnv`` every env its own, so any trainer (e.g.
    ``ppo.make_train(config, DomainRandomization(env, ranges), params)``)
    trains on randomised physics unchanged. Only the drawn values live in the
    state, not whole params.

    Attributes:
      ranges: static; a mapping ``{name: range}`` (stored as sorted ``(name, Range)``
        pairs), checked against ``env.default_params()`` on construction.
    """

    ranges: Any

    def __post_init__(self):
        object.__setattr__(self, "ranges", parse_ranges(self.ranges))
        try:
            params = self.env.default_params()
        except NotImplementedError:
            return  # checked against the params at reset instead
        check_ranges(params, self.ranges)

    def reset(self, key, params):
        draw_key, reset_key = jax.random.split(key)
        values = sample(params, draw_key, self.ranges)
        state, ts = self.env.reset(reset_key, apply(params, values))
        return DomainRandomizationState(state, values), ts

    def step(self, key, state, action, params):
        inner, ts = self.env.step(key, state.inner, action, apply(params, state.values))
        return state.replace(inner=inner), ts



def episode_params(state, params):
    """The params the current episode(s) of ``state`` run with.

    ``state`` is a :class:`DomainRandomization` state or any stack of wrapper
    states around one (e.g. a ``training_stack`` state); under ``VecEnv`` the
    result has the batch axes of the drawn values (``[B]``), ``params`` are the
    nominal params given to ``reset``/``step``.
    """
    values = find_state(state, DomainRandomizationState).values
    if not values:
        return params
    name = next(iter(values))
    fn = apply
    for _ in range(jnp.ndim(values[name]) - len(parameters(params)[name])):
        fn = jax.vmap(fn, in_axes=(None, 0))
    return fn(params, values)
