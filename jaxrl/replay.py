"""Replay: a pure pytree buffer of ``B`` parallel env streams, in the training state.

    buffer = Replay(capacity=100_000, num_envs=8)            # static (hashable, holds no arrays)
    state = buffer.init(example_transition(env))              # ReplayState, leaves [B, capacity, ...]
    state = buffer.add(state, transition)                     # one step of the B envs (leaves [B, ...])
    batch = buffer.sample(state, key, 256)                    # Batch of 256 transitions + a valid mask
    seq = buffer.sample_sequences(state, key, 64, length=4)   # Sequence [4, 64, ...] (time-major) + mask

The same (``init``, ``add``, ``sample``, ``sample_sequences``, ``can_sample``) shape as flashbax's
buffers, written as pure functions over a :class:`ReplayState` pytree, so the buffer is vmapped over
a sweep's runs, sharded with them and saved by every checkpoint like any other state.

**Layout.** Env ``b``'s stream lies contiguously in row ``b`` (``[B, capacity]``), a ring per env.
A slot holds an observation and what was done from it: the action, the reward of that step, its
``terminated`` / ``truncated`` flags, ``first`` (the observation starts an episode) and the
policy's extras. Each observation is stored ONCE: the next observation of slot ``i`` is slot
``i + 1``. Where an episode ends, its true final observation (a terminal state, or the state
where a time limit cut it, which truncation must bootstrap from) gets a slot of its own, marked
``final`` (no action was taken from it), and the next episode's first observation follows it.
So a step writes one slot, or two where an episode ended; each env's head advances on its own.

**Sampling.** A draw picks an env and an age in that env's written range with ``randint``
(never ``choice(p=...)``): its cost is ``O(batch)`` gathers, whatever the capacity (tests count the
compiled program's ops for two capacities). A drawn transition whose slot is a ``final`` slot (or,
before the buffer is full, lies past an env's written range) is returned with ``valid = False``;
learners average their losses over the valid ones (:func:`masked_mean`). Conditioned on
``valid``, a draw is uniform over every stored transition of every env (with ``frame_stack=k``:
except the oldest ``k - 1`` slots of each env, whose stacks could reach past the oldest data).

**Frame stacks** (``frame_stack=k`` for observations ``[..., k * c]`` from
``jaxrl.envs.make(..., frame_stack=k)``): only the newest ``c`` channels are stored; a sampled
observation is rebuilt from the slot and the ``k - 1`` before it, repeating the episode's first
frame where the stack reaches back past it (what :class:`jaxrl.wrappers.FrameStack` shows at a reset).
dtypes are kept (uint8 pixels stay uint8).

**Sequences** (for world models): ``length`` consecutive slots of one env, time-major
``[length, batch, ...]``. ``mask[t, n]`` is True where slot ``t`` belongs to the same episode as
slot 0 (a window that crosses an episode end is masked from the next episode's first slot on; a
final slot itself is unmasked: its observation is the true last one); ``first`` flags are returned
too, for recurrent models that reset their state inside a window instead.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.configs import ConfigError
from jaxrl.returns import n_step_return
from jaxrl.rollout import Transition


@struct.dataclass
class ReplayState:
    """The buffer's arrays. ``B`` envs x ``C`` slots per env.

    Attributes:
      obs: pytree, leaves ``[B, C, ...]`` (with frame stacking, the newest frame only).
      action: pytree, leaves ``[B, C, ...]`` (zeros on final slots).
      reward: ``[B, C]`` float32, reward of the step taken from the slot's observation.
      terminated, truncated: ``[B, C]`` bool, that step ended the episode (on a final slot: how it ended).
      first: ``[B, C]`` bool, the observation starts an episode.
      final: ``[B, C]`` bool, the slot holds an episode's final observation (no action taken from it).
      extras: pytree, leaves ``[B, C, ...]``, the policy's extras of the step.
      head: ``[B]`` int32, the next slot each env writes.
      size: ``[B]`` int32, slots of each env holding data (at most ``C``).
    """

    obs: Any
    action: Any
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    first: jax.Array
    final: jax.Array
    extras: Any
    head: jax.Array
    size: jax.Array


class Batch(NamedTuple):
    """Sampled transitions, leaves ``[N, ...]``; ``next_obs`` is the TRUE next observation (the final
    one where the step ended an episode); ``valid[N]`` marks the draws that are transitions."""

    obs: Any
    action: Any
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    next_obs: Any
    extras: Any
    valid: jax.Array


class NStepBatch(NamedTuple):
    """Sampled ``n``-step transitions, leaves ``[N, ...]``: from ``obs`` the agent took ``action``, then
    the stream went on for up to ``n`` steps. ``reward`` is their discounted sum (the ``n``-step return
    without its bootstrap), ``discount`` what multiplies the value of ``next_obs`` in the target
    (``gamma^k`` after ``k`` steps; 0 where the window ended in a terminal state), ``next_obs`` the
    observation ``n`` steps on, or the TRUE final one where the episode ended sooner (a truncated
    window bootstraps from it). ``steps`` (int32) counts the steps summed; ``valid`` as :class:`Batch`'s."""

    obs: Any
    action: Any
    reward: jax.Array
    discount: jax.Array
    next_obs: Any
    steps: jax.Array
    valid: jax.Array


class Sequence(NamedTuple):
    """Sampled windows, time-major leaves ``[L, N, ...]`` (see the module docstring for ``mask``)."""

    obs: Any
    action: Any
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    first: jax.Array
    final: jax.Array
    extras: Any
    mask: jax.Array


def masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of ``x`` over the entries where ``mask`` (broadcast from the left) is True; 0 if none are."""
    m = jnp.reshape(mask, mask.shape + (1,) * (x.ndim - mask.ndim)).astype(x.dtype)
    m = jnp.broadcast_to(m, x.shape)
    return jnp.sum(x * m) / jnp.maximum(jnp.sum(m), 1.0)


def example_transition(env, extras: Any = None) -> Transition:
    """An UNBATCHED zero :class:`jaxrl.rollout.Transition` of ``env`` (its observation and action
    specs' shapes and dtypes): what :meth:`Replay.init` sizes the buffer from."""
    obs = jnp.zeros(env.observation_spec.shape, env.observation_spec.dtype)
    spec = env.action_spec
    action = jnp.zeros(spec.shape, spec.dtype)
    return Transition(obs, action, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.bool_), jnp.zeros((), jnp.bool_),
                      obs, {}, {} if extras is None else extras, jnp.zeros((), jnp.bool_))


@dataclasses.dataclass(frozen=True)
class Replay:
    """A replay buffer's static shape: ``capacity`` slots per env (static), ``num_envs`` parallel
    streams and ``frame_stack`` (observations stack this many frames on their last axis; only the
    newest is stored). Frozen and hashable: closing over it in a jitted function is free.

    The buffer holds ``num_envs * capacity`` slots; a slot is one step (one more per ended episode).
    """

    capacity: int
    num_envs: int
    frame_stack: int = 1

    def __post_init__(self):
        for name in ("capacity", "num_envs", "frame_stack"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Replay.{name} must be a positive integer, got {v!r}")
        if self.capacity < self.frame_stack + 2:
            raise ValueError(f"Replay.capacity (= {self.capacity}) must be at least frame_stack + 2 (= {self.frame_stack + 2})")

    # ------------------------------------------------------------------------- writing

    def _newest(self, obs):
        """The newest frame of each observation leaf (``[..., k * c] -> [..., c]``)."""
        if self.frame_stack == 1:
            return obs

        def cut(x):
            if x.shape[-1] % self.frame_stack:
                raise ValueError(f"an observation of shape {x.shape} cannot hold frame_stack={self.frame_stack} frames on its last axis")
            return x[..., -(x.shape[-1] // self.frame_stack):]

        return jax.tree.map(cut, obs)

    def init(self, example: Transition) -> ReplayState:
        """An empty buffer for transitions like ``example`` (UNBATCHED leaves: one env's step, e.g.
        :func:`example_transition`); dtypes are kept."""
        B, C = self.num_envs, self.capacity

        def zeros(x):
            x = jnp.asarray(x)
            return jnp.zeros((B, C) + x.shape, x.dtype)

        flag = jnp.zeros((B, C), jnp.bool_)
        return ReplayState(
            obs=jax.tree.map(zeros, self._newest(example.obs)), action=jax.tree.map(zeros, example.action),
            reward=jnp.zeros((B, C), jnp.float32), terminated=flag, truncated=flag, first=flag, final=flag,
            extras=jax.tree.map(zeros, example.extras), head=jnp.zeros((B,), jnp.int32), size=jnp.zeros((B,), jnp.int32),
        )

    def nbytes(self, example: Transition) -> int:
        """Bytes of :meth:`init`'s arrays for ``example`` (computed without allocating them)."""
        shapes = jax.eval_shape(self.init, example)
        return int(sum(math.prod(x.shape) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(shapes)))

    def add(self, state: ReplayState, tr: Transition) -> ReplayState:
        """Write one step of the ``B`` envs (``tr`` leaves ``[B, ...]``, with ``first`` flags, e.g.
        one step of :func:`jaxrl.rollout.rollout`'s output): a slot each, and where the step ended an
        episode a ``final`` slot with ``tr.next_obs`` after it."""
        if tr.first is None:
            raise ValueError("Replay.add needs the transitions' `first` flags (jaxrl.rollout.rollout records them)")
        B, C = self.num_envs, self.capacity
        rows, head = jnp.arange(B), state.head
        done = jnp.logical_or(tr.terminated, tr.truncated)

        def write(buf, value, where):
            return jax.tree.map(lambda b, v: b.at[rows, where].set(v.astype(b.dtype), mode="drop"), buf, value)

        step = ReplayState(self._newest(tr.obs), tr.action, tr.reward, tr.terminated, tr.truncated, tr.first,
                           jnp.zeros((B,), jnp.bool_), tr.extras, head, state.size)
        final = ReplayState(self._newest(tr.next_obs), jax.tree.map(jnp.zeros_like, tr.action), jnp.zeros((B,), jnp.float32),
                            tr.terminated, tr.truncated, jnp.zeros((B,), jnp.bool_), jnp.ones((B,), jnp.bool_),
                            jax.tree.map(jnp.zeros_like, tr.extras), head, state.size)
        fields = ("obs", "action", "reward", "terminated", "truncated", "first", "final", "extras")
        out = {f: write(getattr(state, f), getattr(step, f), head) for f in fields}
        final_at = jnp.where(done, (head + 1) % C, C)  # C is out of range: no write where not done
        out = {f: write(out[f], getattr(final, f), final_at) for f in fields}
        n = 1 + done.astype(jnp.int32)
        return ReplayState(**out, head=(head + n) % C, size=jnp.minimum(state.size + n, C))

    def add_rollout(self, state: ReplayState, traj: Transition) -> ReplayState:
        """Write a rollout's time-major transitions ``[T, B, ...]`` step by step (a ``lax.scan``)."""
        return jax.lax.scan(lambda s, tr: (self.add(s, tr), None), state, traj)[0]

    # ------------------------------------------------------------------------- reading

    def num_sampleable(self, state: ReplayState, length: int = 2) -> jax.Array:
        """``[B]``: windows of ``length`` slots each env can give (a transition is a window of 2)."""
        return jnp.maximum(state.size - length - (self.frame_stack - 1) + 1, 0)

    def can_sample(self, state: ReplayState, length: int = 2) -> jax.Array:
        """Scalar bool: every env holds at least one window of ``length`` slots."""
        return jnp.all(self.num_sampleable(state, length) > 0)

    def _draw(self, state: ReplayState, key, n: int, length: int):
        """``n`` (env, start slot) pairs, uniform over the windows of ``length`` slots every env can
        give (``valid`` False for a draw past an env's range), in ``O(n)``."""
        env_key, age_key = jax.random.split(key)
        env = jax.random.randint(env_key, (n,), 0, self.num_envs)
        count = self.num_sampleable(state, length)
        u = jax.random.randint(age_key, (n,), 0, jnp.maximum(jnp.max(count), 1))
        valid = u < count[env]
        age = u + (self.frame_stack - 1)  # room for the frames a stack reaches back to
        slot = (state.head[env] - state.size[env] + age) % self.capacity
        return env, slot, valid

    def _obs_at(self, state: ReplayState, env, slot):
        """Observations at ``(env, slot)`` (any shape), frame stacks rebuilt oldest first."""
        if self.frame_stack == 1:
            return jax.tree.map(lambda x: x[env, slot], state.obs)
        slots = [slot]
        for _ in range(self.frame_stack - 1):  # walk back, staying on an episode's first slot
            s = slots[-1]
            slots.append(jnp.where(state.first[env, s], s, (s - 1) % self.capacity))
        slots = slots[::-1]
        return jax.tree.map(lambda x: jnp.concatenate([x[env, s] for s in slots], axis=-1), state.obs)

    def _slot(self, state: ReplayState, field: str, env, slot):
        return jax.tree.map(lambda x: x[env, slot], getattr(state, field))

    def sample(self, state: ReplayState, key: jax.Array, batch_size: int) -> Batch:
        """``batch_size`` (static) transitions drawn uniformly (see the module docstring); leaves ``[N, ...]``."""
        env, slot, valid = self._draw(state, key, batch_size, 2)
        nxt = (slot + 1) % self.capacity
        get = lambda f: self._slot(state, f, env, slot)  # noqa: E731
        return Batch(self._obs_at(state, env, slot), get("action"), get("reward"), get("terminated"), get("truncated"),
                     self._obs_at(state, env, nxt), get("extras"), valid & ~get("final"))

    def sample_n_step(self, state: ReplayState, key: jax.Array, batch_size: int, n: int, gamma) -> NStepBatch:
        """``batch_size`` (static) ``n``-step (static) transitions (DrQ-v2, Rainbow), drawn uniformly
        over the windows of ``n + 1`` slots (so the newest ``n - 1`` steps of each env wait until
        the stream has gone ``n`` steps past them). A window stops at the first step that ended an
        episode: the return sums the rewards up to it and bootstraps (``discount > 0``) from its
        final observation unless it terminated. ``gamma`` may be traced. Reads two observations
        per draw, not ``n + 1``. See :class:`NStepBatch`."""
        if not 1 <= n <= self.capacity - self.frame_stack:
            raise ConfigError(f"{n}-step returns need windows of {n + 1} slots, more than a buffer of {self.capacity} "
                              "slots per env holds" + (f" with frame_stack={self.frame_stack}" if self.frame_stack > 1 else ""))
        env, start, valid = self._draw(state, key, batch_size, n + 1)
        slots = (start[None] + jnp.arange(n)[:, None]) % self.capacity  # [n, N]
        window = lambda f: self._slot(state, f, env[None], slots)  # noqa: E731
        at_start = lambda f: self._slot(state, f, env, start)  # noqa: E731
        terminated = window("terminated")
        done = terminated | window("truncated")
        discounts = gamma * (1.0 - terminated.astype(jnp.float32))
        zeros, ones = jnp.zeros(slots.shape, jnp.float32), jnp.ones(slots.shape, jnp.float32)
        reward = n_step_return(window("reward"), discounts, zeros, done)  # the bootstrap's value as 0
        discount = n_step_return(zeros, discounts, ones, done)  # ... and as 1: the product of the discounts
        steps = jnp.where(jnp.any(done, axis=0), jnp.argmax(done, axis=0) + 1, n).astype(jnp.int32)
        nxt = (start + steps) % self.capacity
        return NStepBatch(self._obs_at(state, env, start), at_start("action"), reward, discount,
                          self._obs_at(state, env, nxt), steps, valid & ~at_start("final"))

    def sample_sequences(self, state: ReplayState, key: jax.Array, batch_size: int, length: int) -> Sequence:
        """``batch_size`` windows of ``length`` (both static) consecutive slots, time-major ``[L, N, ...]``."""
        if not 1 <= length <= self.capacity - (self.frame_stack - 1):
            raise ConfigError(f"a sequence of {length} slots does not fit a buffer of {self.capacity} slots per env"
                             + (f" with frame_stack={self.frame_stack}" if self.frame_stack > 1 else ""))
        env, start, valid = self._draw(state, key, batch_size, length)
        slots = (start[None] + jnp.arange(length)[:, None]) % self.capacity  # [L, N]
        get = lambda f: self._slot(state, f, env[None], slots)  # noqa: E731
        first, final = get("first"), get("final")
        same_episode = jnp.cumsum(first.at[0].set(False), axis=0) == 0
        mask = same_episode & valid[None] & ~final[0][None]
        return Sequence(self._obs_at(state, env[None], slots), get("action"), get("reward"), get("terminated"),
                        get("truncated"), first, final, get("extras"), mask)


__all__ = ["Batch", "NStepBatch", "Replay", "ReplayState", "Sequence", "example_transition", "masked_mean"]
