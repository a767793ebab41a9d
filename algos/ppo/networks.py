"""PPO's actor-critic: separate policy and value MLPs, a shared CNN torso for image observations."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn

from jaxrl import distributions
from jaxrl.networks import MLP, ConvEncoder
from jaxrl.spaces import Discrete, Spec


class ActorCritic(nn.Module):
    """Separate policy and value MLPs.

    ``__call__(obs[..., obs_dim]) -> (distribution over [...], value[...])``;
    :meth:`value` runs the value MLP alone (``[..., obs_dim] -> [...]``), e.g. to
    bootstrap from next observations without paying for the policy head.
    The action head follows ``action_spec``: logits for ``Discrete``, a mean
    and a state-independent learned ``log_std`` for ``Box``. With ``pixels=True``
    the observations are images ``[..., H, W, C]`` and one :class:`jaxrl.networks.ConvEncoder`
    torso, shared by the two MLPs, turns them into features first.
    """

    action_spec: Spec
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0
    pixels: bool = False

    def setup(self):
        if self.pixels:
            self.torso = ConvEncoder()
        n_out = distributions.num_outputs(self.action_spec)
        self.actor = MLP(self.hidden_sizes, n_out, self.activation, out_gain=0.01)
        self.critic = MLP(self.hidden_sizes, 1, self.activation, out_gain=1.0)
        if not isinstance(self.action_spec, Discrete):
            self.log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (n_out,))

    def _features(self, obs):
        return self.torso(obs) if self.pixels else obs

    def __call__(self, obs):
        x = self._features(obs)
        log_std = None if isinstance(self.action_spec, Discrete) else self.log_std
        return distributions.for_spec(self.action_spec, self.actor(x), log_std), self.critic(x)[..., 0]

    def value(self, obs):
        return self.critic(self._features(obs))[..., 0]
