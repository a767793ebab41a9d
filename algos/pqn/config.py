"""PQN's static config and traced hyperparameters (see :mod:`jaxrl.algos.sac.config` for the split)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from flax import struct

from jaxrl.configs import EPSILON_SCHEDULE, POSITIVE, UNIT, Preset, check_mlp, hparams_functions
from jaxrl.rollout import OnPolicyConfig
from jaxrl.optim import default_optimizer


@dataclasses.dataclass(frozen=True)
class PQNConfig(OnPolicyConfig):
    """Static PQN settings (changing one recompiles).

    Attributes:
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
        check_mlp(self)
        super().__post_init__()


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


_RANGES = {"lr": POSITIVE, "gamma": UNIT, "lam": UNIT, **EPSILON_SCHEDULE, "max_grad_norm": POSITIVE, "reward_scale": POSITIVE}


default_hparams, as_hparams, validate_hparams = hparams_functions(PQNHparams, _RANGES, "PQN")


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
