"""PQN (Gallici et al. 2024): parallel Q-learning without a replay buffer or target network, as
``make_train(config, env, env_params)``.

Each update: a rollout of ``num_steps`` epsilon-greedy steps in ``num_envs`` envs (the shared
:func:`jaxrl.rollout.rollout`), Q(lambda) returns bootstrapping from ``max_a Q(s', a)`` of the TRUE
next observations (:func:`jaxrl.returns.lambda_returns`, cut at episode ends; terminated steps do
not bootstrap), then ``update_epochs`` passes of minibatch regression of ``Q(s, a)`` on them
(:func:`jaxrl.minibatch.sgd_epochs`). LayerNorm in the Q network keeps this stable without a target network.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl import rollout as rollout_lib
from jaxrl.configs import ConfigError
from jaxrl.distributions import epsilon_greedy
from jaxrl.env import Env, require_spaces
from jaxrl.losses import ensemble_td_loss
from jaxrl.minibatch import flatten_time_batch, sgd_epochs
from jaxrl.networks import QNetwork
from jaxrl.optim import apply_gradients, linear_schedule
from jaxrl.policy import Policy
from jaxrl.returns import lambda_returns
from jaxrl.trainer import Trainer, episode_metrics
from jaxrl.wrappers import training_stack
from jaxrl.algos.pqn.config import PQNConfig, as_hparams


@struct.dataclass
class PQNState:
    """Attributes: ``params``, ``opt_state``, ``rollout`` (env states, observations, first flags),
    ``key``, ``update_step`` (int32), ``hparams``, ``meta_params``."""

    params: Any
    opt_state: Any
    rollout: rollout_lib.RolloutState
    key: jax.Array
    update_step: jax.Array
    hparams: Any
    meta_params: Any = None


def q_lambda_targets(net, params, traj, hparams) -> jax.Array:
    """``[T, B]`` Q(lambda) returns of a rollout: ``G_t = r_t + gamma (1 - term_t) ((1 - lam) max Q(s'_t) +
    lam G_{t+1})``, the recursion cut where an episode ended (no gradient)."""
    next_q = jnp.max(net.apply(params, traj.next_obs), axis=-1)
    discounts = hparams.gamma * (1.0 - traj.terminated.astype(jnp.float32))
    done = jnp.logical_or(traj.terminated, traj.truncated)
    return jax.lax.stop_gradient(lambda_returns(traj.reward * hparams.reward_scale, next_q, discounts, hparams.lam, done))


def make_train(config: PQNConfig, env: Env, env_params: Any) -> Trainer:
    """Build PQN's pure training function (arguments as :func:`jaxrl.algos.ppo.make_train`); metrics:
    ``loss``, ``q``, ``grad_norm``, ``epsilon`` and the episode metrics, ``[num_updates]``."""
    if not isinstance(config, PQNConfig):
        raise ConfigError(f"config must be a PQNConfig, got {type(config).__name__}")
    require_spaces(env, "PQN", discrete=True)
    net = QNetwork(env.action_spec.n, config.hidden_sizes, config.activation, config.layer_norm)
    venv = training_stack(env, config.num_envs)

    def init(key, hparams, meta_params=None) -> PQNState:
        hparams = as_hparams(hparams)
        net_key, env_key, key = jax.random.split(key, 3)
        params = net.init(net_key, jnp.zeros(env.observation_spec.shape, jnp.float32))
        return PQNState(params, config.optimizer(hparams, meta_params, config).init(params),
                        rollout_lib.reset(env_key, venv, env_params), key, jnp.zeros((), jnp.int32), hparams, meta_params)

    def behaviour(params, eps) -> Policy:
        return Policy(lambda key, carry, obs, first: (epsilon_greedy(key, net.apply(params, obs), eps), carry, {}))

    def sgd_step(state, tx):
        def step(carry, minibatch):
            params, opt_state = carry
            obs, action, target = minibatch

            def loss(p):
                q = jnp.take_along_axis(net.apply(p, obs), action[:, None], axis=-1)[:, 0]
                value = ensemble_td_loss(q, target, jnp.ones_like(target, jnp.bool_))
                return value, {"loss": value, "q": jnp.mean(q)}

            grads, metrics = jax.grad(loss, has_aux=True)(params)
            params, opt_state = apply_gradients(tx, params, opt_state, grads)
            return (params, opt_state), {**metrics, "grad_norm": optax.global_norm(grads)}

        return step

    def update(state: PQNState):
        hp = state.hparams
        key, rollout_key, sgd_key = jax.random.split(state.key, 3)
        eps = linear_schedule(hp.eps_start, hp.eps_end, hp.eps_decay, state.update_step.astype(jnp.float32) / config.num_updates)
        rollout, traj = rollout_lib.rollout(rollout_key, venv, env_params, behaviour(state.params, eps), state.rollout,
                                            config.num_steps)
        targets = q_lambda_targets(net, state.params, traj, hp)
        batch = flatten_time_batch((traj.obs, traj.action, targets))
        tx = config.optimizer(hp, state.meta_params, config)
        (params, opt_state), metrics = sgd_epochs(sgd_key, (state.params, state.opt_state), batch, sgd_step(state, tx),
                                                  config.update_epochs, config.num_minibatches)
        metrics = {**jax.tree.map(jnp.mean, metrics), **episode_metrics(traj), "epsilon": eps}
        return state.replace(params=params, opt_state=opt_state, rollout=rollout, key=key, update_step=state.update_step + 1), metrics

    def policy(state: PQNState) -> Policy:
        return Policy(lambda key, carry, obs, first: (jnp.argmax(net.apply(state.params, obs), axis=-1).astype(jnp.int32), carry, {}))

    return Trainer(init=init, update=update, num_updates=config.num_updates, steps_per_update=config.batch_size,
                   policy=policy, config=config, trainable=lambda state: (state.params, state.opt_state))
