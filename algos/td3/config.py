"""TD3's static config and traced hyperparameters (see :mod:`jaxrl.algos.sac.config` for the split)."""

from __future__ import annotations

import dataclasses
from typing import Any

from flax import struct

from jaxrl.configs import NONNEG, POSITIVE, RATE, UNIT, Preset, check_mlp, check_positive_ints, hparams_functions
from jaxrl.offpolicy import OffPolicyConfig


@dataclasses.dataclass(frozen=True)
class TD3Config(OffPolicyConfig):
    """Static TD3 settings (changing one recompiles).

    Attributes:
      hidden_sizes: hidden layer widths of the actor and of each critic MLP.
      activation: one of ``jaxrl.networks.ACTIVATIONS``.
      layer_norm: LayerNorm after every hidden layer.
      num_critics: Q heads (2: TD3's twin critics; the target and the actor use their minimum).
      policy_delay: gradient steps per actor (and target-network) update (TD3: 2).
    """

    total_timesteps: int = 200_000
    num_envs: int = 4
    num_steps: int = 1
    buffer_size: int = 200_000
    batch_size: int = 256
    learning_starts: int = 5_000
    replay_ratio: float = 0.5
    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    num_critics: int = 2
    policy_delay: int = 2

    def __post_init__(self):
        check_mlp(self)
        super().__post_init__()
        check_positive_ints(self, ("num_critics", "policy_delay"))


@struct.dataclass
class TD3Hparams:
    """Traced TD3 hyperparameters (a pytree: vmap over them, never recompiles). Noise scales are in
    units of half the action range (1: noise as wide as the bounds).

    Attributes:
      lr: Adam learning rate of the actor and the critics (> 0).
      gamma: discount in [0, 1].
      tau: Polyak rate of the target actor and critics (in (0, 1]).
      policy_noise: std of the target policy smoothing noise (>= 0).
      noise_clip: the smoothing noise is clipped to +-this (>= 0).
      explore_noise: std of the Gaussian exploration noise at the start (>= 0).
      explore_noise_final: ... after ``explore_decay`` of the run (>= 0; DrQ-v2 schedules 1.0 -> 0.1).
      explore_decay: fraction of the run over which the exploration noise moves linearly to its final value.
      max_grad_norm: global gradient-norm clip (> 0).
      reward_scale: rewards are multiplied by this in the TD target (> 0).
    """

    lr: Any = 3e-4
    gamma: Any = 0.99
    tau: Any = 0.005
    policy_noise: Any = 0.2
    noise_clip: Any = 0.5
    explore_noise: Any = 0.1
    explore_noise_final: Any = 0.1
    explore_decay: Any = 1.0
    max_grad_norm: Any = 10.0
    reward_scale: Any = 1.0


_RANGES = {
    "lr": POSITIVE, "gamma": UNIT, "tau": RATE, "policy_noise": NONNEG, "noise_clip": NONNEG, "explore_noise": NONNEG,
    "explore_noise_final": NONNEG, "explore_decay": RATE, "max_grad_norm": POSITIVE, "reward_scale": POSITIVE,
}


default_hparams, as_hparams, validate_hparams = hparams_functions(TD3Hparams, _RANGES, "TD3")


def presets() -> dict[str, Preset]:
    """TD3's named settings."""
    return {
        "default": Preset(about="4 envs, 256x256 MLPs, batch 256, 0.5 gradient steps per env step, 200k env steps"),
        "small": Preset(config=dict(hidden_sizes=(128, 128), batch_size=128, replay_ratio=0.25),
                        about="a 2-core CPU: 128x128 MLPs, batch 128, 0.25 gradient steps per env step"),
        "paper": Preset(
            config=dict(total_timesteps=1_000_000, num_envs=1, buffer_size=1_000_000, batch_size=256, learning_starts=25_000,
                        replay_ratio=1.0, hidden_sizes=(256, 256), policy_delay=2),
            hparams=dict(lr=3e-4, tau=0.005, policy_noise=0.2, noise_clip=0.5, explore_noise=0.1, explore_noise_final=0.1),
            about="a GPU: Fujimoto et al. 2018's settings (one env, one gradient step per env step)",
        ),
        "tiny": Preset(
            config=dict(total_timesteps=64, num_envs=2, num_steps=4, buffer_size=64, batch_size=8, learning_starts=16,
                        replay_ratio=0.25, hidden_sizes=(16,)),
            env="probe_continuous", about="tests: 8 updates of 8 env steps on a probe env",
        ),
    }
