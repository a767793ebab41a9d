"""Meta-gradients: differentiate a validation objective through K inner PPO updates.

    mg = make_metagrad(trainer, ppo_hparams, init_meta, MetaGradConfig(steps=200, unroll=4, seeds=4))
    state, metrics = jax.jit(mg)(key, MetaGradHparams(lr=1e-3))   # one compiled program

One meta step (one ``update`` of the returned :class:`jaxrl.trainer.Trainer`): ``S`` inner PPO
agents (vmapped) each run ``K = unroll`` updates with the current meta-params (every update
rematerialised with ``jax.checkpoint``, so the backward pass stores one PPO state per update,
not every intermediate); the loss is the mean over agents of a validation loss on a separate
rollout of the policy BEFORE the unroll, ``-mean(pi_K(a|s) / pi_0(a|s) * A)`` (the local
estimate of the return gained by the K updates, with GAE advantages of the critic before the
unroll, normalised); the rollout does not depend on the meta-params, so the meta-loss is an
ordinary function of them and its gradient flows through the K updates (truncated
backpropagation; the validation batch is held-out data, not used by the inner updates). The
meta-params take a clipped Adam step; the agents continue from where the unroll left them (online, truncated),
and an agent whose lifetime (``trainer.num_updates``) is over restarts from a fresh init.
The gradient is exact for the unrolled computation: sampled discrete actions carry no
gradient (they are locally constant), continuous ones are reparameterised.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxrl.configs import ConfigError
from jaxrl.trainer import Trainer
from jaxrl.algos.ppo.config import as_hparams
from jaxrl.algos.ppo.train import make_parts


@dataclasses.dataclass(frozen=True)
class MetaGradConfig:
    """Static meta-gradient settings.

    Attributes:
      steps: meta-gradient steps (the Trainer's ``num_updates``).
      unroll: inner PPO updates ``K`` differentiated through per step; must divide the inner run's updates.
      seeds: inner agents (vmapped); the meta-gradient is their mean.
      remat: rematerialise each inner update in the backward pass (``jax.checkpoint``).
    """

    steps: int = 100
    unroll: int = 4
    seeds: int = 2
    remat: bool = True

    def __post_init__(self):
        for name in ("steps", "unroll", "seeds"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"MetaGradConfig.{name} must be a positive integer, got {v!r}")


@struct.dataclass
class MetaGradHparams:
    """Traced meta-optimiser settings: Adam ``lr`` (> 0) after global-norm clipping at ``max_grad_norm`` (> 0)."""

    lr: Any = 1e-2
    max_grad_norm: Any = 1.0


@struct.dataclass
class MetaGradState:
    """Attributes: ``params`` (meta-params), ``opt_state`` (their Adam state), ``inner`` (the
    ``S`` PPO states, leaves ``[S, ...]``), ``key``, ``step`` (int32), ``hparams``."""

    params: Any
    opt_state: Any
    inner: Any
    key: jax.Array
    step: jax.Array
    hparams: MetaGradHparams


class ValidationBatch(NamedTuple):
    """A rollout of the policy BEFORE the unroll, ``[T, B, ...]``: raw observations, actions,
    their log-probabilities and normalised GAE advantages (constants of the meta-loss)."""

    obs: Any
    action: Any
    log_prob: jax.Array
    advantage: jax.Array


def validation_batch(state, key, parts, hparams) -> ValidationBatch:
    """Collect a :class:`ValidationBatch` with ``state``'s sampling policy (one PPO agent), gradients
    stopped: PPO's own rollout and GAE (:class:`jaxrl.algos.ppo.PPOParts`), advantages then
    normalised over the batch."""
    state = jax.lax.stop_gradient(state)
    _, traj = parts.collect(state, key)
    adv, _ = parts.advantages(state, traj, hparams)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    return jax.lax.stop_gradient(ValidationBatch(traj.obs, traj.extras["action"], traj.extras["log_prob"], adv))


def validation_loss(state, batch: ValidationBatch, parts) -> jax.Array:
    """``-mean(pi_K(a|s) / pi_0(a|s) * A)`` on ``batch`` (from the policy before the unroll): the
    local estimate of how much the unroll improved the return (Kakade & Langford 2002); the
    gradient flows through ``state.params`` (the policy after the unroll). Observations are seen
    as PPO sees them (:meth:`PPOParts.normalize`: images are never normalised)."""
    dist, _ = parts.network.apply(state.params, parts.normalize(state.obs_stats, batch.obs))
    ratio = jnp.exp(dist.log_prob(batch.action) - batch.log_prob)
    return -jnp.mean(ratio * batch.advantage)


def make_metagrad(trainer: Trainer, hparams: Any, init_meta: Any, config: MetaGradConfig, *, env, env_params) -> Trainer:
    """Meta-gradient training of a PPO update rule as a :class:`Trainer` (one update = one meta step).

    Args:
      trainer: a PPO trainer whose config has the rule in its slot (``rule.configure(config)``).
      hparams: PPO's hyperparameters (fixed).
      init_meta: the starting meta-params.
      config: static :class:`MetaGradConfig`.
      env, env_params: the env the PPO trainer was made with (for the validation rollout).

    Returns:
      ``mg(key, MetaGradHparams) -> (MetaGradState, metrics)``; metrics ``[steps]``:
      ``meta_loss``, ``grad_norm`` (of the meta-gradient), ``episode_return`` / ``episodes`` (of the
      inner updates), ``restarts``. ``mg.loss(meta, inner, key) -> (loss, (inner_after, metrics))``
      is the differentiated function (for checks).
    """
    parts = make_parts(trainer.config, env, env_params)
    K = config.unroll
    if trainer.num_updates % K:
        raise ConfigError(f"MetaGradConfig.unroll (= {K}) must divide the inner run's {trainer.num_updates} updates")
    hparams = as_hparams(hparams)
    init_meta = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), init_meta)
    step_fn = (lambda s, _: trainer.update(s))
    if config.remat:
        step_fn = jax.checkpoint(step_fn)

    def loss(meta, inner, key):
        def one(s, k):
            batch = validation_batch(s, k, parts, hparams)
            s, metrics = jax.lax.scan(step_fn, s.replace(meta_params=meta), None, length=K)
            return validation_loss(s, batch, parts), (s, metrics)

        losses, aux = jax.vmap(one)(inner, jax.random.split(key, config.seeds))
        return jnp.mean(losses), aux

    def optimizer(hp):
        return optax.chain(optax.clip_by_global_norm(hp.max_grad_norm), optax.adam(hp.lr))

    def init_inner(key, meta):
        return jax.vmap(trainer.init, in_axes=(0, None, None))(jax.random.split(key, config.seeds), hparams, meta)

    def init(key, mg_hparams=None, meta_params=None) -> MetaGradState:
        hp = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), mg_hparams if mg_hparams is not None else MetaGradHparams())
        meta = init_meta if meta_params is None else meta_params
        inner_key, key = jax.random.split(key)
        return MetaGradState(params=meta, opt_state=optimizer(hp).init(meta), inner=init_inner(inner_key, meta),
                             key=key, step=jnp.zeros((), jnp.int32), hparams=hp)

    def update(state: MetaGradState):
        key, loss_key, reset_key = jax.random.split(state.key, 3)
        (value, (inner, metrics)), grads = jax.value_and_grad(loss, has_aux=True)(state.params, state.inner, loss_key)
        updates, opt_state = optimizer(state.hparams).update(grads, state.opt_state, state.params)
        meta = optax.apply_updates(state.params, updates)
        over = inner.update_step >= trainer.num_updates
        fresh = init_inner(reset_key, meta)

        def pick(a, b):
            if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):  # keys: select their raw data
                return jax.random.wrap_key_data(pick(jax.random.key_data(a), jax.random.key_data(b)), impl=a.dtype._impl)
            return jnp.where(over.reshape(over.shape + (1,) * (a.ndim - 1)), a, b)

        inner = jax.tree.map(pick, fresh, inner.replace(meta_params=fresh.meta_params))
        done = metrics["episodes"].astype(jnp.float32)
        out = {
            "meta_loss": value,
            "grad_norm": optax.global_norm(grads),
            "episode_return": jnp.sum(metrics["episode_return"] * done) / jnp.maximum(jnp.sum(done), 1.0),
            "episodes": jnp.sum(done),
            "restarts": jnp.sum(over),
        }
        return state.replace(params=meta, opt_state=opt_state, inner=inner, key=key, step=state.step + 1), out

    def policy(state):
        raise NotImplementedError("a meta-trainer has no policy: train an agent with the learned rule (state.params)")

    mg = Trainer(init=init, update=update, num_updates=config.steps,
                 steps_per_update=config.seeds * K * trainer.steps_per_update, policy=policy, config=config)
    object.__setattr__(mg, "loss", loss)
    return mg
