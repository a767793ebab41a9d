"""PQN's static config and traced hyperparameters (see :mod:`jaxrl.algos.sac.config` for the split)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np
from flax import struct

from jaxrl.configs import ConfigError, Preset, as_traced, check_ranges
from jaxrl.networks import ACTIVATIONS
from jaxrl.optim import default_optimizer


@dataclasses.dataclass(frozen=True)
class PQNConfig:
    """Static PQN settings (changing one recompiles).

    Attributes:
      total_timesteps: env steps of the whole run; ``num_updates = total_timesteps // (num_envs * num_steps)``.
      num_envs: parallel envs per run.
      num_steps: rollout length per update (time axis ``T``).
      num_minibatches: minibatches per epoch; must divide ``num_envs * num_steps``.
      update_epochs: passes over each rollout.
      hidden_sizes: hidden layer widths of the Q network.
      activation: one of ``jaxrl.networks.ACTIVATIONS``.
      layer_norm: LayerNorm after every hidden layer (what lets PQN drop the target network).
      anneal_lr: decay the learning rate linearly to 0 over the run.
      optimizer: the update-rule slot (as PPO's and the replay learners'); default clip + Adam.
    """

    total_timesteps: int = 524_288
    num_envs: int = 16
    num_steps: int = 128
    num_minibatches: int = 16
    update_epochs: int = 5
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    layer_norm: bool = True
    anneal_lr: bool = False
    optimizer: Callable = default_optimizer

    def __post_init__(self):
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        for name in ("total_timesteps", "num_envs", "num_steps", "num_minibatches", "update_epochs"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"PQNConfig.{name} must be a positive integer, got {v!r}")
        if not self.hidden_sizes or any(not isinstance(h, int) or h < 1 for h in self.hidden_sizes):
            raise ConfigError(f"PQNConfig.hidden_sizes must be positive integers, got {self.hidden_sizes!r}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"PQNConfig.activation {self.activation!r} is unknown; choose one of {', '.join(ACTIVATIONS)}")
        if self.batch_size % self.num_minibatches:
            raise ConfigError(f"PQNConfig: num_envs * num_steps (= {self.batch_size}) must be divisible by "
                              f"num_minibatches (= {self.num_minibatches})")
        if self.total_timesteps < self.batch_size:
            raise ConfigError(f"PQNConfig.total_timesteps (= {self.total_timesteps}) is less than one update's "
                              f"num_envs * num_steps (= {self.batch_size})")

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // self.batch_size

    @property
    def num_optimizer_steps(self) -> int:
        return self.num_updates * self.update_epochs * self.num_minibatches

    def replace(self, **changes) -> "PQNConfig":
        return dataclasses.replace(self, **changes)


@struct.dataclass
class PQNHparams:
    """Traced PQN hyperparameters (a pytree: vmap over them, never recompiles).

    Attributes:
      lr: Adam learning rate (> 0).
      gamma: discount in [0, 1].
      lam: lambda of the Q(lambda) returns in [0, 1].
      eps_start: exploration epsilon at the start, in [0, 1].
      eps_end: exploration epsilon after ``eps_decay`` of the run, in [0, 1].
      eps_decay: fraction of the run over which epsilon moves linearly from ``eps_start`` to ``eps_end``.
      max_grad_norm: global gradient-norm clip (> 0).
      reward_scale: rewards are multiplied by this in the returns (> 0).
    """

    lr: Any = 3e-4
    gamma: Any = 0.99
    lam: Any = 0.9
    eps_start: Any = 1.0
    eps_end: Any = 0.05
    eps_decay: Any = 0.5
    max_grad_norm: Any = 10.0
    reward_scale: Any = 1.0


_RANGES = {
    "lr": (0.0, math.inf, False), "gamma": (0.0, 1.0, True), "lam": (0.0, 1.0, True), "eps_start": (0.0, 1.0, True),
    "eps_end": (0.0, 1.0, True), "eps_decay": (0.0, 1.0, False), "max_grad_norm": (0.0, math.inf, False),
    "reward_scale": (0.0, math.inf, False),
}


def default_hparams() -> PQNHparams:
    return PQNHparams()


def as_hparams(hparams: Any) -> PQNHparams:
    return as_traced(hparams, PQNHparams, "PQN hyperparameter")


def validate_hparams(hparams: Any, batch_shape: tuple[int, ...] | None = None) -> PQNHparams:
    hp = as_hparams(hparams)
    check_ranges(hp, _RANGES, "PQN", batch_shape)
    return hp


def presets() -> dict[str, Preset]:
    """PQN's named settings."""
    return {
        "default": Preset(about="16 envs x 128 steps, 5 epochs of 16 minibatches, LayerNorm 64x64 (gymnax CartPole, 524k env steps)"),
        "paper": Preset(
            config=dict(total_timesteps=10_000_000, num_envs=128, num_steps=32, num_minibatches=32, update_epochs=2,
                        hidden_sizes=(512, 512), anneal_lr=True),
            hparams=dict(lr=2.5e-4, lam=0.65, eps_decay=0.1, eps_end=0.001),
            about="a GPU: many envs, short rollouts, wide LayerNorm MLP (Gallici et al. 2024's MinAtar-style sizes)",
        ),
        "tiny": Preset(
            config=dict(total_timesteps=8 * 4 * 4, num_envs=8, num_steps=4, num_minibatches=2, update_epochs=2,
                        hidden_sizes=(16,)),
            env="probe_action", about="tests: 4 updates of 32 steps on a probe env",
        ),
    }
