"""Env wrappers: each a few lines, each tested alone (tests/test_wrappers.py).

The usual training stack, innermost first::

    TimeLimit(task)          # applied by jaxrl.envs.make: the task's episode length
    -> VecEnv(num_envs)      # vmap over a batch of envs: every leaf gains [B]
    -> AutoReset             # start a new episode where done, keep the true final obs
    -> EpisodeStats          # running and last-completed episode return / length
    -> NormalizeObs          # running mean / variance shared by the whole batch

:func:`training_stack` builds it. :class:`CheckActions` (``make(name, debug=True)``) is the env
API's debug mode: NaN or out-of-range actions are reported where they enter ``step`` (and an MJX
task's stale poses, :func:`jaxrl.envs.mjx_env.check_poses`).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.control_flow import compute_if
from jaxrl.env import Env, TimeStep, Wrapper
from jaxrl.spaces import Box, Discrete


def _where(cond, a, b):
    """Pick ``a`` where ``cond`` else ``b``, leaf by leaf; ``cond`` broadcasts from the left."""

    def pick(x, y):
        c = jnp.reshape(cond, jnp.shape(cond) + (1,) * (jnp.ndim(x) - jnp.ndim(cond)))
        return jnp.where(c, x, y)

    return jax.tree.map(pick, a, b)


# ----------------------------------------------------------------------------- time limit


@struct.dataclass
class TimeLimitState:
    inner: object
    t: jax.Array  # int32 steps taken in this episode


@dataclasses.dataclass(frozen=True)
class TimeLimit(Wrapper):
    """Truncate episodes after ``max_steps`` steps (static).

    ``truncated`` is set on the step that reaches the limit unless the episode
    terminated on that same step (termination wins: nothing to bootstrap).
    """

    max_steps: int = 1000

    def __post_init__(self):
        if int(self.max_steps) < 1:
            raise ValueError(f"TimeLimit.max_steps must be >= 1, got {self.max_steps}")

    def reset(self, key, params):
        state, ts = self.env.reset(key, params)
        return TimeLimitState(state, jnp.zeros((), jnp.int32)), ts

    def step(self, key, state, action, params):
        inner, ts = self.env.step(key, state.inner, action, params)
        t = state.t + 1
        truncated = jnp.logical_or(ts.truncated, t >= self.max_steps) & ~ts.terminated
        return TimeLimitState(inner, t), ts._replace(truncated=truncated)


# ----------------------------------------------------------------------------- auto reset


@dataclasses.dataclass(frozen=True)
class AutoReset(Wrapper):
    """Reset the inner env when an episode ends.

    On a step that ends an episode (``terminated | truncated``) the returned
    ``obs`` is the first observation of the next episode, and the true final
    observation is kept in ``info["final_obs"]`` (always present, equal to
    ``obs`` on other steps) so that a learner can bootstrap on truncation.
    ``reward``, ``terminated`` and ``truncated`` still describe the step taken.

    Works on one env or on a :class:`VecEnv` (then only the envs that are done
    take the fresh reset state). The reset is computed only when some episode
    ended (:func:`jaxrl.control_flow.compute_if`: a ``lax.cond`` on ``any(done)``,
    which under an outer ``vmap``, a sweep's runs or envs vmapped around this
    wrapper, stays a cond over the whole batch instead of a select that resets
    at every step), so a batch of long episodes pays for it rarely. It
    differentiates as that ``lax.cond`` does.
    """

    def reset(self, key, params):
        state, ts = self.env.reset(key, params)
        return state, ts._replace(info={**ts.info, "final_obs": ts.obs})

    def step(self, key, state, action, params):
        step_key, reset_key = jax.random.split(key)
        state, ts = self.env.step(step_key, state, action, params)
        done = ts.done

        def with_reset(state, obs):
            reset_state, reset_ts = self.env.reset(reset_key, params)
            return _where(done, reset_state, state), _where(done, reset_ts.obs, obs)

        state, obs = compute_if(jnp.any(done), with_reset, (state, ts.obs), lambda state, obs: (state, obs))
        return state, ts._replace(obs=obs, info={**ts.info, "final_obs": ts.obs})


# ----------------------------------------------------------------------------- episode statistics


@struct.dataclass
class EpisodeStatsState:
    inner: object
    episode_return: jax.Array  # float32, return of the running episode so far
    episode_length: jax.Array  # int32
    returned_episode_return: jax.Array  # float32, return of the last completed episode
    returned_episode_length: jax.Array  # int32


@dataclasses.dataclass(frozen=True)
class EpisodeStats(Wrapper):
    """Track episode return and length.

    ``info`` gains ``episode_return`` / ``episode_length`` (of the episode
    that ended on this step where ``done``, of the running episode otherwise)
    and ``returned_episode_return`` / ``returned_episode_length`` (the last
    completed episode, 0 before any). Put it outside :class:`AutoReset`; it
    works on one env or a batch alike.
    """

    def reset(self, key, params):
        state, ts = self.env.reset(key, params)
        zf = jnp.zeros_like(ts.reward, jnp.float32)
        zi = jnp.zeros_like(ts.reward, jnp.int32)
        new = EpisodeStatsState(state, zf, zi, zf, zi)
        return new, ts._replace(info={**ts.info, **self._info(new, zf, zi)})

    def step(self, key, state, action, params):
        inner, ts = self.env.step(key, state.inner, action, params)
        ret = state.episode_return + ts.reward
        length = state.episode_length + 1
        done = ts.done
        new = EpisodeStatsState(
            inner=inner,
            episode_return=jnp.where(done, 0.0, ret),
            episode_length=jnp.where(done, 0, length),
            returned_episode_return=jnp.where(done, ret, state.returned_episode_return),
            returned_episode_length=jnp.where(done, length, state.returned_episode_length),
        )
        return new, ts._replace(info={**ts.info, **self._info(new, ret, length)})

    @staticmethod
    def _info(state, ret, length):
        return {
            "episode_return": ret,
            "episode_length": length,
            "returned_episode_return": state.returned_episode_return,
            "returned_episode_length": state.returned_episode_length,
        }


# ----------------------------------------------------------------------------- vectorisation


@dataclasses.dataclass(frozen=True)
class VecEnv(Wrapper):
    """``num_envs`` copies of ``env`` stepped together with ``jax.vmap``.

    ``reset(key, params)`` and ``step(key, state, action[B, ...], params)``
    take ONE key (split per env inside). ``params`` is shared by all envs
    unless ``batched_params`` is True, in which case every leaf of ``params``
    has a leading ``[num_envs]`` axis (domain randomisation).
    """

    num_envs: int = 1
    batched_params: bool = False

    def __post_init__(self):
        if int(self.num_envs) < 1:
            raise ValueError(f"VecEnv.num_envs must be >= 1, got {self.num_envs}")

    @property
    def _p_axis(self):
        return 0 if self.batched_params else None

    def reset(self, key, params):
        keys = jax.random.split(key, self.num_envs)
        return jax.vmap(self.env.reset, in_axes=(0, self._p_axis))(keys, params)

    def step(self, key, state, action, params):
        self.env.action_spec.check(action, what=f"{self.name} batched action", batch_shape=(self.num_envs,))
        keys = jax.random.split(key, self.num_envs)
        return jax.vmap(self.env.step, in_axes=(0, 0, 0, self._p_axis))(keys, state, action, params)


@dataclasses.dataclass(frozen=True)
class BatchOfOne(Wrapper):
    """ONE env seen as a batch of one: every leaf gains a leading ``[1]`` axis and actions come in
    as ``[1, ...]``. Unlike ``VecEnv(env, 1)`` the key goes to the env unsplit, so a batched loop
    (e.g. :func:`jaxrl.evaluate.episode_scan`) steps the env exactly as an unbatched loop would."""

    def reset(self, key, params):
        return jax.tree.map(lambda x: x[None], self.env.reset(key, params))

    def step(self, key, state, action, params):
        self.env.action_spec.check(action, what=f"{self.name} batched action", batch_shape=(1,))
        state, action = jax.tree.map(lambda x: x[0], (state, action))
        return jax.tree.map(lambda x: x[None], self.env.step(key, state, action, params))


# ----------------------------------------------------------------------------- observation normalisation


@struct.dataclass
class RunningMeanStd:
    """Running mean and variance (parallel Welford / Chan et al. merge)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array  # float32, number of samples merged so far

    @classmethod
    def create(cls, shape) -> "RunningMeanStd":
        return cls(jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32), jnp.asarray(1e-4, jnp.float32))

    def update(self, x: jax.Array) -> "RunningMeanStd":
        """Merge a batch ``x[..., *shape]``; every leading axis is a sample axis."""
        axes = tuple(range(x.ndim - self.mean.ndim))
        n = jnp.asarray(math.prod(x.shape[: len(axes)]), jnp.float32)
        b_mean, b_var = jnp.mean(x, axes), jnp.var(x, axes)
        delta = b_mean - self.mean
        total = self.count + n
        mean = self.mean + delta * n / total
        m2 = self.var * self.count + b_var * n + jnp.square(delta) * self.count * n / total
        return RunningMeanStd(mean, m2 / total, total)

    def normalize(self, x: jax.Array, clip: float = 10.0, eps: float = 1e-8) -> jax.Array:
        return jnp.clip((x - self.mean) / jnp.sqrt(self.var + eps), -clip, clip)


@struct.dataclass
class NormalizeObsState:
    inner: object
    stats: RunningMeanStd


@dataclasses.dataclass(frozen=True)
class NormalizeObs(Wrapper):
    """Normalise observations by running statistics (held in the env state).

    Works on a single env or on a :class:`VecEnv` (then one set of statistics
    is shared by the whole batch). ``info["final_obs"]`` is normalised with the
    same statistics. ``update=False`` freezes the statistics (evaluation).
    """

    clip: float = 10.0
    update: bool = True

    def reset(self, key, params):
        state, ts = self.env.reset(key, params)
        stats = RunningMeanStd.create(self.env.observation_spec.shape)
        return self._out(NormalizeObsState(state, stats), ts)

    def step(self, key, state, action, params):
        inner, ts = self.env.step(key, state.inner, action, params)
        return self._out(NormalizeObsState(inner, state.stats), ts)

    def _out(self, state, ts: TimeStep):
        stats = state.stats.update(ts.obs) if self.update else state.stats
        info = dict(ts.info)
        if "final_obs" in info:
            info["final_obs"] = stats.normalize(info["final_obs"], self.clip)
        return state.replace(stats=stats), ts._replace(obs=stats.normalize(ts.obs, self.clip), info=info)


def find_state(state, cls):
    """The first state of type ``cls`` in a nest of wrapper states (``.inner`` chain)."""
    while state is not None:
        if isinstance(state, cls):
            return state
        state = getattr(state, "inner", None)
    raise LookupError(f"no {cls.__name__} in this env state")


def find_wrapper(env: Env, cls) -> Env | None:
    """The outermost wrapper of type ``cls`` around ``env`` (walking ``.env``), or None."""
    while env is not None:
        if isinstance(env, cls):
            return env
        env = env.__dict__.get("env") if isinstance(env, Wrapper) else None
    return None


def training_stack(env: Env, num_envs: int, normalize_obs: bool = False, batched_params: bool = False) -> Env:
    """VecEnv(num_envs) -> AutoReset -> EpisodeStats [-> NormalizeObs] around ``env``."""
    venv: Env = EpisodeStats(AutoReset(VecEnv(env, num_envs=num_envs, batched_params=batched_params)))
    return NormalizeObs(venv) if normalize_obs else venv


# ----------------------------------------------------------------------------- frame stacking


@struct.dataclass
class FrameStackState:
    inner: object
    frames: jax.Array  # [..., C * k]: the last k observations along their last axis, oldest first


@dataclasses.dataclass(frozen=True)
class FrameStack(Wrapper):
    """Observe the last ``k`` observations (static), concatenated along their last axis, oldest first.

    An observation ``[..., C]`` (e.g. pixels ``[H, W, 3]``, or a vector ``[n]``)
    becomes ``[..., C * k]``; channels ``[C * (k - 1):]`` are the newest. ``reset``
    fills all ``k`` slots with the first observation. Put it INSIDE
    :class:`AutoReset` (``jaxrl.envs.make(..., frame_stack=k)`` does) so that a
    new episode starts from a refilled stack. Works on one env or a batch alike.
    """

    k: int = 4

    def __post_init__(self):
        if isinstance(self.k, bool) or int(self.k) < 1:
            raise ValueError(f"FrameStack.k must be an integer >= 1, got {self.k!r}")
        if not self.env.observation_spec.shape:
            raise ValueError(f"FrameStack needs observations with at least one axis; {self.env.name}'s are scalars")

    @property
    def observation_spec(self) -> Box:
        spec = self.env.observation_spec
        shape = spec.shape[:-1] + (spec.shape[-1] * self.k,)

        def tile(bound):
            if isinstance(bound, tuple):
                return tuple(np.concatenate([np.reshape(bound, spec.shape)] * self.k, -1).ravel())
            return bound

        return Box(shape, tile(spec.low), tile(spec.high), spec.dtype)

    def reset(self, key, params):
        state, ts = self.env.reset(key, params)
        frames = jnp.concatenate([ts.obs] * self.k, -1)
        return FrameStackState(state, frames), ts._replace(obs=frames)

    def step(self, key, state, action, params):
        inner, ts = self.env.step(key, state.inner, action, params)
        frames = jnp.concatenate([state.frames[..., ts.obs.shape[-1]:], ts.obs], -1)
        return FrameStackState(inner, frames), ts._replace(obs=frames)


# ----------------------------------------------------------------------------- action repeat


@dataclasses.dataclass(frozen=True)
class ActionRepeat(Wrapper):
    """Apply each action for ``repeats`` inner steps (static) and sum their rewards.

    Once an inner step ends the episode (``terminated | truncated``) the rest
    of the repeats are skipped: the returned TimeStep is that step's (its
    ``obs`` the true final observation, its flags and ``info``) with the
    rewards summed up to and including it, undiscounted; the state is the one
    after that step. Otherwise it is the last inner step's, with the sum of
    all ``repeats`` rewards. Put it inside :class:`AutoReset`. Works on one env
    or a batch alike (each env stops on its own). ``max_steps`` and ``dt`` (when
    the inner env has them) count agent steps: ``ceil(max_steps / repeats)`` and
    ``dt * repeats``. Every inner step is computed (then discarded where the
    episode already ended), so a step costs ``repeats`` inner steps. The repeats
    run as one ``lax.scan``: the inner step is traced and compiled once (its
    TimeSteps are stacked, ``[repeats, ...]``, and the returned one is picked).
    """

    repeats: int = 1

    def __post_init__(self):
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, (int, np.integer)) or self.repeats < 1:
            raise ValueError(f"ActionRepeat.repeats must be an integer >= 1, got {self.repeats!r}")

    @property
    def max_steps(self) -> int | None:
        inner = self.env.max_steps  # an AttributeError (no time limit) passes through
        return None if inner is None else -(-inner // self.repeats)

    @property
    def dt(self):
        return self.env.dt * self.repeats

    def step(self, key, state, action, params):
        if self.repeats == 1:
            return self.env.step(key, state, action, params)

        def repeat(carry, k):
            state, total, ended = carry  # ended: the episode ended on an earlier repeat
            new_state, ts = self.env.step(k, state, action, params)
            total = total + jnp.where(ended, 0.0, ts.reward)
            return (_where(ended, state, new_state), total, ended | ts.done), (ts, ended | ts.done)

        # ONE lax.scan over all the repeats, so the inner step is traced and compiled once (with the
        # first repeat outside the loop, an MJX step was compiled twice into every program).
        batch = jnp.shape(action)[:max(jnp.ndim(action) - len(self.action_spec.shape), 0)]
        start = (state, jnp.zeros(batch, jnp.float32), jnp.zeros(batch, bool))
        (state, total, _), (steps, ended) = jax.lax.scan(repeat, start, jax.random.split(key, self.repeats))
        # The returned step: the one that ended the episode, else the last (ended is monotone in the
        # repeat, so its count of False entries is the first True's index).
        pick = jnp.minimum(jnp.sum(~ended, axis=0), self.repeats - 1)
        ts = jax.tree.map(lambda x: _take_first_axis(x, pick), steps)
        return state, ts._replace(reward=total.astype(ts.reward.dtype))


def _take_first_axis(x, index):
    """``x[index[b], b, ...]`` for ``x`` of shape ``[R, *batch, ...]`` and ``index`` of shape ``batch``."""
    index = jnp.reshape(index, (1, *jnp.shape(index)) + (1,) * (jnp.ndim(x) - 1 - jnp.ndim(index)))
    return jnp.take_along_axis(x, index, axis=0)[0]


@dataclasses.dataclass(frozen=True)
class CheckActions(Wrapper):
    """Debug mode (``make(name, debug=True)``, ``--env-opt debug=true``): report a bad action where it
    enters ``step``: a NaN or inf in a float action, or an integer action outside its space
    (``[0, n)`` for :class:`~jaxrl.spaces.Discrete`, ``[low, high]`` for an integer Box).

    The checks are ``jax.experimental.checkify.debug_check``s: free no-ops in an ordinary program,
    live when the program is checkified, which :func:`jaxrl.runner.run` does in debug mode
    (``debug=True``; :func:`jaxrl.experiment.train` turns it on for an env made with ``debug``).
    The first failure stops the run after its chunk with the message, the action's value and
    the env's name. A float action outside a Box's bounds is NOT an error: the envs clip it (a
    Gaussian policy's samples routinely are), so only non-finite values are reported.
    """

    def step(self, key, state, action, params):
        from jax.experimental import checkify

        spec, where = self.env.action_spec, f"env {self.env.name!r}"
        action = jnp.asarray(action)
        if isinstance(spec, Discrete):
            checkify.debug_check(jnp.all((action >= 0) & (action < spec.n)),
                                 f"debug: action {{}} entered {where} outside its range [0, {spec.n})", action)
        elif jnp.issubdtype(action.dtype, jnp.integer):
            ok = (action >= spec.low_array()) & (action <= spec.high_array())
            checkify.debug_check(jnp.all(ok), f"debug: action {{}} entered {where} outside its bounds [{spec.low}, {spec.high}]", action)
        else:
            checkify.debug_check(jnp.all(jnp.isfinite(action)), f"debug: non-finite action {{}} entered {where}", action)
        return self.env.step(key, state, action, params)
