"""DQN's static config and traced hyperparameters (see :mod:`jaxrl.algos.sac.config` for the split)."""

from __future__ import annotations

import dataclasses
from typing import Any

from flax import struct

from jaxrl.configs import (
    EPSILON_SCHEDULE, POSITIVE, RATE, UNIT, ConfigError, Preset, check_mlp, check_positive_ints, hparams_functions,
)
from jaxrl.offpolicy import OffPolicyConfig

LOSSES = ("mse", "huber")


@dataclasses.dataclass(frozen=True)
class DQNConfig(OffPolicyConfig):
    """Static DQN settings (changing one recompiles).

    Attributes:
      hidden_sizes: hidden layer widths of the Q network.
      activation: one of ``jaxrl.networks.ACTIVATIONS``.
      layer_norm: LayerNorm after every hidden layer.
      dueling: a dueling head (``V(s) + A(s, a) - mean_a A(s, a)``).
      double_q: the target evaluates the ONLINE network's greedy action with the target network.
      target_update_period: gradient steps between target-network updates (each a Polyak step of ``tau``).
      loss: ``mse`` (``x^2 / 2``) or ``huber`` (delta 1) on the TD error.
    """

    total_timesteps: int = 200_000
    num_envs: int = 10
    num_steps: int = 1
    buffer_size: int = 50_000
    batch_size: int = 100
    learning_starts: int = 5_000
    replay_ratio: float = 0.5
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    layer_norm: bool = False
    dueling: bool = False
    double_q: bool = True
    target_update_period: int = 250
    loss: str = "mse"

    def __post_init__(self):
        check_mlp(self)
        super().__post_init__()
        check_positive_ints(self, ("target_update_period",))
        if self.loss not in LOSSES:
            raise ConfigError(f"DQNConfig.loss {self.loss!r} is unknown; choose one of {', '.join(LOSSES)}")


@struct.dataclass
class DQNHparams:
    """Traced DQN hyperparameters (a pytree: vmap over them, never recompiles).

    Attributes:
      lr: Adam learning rate (> 0).
      gamma: discount in [0, 1].
      tau: Polyak rate of each target update (1: a hard copy every ``target_update_period`` steps).
      eps_start: exploration epsilon at the start, in [0, 1].
      eps_end: exploration epsilon after ``eps_decay`` of the run, in [0, 1].
      eps_decay: fraction of the run over which epsilon moves linearly from ``eps_start`` to ``eps_end``.
      max_grad_norm: global gradient-norm clip (> 0).
      reward_scale: rewards are multiplied by this in the TD target (> 0).
    """

    lr: Any = 1e-3
    gamma: Any = 0.99
    tau: Any = 1.0
    eps_start: Any = 1.0
    eps_end: Any = 0.05
    eps_decay: Any = 0.5
    max_grad_norm: Any = 10.0
    reward_scale: Any = 1.0


_RANGES = {"lr": POSITIVE, "gamma": UNIT, "tau": RATE, **EPSILON_SCHEDULE, "max_grad_norm": POSITIVE, "reward_scale": POSITIVE}


default_hparams, as_hparams, validate_hparams = hparams_functions(DQNHparams, _RANGES, "DQN")


def presets() -> dict[str, Preset]:
    """DQN's named settings."""
    return {
        "default": Preset(about="10 envs, 64x64 MLP, batch 100, 0.5 gradient steps per env step, a hard target copy every "
                                "250 gradient steps, 200k env steps (gymnax CartPole)"),
        "paper": Preset(
            config=dict(total_timesteps=10_000_000, num_envs=1, buffer_size=1_000_000, batch_size=32, learning_starts=50_000,
                        replay_ratio=0.25, hidden_sizes=(512,), target_update_period=2_500, loss="huber"),
            hparams=dict(lr=6.25e-5, tau=1.0, eps_end=0.01, eps_decay=0.1),
            about="Mnih et al. 2015-style sizes for a GPU (hard target copy every 10k env steps, Huber loss)",
        ),
        "tiny": Preset(
            config=dict(total_timesteps=64, num_envs=2, num_steps=4, buffer_size=64, batch_size=8, learning_starts=16,
                        replay_ratio=0.25, hidden_sizes=(16,), target_update_period=2),
            env="probe_action", about="tests: 8 updates of 8 env steps on a probe env",
        ),
    }
