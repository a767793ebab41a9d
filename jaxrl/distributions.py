"""Action distributions as pytrees (NamedTuples with methods).

Which one an agent uses is a parameter chosen from the env's action spec
(:func:`for_spec`), never a copied agent: ``Categorical`` for
:class:`jaxrl.spaces.Discrete`, ``DiagGaussian`` for :class:`jaxrl.spaces.Box`.
Shapes: a batch ``[..., ]`` of distributions; ``Categorical.logits`` is
``[..., n]``, ``DiagGaussian.mean``/``log_std`` are ``[..., dim]``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.spaces import Box, Discrete, Spec


class Categorical(NamedTuple):
    logits: jax.Array  # [..., n]

    def sample(self, key):
        return jax.random.categorical(key, self.logits).astype(jnp.int32)

    def log_prob(self, action):
        logp = jax.nn.log_softmax(self.logits)
        return jnp.take_along_axis(logp, action[..., None].astype(jnp.int32), axis=-1)[..., 0]

    def entropy(self):
        logp = jax.nn.log_softmax(self.logits)
        return -jnp.sum(jnp.exp(logp) * logp, axis=-1)

    def mode(self):
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)


class DiagGaussian(NamedTuple):
    mean: jax.Array  # [..., dim]
    log_std: jax.Array  # [..., dim] (broadcast)

    def sample(self, key):
        return self.mean + jnp.exp(self.log_std) * jax.random.normal(key, self.mean.shape)

    def log_prob(self, action):
        z = (action - self.mean) * jnp.exp(-self.log_std)
        return jnp.sum(-0.5 * jnp.square(z) - self.log_std - 0.5 * math.log(2 * math.pi), axis=-1)

    def entropy(self):
        log_std = jnp.broadcast_to(self.log_std, self.mean.shape)
        return jnp.sum(log_std + 0.5 * (1.0 + math.log(2 * math.pi)), axis=-1)

    def mode(self):
        return self.mean


class TanhGaussian(NamedTuple):
    """A diagonal Gaussian squashed by ``tanh`` and scaled into ``[low, high]`` (SAC's policy).

    ``mean`` / ``log_std`` (``[..., dim]``) parameterise the Gaussian before the squash; ``low`` /
    ``high`` broadcast against it. A sample is ``low + (tanh(u) + 1) / 2 * (high - low)``,
    ``u ~ N(mean, exp(log_std))``; its log-density carries the change of variables, with
    ``log(1 - tanh(u)^2)`` written as ``2 (log 2 - u - softplus(-2u))`` (finite for any ``u``).
    """

    mean: jax.Array
    log_std: jax.Array
    low: jax.Array
    high: jax.Array

    def _squash(self, u):
        return self.low + (jnp.tanh(u) + 1.0) * 0.5 * (self.high - self.low)

    def _log_prob_pre(self, u):
        gauss = DiagGaussian(self.mean, self.log_std).log_prob(u)
        log_det = 2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u)) + jnp.log(0.5 * (self.high - self.low))
        return gauss - jnp.sum(jnp.broadcast_to(log_det, u.shape), axis=-1)

    def sample_and_log_prob(self, key):
        """``(action[..., dim], log_prob[...])`` (reparameterised: differentiable in mean and log_std)."""
        return self.sample_and_log_probs(key)[:2]

    def sample_and_log_probs(self, key):
        """``(action[..., dim], log_prob[...], gaussian_log_prob[...])``: :meth:`sample_and_log_prob`'s
        two, and the log-density of the sample's ``u`` under the Gaussian before the squash (no change
        of variables; TD-MPC2's entropy bonus reads it). Reparameterised."""
        u = self.mean + jnp.exp(self.log_std) * jax.random.normal(key, self.mean.shape)
        # The Gaussian term is written twice on purpose: passing one value into _log_prob_pre changes how
        # XLA fuses SAC's log-density and its numbers in float rounding (checked: benchmarks/state_hashes.py).
        return self._squash(u), self._log_prob_pre(u), DiagGaussian(self.mean, self.log_std).log_prob(u)

    def sample(self, key):
        return self.sample_and_log_prob(key)[0]

    def log_prob(self, action):
        """Log-density of ``action`` (inside ``(low, high)``; clipped 1e-6 away from the bounds)."""
        y = jnp.clip((action - self.low) / (self.high - self.low) * 2.0 - 1.0, -1.0 + 1e-6, 1.0 - 1e-6)
        return self._log_prob_pre(jnp.arctanh(y))

    def mode(self):
        """The squashed mean (the deterministic action)."""
        return self._squash(self.mean)


def unimix_logits(logits: jax.Array, mix) -> jax.Array:
    """Logits ``[..., n]`` of ``(1 - mix) * softmax(logits) + mix / n``: a categorical mixed with the
    uniform one (DreamerV3: ``mix = 0.01`` for its latents and discrete actions), so no probability
    reaches 0 and KL terms stay bounded. ``mix = 0`` returns ``log_softmax(logits)``."""
    probs = (1.0 - mix) * jax.nn.softmax(logits, axis=-1) + mix / logits.shape[-1]
    return jnp.log(probs)


def straight_through_onehot(key: jax.Array, logits: jax.Array) -> jax.Array:
    """A one-hot sample ``[..., n]`` of ``Categorical(logits)`` whose GRADIENT is that of the
    probabilities (straight-through): the value is ``onehot(sample)``, the derivative is
    ``d softmax(logits)``."""
    probs = jax.nn.softmax(logits, axis=-1)
    sample = jax.nn.one_hot(jax.random.categorical(key, logits), logits.shape[-1], dtype=probs.dtype)
    return sample + probs - jax.lax.stop_gradient(probs)


def categorical_kl(p_logits: jax.Array, q_logits: jax.Array) -> jax.Array:
    """``KL(p || q) = sum_k p_k (log p_k - log q_k)`` over the last axis, ``[...]`` (logits need not be normalised)."""
    log_p, log_q = jax.nn.log_softmax(p_logits, axis=-1), jax.nn.log_softmax(q_logits, axis=-1)
    return jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1)


def num_outputs(spec: Spec) -> int:
    """How many network outputs parameterise the distribution for ``spec``."""
    if isinstance(spec, Discrete):
        return spec.n
    if isinstance(spec, Box):
        if len(spec.shape) != 1:
            raise ValueError(f"continuous actions must be a flat vector, got shape {spec.shape}")
        return spec.shape[0]
    raise TypeError(f"no action distribution for spec {spec!r}")


def for_spec(spec: Spec, outputs: jax.Array, log_std: jax.Array | None = None):
    """The distribution for ``spec`` from network ``outputs[..., num_outputs(spec)]``."""
    if isinstance(spec, Discrete):
        return Categorical(outputs)
    return DiagGaussian(outputs, jnp.broadcast_to(log_std, outputs.shape))


def epsilon_greedy(key: jax.Array, q: jax.Array, epsilon) -> jax.Array:
    """``argmax_a q[..., a]`` with probability ``1 - epsilon``, else a uniformly random action
    (``q`` ``[..., n]`` -> int32 ``[...]``; ``epsilon`` may be traced): DQN's and PQN's exploration."""
    explore_key, action_key = jax.random.split(key)
    random = jax.random.randint(action_key, q.shape[:-1], 0, q.shape[-1])
    greedy = jnp.argmax(q, axis=-1)
    return jnp.where(jax.random.uniform(explore_key, q.shape[:-1]) < epsilon, random, greedy).astype(jnp.int32)
