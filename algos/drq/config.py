"""DrQ-v2's static config and traced hyperparameters.

STATIC (``DrQConfig``, a frozen dataclass; changing a field recompiles): the shared replay-learner
fields (:class:`jaxrl.offpolicy.OffPolicyConfig`), the CNN, the trunk and heads, ``n_step`` and the
augmentation's padding. TRACED (``DrQHparams``, a pytree: a sweep vmaps over them and never
recompiles): learning rate, discount, Polyak rate, the exploration-noise schedule.

Units: every count here is in AGENT steps (one ``env.step`` of the made env; with
``make(..., action_repeat=2)``, as DrQ-v2 runs DM Control, one agent step is two frames).
The defaults are a small agent for a 2-core CPU (the ``default`` preset); DrQ-v2's published
settings (Yarats et al. 2022: 84 x 84 frames, 3 stacked, batch 256, MLPs of 1024) are ``paper``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flax import struct

from jaxrl.configs import (
    NONNEG, POSITIVE, RATE, UNIT, ConfigError, Preset, check_conv, check_int_tuples, check_positive_ints, hparams_functions,
)
from jaxrl.offpolicy import OffPolicyConfig


@dataclasses.dataclass(frozen=True)
class DrQConfig(OffPolicyConfig):
    """Static DrQ-v2 settings (changing one recompiles).

    Attributes:
      conv_channels, conv_kernels, conv_strides: the CNN encoder for images ``[H, W, C]``
        (:class:`jaxrl.networks.ConvEncoder` without a dense layer: its flattened maps are the
        features; DrQ-v2: 4 layers of 32 channels, 3 x 3, strides 2, 1, 1, 1). Flat observations
        skip it (the trunk reads them directly).
      feature_dim: width of the actor's and the critic's trunks (Dense, LayerNorm, tanh; DrQ-v2: 50).
      hidden_sizes: hidden layers of the actor and of each Q head after the trunk (ReLU).
      num_critics: Q heads (2: twin critics; targets and the actor use their minimum).
      n_step: steps of the TD target's return (DrQ-v2: 3), sampled by
        :meth:`jaxrl.replay.Replay.sample_n_step`.
      augment_pad: random-shift padding in pixels (DrQ-v2: 4 at 84 x 84; 0: no augmentation).
    """

    total_timesteps: int = 100_000
    num_envs: int = 4
    num_steps: int = 1
    buffer_size: int = 100_000
    batch_size: int = 128
    learning_starts: int = 2_000
    replay_ratio: float = 0.5
    conv_channels: tuple[int, ...] = (32, 32, 32, 32)
    conv_kernels: tuple[int, ...] = (3, 3, 3, 3)
    conv_strides: tuple[int, ...] = (2, 1, 1, 1)
    feature_dim: int = 50
    hidden_sizes: tuple[int, ...] = (256, 256)
    num_critics: int = 2
    n_step: int = 3
    augment_pad: int = 4

    def __post_init__(self):
        super().__post_init__()
        check_positive_ints(self, ("feature_dim", "num_critics", "n_step"))
        check_int_tuples(self, ("hidden_sizes",))
        check_conv(self)
        if not isinstance(self.augment_pad, int) or isinstance(self.augment_pad, bool) or self.augment_pad < 0:
            raise ConfigError(f"DrQConfig.augment_pad must be an integer >= 0, got {self.augment_pad!r}")
        if self.n_step + 1 > -(-self.buffer_size // self.num_envs):
            raise ConfigError(f"DrQConfig.n_step (= {self.n_step}) needs windows of {self.n_step + 1} steps per env, more "
                              f"than the buffer holds (buffer_size / num_envs = {self.buffer_size // self.num_envs})")


@struct.dataclass
class DrQHparams:
    """Traced DrQ-v2 hyperparameters (a pytree: vmap over them, never recompiles). Noise scales are in
    units of half the action range (1: as wide as the bounds).

    Attributes:
      lr: Adam learning rate of the encoder, critics and actor (> 0; DrQ-v2: 1e-4).
      gamma: discount in [0, 1].
      tau: Polyak rate of the target critics (in (0, 1]; DrQ-v2: 0.01).
      explore_noise: std of the exploration noise at the start (DrQ-v2: 1.0).
      explore_noise_final: ... after ``explore_decay`` of the run (DrQ-v2: 0.1).
      explore_decay: fraction of the run over which the std moves linearly to its final value (DrQ-v2:
        500k of 1M frames on its medium tasks, 100k of 1M on the easy ones).
      noise_clip: the target action's smoothing noise (the exploration std of the moment) is clipped
        to +-this (DrQ-v2's ``stddev_clip``: 0.3).
      max_grad_norm: global gradient-norm clip (> 0; DrQ-v2 clips none: the default is loose).
    """

    lr: Any = 1e-4
    gamma: Any = 0.99
    tau: Any = 0.01
    explore_noise: Any = 1.0
    explore_noise_final: Any = 0.1
    explore_decay: Any = 0.5
    noise_clip: Any = 0.3
    max_grad_norm: Any = 100.0


_RANGES = {
    "lr": POSITIVE, "gamma": UNIT, "tau": RATE, "explore_noise": NONNEG, "explore_noise_final": NONNEG, "explore_decay": RATE,
    "noise_clip": NONNEG, "max_grad_norm": POSITIVE,
}

default_hparams, as_hparams, validate_hparams = hparams_functions(DrQHparams, _RANGES, "DrQ-v2")


def presets() -> dict[str, Preset]:
    """DrQ-v2's named settings (counts in agent steps; DrQ-v2 runs DM Control at action repeat 2,
    so its 1M frames are 500k agent steps)."""
    return {
        "default": Preset(about="a 2-core CPU: CNN 4 x 32 (3x3, strides 2,1,1,1), trunk 50, MLPs 256x256, 4 envs, batch 128, "
                                "0.5 gradient steps per agent step, 3-step returns"),
        "small": Preset(
            config=dict(conv_channels=(16, 16), conv_kernels=(3, 3), conv_strides=(2, 2), hidden_sizes=(128, 128), batch_size=64,
                        augment_pad=2),
            about="a 2-core CPU on 32 x 32 images: CNN 2 x 16 (3x3, stride 2), MLPs 128x128, batch 64, pad 2"),
        "paper": Preset(
            config=dict(total_timesteps=500_000, num_envs=1, num_steps=2, buffer_size=1_000_000, batch_size=256, learning_starts=2_000,
                        replay_ratio=0.5, hidden_sizes=(1024, 1024), feature_dim=50, n_step=3, augment_pad=4),
            hparams=dict(lr=1e-4, gamma=0.99, tau=0.01, explore_noise=1.0, explore_noise_final=0.1, explore_decay=0.5,
                         noise_clip=0.3),
            env_options=dict(obs="pixels", image_size=84, frame_stack=3, action_repeat=2),
            about="a GPU: DrQ-v2's settings (Yarats et al. 2022) for 1M frames = 500k agent steps at action repeat 2 "
                  "(84 x 84 RGB, 3 frames, one env, an update every 2 agent steps, the medium tasks' noise schedule)"),
        "tiny": Preset(
            config=dict(total_timesteps=64, num_envs=2, num_steps=4, buffer_size=64, batch_size=8, learning_starts=16,
                        replay_ratio=0.25, hidden_sizes=(16,), feature_dim=8, n_step=2),
            env="probe_continuous", about="tests: 8 updates of 8 env steps on a probe env",
        ),
    }
