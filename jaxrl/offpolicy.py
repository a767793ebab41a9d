"""The replay learners' shared loop: act, store, learn, as one ``update`` of a :class:`jaxrl.trainer.Trainer`.

SAC, TD3, DQN, DrQ-v2 and TD-MPC2 (a world model that plans, keeping its plan in the policy carry and
learning from replay windows) are each a config, networks, losses and an :class:`Agent` (how to
init, act and take one gradient step); :func:`make_train` turns an agent
into a trainer whose every update:

1. acts ``num_steps`` steps in each of ``num_envs`` auto-resetting envs (one
   :func:`jaxrl.rollout.rollout`, through the acting seam): uniformly random actions during the
   first ``warmup_updates`` updates (``learning_starts`` env steps, rounded up to whole updates),
   the agent's exploration policy after;
2. writes them to the replay buffer in the state (:class:`jaxrl.replay.Replay`);
3. once warm (and the buffer can be sampled), takes ``grad_steps`` gradient steps, each on a
   fresh draw of ``batch_size`` transitions (``replay_ratio`` gradient steps per env step); the
   first learning update takes ``pretrain_steps`` more (TD-MPC2's burst on the seed data; 0 by
   default). With a burst the steps run in one ``lax.while_loop`` of a traced count
   (:func:`counted_steps`); without one, in a ``lax.scan`` of ``grad_steps``.

Env steps are counted the same way in every trainer (``update x steps_per_update``): the random
prefill is the first updates of the run, so ``--steps``, the progress bar and the logs stay true.
The learning step runs only in updates that learn, in a sweep too (:func:`jaxrl.control_flow.compute_if`:
a ``lax.cond`` whose predicate a sweep's ``vmap`` batches became a select that computed every warm-up
update's gradient steps and threw them away).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl import replay as replay_lib
from jaxrl import rollout as rollout_lib
from jaxrl.configs import ConfigError, check_count, check_positive_ints
from jaxrl.control_flow import compute_if
from jaxrl.env import Env
from jaxrl.optim import default_optimizer
from jaxrl.policy import Policy, no_carry, reset_where
from jaxrl.trainer import Trainer, episode_metrics
from jaxrl.wrappers import FrameStack, find_wrapper, training_stack


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig:
    """Static settings every replay learner shares (its own config subclasses this).

    Attributes:
      total_timesteps: env steps of the whole run; ``num_updates = total_timesteps // (num_envs * num_steps)``.
      num_envs: parallel envs per run.
      num_steps: env steps per env per update (each update acts ``num_envs * num_steps`` env steps).
      buffer_size: slots of the replay buffer over all envs (``ceil(buffer_size / num_envs)`` per env); a
        slot holds one step, and an ended episode's final observation takes one more.
      batch_size: transitions per gradient step.
      learning_starts: env steps of uniformly random actions before the first gradient step
        (rounded up to whole updates; they count as env steps of the run).
      replay_ratio: gradient steps per env step; ``replay_ratio * num_envs * num_steps`` must be a
        whole number (the gradient steps of one update).
      pretrain_steps: extra gradient steps taken on the seed data at the first learning update
        (TD-MPC2's pretraining burst, on top of that update's ``grad_steps``: TD-MPC2 takes as many
        steps as it has seed env steps, its one regular step included; that update's learning
        metrics average over all its steps); 0 (the default): none, the same numbers as before the
        field. Counted in ``num_optimizer_steps``. With ``learning_starts=0`` the burst trains on the
        first window the buffer can give.
      anneal_lr: decay the learning rate linearly to 0 over the run's gradient steps.
      optimizer: the update-rule slot, ``optimizer(hparams, meta_params, config) ->
        optax.GradientTransformation`` (one instance per parameter group); default clip-by-global-norm
        + Adam with ``hparams.lr``. A learned optimiser saved by ``jaxrl meta`` fits here too.
    """

    total_timesteps: int = 100_000
    num_envs: int = 4
    num_steps: int = 1
    buffer_size: int = 100_000
    batch_size: int = 256
    learning_starts: int = 5_000
    replay_ratio: float = 0.25
    pretrain_steps: int = 0
    anneal_lr: bool = False
    optimizer: Callable = default_optimizer

    # Runs saved before ``pretrain_steps`` existed (2026-12-05) had no burst: replaying or resuming
    # them keeps it that way (:func:`jaxrl.configs.with_legacy_fields`). A learner's config that adds
    # its own legacy fields extends this dict.
    LEGACY_DEFAULTS = {"pretrain_steps": 0}

    def __post_init__(self):
        name = type(self).__name__
        check_positive_ints(self, ("total_timesteps", "num_envs", "num_steps", "buffer_size", "batch_size"))
        for field in ("learning_starts", "pretrain_steps"):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name}.{field} must be a non-negative integer, got {value!r}")
        if self.total_timesteps < self.steps_per_update:
            raise ConfigError(f"{name}.total_timesteps (= {self.total_timesteps}) is less than one update's "
                              f"num_envs * num_steps (= {self.steps_per_update})")
        if self.warmup_updates >= self.num_updates:
            raise ConfigError(f"{name}.learning_starts (= {self.learning_starts}) leaves no update to learn in: the run has "
                              f"{self.total_timesteps} env steps")
        if self.batch_size > self.buffer_size:
            raise ConfigError(f"{name}.batch_size (= {self.batch_size}) is larger than the replay buffer (buffer_size = {self.buffer_size})")
        check_count(self, "num_envs * num_steps", self.steps_per_update)
        ratio = self.replay_ratio * self.steps_per_update
        if not (isinstance(self.replay_ratio, (int, float)) and self.replay_ratio > 0) or abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ConfigError(f"{name}.replay_ratio (= {self.replay_ratio}) times the env steps of an update "
                              f"(num_envs * num_steps = {self.steps_per_update}) must be a whole number of gradient steps >= 1")
        check_count(self, "the run's gradient steps", self.num_optimizer_steps)

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // self.steps_per_update

    @property
    def warmup_updates(self) -> int:
        """Updates of random acting (no gradient step): ``ceil(learning_starts / steps_per_update)``."""
        return -(-self.learning_starts // self.steps_per_update)

    @property
    def grad_steps(self) -> int:
        """Gradient steps per update."""
        return int(round(self.replay_ratio * self.steps_per_update))

    @property
    def num_optimizer_steps(self) -> int:
        """Gradient steps of the whole run (the learning-rate schedule's length), the pretraining burst included."""
        return max(1, (self.num_updates - self.warmup_updates) * self.grad_steps + self.pretrain_steps)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@struct.dataclass
class OffPolicyState:
    """The full state of a replay learner (everything a checkpoint needs).

    Attributes:
      agent: the agent's learned state (networks, targets, optimiser states, step counter).
      replay: the replay buffer (:class:`jaxrl.replay.ReplayState`, leaves ``[num_envs, capacity, ...]``).
      rollout: env states, current observations and ``first`` flags of the ``num_envs`` envs.
      key: PRNG key.
      update_step: int32, updates done so far.
      hparams: the traced hyperparameters of this run.
      meta_params: a learned rule's meta-parameters (``None`` without one).
    """

    agent: Any
    replay: replay_lib.ReplayState
    rollout: rollout_lib.RolloutState
    key: jax.Array
    update_step: jax.Array
    hparams: Any
    meta_params: Any = None


@dataclasses.dataclass(frozen=True, eq=False)
class Agent:
    """What a replay learner provides to :func:`make_train` (pure functions; ``B`` = the envs).

    Acting goes through the acting seam (:mod:`jaxrl.policy`), so an agent that plans (warm-started
    from its previous plan) or keeps a recurrent state carries it here; a stateless agent uses
    :func:`stateless_explore` / :func:`stateless_greedy` and the empty carry.

    Attributes:
      init: ``init(key, hparams, meta_params) -> agent_state``.
      explore: ``explore(agent_state, hparams, key, carry, obs[B], first[B], progress) -> (action[B],
        carry, extras)``: the behaviour policy; ``progress`` in [0, 1] is the fraction of the run done
        (for schedules). Called during the random warm-up too: its action is replaced by a random one,
        and its carry is kept, or passed through ``executed`` where the agent gives one.
      greedy: ``greedy(agent_state, hparams, key, carry, obs[B], first[B]) -> (action[B], carry)``: the evaluation
        policy (``hparams`` for a planner's traced settings; a stateless agent ignores them).
      learn: ``learn(agent_state, hparams, meta_params, batch, key) -> (agent_state, metrics)``:
        one gradient step on ``batch`` (what ``sample`` draws); metrics are scalars and include ``loss``.
      sample: ``sample(buffer, replay_state, key, batch_size, hparams) -> batch``; default
        :meth:`jaxrl.replay.Replay.sample` (single transitions with a ``valid`` mask). ``hparams``
        for draws that depend on a traced setting (``n``-step returns discounted by ``gamma``).
      sample_length: slots one draw of ``sample`` spans (2 for a transition; ``L`` for sequences of
        ``L``): learning waits until every env holds one.
      init_carry: ``init_carry(B) -> carry`` of ``explore`` and ``greedy``; default the empty carry.
      extras: an UNBATCHED example of ``explore``'s extras, stored in the buffer beside each step
        (e.g. a planner's action distribution); ``None``: nothing is stored.
      trainable: ``trainable(agent_state) -> pytree`` checked for NaN/inf after every update; default all of it.
      executed: ``executed(carry, action[B]) -> carry``: the carry after taking the env ``action`` instead
        of the one ``explore`` chose (the warm-up's random actions); for an agent whose carry holds the
        action it took (a recurrent model's input at the next step). Traced into every behaviour step
        and selected leaf by leaf where the warm-up runs, so it returns the carry's exact structure,
        shapes and dtypes. ``None``: the carry does not depend on it (kept as ``explore`` returned it).
    """

    init: Callable
    explore: Callable
    greedy: Callable
    learn: Callable
    sample: Callable = None
    sample_length: int = 2
    init_carry: Callable = no_carry
    extras: Any = None
    trainable: Callable = None
    executed: Callable = None


def stateless_explore(act: Callable) -> Callable:
    """``explore`` from ``act(agent_state, hparams, key, obs[B], progress) -> action[B]`` (no carry, no extras)."""
    return lambda agent, hp, key, carry, obs, first, progress: (act(agent, hp, key, obs, progress), carry, {})


def stateless_greedy(act: Callable) -> Callable:
    """``greedy`` from ``act(agent_state, key, obs[B]) -> action[B]`` (no carry, no hparams)."""
    return lambda agent, hp, key, carry, obs, first: (act(agent, key, obs), carry)


def optimizer_config(config, num_optimizer_steps: int | None = None, **settings):
    """``config`` as one parameter group's optimiser sees it: with ``num_optimizer_steps`` when the
    group steps less often than the run's gradient steps (TD3's delayed actor: the schedule's and
    progress's length), and any other field the optimiser reads set for this group only
    (``adam_eps``: TD-MPC2's world model takes Adam's eps 1e-8, its policy 1e-5)."""
    if num_optimizer_steps is not None:
        settings["num_optimizer_steps"] = num_optimizer_steps
    return _GroupView(config, tuple(sorted(settings.items())))


@dataclasses.dataclass(frozen=True)
class _GroupView:
    """Read-only: a field of ``settings`` else of ``config`` (no ``replace``: change the config, then view it)."""

    config: Any
    settings: tuple

    def __getattr__(self, name):
        if name.startswith("__") or name in ("config", "settings", "replace"):
            raise AttributeError(name)  # copy/pickle probe dunders before the fields exist
        for key, value in self.settings:
            if key == name:
                return value
        return getattr(self.config, name)


def replay_for(config: OffPolicyConfig, env: Env) -> replay_lib.Replay:
    """The buffer ``config`` asks for: ``ceil(buffer_size / num_envs)`` slots per env, storing one
    frame of ``env``'s frame stack (when ``make(..., frame_stack=k)`` stacks them)."""
    stack = find_wrapper(env, FrameStack)
    k = stack.k if stack is not None else 1
    return replay_lib.Replay(capacity=max(-(-config.buffer_size // config.num_envs), k + 2), num_envs=config.num_envs,
                             frame_stack=k)


def make_train(config: OffPolicyConfig, env: Env, env_params: Any, agent: Agent, as_hparams: Callable) -> Trainer:
    """A :class:`jaxrl.trainer.Trainer` running ``agent`` with replay (see the module docstring).

    Args:
      config: the learner's static config (an :class:`OffPolicyConfig`).
      env: an unbatched env; wrapped in AutoReset -> EpisodeStats -> VecEnv(num_envs).
      env_params: its params (closed over).
      agent: the learner's :class:`Agent`.
      as_hparams: turns ``hparams`` (a dataclass or dict) into the learner's traced hparams.
    """
    venv = training_stack(env, config.num_envs)
    buffer = replay_for(config, env)
    spec = env.action_spec
    sample = agent.sample or (lambda buf, replay, key, n, hparams: buf.sample(replay, key, n))
    B, warmup = config.num_envs, config.warmup_updates
    example = replay_lib.example_transition(env, agent.extras)

    def init(key, hparams, meta_params=None) -> OffPolicyState:
        hparams = as_hparams(hparams)
        agent_key, env_key, key = jax.random.split(key, 3)
        rollout = rollout_lib.reset(env_key, venv, env_params, Policy(None, agent.init_carry))
        return OffPolicyState(agent=agent.init(agent_key, hparams, meta_params), replay=buffer.init(example),
                              rollout=rollout, key=key, update_step=jnp.zeros((), jnp.int32), hparams=hparams,
                              meta_params=meta_params)

    def behaviour(state: OffPolicyState) -> Policy:
        warm = state.update_step < warmup
        progress = state.update_step.astype(jnp.float32) / config.num_updates

        def step(key, carry, obs, first):
            random_key, policy_key = jax.random.split(key)
            action, carry, extras = agent.explore(state.agent, state.hparams, policy_key, carry, obs, first, progress)
            random = spec.sample(random_key, (B,)).astype(action.dtype)
            if agent.executed is not None:
                carry = reset_where(warm, agent.executed(carry, random), carry)  # warm: one flag for all B envs
            action = jnp.where(warm, random, action)
            return action, carry, extras if agent.extras is not None else {}

        return Policy(step, agent.init_carry)

    def learn(state: OffPolicyState, replay, key, first):
        def one(agent_state, k):
            sample_key, learn_key = jax.random.split(k)
            batch = sample(buffer, replay, sample_key, config.batch_size, state.hparams)
            return agent.learn(agent_state, state.hparams, state.meta_params, batch, learn_key)

        if config.pretrain_steps:
            count = config.grad_steps + jnp.where(first, config.pretrain_steps, 0)
            return counted_steps(one, state.agent, key, count)
        agent_state, metrics = jax.lax.scan(one, state.agent, jax.random.split(key, config.grad_steps))
        return agent_state, jax.tree.map(jnp.mean, metrics)

    # Traced once: ``update`` takes its metrics' shapes (for the skipped branch) from this trace and
    # the learning branch reuses it (jit's trace cache), where calling the plain function twice traced
    # a world model's whole update twice (TD-MPC2's tiny trainer: 6.3 s of tracing, 4.6 s once).
    learn = jax.jit(learn)

    def update(state: OffPolicyState):
        key, act_key, learn_key = jax.random.split(state.key, 3)
        rollout, traj = rollout_lib.rollout(act_key, venv, env_params, behaviour(state), state.rollout, config.num_steps)
        replay = buffer.add_rollout(state.replay, traj)
        ready = (state.update_step >= warmup) & buffer.can_sample(replay, agent.sample_length)
        # The first learning update: ready now, and the previous update (whose buffer was state.replay) was not.
        first = ready & ~((state.update_step > warmup) & buffer.can_sample(state.replay, agent.sample_length))
        skipped = jax.tree.map(jnp.zeros_like, jax.eval_shape(learn, state, replay, learn_key, first)[1])
        agent_state, metrics = compute_if(ready, learn, (state, replay, learn_key, first), (state.agent, skipped))
        metrics = {**metrics, **episode_metrics(traj), "learning": ready.astype(jnp.float32)}
        return state.replace(agent=agent_state, replay=replay, rollout=rollout, key=key, update_step=state.update_step + 1), metrics

    def policy(state: OffPolicyState) -> Policy:
        # A state restored by hand (``jax.device_get``, a pickle) holds NumPy arrays, which the policy closes
        # over: as jax arrays, an agent may index them with traced values (TD-MPC2's two Q heads); jax
        # arrays and tracers pass unchanged (the same program).
        agent_state, hparams = jax.tree.map(lambda x: jnp.asarray(x) if isinstance(x, (np.ndarray, np.generic)) else x,
                                            (state.agent, state.hparams))

        def step(key, carry, obs, first):
            return (*agent.greedy(agent_state, hparams, key, carry, obs, first), {})

        return Policy(step, agent.init_carry)

    trainable = agent.trainable or (lambda a: a)
    return Trainer(init=init, update=update, num_updates=config.num_updates, steps_per_update=config.steps_per_update,
                   policy=policy, config=config, trainable=lambda state: trainable(state.agent))


def counted_steps(step: Callable, agent_state: Any, key: jax.Array, count: jax.Array):
    """``count`` (traced int) calls ``agent_state, metrics = step(agent_state, fold_in(key, i))``, i = 0..count-1,
    in one ``lax.while_loop`` (one compiled body whatever the count; under ``vmap`` with a batched count it
    runs the longest count, the others' carries held by a select): ``(agent_state, the metrics' mean)``
    (float32; zeros when ``count`` is 0)."""
    step = jax.jit(step)  # traced once: for the metrics' shapes here and for the loop's body
    like = jax.eval_shape(step, agent_state, key)[1]
    sums = jax.tree.map(lambda m: jnp.zeros(m.shape, jnp.float32), like)

    def body(carry):
        i, agent_state, sums = carry
        agent_state, metrics = step(agent_state, jax.random.fold_in(key, i))
        return i + 1, agent_state, jax.tree.map(lambda s, m: s + m.astype(jnp.float32), sums, metrics)

    _, agent_state, sums = jax.lax.while_loop(lambda c: c[0] < count, body, (jnp.zeros((), jnp.int32), agent_state, sums))
    return agent_state, jax.tree.map(lambda s: s / jnp.maximum(count, 1).astype(jnp.float32), sums)


def replay_bytes(config: OffPolicyConfig, env: Env) -> int:
    """Bytes of one run's replay buffer (no allocation)."""
    return replay_for(config, env).nbytes(replay_lib.example_transition(env))


__all__ = ["Agent", "OffPolicyConfig", "OffPolicyState", "counted_steps", "make_train", "optimizer_config", "replay_bytes", "replay_for",
           "stateless_explore", "stateless_greedy"]
