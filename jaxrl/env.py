"""The environment seam (gymnax-style explicit params, MJX inside).

An env is a frozen, hashable dataclass that holds no arrays: it is a static
argument of every compiled function. Everything that changes (the simulator
state) or that can be randomised or meta-learned (physics constants, reward
weights, noise scales) is a pytree: ``state`` and ``params``.

    state, ts = env.reset(key, params)
    state, ts = env.step(key, state, action, params)

``TimeStep.terminated`` (the MDP ended: do not bootstrap) and
``TimeStep.truncated`` (the episode was cut, e.g. by a time limit: bootstrap
from the true final observation) are never merged.

Unbatched: ``obs`` has the shape of ``env.observation_spec``, ``reward``,
``terminated`` and ``truncated`` are scalars. Under :class:`jaxrl.wrappers.VecEnv`
every leaf gains a leading ``[num_envs]`` axis.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.spaces import Box, Spec

PyTree = Any


class TimeStep(NamedTuple):
    """What an env returns after ``reset`` or ``step``.

    Attributes:
      obs: observation after the transition, ``[*obs_shape]`` (``[B, *obs_shape]``
        batched). Under :class:`jaxrl.wrappers.AutoReset` it is the first
        observation of the next episode when the episode ended; the true final
        observation is then in ``info["final_obs"]``.
      reward: float32 scalar (``[B]``).
      terminated: bool scalar (``[B]``): a terminal MDP state was reached.
      truncated: bool scalar (``[B]``): the episode was cut short (time limit).
      info: dict of extra arrays; its keys are fixed per env so it scans.
    """

    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    info: dict

    @property
    def done(self) -> jax.Array:
        """``terminated | truncated``: the episode ended, one way or the other."""
        return jnp.logical_or(self.terminated, self.truncated)


def timestep(obs, reward=0.0, terminated=False, truncated=False, info=None) -> TimeStep:
    """Build a TimeStep with the canonical dtypes (float32 reward, bool flags)."""
    return TimeStep(
        obs=obs,
        reward=jnp.asarray(reward, jnp.float32),
        terminated=jnp.asarray(terminated, jnp.bool_),
        truncated=jnp.asarray(truncated, jnp.bool_),
        info={} if info is None else info,
    )


@dataclasses.dataclass(frozen=True)
class Env:
    """Base class of every env and wrapper. Subclasses are frozen dataclasses.

    A concrete (unwrapped) env implements ``default_params``, ``reset``,
    ``step_env``, ``observation_spec`` and ``action_spec``; ``step`` checks the
    action against ``action_spec`` (at trace time, so a wrong shape or dtype
    is a clear error before compilation) and calls ``step_env``.
    """

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def observation_spec(self) -> Box:
        raise NotImplementedError

    @property
    def action_spec(self) -> Spec:
        raise NotImplementedError

    def default_params(self) -> PyTree:
        """The nominal params pytree (what ``jaxrl.envs.make`` returns)."""
        raise NotImplementedError

    def reset(self, key: jax.Array, params: PyTree) -> tuple[PyTree, TimeStep]:
        raise NotImplementedError

    def step(self, key: jax.Array, state: PyTree, action: jax.Array, params: PyTree) -> tuple[PyTree, TimeStep]:
        self.action_spec.check(action, what=f"{self.name}.step action")
        return self.step_env(key, state, action, params)

    def step_env(self, key, state, action, params):
        raise NotImplementedError

    @property
    def unwrapped(self) -> "Env":
        return self


@dataclasses.dataclass(frozen=True)
class Wrapper(Env):
    """An env around another env; by default every call is delegated.

    Wrappers override ``reset`` and ``step`` (not ``step_env``); the action
    check happens once, in the innermost env.
    """

    env: Env

    @property
    def name(self) -> str:
        return self.env.name

    @property
    def observation_spec(self) -> Box:
        return self.env.observation_spec

    @property
    def action_spec(self) -> Spec:
        return self.env.action_spec

    def default_params(self) -> PyTree:
        return self.env.default_params()

    def reset(self, key, params):
        return self.env.reset(key, params)

    def step(self, key, state, action, params):
        return self.env.step(key, state, action, params)

    @property
    def unwrapped(self) -> Env:
        return self.env.unwrapped

    def __getattr__(self, attr):
        # Reached only when normal lookup fails: expose the inner env's
        # attributes (e.g. ``mj_model``) through any stack of wrappers.
        if attr.startswith("__") or attr == "env":
            raise AttributeError(attr)
        return getattr(self.env, attr)



def require_spaces(env: Env, algo: str, *, discrete: bool, obs_ndims: tuple[int, ...] = (1,), bounded: bool = False) -> None:
    """Refuse, with a :class:`jaxrl.configs.ConfigError` naming the env and the fix, an env whose
    action space is not ``Discrete`` (``discrete``) or a flat ``Box`` (otherwise; ``bounded``: with
    finite bounds), or whose observations do not have one of ``obs_ndims`` axes."""
    from jaxrl.configs import ConfigError
    from jaxrl.spaces import Box, Discrete

    spec = env.action_spec
    if discrete and not isinstance(spec, Discrete):
        raise ConfigError(f"{algo} needs discrete actions; {env.name} has {spec!r} (for continuous actions use sac or td3)")
    if not discrete and (not isinstance(spec, Box) or len(spec.shape) != 1):
        raise ConfigError(f"{algo} needs continuous (Box) actions; {env.name} has {spec!r} (for discrete actions use dqn or pqn)")
    if bounded and not spec.bounded:
        raise ConfigError(f"{algo} keeps actions inside their bounds; {env.name}'s action space {spec!r} is unbounded")
    shape = env.observation_spec.shape
    if len(shape) not in obs_ndims:
        kinds = " or ".join({1: "flat observations [d]", 3: "images [H, W, C]"}.get(n, f"{n}-axis observations") for n in obs_ndims)
        raise ConfigError(f"{algo} takes {kinds}; {env.name} has shape {shape}")
