"""Flax (linen) networks shared by the agents."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import numpy as np

from jaxrl import distributions
from jaxrl.spaces import Discrete, Spec

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "elu": nn.elu, "silu": nn.silu, "gelu": nn.gelu}


def activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class MLP(nn.Module):
    """``[..., in] -> [..., out]``; orthogonal init (gain sqrt 2), last layer gain ``out_gain``."""

    hidden_sizes: Sequence[int]
    out_size: int
    activation: str = "tanh"
    out_gain: float = 1.0

    @nn.compact
    def __call__(self, x):
        act = activation(self.activation)
        for size in self.hidden_sizes:
            x = act(nn.Dense(size, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
        return nn.Dense(self.out_size, kernel_init=nn.initializers.orthogonal(self.out_gain))(x)


class ActorCritic(nn.Module):
    """Separate policy and value MLPs.

    ``__call__(obs[..., obs_dim]) -> (distribution over [...], value[...])``;
    :meth:`value` runs the value MLP alone (``[..., obs_dim] -> [...]``), e.g. to
    bootstrap from next observations without paying for the policy head.
    The action head follows ``action_spec``: logits for ``Discrete``, a mean
    and a state-independent learned ``log_std`` for ``Box``.
    """

    action_spec: Spec
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0

    def setup(self):
        n_out = distributions.num_outputs(self.action_spec)
        self.actor = MLP(self.hidden_sizes, n_out, self.activation, out_gain=0.01)
        self.critic = MLP(self.hidden_sizes, 1, self.activation, out_gain=1.0)
        if not isinstance(self.action_spec, Discrete):
            self.log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (n_out,))

    def __call__(self, obs):
        log_std = None if isinstance(self.action_spec, Discrete) else self.log_std
        return distributions.for_spec(self.action_spec, self.actor(obs), log_std), self.value(obs)

    def value(self, obs):
        return self.critic(obs)[..., 0]


__all__ = ["MLP", "ActorCritic", "activation"]
