"""DreamerV3 (a recurrent world model, an actor-critic trained in its imagination) as ``make_train``.

The loop (acting, replay, warm-up, gradient steps per env step) is the shared
:func:`jaxrl.offpolicy.make_train`, so the env, the RSSM, the imagination and the learner are one
XLA program. This file is DreamerV3's :class:`jaxrl.offpolicy.Agent`:

- **acting**: the policy's carry is the RSSM state and the previous action (:class:`DreamerCarry`),
  restarted from zeros where ``first``; each step the posterior takes in the new observation, the
  actor acts on its features (a sample when exploring, the mode when greedy).
- **one gradient step** on ``batch_size`` replayed windows of ``seq_length`` steps: the world model
  (observe the window; decoder, reward, continue and balanced KL losses), then the actor on
  ``imag_horizon``-step rollouts of the prior from every posterior state of the window, then the
  critic on the same rollouts, then a Polyak step of the slow critic.

Replay slot ``t`` holds an observation and the step taken FROM it; the RSSM reads step ``t`` as
(observation ``t``, the action that led to it = ``action[t-1]``) and its reward and continue heads at
``t`` predict ``reward[t-1]`` and ``1 - terminated[t-1]``. Continuous actions are ``[-1, 1]`` inside
the agent and mapped to the env's box outside.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl import offpolicy
from jaxrl.configs import ConfigError
from jaxrl.distributions import straight_through_onehot
from jaxrl.env import Env, require_spaces
from jaxrl.networks import CONV_STYLES, check_image_fits
from jaxrl.optim import gradient_step, polyak
from jaxrl.policy import reset_where
from jaxrl.spaces import Discrete, scale_action, to_unit
from jaxrl.trainer import Trainer
from jaxrl.twohot import Bins, symexp, symlog
from jaxrl.algos.dreamer import losses
from jaxrl.algos.dreamer.config import DreamerConfig, as_hparams
from jaxrl.algos.dreamer.networks import RSSM, Networks, RSSMState, make_networks, zeros_state

sg = jax.lax.stop_gradient


@struct.dataclass
class DreamerAgentState:
    """Attributes: ``model`` (params ``{"encoder", "rssm", "decoder", "reward", "cont"}``), ``actor``,
    ``critic``, ``slow_critic`` (params), their optimiser states, ``return_scale`` (the running
    5th-95th percentile range of imagined returns, a scalar) and ``step`` (int32 gradient steps)."""

    model: Any
    actor: Any
    critic: Any
    slow_critic: Any
    model_opt: Any
    actor_opt: Any
    critic_opt: Any
    return_scale: jax.Array
    step: jax.Array


class DreamerCarry(NamedTuple):
    """The acting carry: the RSSM ``state`` after the last observation and the ``action`` taken
    from it (the RSSM's input form: ``[B, A]`` in ``[-1, 1]``, or one-hot)."""

    state: RSSMState
    action: jax.Array


class Imagined(NamedTuple):
    """An imagined rollout from ``M`` start states: ``states`` ``[H + 1, M]``, and per step ``[H, M]``
    the ``log_prob`` and ``entropy`` of the action taken."""

    states: RSSMState
    log_prob: jax.Array
    entropy: jax.Array


def check_env(env: Env) -> None:
    """Discrete actions or a flat, bounded Box; flat observations or images ``[H, W, C]``."""
    discrete = isinstance(env.action_spec, Discrete)
    require_spaces(env, "DreamerV3", discrete=discrete, obs_ndims=(1, 3), bounded=not discrete)


def check_decoder(config: DreamerConfig, shape) -> None:
    """Images whose sides the decoder's stride-2 layers can rebuild (multiples of ``2 ** layers``)."""
    if len(shape) != 3:
        return
    step = 2 ** len(config.conv_channels)
    if shape[0] % step or shape[1] % step:
        raise ConfigError(f"DreamerV3's decoder doubles the image {len(config.conv_channels)} times, so each side must be "
                          f"a multiple of {step}; got {shape[0]}x{shape[1]} images (change image_size or conv_channels)")


class WorldModel:
    """The world model's pure functions over params (networks, bins and the action form closed over)."""

    def __init__(self, config: DreamerConfig, nets: Networks, spec, obs_shape):
        self.config, self.nets, self.spec = config, nets, spec
        self.pixels = len(obs_shape) == 3
        self.discrete = isinstance(spec, Discrete)
        self.action_dim = spec.n if self.discrete else spec.shape[0]
        self.bins = Bins(config.num_bins, config.vmin, config.vmax)
        self.reinforce = config.actor_grad == "reinforce" or (config.actor_grad == "auto" and self.discrete)
        self.bounded = not self.discrete and config.actor_dist == "bounded_normal"
        self.actor_sees_grad = not self.reinforce and config.actor_state_grad

    def zeros(self, shape) -> RSSMState:
        return zeros_state(shape, self.config.deter, self.config.stoch)

    def action_input(self, env_action):
        """Stored env actions ``[..., ]`` / ``[..., A]`` -> the RSSM's input ``[..., A]`` (one-hot or ``[-1, 1]``)."""
        if self.discrete:
            return jax.nn.one_hot(env_action, self.action_dim, dtype=jnp.float32)
        return to_unit(self.spec, env_action.astype(jnp.float32))

    def obs_step(self, model, state, action, embed, key):
        return self.nets.rssm.apply(model["rssm"], state, action, embed, key, method=RSSM.obs_step)

    def img_step(self, model, state, action, key):
        return self.nets.rssm.apply(model["rssm"], state, action, key, method=RSSM.img_step)

    def observe(self, model, embed, prev_action, first, key):
        """Posterior states over a window: ``embed[L, N, E]``, ``prev_action[L, N, A]`` (the action
        that led to each step), ``first[L, N]`` (restart from zeros). Returns ``(states [L, N],
        post_logits, prior_logits [L, N, groups, classes])``."""
        init = self.zeros(embed.shape[1:2])

        def step(state, xs):
            e, a, f, k = xs
            state = reset_where(f, init, state)
            state, post, prior = self.obs_step(model, state, jnp.where(f[:, None], 0.0, a), e, k)
            return state, (state, post, prior)

        keys = jax.vmap(jax.random.fold_in, (None, 0))(key, jnp.arange(embed.shape[0]))  # step t's key: the same for any L
        return jax.lax.scan(step, init, (embed, prev_action, first, keys))[1]

    def act_dist(self, actor, feat):
        return self.nets.actor.apply(actor, feat)

    def sample_action(self, dist, key):
        """``(rssm_input[..., A], log_prob, entropy)`` of one action drawn from ``dist`` (one-hot
        with straight-through gradients when discrete; reparameterised when continuous). A tanh-normal
        action's entropy is the one-sample ``-log_prob`` of the REPARAMETERISED draw, whose gradient is
        the entropy's (pathwise), also under REINFORCE, where the action and its score are stopped. A
        bounded-normal draw ``raw`` enters the RSSM as ``raw / sg(max(1, |raw|))`` (the clip, gradient
        scaled) with the Gaussian's ``log_prob(raw)`` and exact entropy."""
        if self.discrete:
            onehot = straight_through_onehot(key, dist.logits)
            if self.reinforce:
                onehot = sg(onehot)
            return onehot, dist.log_prob(jnp.argmax(onehot, -1)), dist.entropy()
        if self.bounded:
            raw = dist.sample(key)
            action = raw / sg(jnp.maximum(1.0, jnp.abs(raw)))  # clipped to [-1, 1], gradient scaled through
            if self.reinforce:
                raw, action = sg(raw), sg(action)
            return action, dist.log_prob(raw), dist.entropy()
        action, log_prob = dist.sample_and_log_prob(key)
        entropy = -log_prob
        if self.reinforce:
            action = sg(action)
            log_prob = dist.log_prob(action)
        return action, log_prob, entropy

    def imagine(self, model, actor, start: RSSMState, key, horizon: int) -> Imagined:
        """Roll the prior ``horizon`` steps from ``start`` (leaves ``[M, ...]``) with the actor."""

        def step(state, k):
            act_key, img_key = jax.random.split(k)
            feat = state.features()
            dist = self.act_dist(actor, feat if self.actor_sees_grad else sg(feat))
            action, log_prob, entropy = self.sample_action(dist, act_key)
            state, _ = self.img_step(model, state, action, img_key)
            return state, (state, log_prob, entropy)

        _, (states, log_prob, entropy) = jax.lax.scan(step, start, jax.random.split(key, horizon))
        states = jax.tree.map(lambda s, x: jnp.concatenate([s[None], x]), start, states)
        return Imagined(states, log_prob, entropy)

    def decode(self, model, feat):
        """Features ``[..., F]`` -> predicted observations in the env's units ``[..., *obs_shape]``
        (pixels in ``[0, 255]`` as float32; states through symexp)."""
        pred = self.nets.decoder.apply(model["decoder"], feat)
        return jnp.clip((pred + 0.5) * 255.0, 0.0, 255.0) if self.pixels else symexp(pred)

    def open_loop(self, model, seq, context: int, key):
        """The world model's open-loop predictions of windows ``seq`` (``[L, N]``, as replay samples
        them): observe the first ``context`` (static) steps, then imagine the rest with the actions the
        window took (the prior, no observation). Returns decoded observations ``[L, N, ...]``
        (:meth:`decode`): reconstructions for ``t < context``, predictions after."""
        obs_key, img_key = jax.random.split(key)
        prev_action = shifted(self.action_input(seq.action))
        embed = self.nets.encoder.apply(model["encoder"], seq.obs[:context])
        states, _, _ = self.observe(model, embed, prev_action[:context], seq.first[:context].at[0].set(True), obs_key)

        def step(state, xs):
            action, k = xs
            state, _ = self.img_step(model, state, action, k)
            return state, state

        last = jax.tree.map(lambda x: x[-1], states)
        keys = jax.random.split(img_key, seq.action.shape[0] - context)
        _, imagined = jax.lax.scan(step, last, (prev_action[context:], keys))
        feat = jnp.concatenate([states.features(), imagined.features()])
        return self.decode(model, feat)

    def reward(self, model, feat):
        return self.bins.decode(self.nets.reward.apply(model["reward"], feat))

    def cont(self, model, feat):
        return jax.nn.sigmoid(self.nets.cont.apply(model["cont"], feat)[..., 0])

    def value(self, critic, feat):
        return self.bins.decode(self.nets.critic.apply(critic, feat))

    def recon_error(self, model, feat, obs):
        """``[...]`` squared error of the decoded observation, summed over its entries (images in
        ``[-0.5, 0.5]`` units, states in symlog space)."""
        pred = self.nets.decoder.apply(model["decoder"], feat)
        obs = obs.astype(jnp.float32)
        target = obs / 255.0 - 0.5 if self.pixels else symlog(obs)
        err = jnp.square(pred - target.reshape(pred.shape))
        return jnp.sum(err.reshape((*feat.shape[:-1], -1)), -1)


def make_actor(wm: WorldModel):
    """``act(agent, key, carry, obs[B], first[B], explore) -> (env action[B], carry)`` (``explore`` static)."""

    def act(agent, key, carry: DreamerCarry, obs, first, explore):
        obs_key, act_key = jax.random.split(key)
        state = reset_where(first, wm.zeros(first.shape), carry.state)
        prev = jnp.where(first[:, None], 0.0, carry.action)
        embed = wm.nets.encoder.apply(agent.model["encoder"], obs)
        state, _, _ = wm.obs_step(agent.model, state, prev, embed, obs_key)
        dist = wm.act_dist(agent.actor, state.features())
        action = dist.sample(act_key) if explore else dist.mode()
        if wm.discrete:
            return action, DreamerCarry(state, jax.nn.one_hot(action, wm.action_dim, dtype=jnp.float32))
        if wm.bounded:
            action = jnp.clip(action, -1.0, 1.0)
        return scale_action(wm.spec, action), DreamerCarry(state, action)

    def init_carry(batch: int) -> DreamerCarry:
        return DreamerCarry(wm.zeros((batch,)), jnp.zeros((batch, wm.action_dim), jnp.float32))

    return act, init_carry


def shifted(x):
    """``[L, ...]`` -> ``[L, ...]`` one step later: ``out[0] = 0``, ``out[t] = x[t - 1]``."""
    return jnp.concatenate([jnp.zeros_like(x[:1]), x[:-1]])


def model_step(wm: WorldModel, agent: DreamerAgentState, hp, tx, seq, key):
    """One step of the world model on windows ``seq`` ``[L, N]``; returns ``(agent, posterior states
    [L, N] (no gradient), start weights [L, N], metrics)``."""
    first = seq.first.at[0].set(True)
    prev_action = shifted(wm.action_input(seq.action))
    step_mask = seq.mask & ~first
    reward_in, cont_in = shifted(seq.reward), 1.0 - shifted(seq.terminated.astype(jnp.float32))

    def loss_fn(model):
        embed = wm.nets.encoder.apply(model["encoder"], seq.obs)
        states, post, prior = wm.observe(model, embed, prev_action, first, key)
        feat = states.features()
        reward_ce = wm.bins.cross_entropy(wm.nets.reward.apply(model["reward"], feat), reward_in)
        cont_bce = losses.binary_log_loss(wm.nets.cont.apply(model["cont"], feat)[..., 0], cont_in)
        recon = wm.recon_error(model, feat, seq.obs)
        loss, metrics = losses.world_model_loss(recon, reward_ce, cont_bce, post, prior, seq.mask, step_mask, hp)
        return loss, (metrics, states)

    model, opt, (metrics, states) = gradient_step(tx, agent.model, agent.model_opt, loss_fn)
    start_weight = (seq.mask & ~(seq.final & seq.terminated)).astype(jnp.float32)
    return agent.replace(model=model, model_opt=opt), sg(states), start_weight, metrics


def actor_critic_step(wm: WorldModel, agent: DreamerAgentState, hp, actor_tx, critic_tx, starts, start_weight, key):
    """The actor, then the critic, on imagined rollouts from ``starts`` (leaves ``[M, ...]``)."""
    H = wm.config.imag_horizon

    def actor_loss_fn(actor):
        imag = wm.imagine(agent.model, actor, starts, key, H)
        feat = imag.states.features()
        reward, cont = wm.reward(agent.model, feat[1:]), wm.cont(agent.model, feat[1:])
        values = wm.value(agent.critic, feat)
        returns, weight = losses.imagined_returns(reward, cont, values, start_weight, hp)
        loss, (scale, metrics) = losses.actor_loss(returns, values[:-1], imag.log_prob, imag.entropy, weight,
                                                   agent.return_scale, hp, wm.reinforce, wm.config.actor_baseline)
        return loss, (metrics, scale, sg(feat[:-1]), sg(returns), weight)

    actor, actor_opt, (actor_metrics, scale, feat, returns, weight) = gradient_step(
        actor_tx, agent.actor, agent.actor_opt, actor_loss_fn)
    slow_values = wm.value(agent.slow_critic, feat)

    def critic_loss_fn(critic):
        return losses.critic_loss(wm.nets.critic.apply(critic, feat), slow_values, returns, weight, wm.bins, hp)

    critic, critic_opt, critic_metrics = gradient_step(critic_tx, agent.critic, agent.critic_opt, critic_loss_fn)
    agent = agent.replace(actor=actor, actor_opt=actor_opt, critic=critic, critic_opt=critic_opt, return_scale=scale,
                          slow_critic=polyak(agent.slow_critic, critic, hp.critic_tau))
    return agent, {**actor_metrics, **critic_metrics}


def optimizers(config: DreamerConfig, hp, meta_params):
    """``(model, actor, critic)`` update rules from the ``optimizer`` slot, each with its own learning
    rate (``lr``, ``actor_lr``, ``critic_lr``) and clip (``max_grad_norm``, ``ac_max_grad_norm``);
    the world model's Adam eps is ``config.model_adam_eps``, the others the slot's default (1e-5)."""
    ac = dict(max_grad_norm=hp.ac_max_grad_norm)
    return (config.optimizer(hp, meta_params, offpolicy.optimizer_config(config, adam_eps=config.model_adam_eps)),
            config.optimizer(hp.replace(lr=hp.actor_lr, **ac), meta_params, config),
            config.optimizer(hp.replace(lr=hp.critic_lr, **ac), meta_params, config))


def world_model(config: DreamerConfig, env: Env) -> WorldModel:
    """The :class:`WorldModel` functions of ``config``'s networks for ``env`` (apply them to a trained
    state's ``agent.model``: e.g. :meth:`WorldModel.open_loop` on windows from its replay)."""
    spec = env.action_spec
    discrete = isinstance(spec, Discrete)
    nets = make_networks(config, env, discrete, spec.n if discrete else spec.shape[0])
    return WorldModel(config, nets, spec, env.observation_spec.shape)


def make_agent(config: DreamerConfig, env: Env) -> offpolicy.Agent:
    """DreamerV3's :class:`jaxrl.offpolicy.Agent` for ``env`` (see the module docstring)."""
    obs_spec = env.observation_spec
    wm = world_model(config, env)
    nets = wm.nets
    act, init_carry = make_actor(wm)

    def init(key, hp, meta_params=None) -> DreamerAgentState:
        keys = jax.random.split(key, 8)
        obs0 = jnp.zeros((1, *obs_spec.shape), obs_spec.dtype)
        state0, act0 = wm.zeros((1,)), jnp.zeros((1, wm.action_dim), jnp.float32)
        encoder = nets.encoder.init(keys[0], obs0)
        embed0 = nets.encoder.apply(encoder, obs0)
        feat0 = state0.features()
        model = {"encoder": encoder, "rssm": nets.rssm.init(keys[1], state0, act0, embed0, keys[7]),
                 "decoder": nets.decoder.init(keys[2], feat0), "reward": nets.reward.init(keys[3], feat0),
                 "cont": nets.cont.init(keys[4], feat0)}
        actor, critic = nets.actor.init(keys[5], feat0), nets.critic.init(keys[6], feat0)
        model_tx, actor_tx, critic_tx = optimizers(config, hp, meta_params)
        return DreamerAgentState(model, actor, critic, critic, model_tx.init(model), actor_tx.init(actor),
                                 critic_tx.init(critic), jnp.ones((), jnp.float32), jnp.zeros((), jnp.int32))

    def learn(agent, hp, meta_params, seq, key):
        model_key, imag_key = jax.random.split(key)
        model_tx, actor_tx, critic_tx = optimizers(config, hp, meta_params)
        agent, states, start_weight, model_metrics = model_step(wm, agent, hp, model_tx, seq, model_key)
        flat = lambda x: x.reshape((-1, *x.shape[2:]))  # noqa: E731  [L, N, ...] -> [L * N, ...]
        agent, ac_metrics = actor_critic_step(wm, agent, hp, actor_tx, critic_tx, jax.tree.map(flat, states),
                                              flat(start_weight), imag_key)
        loss = model_metrics["model_loss"] + ac_metrics["actor_loss"] + ac_metrics["critic_loss"]
        return agent.replace(step=agent.step + 1), {**model_metrics, **ac_metrics, "loss": loss}

    return offpolicy.Agent(
        init=init,
        explore=lambda agent, hp, key, carry, obs, first, progress: (*act(agent, key, carry, obs, first, True), {}),
        greedy=lambda agent, hp, key, carry, obs, first: act(agent, key, carry, obs, first, False),
        learn=learn,
        sample=lambda buf, replay, key, n, hp: buf.sample_sequences(replay, key, n, config.seq_length),
        sample_length=config.seq_length,
        init_carry=init_carry,
        executed=lambda carry, env_action: carry._replace(action=wm.action_input(env_action)),
    )


def make_train(config: DreamerConfig, env: Env, env_params: Any) -> Trainer:
    """Build DreamerV3's pure training function.

    Args:
      config: static :class:`DreamerConfig`.
      env: an unbatched env with flat observations or images and discrete or bounded Box actions
        (``jaxrl.envs.make``; ``obs="pixels"`` uses the CNN encoder and decoder).
      env_params: its params (closed over).

    Returns:
      A :class:`jaxrl.trainer.Trainer`: ``train(key, hparams, meta_params=None) -> (OffPolicyState,
      metrics)``; ``hparams`` a :class:`DreamerHparams` (or dict), traced; metrics ``[num_updates]``:
      ``loss`` (model + actor + critic), ``model_loss``, ``recon_loss``, ``reward_loss``, ``cont_loss``,
      ``dyn_loss``, ``rep_loss``, ``kl``, ``actor_loss``, ``entropy``, ``return_scale``, ``imag_return``,
      ``critic_loss``, ``value`` (0 during warm-up), ``learning``, and the episode metrics.
    """
    if not isinstance(config, DreamerConfig):
        raise ConfigError(f"config must be a DreamerConfig, got {type(config).__name__}")
    check_env(env)
    shape = env.observation_spec.shape
    check_image_fits("DreamerV3", shape, config.conv_kernels, config.conv_strides, CONV_STYLES[config.conv_style]["padding"])
    check_decoder(config, shape)
    return offpolicy.make_train(config, env, env_params, make_agent(config, env), as_hparams)
