"""Any gymnax environment under jaxrl's env API (``pip install 'jaxrl[gymnax]'``).

    env, params = jaxrl.envs.make("gymnax/CartPole-v1")              # or make_gymnax("CartPole-v1")
    env, params = jaxrl.envs.make("gymnax/CartPole-v1", max_steps_in_episode=200, gravity=9.0)
    env, params = jaxrl.envs.make("gymnax/Breakout-MinAtar", flatten_obs=True)   # [400] for an MLP

``params`` is gymnax's own ``EnvParams`` pytree (vmap or randomise it like any
jaxrl params). ``state`` is gymnax's own env state.

Termination vs truncation. gymnax's ``Environment.step`` auto-resets and
returns ``done``; jaxrl needs the two kinds of episode end apart and resets in
:class:`jaxrl.wrappers.AutoReset`, so the adapter calls gymnax's ``step_env``
(one transition, no reset). In gymnax 1.0.1 (the pinned version) ``step_env``'s
``done`` is the NATURAL termination only (``is_terminal`` = ``is_terminated``,
e.g. the pole fell; no env folds the time limit into it), and the time limit
is ``Environment.is_truncated(state, params) = state.time >=
params.max_steps_in_episode``, checked on the post-step state. Hence::

    terminated = step_env's done
    truncated  = is_truncated(next_state, params) & ~terminated   # termination wins, as in TimeLimit

So the time limit lives in ``params.max_steps_in_episode`` (traced, can differ
per env under vmap) and no :class:`jaxrl.wrappers.TimeLimit` is applied.

Spaces: gymnax ``Discrete(n)`` actions -> :class:`jaxrl.spaces.Discrete`,
``Box`` actions -> :class:`jaxrl.spaces.Box` with gymnax's bounds. Observations
are float32: a ``Box`` observation keeps its shape and bounds (``flatten_obs=True``
ravels it to one axis, which PPO's MLP needs for e.g. MinAtar's ``[10, 10, C]``);
a ``Discrete(n)`` observation (FrozenLake) becomes a one-hot ``[n]``. Specs are
computed from the nominal params (``env.default_params()``). Rewards are float32
scalars. gymnax's ``info`` (only ``discount = 1 - terminated``) is dropped.

Hashability: the env holds only its gymnax id and hashable options (the
constructor kwargs and the param overrides as sorted tuples); the gymnax
``Environment`` object is built on first use and cached per ``(id, kwargs)``.
Equal options give equal, equally-hashed envs (one jit cache entry, picklable),
and no mutable Python object takes part in ``__eq__``/``__hash__``.

Differences from gymnax's own ``step``: DeepSea-bsuite's override of ``step``
that carries bsuite's cumulative metrics across resets is bypassed (the
transition itself is identical).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.configs import did_you_mean
from jaxrl.env import Env, timestep
from jaxrl.spaces import Box, Discrete, Spec

INSTALL_HINT = "pip install 'jaxrl[gymnax]'"


def _gymnax():
    """Import gymnax lazily, so jaxrl works without it."""
    try:
        import gymnax
    except ImportError as err:
        raise ImportError(f"gymnax environments need gymnax: {INSTALL_HINT} ({err})") from err
    return gymnax


def _check_id(env_id: str) -> None:
    from jaxrl.envs.registry import UnknownEnvError  # no cycle: registry imports this module lazily

    known = list(_gymnax().registered_envs)
    if env_id not in known:
        hint = did_you_mean(str(env_id), known)
        raise UnknownEnvError(f"unknown gymnax env {env_id!r}{hint}; gymnax's envs: {', '.join(known)}")


@functools.lru_cache(maxsize=None)
def _gymnax_env(env_id: str, env_kwargs: tuple):
    _check_id(env_id)
    env, _ = _gymnax().make(env_id, **dict(env_kwargs))
    return env


def _freeze(value):
    """A hashable copy of a param override (Python scalars, nested tuples for arrays)."""
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"must be a number or an array of numbers, got {value!r}")
    if a.ndim == 0:
        return value if isinstance(value, (bool, int, float)) else a.item()
    return _tuplify(a.tolist())


def _tuplify(x):
    return tuple(_tuplify(v) for v in x) if isinstance(x, list) else x


def _bounds(bound, shape) -> float | tuple[float, ...]:
    """gymnax bounds as a Box bound; gymnax writes "unbounded" as +-float32 max, jaxrl as +-inf."""
    b = np.broadcast_to(np.asarray(bound, np.float64), shape).ravel()
    b = np.where(np.abs(b) >= np.finfo(np.float32).max, np.copysign(np.inf, b), b)
    return float(b[0]) if b.size and np.all(b == b[0]) else tuple(b.tolist())


@dataclasses.dataclass(frozen=True)
class GymnaxEnv(Env):
    """A gymnax environment as a jaxrl :class:`~jaxrl.env.Env` (build it with :func:`make_gymnax`).

    Attributes:
      env_id: a gymnax id (``gymnax.registered_envs``), e.g. ``"CartPole-v1"``.
      env_kwargs: gymnax constructor kwargs (static), sorted ``(name, value)`` pairs.
      param_overrides: ``EnvParams`` fields that differ from gymnax's defaults in
        the nominal params, sorted ``(name, value)`` pairs (values hashable).
      flatten_obs: ravel ``Box`` observations to one axis.
    """

    env_id: str
    env_kwargs: tuple[tuple[str, Any], ...] = ()
    param_overrides: tuple[tuple[str, Any], ...] = ()
    flatten_obs: bool = False

    @property
    def name(self) -> str:
        return f"gymnax/{self.env_id}"

    @property
    def gymnax_env(self):
        """The wrapped gymnax ``Environment`` (built once per ``(env_id, env_kwargs)``)."""
        return _gymnax_env(self.env_id, self.env_kwargs)

    def default_params(self):
        """gymnax's default ``EnvParams`` with ``param_overrides`` applied (what ``make`` returns)."""
        params = self.gymnax_env.default_params
        if not self.param_overrides:
            return params
        restored = {
            k: np.asarray(v, np.asarray(getattr(params, k)).dtype) if isinstance(v, tuple) else v
            for k, v in self.param_overrides
        }
        return params.replace(**restored)

    @property
    def max_steps(self) -> int | None:
        """The nominal time limit ``max_steps_in_episode`` (evaluation horizon); the traced one is in params."""
        limit = getattr(self.default_params(), "max_steps_in_episode", None)
        return None if limit is None else int(limit)

    @property
    def observation_spec(self) -> Box:
        return _observation_spec(self)[0]

    @property
    def action_spec(self) -> Spec:
        return _action_spec(self)

    def _obs(self, obs) -> jax.Array:
        spec, one_hot = _observation_spec(self)
        if one_hot:
            return jax.nn.one_hot(obs, spec.shape[0], dtype=jnp.float32)
        return jnp.asarray(obs, jnp.float32).reshape(spec.shape)

    def reset(self, key, params):
        obs, state = self.gymnax_env.reset_env(key, params)
        return state, timestep(self._obs(obs))

    def step_env(self, key, state, action, params):
        gym = self.gymnax_env
        obs, state, reward, done, _ = gym.step_env(key, state, action, params)
        terminated = jnp.reshape(jnp.asarray(done, jnp.bool_), ())
        truncated = jnp.reshape(jnp.asarray(gym.is_truncated(state, params), jnp.bool_), ()) & ~terminated
        reward = jnp.reshape(jnp.asarray(reward, jnp.float32), ())
        return state, timestep(self._obs(obs), reward, terminated, truncated)


# Specs are built once per env from the nominal params. gymnax builds its spaces with jnp
# ops, which inside a trace would give tracers: evaluate them eagerly.
@functools.lru_cache(maxsize=None)
def _observation_spec(env: GymnaxEnv) -> tuple[Box, bool]:
    """The observation spec and whether observations are one-hot encoded (a gymnax Discrete space)."""
    with jax.ensure_compile_time_eval():
        space = env.gymnax_env.observation_space(env.default_params())
    kind = type(space).__name__
    if kind == "Discrete":
        return Box((int(space.n),), 0.0, 1.0), True
    if kind != "Box":
        raise NotImplementedError(f"{env.name}: gymnax {kind} observation spaces are not supported (Box and Discrete are)")
    shape = tuple(int(s) for s in space.shape)
    low, high = _bounds(space.low, shape), _bounds(space.high, shape)
    return Box((int(np.prod(shape)),) if env.flatten_obs else shape, low, high), False


@functools.lru_cache(maxsize=None)
def _action_spec(env: GymnaxEnv) -> Spec:
    with jax.ensure_compile_time_eval():
        space = env.gymnax_env.action_space(env.default_params())
    kind = type(space).__name__
    if kind == "Discrete":
        return Discrete(int(space.n))
    if kind == "Box":
        shape = tuple(int(s) for s in space.shape)
        return Box(shape, _bounds(space.low, shape), _bounds(space.high, shape))
    raise NotImplementedError(f"{env.name}: gymnax {kind} action spaces are not supported (Box and Discrete are)")


def param_defaults(env_id: str, env_kwargs: dict | None = None) -> dict[str, Any]:
    """gymnax's default ``EnvParams`` of ``env_id`` as ``{field: default}``."""
    params = _gymnax_env(env_id, _sorted_kwargs(env_kwargs)).default_params
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


def _sorted_kwargs(env_kwargs: dict | None) -> tuple:
    items = tuple(sorted((env_kwargs or {}).items()))
    try:
        hash(items)
    except TypeError as err:
        raise ValueError(f"gymnax env_kwargs must be hashable (static), got {env_kwargs!r}") from err
    return items


def make_gymnax(env_id: str, *, flatten_obs: bool = False, env_kwargs: dict | None = None, **param_overrides):
    """Build a gymnax env under jaxrl's API and its params.

    Args:
      env_id: a gymnax id (``gymnax.registered_envs``), e.g. ``"CartPole-v1"``.
      flatten_obs: ravel ``Box`` observations to ``[prod(shape)]`` (MLP agents on MinAtar).
      env_kwargs: gymnax constructor kwargs (static, hashable values), e.g.
        ``{"size": 10}`` for DeepSea-bsuite.
      **param_overrides: ``EnvParams`` fields to change, e.g. ``max_steps_in_episode=200``.

    Returns:
      ``(env, params)``: a :class:`GymnaxEnv` and its ``EnvParams`` (gymnax's
      defaults with the overrides applied; also ``env.default_params()``).

    Raises:
      ImportError: gymnax is not installed.
      UnknownEnvError: ``env_id`` is not a gymnax id (the message lists them).
      ValueError: an override names no ``EnvParams`` field (the message lists them) or is not numeric.
    """
    kwargs = _sorted_kwargs(env_kwargs)
    defaults = param_defaults(env_id, dict(kwargs))
    unknown = sorted(set(param_overrides) - set(defaults))
    if unknown:
        raise ValueError(
            f"gymnax env {env_id!r} has no param {', '.join(map(repr, unknown))}; its EnvParams fields are: "
            + ", ".join(f"{k}={v!r}" for k, v in defaults.items())
        )
    frozen = []
    for k, v in sorted(param_overrides.items()):
        if np.shape(v) != np.shape(defaults[k]):
            raise ValueError(f"gymnax param {k} must have shape {np.shape(defaults[k])}, got {np.shape(v)}")
        try:
            frozen.append((k, _freeze(v)))
        except ValueError as err:
            raise ValueError(f"gymnax param {k} {err}") from None
    env = GymnaxEnv(env_id, kwargs, tuple(frozen), bool(flatten_obs))
    return env, env.default_params()


def registry_factory(env_id: str):
    """``make_gymnax`` bound to ``env_id``, with a signature that lists its options (for ``jaxrl.envs.options``)."""
    defaults = param_defaults(env_id)

    def factory(**overrides):
        return make_gymnax(env_id, **overrides)

    kw = inspect.Parameter.KEYWORD_ONLY
    factory.__signature__ = inspect.Signature(
        [inspect.Parameter("flatten_obs", kw, default=False), inspect.Parameter("env_kwargs", kw, default=None)]
        + [inspect.Parameter(k, kw, default=v) for k, v in defaults.items()]
    )
    factory.__doc__ = f"gymnax {env_id} under jaxrl's env API (see jaxrl.envs.gymnax_env.make_gymnax)."
    return factory
