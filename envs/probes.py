"""Probe envs: tiny MDPs whose values are known exactly, for debugging learners.

Each probe isolates one piece of an agent (after Andy Jones' "debugging RL"
probes): if a learner fails one, the bug is in the piece it isolates.

=====================  ==========================================  =================================
name                   MDP                                         isolates
=====================  ==========================================  =================================
``probe_constant``     obs [1], reward 1, ends after 1 step        value loss / optimiser
``probe_obs_reward``   obs [+-1] random, reward = obs, 1 step      value depends on obs
``probe_discount``     obs [t], rewards 0 then 1, ends after 2     discounting / bootstrapping
``probe_action``       obs [+-1] random, reward [a == (obs > 0)]   policy gradient, discrete
``probe_continuous``   obs U(-1, 1), reward 1 - (a - obs)^2 (>=0)  policy gradient, continuous
=====================  ==========================================  =================================

Every probe is a frozen dataclass with no params (``params`` is ``()``),
observation ``[1]`` float32, and terminates by itself (``terminated=True``,
never ``truncated``), so ``make`` applies no time limit. The observation
returned with the terminating step is unused by a correct learner (nothing is
bootstrapped from a terminal state): one-step probes repeat the start
observation there, ``probe_discount`` returns ``[2]``.

Known values (``gamma`` the discount):

* ``optimal_value(gamma)``: expected return from the start state of an optimal policy;
* ``random_value(gamma)``: the same for a uniformly random policy;
* ``value(obs, gamma)``: the optimal policy's state value of an observation
  (pure JAX, broadcasts over leading axes of ``obs[..., 1]``); a trained critic
  should predict it.

The first three probes ignore the action; their ``continuous`` field
(``make("probe_constant", continuous=True)``) picks a ``Discrete(2)`` (default)
or ``Box((1,), -1, 1)`` action spec so that both kinds of policy head can be
probed. ``probe_action`` is always discrete and ``probe_continuous`` continuous.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.env import Env, timestep
from jaxrl.envs.registry import register
from jaxrl.spaces import Box, Discrete, Spec


@struct.dataclass
class ProbeState:
    obs: jax.Array  # [1] float32, the current observation
    t: jax.Array  # int32, steps taken in this episode


@dataclasses.dataclass(frozen=True)
class Probe(Env):
    """Shared plumbing: ``[1]`` float32 observation, no params."""

    @property
    def observation_spec(self) -> Box:
        return Box((1,))

    def default_params(self):
        return ()

    def first_obs(self, key) -> jax.Array:
        raise NotImplementedError

    def reset(self, key, params):
        obs = self.first_obs(key).astype(jnp.float32)
        return ProbeState(obs, jnp.zeros((), jnp.int32)), timestep(obs)

    def optimal_value(self, gamma: float = 0.99) -> float:
        raise NotImplementedError

    def random_value(self, gamma: float = 0.99) -> float:
        raise NotImplementedError

    def value(self, obs: jax.Array, gamma: float = 0.99) -> jax.Array:
        raise NotImplementedError

    def _end(self, state: ProbeState, reward) -> tuple[ProbeState, object]:
        """A one-step episode: reward, terminate, keep the observation."""
        return ProbeState(state.obs, state.t + 1), timestep(state.obs, reward=reward, terminated=True)


@dataclasses.dataclass(frozen=True)
class ActionAgnosticProbe(Probe):
    """A probe that ignores its action; ``continuous`` picks the action spec (static)."""

    continuous: bool = False

    @property
    def action_spec(self) -> Spec:
        return Box((1,), -1.0, 1.0) if self.continuous else Discrete(2)


@dataclasses.dataclass(frozen=True)
class ProbeConstant(ActionAgnosticProbe):
    """obs ``[1]``; any action gives reward 1 and ends the episode. ``V = 1``."""

    @property
    def name(self) -> str:
        return "probe_constant"

    def first_obs(self, key):
        return jnp.ones((1,))

    def step_env(self, key, state, action, params):
        return self._end(state, 1.0)

    def optimal_value(self, gamma=0.99):
        return 1.0

    def random_value(self, gamma=0.99):
        return 1.0

    def value(self, obs, gamma=0.99):
        return jnp.ones(jnp.shape(obs)[:-1], jnp.float32)


@dataclasses.dataclass(frozen=True)
class ProbeObsReward(ActionAgnosticProbe):
    """obs ``[+1]`` or ``[-1]`` (equally likely); reward = obs; 1 step. ``V(obs) = obs``, start value 0."""

    @property
    def name(self) -> str:
        return "probe_obs_reward"

    def first_obs(self, key):
        return jnp.where(jax.random.bernoulli(key, 0.5, (1,)), 1.0, -1.0)

    def step_env(self, key, state, action, params):
        return self._end(state, state.obs[0])

    def optimal_value(self, gamma=0.99):
        return 0.0

    def random_value(self, gamma=0.99):
        return 0.0

    def value(self, obs, gamma=0.99):
        return jnp.asarray(obs, jnp.float32)[..., 0]


@dataclasses.dataclass(frozen=True)
class ProbeDiscount(ActionAgnosticProbe):
    """obs ``[t]`` (t = 0, 1); reward 0 on the first step, 1 on the second, which ends it.

    ``V([0]) = gamma``, ``V([1]) = 1``; the terminal observation ``[2]`` has value 0.
    """

    @property
    def name(self) -> str:
        return "probe_discount"

    def first_obs(self, key):
        return jnp.zeros((1,))

    def step_env(self, key, state, action, params):
        t = state.t + 1
        obs = t.astype(jnp.float32)[None]
        last = t >= 2
        return ProbeState(obs, t), timestep(obs, reward=jnp.where(last, 1.0, 0.0), terminated=last)

    def optimal_value(self, gamma=0.99):
        return float(gamma)

    def random_value(self, gamma=0.99):
        return float(gamma)

    def value(self, obs, gamma=0.99):
        t = jnp.asarray(obs)[..., 0]
        return jnp.where(t < 0.5, gamma, jnp.where(t < 1.5, 1.0, 0.0)).astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class ProbeAction(Probe):
    """obs ``[+1]`` or ``[-1]``; ``Discrete(2)``; reward 1 iff ``action == (obs > 0)``; 1 step.

    Optimal value 1 (action 1 on ``[+1]``, action 0 on ``[-1]``); random policy 0.5.
    """

    @property
    def action_spec(self) -> Spec:
        return Discrete(2)

    @property
    def name(self) -> str:
        return "probe_action"

    def first_obs(self, key):
        return jnp.where(jax.random.bernoulli(key, 0.5, (1,)), 1.0, -1.0)

    def step_env(self, key, state, action, params):
        correct = action == (state.obs[0] > 0).astype(action.dtype)
        return self._end(state, jnp.where(correct, 1.0, 0.0))

    def optimal_value(self, gamma=0.99):
        return 1.0

    def random_value(self, gamma=0.99):
        return 0.5

    def value(self, obs, gamma=0.99):
        return jnp.ones(jnp.shape(obs)[:-1], jnp.float32)


@dataclasses.dataclass(frozen=True)
class ProbeContinuous(Probe):
    """obs ``U(-1, 1)``; action ``Box((1,), -1, 1)`` (clipped to it); reward ``max(0, 1 - (a - obs)^2)``; 1 step.

    Optimal value 1 (``a = obs``); a uniform random action gets ``13/24 ~ 0.542``
    (``a - obs`` is triangular on ``[-2, 2]``).
    """

    @property
    def action_spec(self) -> Spec:
        return Box((1,), -1.0, 1.0)

    @property
    def name(self) -> str:
        return "probe_continuous"

    def first_obs(self, key):
        return jax.random.uniform(key, (1,), minval=-1.0, maxval=1.0)

    def step_env(self, key, state, action, params):
        a = jnp.clip(action.astype(jnp.float32), -1.0, 1.0)
        reward = jnp.clip(1.0 - jnp.square(a[0] - state.obs[0]), 0.0, 1.0)
        return self._end(state, reward)

    def optimal_value(self, gamma=0.99):
        return 1.0

    def random_value(self, gamma=0.99):
        return 13.0 / 24.0

    def value(self, obs, gamma=0.99):
        return jnp.ones(jnp.shape(obs)[:-1], jnp.float32)


def _factory(cls):
    if issubclass(cls, ActionAgnosticProbe):

        def make(continuous: bool = False):
            if not isinstance(continuous, bool):
                raise ValueError(f"continuous must be a bool, got {continuous!r}")
            env = cls(continuous=continuous)
            return env, env.default_params()

    else:

        def make():
            env = cls()
            return env, env.default_params()

    make.__doc__ = f"{cls.__name__}: {cls.__doc__.splitlines()[0]}"
    return make


PROBES = {
    "probe_constant": ProbeConstant,
    "probe_obs_reward": ProbeObsReward,
    "probe_discount": ProbeDiscount,
    "probe_action": ProbeAction,
    "probe_continuous": ProbeContinuous,
}

for _name, _cls in PROBES.items():
    register(_name, _factory(_cls))
