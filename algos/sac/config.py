"""SAC's static config and traced hyperparameters.

STATIC (``SACConfig``, a frozen dataclass; changing a field recompiles): the shared replay-learner
fields (:class:`jaxrl.offpolicy.OffPolicyConfig`) and the network shapes.
TRACED (``SACHparams``, a pytree: a sweep vmaps over them and never recompiles).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flax import struct

from jaxrl.configs import POSITIVE, RATE, REAL, UNIT, ConfigError, Preset, check_mlp, check_positive_ints, hparams_functions
from jaxrl.offpolicy import OffPolicyConfig


@dataclasses.dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    """Static SAC settings (changing one recompiles).

    Attributes:
      hidden_sizes: hidden layer widths of the actor and of each critic MLP.
      activation: one of ``jaxrl.networks.ACTIVATIONS``.
      layer_norm: LayerNorm after every hidden layer of the actor and the critics.
      num_critics: Q heads in the critic ensemble (2: twin critics).
      critic_subsample: the TD target takes the minimum over this many heads drawn at random per
        gradient step (REDQ, for ensembles of more than 2; the actor then uses the mean over all
        heads, the minimum over twin heads); 0: over all heads.
      log_std_min: lower bound of the policy's log standard deviation (before the tanh squash).
      log_std_max: upper bound of the policy's log standard deviation.
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
    critic_subsample: int = 0
    log_std_min: float = -5.0
    log_std_max: float = 2.0

    def __post_init__(self):
        check_mlp(self)
        super().__post_init__()
        check_positive_ints(self, ("num_critics",))
        if not isinstance(self.critic_subsample, int) or not 0 <= self.critic_subsample <= self.num_critics:
            raise ConfigError(f"SACConfig.critic_subsample must be in [0, num_critics = {self.num_critics}], got {self.critic_subsample!r}")
        if not self.log_std_min < self.log_std_max:
            raise ConfigError(f"SACConfig needs log_std_min < log_std_max, got {self.log_std_min} and {self.log_std_max}")


@struct.dataclass
class SACHparams:
    """Traced SAC hyperparameters (a pytree: vmap over them, never recompiles).

    Attributes:
      lr: Adam learning rate of the actor, the critics and the temperature (> 0).
      gamma: discount in [0, 1].
      tau: Polyak rate of the target critics (in (0, 1]).
      init_alpha: initial entropy temperature (> 0).
      target_entropy: the temperature is tuned so the policy's entropy per action dimension is
        this (the usual ``-1``: a target of ``-dim(action)`` nats). The entropy is of the action in
        its box (the log-density includes the squash into ``[low, high]``), so on a box wider than
        ``[-1, 1]`` the same target is less random per unit of range.
      max_grad_norm: global gradient-norm clip of every update (> 0).
      reward_scale: rewards are multiplied by this in the TD target (> 0).
    """

    lr: Any = 3e-4
    gamma: Any = 0.99
    tau: Any = 0.005
    init_alpha: Any = 0.1
    target_entropy: Any = -1.0
    max_grad_norm: Any = 10.0
    reward_scale: Any = 1.0


_RANGES = {
    "lr": POSITIVE, "gamma": UNIT, "tau": RATE, "init_alpha": POSITIVE, "target_entropy": REAL, "max_grad_norm": POSITIVE,
    "reward_scale": POSITIVE,
}


default_hparams, as_hparams, validate_hparams = hparams_functions(SACHparams, _RANGES, "SAC")


def presets() -> dict[str, Preset]:
    """SAC's named settings (env steps are the task's control steps; see README "Off-policy")."""
    return {
        "default": Preset(about="4 envs, 256x256 MLPs, batch 256, 0.5 gradient steps per env step, 200k env steps"),
        "small": Preset(
            config=dict(hidden_sizes=(128, 128), batch_size=128, replay_ratio=0.25),
            about="a 2-core CPU: 128x128 MLPs, batch 128, 0.25 gradient steps per env step",
        ),
        "paper": Preset(
            config=dict(total_timesteps=1_000_000, num_envs=1, buffer_size=1_000_000, batch_size=256, learning_starts=5_000,
                        replay_ratio=1.0, hidden_sizes=(256, 256)),
            hparams=dict(lr=3e-4, tau=0.005, init_alpha=0.1),
            about="a GPU: one env, one gradient step per env step, 1M-transition buffer (Haarnoja et al. 2018 sizes)",
        ),
        "tiny": Preset(
            config=dict(total_timesteps=64, num_envs=2, num_steps=4, buffer_size=64, batch_size=8, learning_starts=16,
                        replay_ratio=0.25, hidden_sizes=(16,)),
            env="probe_continuous", about="tests: 8 updates of 8 env steps on a probe env",
        ),
    }
