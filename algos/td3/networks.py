"""TD3's networks: a deterministic tanh actor and an ensemble of Q heads (``jaxrl.networks.QEnsemble``).
The pixel agent (DrQ-v2) puts a CNN encoder in front of both."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxrl.networks import MLP, QEnsemble
from jaxrl.spaces import Box, scale_action


class DeterministicActor(nn.Module):
    """``obs[..., d] -> action[..., a]`` inside ``action_spec``'s box (an MLP, tanh, then scaled)."""

    action_spec: Box
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs):
        spec = self.action_spec
        squashed = jnp.tanh(MLP(self.hidden_sizes, spec.shape[0], self.activation, 1.0, self.layer_norm)(obs))
        return scale_action(spec, squashed)


def half_range(spec: Box):
    """Half the width of the action box (noise scales are in these units)."""
    return 0.5 * (spec.high_array() - spec.low_array())


def make_networks(config, env) -> tuple[DeterministicActor, QEnsemble]:
    actor = DeterministicActor(env.action_spec, config.hidden_sizes, config.activation, config.layer_norm)
    critic = QEnsemble(config.hidden_sizes, config.num_critics, config.activation, config.layer_norm)
    return actor, critic
