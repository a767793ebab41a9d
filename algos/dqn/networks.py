"""DQN's Q network: :class:`jaxrl.networks.QNetwork` sized for the env."""

from __future__ import annotations

from jaxrl.networks import QNetwork


def make_network(config, env) -> QNetwork:
    """``obs[..., d] -> q[..., n]`` with the config's widths, activation, LayerNorm and dueling head."""
    return QNetwork(env.action_spec.n, config.hidden_sizes, config.activation, config.layer_norm,
                    getattr(config, "dueling", False))
