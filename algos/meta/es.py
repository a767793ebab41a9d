"""Evolution strategies as a :class:`jaxrl.trainer.Trainer`: one generation is one ``update``.

    es = make_es(fitness_fn, init_meta, ESConfig(generations=32, population=16))
    state, metrics = jax.jit(es)(key, ESHparams())      # meta_train(key): ONE compiled program
    metrics["fitness_mean"]                             # [generations]

Because the meta-trainer is a Trainer, everything built for training runs applies to it
unchanged: ``init`` then ``lax.scan(update)`` is one program; :func:`jaxrl.runner.run` runs it in
compiled chunks of generations, checkpoints the ES state between chunks
(:mod:`jaxrl.checkpoint`) and resumes bit for bit; a vmap over :class:`ESHparams` sweeps ES settings.

A generation: the strategy proposes ``P`` members (flat vectors, unravelled to meta-params);
every member is scored by ``fitness_fn(key, meta_params) -> scalar`` (maximised) with the SAME
key (common random numbers: members differ only by their meta-params); the population is
evaluated ``chunk`` members at a time (``jax.vmap``) in ``P / chunk`` sequential steps
(``jax.lax.map``), so memory holds ``chunk`` members' runs, never all ``P``; with several
devices each chunk is split over them (``NamedSharding`` on the member axis, as
:mod:`jaxrl.sweep` splits runs). A non-finite fitness is replaced by ``ESConfig.penalty``
(ranked last; counted in the ``nonfinite_members`` metric), so it never reaches the search state.

Strategies: ``"openes"`` (OpenAI-ES, Salimans et al. 2017: antithetic pairs, centred-rank
fitness shaping, Adam on the mean; written here) or ``"evosax:<Name>"``, any distribution-based
strategy of evosax (optional extra ``jaxrl[meta]``), e.g. ``"evosax:SNES"``; its
``std_init`` takes ``ESHparams.sigma`` and the rest are evosax's defaults (or ``strategy_kwargs``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.flatten_util import ravel_pytree
from jax.sharding import NamedSharding

from jaxrl.configs import ConfigError, as_traced
from jaxrl.sweep import runs_sharding
from jaxrl.trainer import Trainer
from jaxrl.configs import MAX_COUNT
from jaxrl.runner import divisors


class ESError(ConfigError):
    """An invalid ES setting (raised before anything compiles)."""


@dataclasses.dataclass(frozen=True)
class ESConfig:
    """Static ES settings (changing one recompiles).

    Attributes:
      generations: generations of a meta-training run (the Trainer's ``num_updates``).
      population: members per generation; even for ``openes`` (antithetic pairs).
      chunk: members evaluated at once (vmapped); must divide ``population``. ``None``: all.
      strategy: ``"openes"`` or ``"evosax:<Name>"`` (a distribution-based evosax strategy).
      penalty: the fitness given to a member whose fitness is NaN/inf (ranked last).
    """

    generations: int = 32
    population: int = 16
    chunk: int | None = None
    strategy: str = "openes"
    penalty: float = -1e9

    def __post_init__(self):
        for name in ("generations", "population"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ESError(f"ESConfig.{name} must be a positive integer, got {v!r}")
            if v > MAX_COUNT:
                raise ESError(f"ESConfig.{name} must be at most {MAX_COUNT}, got {v!r}")
        if self.population < 2:
            raise ESError(f"ESConfig.population must be at least 2, got {self.population}")
        if self.chunk is not None:
            if not isinstance(self.chunk, (int, np.integer)) or isinstance(self.chunk, bool) or self.chunk < 1:
                raise ESError(f"ESConfig.chunk must be a positive integer or None, got {self.chunk!r}")
            if self.population % self.chunk:
                raise ESError(f"ESConfig: the population (= {self.population}) is not divisible by the chunk (= {self.chunk}); "
                              f"choose a chunk among {', '.join(str(d) for d in divisors(self.population)[:32])}")
        if self.strategy == "openes":
            if self.population % 2:
                raise ESError(f"ESConfig: openes samples antithetic pairs, so the population must be even, got {self.population}")
        elif not (isinstance(self.strategy, str) and self.strategy.startswith("evosax:") and len(self.strategy) > 7):
            raise ESError(f"ESConfig.strategy {self.strategy!r} is unknown; use 'openes' or 'evosax:<Name>' (e.g. evosax:SNES)")
        if not math.isfinite(self.penalty):
            raise ESError(f"ESConfig.penalty must be a finite number, got {self.penalty!r}")

    @property
    def members_per_step(self) -> int:
        return self.chunk or self.population

    def replace(self, **changes) -> "ESConfig":
        return dataclasses.replace(self, **changes)


@struct.dataclass
class ESHparams:
    """Traced ES hyperparameters (vmap over them, never recompiles).

    Attributes:
      sigma: standard deviation of the search noise (> 0); evosax: its ``std_init``.
      lr: Adam learning rate on the search mean (openes).
    """

    sigma: Any = 0.1
    lr: Any = 0.05


def as_es_hparams(hparams: Any) -> ESHparams:
    """An :class:`ESHparams` (or dict of its fields, or None) with float32 leaves; ESError on unknown fields."""
    return as_traced(hparams, ESHparams, "ES hyperparameter", ESError)


@struct.dataclass
class ESState:
    """The full ES state (what a checkpoint holds).

    Attributes:
      params: the search distribution's mean, as meta-params (the learned rule so far).
      strategy: the strategy's own state (flat ``[D]`` vectors inside).
      key: PRNG key.
      generation: int32, generations done.
      best_fitness: the best member fitness seen so far (float32).
      best_params: that member's meta-params.
      hparams: the traced :class:`ESHparams`.
    """

    params: Any
    strategy: Any
    key: jax.Array
    generation: jax.Array
    best_fitness: jax.Array
    best_params: Any
    hparams: ESHparams


def centered_ranks(fitness: jax.Array) -> jax.Array:
    """Ranks of ``fitness[P]`` mapped linearly onto ``[-0.5, 0.5]`` (lowest -0.5, highest 0.5).

    Tied members share their average rank, so a tie carries no signal (ranking ties by index
    would push the antithetic mean towards the second half of the population).
    """
    n = fitness.shape[0]
    below = jnp.sum(fitness[None, :] < fitness[:, None], axis=1)
    tied = jnp.sum(fitness[None, :] == fitness[:, None], axis=1)
    return (below + 0.5 * (tied - 1)).astype(jnp.float32) / (n - 1) - 0.5


# ----------------------------------------------------------------------------- strategies


class OpenESState(NamedTuple):
    mean: jax.Array  # [D]
    opt_state: Any  # Adam state on the mean


class OpenES:
    """OpenAI-ES on flat ``[D]`` vectors: antithetic sampling, centred ranks, Adam ascent on the mean."""

    def __init__(self, population: int, num_dims: int):
        self.population, self.num_dims = population, num_dims

    @staticmethod
    def _optimizer(hp: ESHparams):
        return optax.adam(hp.lr)

    def init(self, key, mean, hp: ESHparams) -> OpenESState:
        return OpenESState(mean, self._optimizer(hp).init(mean))

    def ask(self, key, state: OpenESState, hp: ESHparams) -> tuple[jax.Array, OpenESState]:
        half = jax.random.normal(key, (self.population // 2, self.num_dims), jnp.float32)
        noise = jnp.concatenate([half, -half])
        return state.mean + hp.sigma * noise, state

    def tell(self, key, population, fitness, state: OpenESState, hp: ESHparams) -> OpenESState:
        grad = self.gradient(population, fitness, state.mean, hp.sigma)
        updates, opt_state = self._optimizer(hp).update(-grad, state.opt_state, state.mean)
        return OpenESState(optax.apply_updates(state.mean, updates), opt_state)

    @staticmethod
    def gradient(population, fitness, mean, sigma):
        """The search gradient ``sum_i rank_i eps_i / (P sigma)``, ``eps_i = (x_i - mean) / sigma`` (ascent)."""
        noise = (population - mean) / sigma
        return centered_ranks(fitness) @ noise / (population.shape[0] * sigma)

    def mean(self, state: OpenESState) -> jax.Array:
        return state.mean


class EvosaxES:
    """An evosax distribution-based strategy behind the same interface (evosax minimises: fitness is negated)."""

    def __init__(self, name: str, population: int, num_dims: int, **kwargs):
        try:
            from evosax import algorithms
        except ImportError:
            raise ESError(f"strategy 'evosax:{name}' needs evosax: pip install 'jaxrl[meta]'") from None
        known = algorithms.distribution_based.distribution_based_algorithms
        if name not in known:
            raise ESError(f"unknown evosax strategy {name!r}; the distribution-based ones are: {', '.join(sorted(known))}")
        self.es = known[name](population_size=population, solution=jnp.zeros((num_dims,), jnp.float32), **kwargs)

    def init(self, key, mean, hp: ESHparams):
        params = self.es.default_params
        if hasattr(params, "std_init"):
            params = params.replace(std_init=hp.sigma)
        return self.es.init(key, mean, params), params

    def ask(self, key, state, hp):
        population, inner = self.es.ask(key, state[0], state[1])
        return population, (inner, state[1])

    def tell(self, key, population, fitness, state, hp):
        inner, _ = self.es.tell(key, population, -fitness, state[0], state[1])
        return inner, state[1]

    def mean(self, state):
        return state[0].mean


def make_strategy(config: ESConfig, num_dims: int, **kwargs):
    if config.strategy == "openes":
        if kwargs:
            raise ESError(f"openes takes no strategy options, got {sorted(kwargs)}")
        return OpenES(config.population, num_dims)
    return EvosaxES(config.strategy.split(":", 1)[1], config.population, num_dims, **kwargs)


# ----------------------------------------------------------------------------- the meta-trainer


def population_sharding(devices: Sequence[jax.Device] | None, chunk: int) -> NamedSharding | None:
    """The sharding that splits a chunk of members over ``devices`` (``None`` for one device).

    The mesh of :class:`jaxrl.sweep.Sweeper` (:func:`jaxrl.sweep.runs_sharding`).
    """
    devices = list(devices) if devices is not None else jax.devices()
    if len(devices) <= 1:
        return None
    if chunk % len(devices):
        raise ESError(f"the chunk of {chunk} members does not split over {len(devices)} devices; "
                      f"choose a chunk (or population) that is a multiple of {len(devices)}")
    return runs_sharding(devices)


def evaluate_population(fitness_fn: Callable, unravel: Callable, population: jax.Array, key: jax.Array,
                        chunk: int, sharding: NamedSharding | None = None) -> jax.Array:
    """``fitness[P]`` of ``population[P, D]``: ``lax.map`` over ``P / chunk`` chunks, each ``vmap``-ed
    (and split over devices by ``sharding``); every member gets the same ``key``."""
    P, D = population.shape

    def one_chunk(members):
        if sharding is not None:
            members = jax.lax.with_sharding_constraint(members, sharding)
        return jax.vmap(lambda m: jnp.asarray(fitness_fn(key, unravel(m)), jnp.float32))(members)

    return jax.lax.map(one_chunk, population.reshape(P // chunk, chunk, D)).reshape(P)


def make_es(fitness_fn: Callable, init_meta: Any, config: ESConfig, *, steps_per_member: int = 0,
            devices: Sequence[jax.Device] | None = None, strategy_kwargs: dict | None = None) -> Trainer:
    """Evolution strategies over ``fitness_fn`` as a :class:`Trainer` (one update = one generation).

    Args:
      fitness_fn: ``fitness_fn(key, meta_params) -> scalar`` to MAXIMISE (pure, vmappable).
      init_meta: the starting mean (a pytree of float32 arrays; fixes the structure).
      config: static :class:`ESConfig` (validated on construction).
      steps_per_member: env steps one fitness evaluation takes (for steps/s).
      devices: split each chunk of members over these (default: all devices).

    Returns:
      ``meta_train = make_es(...)``: ``meta_train(key, es_hparams, meta_params=None) ->
      (ESState, metrics)``, metrics ``[generations]``: ``fitness_best``, ``fitness_mean``,
      ``fitness_std``, ``fitness_worst`` (over the finite members), ``nonfinite_members`` (count),
      ``mean_step`` (how far the mean moved) and ``best_so_far``. ``meta_params`` overrides the
      starting mean (same structure as ``init_meta``).
    """
    if not isinstance(config, ESConfig):
        raise ESError(f"config must be an ESConfig, got {type(config).__name__}")
    init_meta = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), init_meta)
    flat0, unravel = ravel_pytree(init_meta)
    strategy = make_strategy(config, flat0.shape[0], **(strategy_kwargs or {}))
    chunk = config.members_per_step
    sharding = population_sharding(devices, chunk)
    expected = jax.tree.structure(init_meta), [x.shape for x in jax.tree.leaves(init_meta)]

    def init(key, hparams=None, meta_params=None) -> ESState:
        hp = as_es_hparams(hparams)
        meta = init_meta if meta_params is None else meta_params
        if (jax.tree.structure(meta), [jnp.shape(x) for x in jax.tree.leaves(meta)]) != expected:
            raise ESError(f"meta_params of the wrong structure for this ES: expected {expected[0]} with shapes {expected[1]}")
        mean = ravel_pytree(jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), meta))[0]
        strategy_key, key = jax.random.split(key)
        return ESState(params=unravel(mean), strategy=strategy.init(strategy_key, mean, hp), key=key,
                       generation=jnp.zeros((), jnp.int32), best_fitness=jnp.full((), -jnp.inf, jnp.float32),
                       best_params=unravel(mean), hparams=hp)

    def update(state: ESState):
        hp = state.hparams
        key, ask_key, fit_key, tell_key = jax.random.split(state.key, 4)
        population, s = strategy.ask(ask_key, state.strategy, hp)
        raw = evaluate_population(fitness_fn, unravel, population, fit_key, chunk, sharding)
        finite = jnp.isfinite(raw)
        fitness = jnp.where(finite, raw, jnp.float32(config.penalty))
        s = strategy.tell(tell_key, population, fitness, s, hp)
        mean = strategy.mean(s)
        i = jnp.argmax(fitness)
        improved = fitness[i] > state.best_fitness
        best_fitness = jnp.where(improved, fitness[i], state.best_fitness)
        best_params = jax.tree.map(lambda new, old: jnp.where(improved, new, old), unravel(population[i]), state.best_params)
        n_ok = jnp.sum(finite)
        safe = jnp.where(finite, raw, 0.0)
        mean_fit = jnp.sum(safe) / jnp.maximum(n_ok, 1)
        metrics = {
            "fitness_best": jnp.max(fitness),
            "fitness_mean": jnp.where(n_ok > 0, mean_fit, config.penalty),
            "fitness_std": jnp.sqrt(jnp.sum(jnp.where(finite, jnp.square(safe - mean_fit), 0.0)) / jnp.maximum(n_ok, 1)),
            "fitness_worst": jnp.where(n_ok > 0, jnp.min(jnp.where(finite, raw, jnp.inf)), config.penalty),
            "nonfinite_members": config.population - n_ok,
            "mean_step": jnp.linalg.norm(mean - ravel_pytree(state.params)[0]),
            "best_so_far": best_fitness,
        }
        new = state.replace(params=unravel(mean), strategy=s, key=key, generation=state.generation + 1,
                            best_fitness=best_fitness, best_params=best_params)
        return new, metrics

    def policy(state):
        raise NotImplementedError("a meta-trainer has no policy: train an agent with the learned rule (state.params)")

    return Trainer(init=init, update=update, num_updates=config.generations,
                   steps_per_update=config.population * steps_per_member, policy=policy, config=config)
