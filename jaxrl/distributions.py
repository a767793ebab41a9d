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
