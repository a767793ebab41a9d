"""TD-MPC2 (a world model learned from replay windows, MPPI in its latent space) as ``make_train``.

The loop (acting, replay, warm-up, gradient steps per env step) is the shared
:func:`jaxrl.offpolicy.make_train`, so the env, the world model, the planner and the learner are one
XLA program. This file is TD-MPC2's :class:`jaxrl.offpolicy.Agent`:

- **acting**: encode the observation, then MPPI (:class:`jaxrl.planning.MPPI`) over action sequences
  scored by the model (two-hot rewards along the latent rollout, then the mean of two Q heads at the
  policy prior's action), ``num_pi_trajs`` of them proposed by the prior. The plan's mean is the
  policy's carry ``[B, plan_horizon, A]``: shifted one step to warm-start the next search, zeroed
  where an episode starts. ``plan=False`` acts with the prior alone (a sample; its mean when greedy).
- **one gradient step** on ``batch_size`` windows of ``horizon + 1`` observations: the model
  (encoder, dynamics, reward, Q heads; the encoder at ``lr * enc_lr_scale``) on latent consistency,
  reward and TD losses (:mod:`jaxrl.algos.tdmpc.losses`), then the policy prior on the model's
  latent rollout, then a Polyak step of the target Q heads.

Actions are in ``[-1, 1]`` inside the agent and mapped to the env's (bounded) box outside.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl import offpolicy
from jaxrl.configs import ConfigError
from jaxrl.env import Env, require_spaces
from jaxrl.networks import check_image_fits
from jaxrl.optim import gradient_step, polyak
from jaxrl.planning import shift
from jaxrl.policy import reset_where
from jaxrl.spaces import scale_action, to_unit
from jaxrl.trainer import Trainer
from jaxrl.twohot import Bins
from jaxrl.algos.tdmpc import losses
from jaxrl.algos.tdmpc.config import TDMPCConfig, as_hparams
from jaxrl.algos.tdmpc.networks import Networks, make_networks


@struct.dataclass
class TDMPCAgentState:
    """Attributes: ``model`` (params ``{"encoder", "dynamics", "reward", "q"}``; Q leaves ``[num_q, ...]``),
    ``target_q``, ``pi`` (params), ``model_opt``, ``pi_opt``, ``scale`` (the running Q scale, a
    scalar), ``step`` (int32 gradient steps taken)."""

    model: Any
    target_q: Any
    pi: Any
    model_opt: Any
    pi_opt: Any
    scale: jax.Array
    step: jax.Array


def check_env(env: Env) -> None:
    """A flat, bounded Box action space; flat observations or images ``[H, W, C]``."""
    require_spaces(env, "TD-MPC2", discrete=False, obs_ndims=(1, 3), bounded=True)


def scale_encoder(tx: optax.GradientTransformation, factor) -> optax.GradientTransformation:
    """``tx`` with the updates of ``params["encoder"]`` multiplied by ``factor`` (TD-MPC2's encoder
    learning-rate scale, for any update rule in the slot)."""

    def update(updates, state, params=None):
        updates, state = tx.update(updates, state, params)
        return {**updates, "encoder": jax.tree.map(lambda u: u * factor, updates["encoder"])}, state

    return optax.GradientTransformation(tx.init, update)


class Model:
    """The world model's pure functions over params (``nets``, ``bins`` and the env's action ``spec`` closed over)."""

    def __init__(self, nets: Networks, bins: Bins, spec):
        self.nets, self.bins, self.spec = nets, bins, spec

    def encode(self, model, obs):
        return self.nets.encoder.apply(model["encoder"], obs)

    def next(self, model, z, a):
        return self.nets.dynamics.apply(model["dynamics"], z, a)

    def reward(self, model, z, a):
        return self.bins.decode(self.nets.reward.apply(model["reward"], z, a))

    def q_pair(self, q_params, z, a, key, rngs=None):
        """``[2, ...]`` decoded values of two distinct heads drawn at random (only those two are evaluated);
        ``rngs`` from :func:`q_dropout` (training losses): each head drops its own units."""
        pick = jax.random.choice(key, self.nets.q.num_heads, (2,), replace=False)
        pair = jax.tree.map(lambda x: x[pick], q_params)
        return self.bins.decode(self.nets.q.clone(num_heads=2).apply(pair, z, a, rngs=rngs))

    def pi(self, pi_params, z):
        return self.nets.pi.apply(pi_params, z)

    def estimate_value(self, agent, z, actions, key, gamma):
        """Value of action sequences ``actions[H, N, A]`` from one latent ``z[latent]``: discounted
        decoded rewards along the latent rollout plus ``gamma^H`` times the mean of two Q heads at the
        prior's action in the last latent. Returns ``[N]``."""
        pi_key, head_key = jax.random.split(key)

        def step(carry, a):
            z, ret, disc = carry
            ret = ret + disc * self.reward(agent.model, z, a)
            return (self.next(agent.model, z, a), ret, disc * gamma), None

        n = actions.shape[1]
        init = (jnp.broadcast_to(z, (n, z.shape[-1])), jnp.zeros((n,)), jnp.ones(()))
        (z_end, ret, disc), _ = jax.lax.scan(step, init, actions)
        a_end = self.pi(agent.pi, z_end).sample(pi_key)
        return ret + disc * jnp.mean(self.q_pair(agent.model["q"], z_end, a_end, head_key), axis=0)

    def prior_actions(self, agent, z, key, num: int, horizon: int):
        """``[horizon, num, A]`` action sequences of the policy prior rolled out in the model from ``z``."""

        def step(z, k):
            a = self.pi(agent.pi, z).sample(k)
            return self.next(agent.model, z, a), a

        return jax.lax.scan(step, jnp.broadcast_to(z, (num, z.shape[-1])), jax.random.split(key, horizon))[1]


def make_actor(config: TDMPCConfig, model: Model, spec):
    """``act(agent, hp, key, carry, obs[B], first[B], explore) -> (env action[B, A], carry)`` (``explore`` static)."""
    planner = config.planner
    H, dim = planner.horizon, spec.shape[0]

    def plan_one(agent, hp, key, z, warm, explore):
        prior_key, plan_key = jax.random.split(key)
        prior = model.prior_actions(agent, z, prior_key, planner.num_prior, H) if planner.num_prior else None
        value = lambda k, actions: model.estimate_value(agent, z, actions, k, hp.gamma)  # noqa: E731
        action, plan, _ = planner.plan(plan_key, value, warm, hp.min_std, hp.max_std, hp.temperature, prior, explore)
        return action, plan

    def act(agent, hp, key, carry, obs, first, explore):
        z = model.encode(agent.model, obs)
        if not config.plan:
            dist = model.pi(agent.pi, z)
            return scale_action(spec, dist.sample(key) if explore else dist.mode()), carry
        warm = reset_where(first, jnp.zeros_like(carry), shift(carry))
        keys = jax.random.split(key, z.shape[0])
        action, plan = jax.vmap(plan_one, in_axes=(None, None, 0, 0, 0, None))(agent, hp, keys, z, warm, explore)
        return scale_action(spec, action), plan

    return act, lambda batch: jnp.zeros((batch, H, dim), jnp.float32)


def q_dropout(config, key):
    """The Q heads' ``rngs`` for a training loss: ``{"dropout": key'}``, or ``None`` when
    ``config.dropout == 0`` (no key is drawn, so the other keys, and every number, are those of a
    config without dropout)."""
    return {"dropout": jax.random.fold_in(key, 1)} if config.dropout > 0 else None


def model_step(model: Model, config, agent: TDMPCAgentState, hp, tx, seq, key):
    """One step of the world model on a window; returns ``(agent, zs[H + 1, N, latent], metrics)``."""
    H, nets = config.horizon, model.nets
    actions = to_unit(model.spec, seq.action[:H].astype(jnp.float32))
    reward, step_mask = seq.reward[:H], seq.mask[1:]
    target_key, head_key = jax.random.split(key)
    next_z = model.encode(agent.model, seq.obs[1:])  # [H, N, latent]
    next_a = model.pi(agent.pi, next_z).sample(target_key)
    next_q = model.q_pair(agent.target_q, next_z, next_a, head_key)
    targets = losses.td_targets(reward, seq.terminated[:H], next_q, hp.gamma)

    def loss_fn(params):
        z0 = model.encode(params, seq.obs[0])
        _, rolled = jax.lax.scan(lambda z, a: (model.next(params, z, a),) * 2, z0, actions)
        zs = jnp.concatenate([z0[None], rolled])
        reward_logits = nets.reward.apply(params["reward"], zs[:-1], actions)
        q_logits = nets.q.apply(params["q"], zs[:-1], actions, rngs=q_dropout(config, key))
        loss, metrics = losses.model_losses(zs, next_z, reward_logits, q_logits, reward, targets, step_mask, model.bins, hp)
        return loss, (metrics, zs)

    params, opt, (metrics, zs) = gradient_step(scale_encoder(tx, hp.enc_lr_scale), agent.model, agent.model_opt, loss_fn)
    return agent.replace(model=params, model_opt=opt), jax.lax.stop_gradient(zs), metrics


def pi_step(model: Model, config, agent: TDMPCAgentState, hp, tx, zs, mask, key):
    """One step of the policy prior on the model's latent rollout ``zs[H + 1, N, latent]`` against the
    (just updated) Q heads, moving the running Q scale first."""
    pi_key, head_key = jax.random.split(key)

    def loss_fn(p):
        action, log_prob, gaussian_log_prob = model.pi(p, zs).sample_and_log_probs(pi_key)
        q = jnp.mean(model.q_pair(agent.model["q"], zs, action, head_key, q_dropout(config, key)), axis=0)
        entropy = losses.scaled_entropy(gaussian_log_prob, action.shape[-1]) if config.entropy == "scaled" else -log_prob
        loss, (scale, metrics) = losses.policy_loss(entropy, log_prob, q, agent.scale, mask, hp)
        return loss, {**metrics, "scale": scale}

    params, opt, metrics = gradient_step(tx, agent.pi, agent.pi_opt, loss_fn)
    scale = metrics.pop("scale")
    return agent.replace(pi=params, pi_opt=opt, scale=scale), metrics


def make_agent(config: TDMPCConfig, env: Env) -> offpolicy.Agent:
    """TD-MPC2's :class:`jaxrl.offpolicy.Agent` for ``env`` (see the module docstring)."""
    nets = make_networks(config, env)
    spec = env.action_spec
    model = Model(nets, Bins(config.num_bins, config.vmin, config.vmax), spec)
    obs0 = jnp.zeros(env.observation_spec.shape, env.observation_spec.dtype)
    act0 = jnp.zeros(spec.shape, jnp.float32)
    act, init_carry = make_actor(config, model, spec)

    def optimizers(hp, meta_params):
        """The world model's and the policy's optimisers (the ``optimizer`` slot; the model's Adam eps
        is ``config.model_adam_eps``, the policy's the slot's default, as TD-MPC2's 1e-8 / 1e-5)."""
        model_config = offpolicy.optimizer_config(config, adam_eps=config.model_adam_eps)
        return config.optimizer(hp, meta_params, model_config), config.optimizer(hp, meta_params, config)

    def init(key, hp, meta_params=None) -> TDMPCAgentState:
        k_enc, k_dyn, k_rew, k_q, k_pi = jax.random.split(key, 5)
        encoder = nets.encoder.init(k_enc, obs0)
        z0 = nets.encoder.apply(encoder, obs0)
        params = {"encoder": encoder, "dynamics": nets.dynamics.init(k_dyn, z0, act0),
                  "reward": nets.reward.init(k_rew, z0, act0), "q": nets.q.init(k_q, z0, act0)}
        pi = nets.pi.init(k_pi, z0)
        model_tx, pi_tx = optimizers(hp, meta_params)
        return TDMPCAgentState(params, params["q"], pi, model_tx.init(params), pi_tx.init(pi), jnp.ones((), jnp.float32),
                               jnp.zeros((), jnp.int32))

    def learn(agent, hp, meta_params, seq, key):
        model_key, pi_key = jax.random.split(key)
        model_tx, pi_tx = optimizers(hp, meta_params)
        agent, zs, model_metrics = model_step(model, config, agent, hp, model_tx, seq, model_key)
        agent, pi_metrics = pi_step(model, config, agent, hp, pi_tx, zs, seq.mask, pi_key)
        agent = agent.replace(target_q=polyak(agent.target_q, agent.model["q"], hp.tau), step=agent.step + 1)
        return agent, {**model_metrics, **pi_metrics, "loss": model_metrics["model_loss"] + pi_metrics["pi_loss"]}

    return offpolicy.Agent(
        init=init,
        explore=lambda agent, hp, key, carry, obs, first, progress: (*act(agent, hp, key, carry, obs, first, True), {}),
        greedy=lambda agent, hp, key, carry, obs, first: act(agent, hp, key, carry, obs, first, False),
        learn=learn,
        sample=lambda buf, replay, key, n, hp: buf.sample_sequences(replay, key, n, config.sequence_length),
        sample_length=config.sequence_length,
        init_carry=init_carry,
    )


def make_train(config: TDMPCConfig, env: Env, env_params: Any) -> Trainer:
    """Build TD-MPC2's pure training function.

    Args:
      config: static :class:`TDMPCConfig`.
      env: an unbatched env with flat observations or images and a bounded Box of actions
        (``jaxrl.envs.make``; ``obs="pixels"`` uses the CNN encoder).
      env_params: its params (closed over).

    Returns:
      A :class:`jaxrl.trainer.Trainer`: ``train(key, hparams, meta_params=None) -> (OffPolicyState,
      metrics)``; ``hparams`` a :class:`TDMPCHparams` (or dict), traced; metrics ``[num_updates]``:
      ``loss`` (model + policy), ``model_loss``, ``consistency_loss``, ``reward_loss``, ``value_loss``,
      ``td_target``, ``pi_loss``, ``entropy`` (the squashed prior's), ``scaled_entropy`` (the bonus
      the prior maximises: :func:`losses.scaled_entropy`, or ``-log pi`` with ``entropy="squashed"``), ``q_scale`` (0 during warm-up), ``learning``, and the
      episode metrics.
    """
    if not isinstance(config, TDMPCConfig):
        raise ConfigError(f"config must be a TDMPCConfig, got {type(config).__name__}")
    check_env(env)
    check_image_fits("TD-MPC2", env.observation_spec.shape, config.conv_kernels, config.conv_strides)
    return offpolicy.make_train(config, env, env_params, make_agent(config, env), as_hparams)
