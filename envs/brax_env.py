"""Brax environments under jaxrl's API, and any jaxrl env as a Brax environment.

    env, params = jaxrl.envs.make("brax/inverted_pendulum", backend="mjx")   # brax.envs.get_environment
    env, params = from_brax(brax_env, episode_length=1000)                  # any brax.envs.Env
    brax_view = to_brax(env, params)          # a brax.envs.Env: brax.training trains it unchanged
    make_policy, policy_params, metrics = brax.training.agents.ppo.train.train(brax_view, ...)

**Brax -> jaxrl** (:class:`BraxEnv`). ``state`` is Brax's own ``State``.
``params`` is a :class:`BraxParams` holding the env's ``sys`` (a Brax
``System``, traced): ``reset``/``step`` run the Brax env with ``params.sys``
swapped in while they trace (as Brax's own ``DomainRandomizationVmapWrapper``
does), so ``sys`` can be vmapped or randomised like any jaxrl params; it is
``None`` for an env without one. Brax's ``step`` takes no key: jaxrl's step key
is unused. Spaces: observation ``Box((observation_size,))`` float32 (array
observations only), action ``Box((action_size,), -1, 1)`` (Brax's convention:
its envs map ``[-1, 1]`` to their actuator ranges), float32 reward.

Termination vs truncation. A bare Brax env's ``done`` (a float) is natural
termination (e.g. the pole fell); Brax keeps the time limit in its
``EpisodeWrapper``, which sets ``done`` at the limit too and puts
``truncation = 1 - inner done`` in ``state.info['truncation']``. Hence::

    truncated  = done & info['truncation']     (False when the env has no 'truncation')
    terminated = done & ~truncated

``make("brax/<name>")`` and ``from_brax(env, episode_length=n)`` put the time
limit in a :class:`jaxrl.wrappers.TimeLimit` instead. Brax's batching and
auto-reset wrappers (``VmapWrapper``, ``AutoResetWrapper``,
``DomainRandomizationVmapWrapper``, ``EvalWrapper``) are refused: jaxrl's
``VecEnv`` and ``AutoReset`` do those jobs. Brax's ``info`` and ``metrics``
stay in the Brax state; ``TimeStep.info`` is empty.

**jaxrl -> Brax** (:func:`to_brax`). A ``brax.envs.Env`` whose ``State`` holds
the jaxrl env state in ``pipeline_state`` (Brax's ``AutoResetWrapper`` restores
it from the first reset, as for Brax's own envs), ``reward`` float32, ``done =
terminated | truncated`` as float32, ``info['truncation'] = truncated`` (Brax's
``EpisodeWrapper`` overwrites it with its own time limit) and ``info['rng']``,
the key stream the jaxrl env's ``step`` keys come from (``reset(rng)`` calls the
jaxrl ``reset`` with ``rng`` itself). Brax's ``episode_length`` is the time
limit Brax's trainers see: give them an env whose own limit is no shorter
(a jaxrl truncation inside it would reach Brax's PPO as a termination).
``backend`` is ``"jaxrl"``. Actions pass through unchanged (jaxrl's MJX tasks
take ``[-1, 1]``, as Brax's policies produce). The view has no ``sys``, so Brax's
``randomization_fn`` does not apply: randomise inside it instead,
``to_brax(DomainRandomization(env, ranges), params)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import io
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.configs import did_you_mean
from jaxrl.env import Env, timestep
from jaxrl.envs._options import positive_int
from jaxrl.spaces import Box
from jaxrl.wrappers import TimeLimit

try:
    with contextlib.redirect_stdout(io.StringIO()):  # brax imports mujoco's optional Warp backends, which print
        import brax.envs
        from brax.envs import base as brax_base
        from brax.envs.wrappers import training as brax_training
except ImportError as err:  # brax is an extra: one line saying how to get it
    raise ImportError(f"Brax envs and the Brax view need brax: pip install 'jaxrl[brax]' ({err})") from err

BACKENDS = ("generalized", "positional", "spring", "mjx")
# Brax wrappers that batch or auto-reset: jaxrl's VecEnv / AutoReset do that.
_REFUSED = (
    brax_training.VmapWrapper,
    brax_training.AutoResetWrapper,
    brax_training.DomainRandomizationVmapWrapper,
    brax_training.EvalWrapper,
)


def _raw_key(key: jax.Array) -> jax.Array:
    """A Brax-style ``uint32[2]`` key (Brax indexes and shapes its keys as raw arrays)."""
    return jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key


# ----------------------------------------------------------------------------- Brax -> jaxrl


@struct.dataclass
class BraxParams:
    """Params of a :class:`BraxEnv`: ``sys``, the Brax ``System`` it steps (traced), or ``None``."""

    sys: Any = None


def _check_name(env_name: str) -> None:
    from jaxrl.envs.registry import UnknownEnvError  # no cycle: registry imports this module lazily

    known = sorted(brax.envs._envs)
    if env_name not in known:
        hint = did_you_mean(str(env_name), known)
        raise UnknownEnvError(f"unknown brax env {env_name!r}{hint}; brax's envs: {', '.join(known)}")


@functools.lru_cache(maxsize=None)
def _brax_env(env_name: str, env_kwargs: tuple) -> brax_base.Env:
    _check_name(env_name)
    return brax.envs.get_environment(env_name, **dict(env_kwargs))


@contextlib.contextmanager
def _using_sys(brax_env: brax_base.Env, sys):
    """Run ``brax_env`` with ``sys`` in place of its own (restored afterwards)."""
    if sys is None:
        yield
        return
    inner = brax_env.unwrapped
    own = inner.sys
    inner.sys = sys
    try:
        yield
    finally:
        inner.sys = own


@dataclasses.dataclass(frozen=True)
class BraxEnv(Env):
    """A Brax env under jaxrl's API (build it with :func:`from_brax` or ``make("brax/<name>")``).

    Attributes:
      env_name: a ``brax.envs`` registry name (built with ``get_environment``), or
        ``None`` when ``instance`` is given.
      env_kwargs: sorted ``(name, value)`` constructor kwargs (static, hashable).
      instance: a Brax env object, compared and hashed by identity (one compiled
        program per object); ``None`` when built from ``env_name``.
    """

    env_name: str | None = None
    env_kwargs: tuple[tuple[str, Any], ...] = ()
    instance: Any = None

    @property
    def name(self) -> str:
        return f"brax/{self.env_name}" if self.env_name else f"brax/{type(self.instance).__name__}"

    @property
    def brax_env(self) -> brax_base.Env:
        """The wrapped ``brax.envs.Env``."""
        return self.instance if self.instance is not None else _brax_env(self.env_name, self.env_kwargs)

    def default_params(self) -> BraxParams:
        return BraxParams(sys=getattr(self.brax_env.unwrapped, "sys", None))

    @property
    def observation_spec(self) -> Box:
        return _observation_spec(self)

    @property
    def action_spec(self) -> Box:
        return Box((int(self.brax_env.action_size),), -1.0, 1.0)

    def reset(self, key, params):
        with _using_sys(self.brax_env, params.sys):
            state = _canonical(self.brax_env.reset(_raw_key(key)))
        return state, timestep(state.obs)

    def step_env(self, key, state, action, params):
        with _using_sys(self.brax_env, params.sys):
            state = _canonical(self.brax_env.step(state, action))
        done = state.done > 0.5
        truncated = jnp.zeros((), jnp.bool_)
        if "truncation" in state.info:
            truncated = done & (jnp.asarray(state.info["truncation"]) > 0.5)
        return state, timestep(state.obs, state.reward, done & ~truncated, truncated)


def _canonical(state: brax_base.State) -> brax_base.State:
    """float32 obs, reward and done arrays (Brax envs return e.g. a Python ``1.0`` reward from step
    but an array from reset: one carry type for ``lax.scan``)."""
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    return state.replace(obs=f32(state.obs), reward=f32(state.reward), done=f32(state.done))


@functools.lru_cache(maxsize=None)
def _observation_spec(env: BraxEnv) -> Box:
    obs = jax.eval_shape(lambda key: env.brax_env.reset(key).obs, jax.random.PRNGKey(0))
    if not isinstance(obs, jax.ShapeDtypeStruct):
        raise NotImplementedError(f"{env.name}: only array observations are supported, got {jax.tree.map(jnp.shape, obs)}")
    return Box(tuple(obs.shape))


def from_brax(brax_env: brax_base.Env, episode_length: int | None = None) -> tuple[Env, BraxParams]:
    """Any ``brax.envs.Env`` under jaxrl's env API.

    Args:
      brax_env: an unbatched Brax env (optionally inside Brax's ``EpisodeWrapper``,
        whose truncation becomes jaxrl's ``truncated``).
      episode_length: if given, a :class:`jaxrl.wrappers.TimeLimit` of that many steps.

    Returns:
      ``(env, params)``: a :class:`BraxEnv` (in the TimeLimit if any) and its :class:`BraxParams`.

    Raises:
      ValueError: ``brax_env`` is not a Brax env, or is batched / auto-reset by a Brax wrapper.
    """
    if not isinstance(brax_env, brax_base.Env):
        raise ValueError(f"from_brax needs a brax.envs.Env, got {type(brax_env).__name__}")
    layer = brax_env
    while isinstance(layer, brax_base.Wrapper):
        if isinstance(layer, _REFUSED):
            raise ValueError(f"from_brax needs an unbatched env without auto-reset; remove Brax's "
                             f"{type(layer).__name__} (jaxrl's VecEnv and AutoReset do its job)")
        layer = layer.env
    env = BraxEnv(instance=brax_env)
    params = env.default_params()
    if episode_length is not None:
        return TimeLimit(env, max_steps=positive_int("episode_length", episode_length)), params
    return env, params


def registry_factory(env_name: str):
    """``make("brax/<env_name>", backend=..., episode_length=1000, **env kwargs)``, its options listed."""
    _check_name(env_name)
    cls = brax.envs._envs[env_name]
    own = [
        p for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    backend_default = next((p.default for p in own if p.name == "backend"), "generalized")

    def factory(**options):
        episode_length = positive_int("episode_length", options.pop("episode_length", 1000))
        backend = options.get("backend", backend_default)
        if backend not in BACKENDS:
            raise ValueError(f"brax env {env_name!r}: unknown backend {backend!r}; backends are: {', '.join(BACKENDS)}")
        kwargs = tuple(sorted({"backend": backend, **options}.items()))
        try:
            hash(kwargs)
        except TypeError as err:
            raise ValueError(f"brax env {env_name!r}: options must be hashable (static), got {options!r}") from err
        env = BraxEnv(env_name, kwargs)
        return TimeLimit(env, max_steps=episode_length), env.default_params()

    kw = inspect.Parameter.KEYWORD_ONLY
    factory.__signature__ = inspect.Signature(
        [inspect.Parameter("backend", kw, default=backend_default), inspect.Parameter("episode_length", kw, default=1000)]
        + [inspect.Parameter(p.name, kw, default=p.default) for p in own
           if p.name != "backend" and p.default is not inspect.Parameter.empty]
    )
    factory.__doc__ = f"brax {env_name} under jaxrl's env API (see jaxrl.envs.brax_env.from_brax)."
    return factory


# ----------------------------------------------------------------------------- jaxrl -> Brax


class JaxrlBraxEnv(brax_base.Env):
    """A jaxrl env and its params seen as a ``brax.envs.Env`` (build it with :func:`to_brax`).

    ``reset(rng) -> State`` and ``step(State, action[action_size]) -> State``,
    unbatched (Brax's ``VmapWrapper`` batches them). See the module docstring.
    """

    def __init__(self, env: Env, params: Any):
        self.env = env
        self.params = params

    @property
    def observation_size(self):
        shape = self.env.observation_spec.shape
        return shape[0] if len(shape) == 1 else shape

    @property
    def action_size(self) -> int:
        return self.env.action_spec.shape[0]

    @property
    def backend(self) -> str:
        return "jaxrl"

    def reset(self, rng: jax.Array) -> brax_base.State:
        state, ts = self.env.reset(rng, self.params)
        info = {"rng": jax.random.fold_in(rng, 1), "truncation": jnp.zeros((), jnp.float32)}
        return brax_base.State(state, ts.obs, ts.reward, ts.done.astype(jnp.float32), {}, info)

    def step(self, state: brax_base.State, action: jax.Array) -> brax_base.State:
        rng, key = jax.random.split(state.info["rng"])
        inner, ts = self.env.step(key, state.pipeline_state, action, self.params)
        info = {**state.info, "rng": rng, "truncation": ts.truncated.astype(jnp.float32)}
        return state.replace(
            pipeline_state=inner, obs=ts.obs, reward=ts.reward, done=ts.done.astype(jnp.float32), info=info
        )


def to_brax(env: Env, params: Any) -> JaxrlBraxEnv:
    """``env`` with ``params`` as a ``brax.envs.Env`` that ``brax.training`` can train.

    Args:
      env: an unbatched jaxrl env with a flat ``Box`` action spec (e.g. ``jaxrl.envs.make(...)[0]``).
      params: its params (held by the view: constant for Brax).

    Raises:
      ValueError: the action spec is not a flat Box (Brax's agents act in ``[action_size]``).
    """
    spec = env.action_spec
    if not isinstance(spec, Box) or len(spec.shape) != 1:
        raise ValueError(f"to_brax needs a flat Box action spec (Brax acts with [action_size] floats); "
                         f"{env.name} has {spec!r}")
    return JaxrlBraxEnv(env, params)
