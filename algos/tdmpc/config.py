"""TD-MPC2's static config and traced hyperparameters.

STATIC (``TDMPCConfig``, a frozen dataclass; changing a field recompiles): the shared replay-learner
fields (:class:`jaxrl.offpolicy.OffPolicyConfig`), the world model's sizes, the training horizon and
the planner's counts. TRACED (``TDMPCHparams``, a pytree: a sweep vmaps over them and never
recompiles): learning rates, discount, loss weights, Polyak rate, the planner's std bounds and
temperature.

The defaults are a small model that learns on a 2-core CPU (the ``default`` preset); TD-MPC2's
published sizes (Hansen et al. 2024, the 5M-parameter model) are the ``paper`` preset, for a GPU.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flax import struct

from jaxrl.configs import (
    NONNEG, POSITIVE, RATE, UNIT, ConfigError, Preset, check_conv, check_positive_floats, check_positive_ints, hparams_functions,
)
from jaxrl.offpolicy import OffPolicyConfig
from jaxrl.planning import MPPI


@dataclasses.dataclass(frozen=True)
class TDMPCConfig(OffPolicyConfig):
    """Static TD-MPC2 settings (changing one recompiles).

    The shared fields' defaults here are the CPU preset's: ``learning_starts`` 2,000 random env steps
    (one 500-step episode at action repeat 2 in each of the 4 envs) where TD-MPC2 takes
    ``max(1000, 5 x episode length)`` = 2,500 in its one env, and no burst of gradient steps on them
    (``pretrain_steps`` 0; TD-MPC2's 2,500 are the ``paper`` preset's; benchmarks/RESULTS.md tried the
    burst on the CPU preset).

    Attributes:
      latent_dim: width of the latent state (a multiple of ``simnorm_dim``: groups of SimNorm).
      simnorm_dim: SimNorm's group size (the latent is ``latent_dim / simnorm_dim`` simplices).
      enc_dim: hidden width of the state encoder (the CNN's dense features for pixels).
      num_enc_layers: layers of the state encoder (``max(1, num_enc_layers - 1)`` hidden ones).
      mlp_dim: hidden width of the dynamics, reward, policy and Q networks (two hidden layers each,
        LayerNorm + Mish).
      num_q: Q heads in the ensemble (TD-MPC2: 5; two drawn at random for each target and estimate).
      dropout: dropout rate on the first hidden layer of every Q head (TD-MPC2: 0.01, the ``paper``
        preset), applied where TD-MPC2 trains them: the value loss and the policy loss's Q estimate;
        never in the TD targets nor in planning. 0 (the CPU presets): no dropout, no extra keys.
      num_bins, vmin, vmax: the two-hot bins of rewards and values, in symlog space.
      horizon: steps of each training sequence (sampled as ``horizon + 1`` observations).
      plan: act by MPPI in latent space (True) or with the policy prior alone (False: cheap data
        collection, and what planning buys measured against it).
      plan_horizon: steps the planner looks ahead (``None``: ``horizon``; at most ``horizon``: the
        model is trained for that many steps only).
      iterations, num_samples, num_elites, num_pi_trajs: MPPI's counts (``num_pi_trajs`` of the
        samples are rolled out by the policy prior).
      log_std_min, log_std_max: bounds of the policy prior's log std.
      init_std: every MLP Dense kernel of the world model and the policy drawn from a normal of this
        std (TD-MPC2's ``trunc_normal_(std=0.02)``; the reward and Q output layers stay zero; the
        pixel encoder's CNN torso keeps its own init, as TD-MPC2's convolutions keep PyTorch's);
        ``None``: jaxrl's orthogonal init (gain sqrt 2 hidden, 1 out), whose 0.09-0.13 std
        behind LayerNorm made the CPU preset learn the swing-up more slowly (benchmarks/RESULTS.md).
      model_adam_eps: Adam's eps in the world model's optimiser (with the default ``optimizer`` slot;
        TD-MPC2's is PyTorch's 1e-8, the ``paper`` preset's; the policy's optimiser keeps 1e-5, as
        TD-MPC2's). 1e-5 (the CPU presets, and every run saved before the field) damps the steps of
        weights whose gradients are smaller than about 1e-5.
      entropy: the policy prior's entropy bonus (weighted by ``entropy_coef``): ``"scaled"``, TD-MPC2's
        ``scaled_entropy``, ``-A log N(u)`` of the pre-squash sample over the ``A`` action dims
        (:func:`jaxrl.algos.tdmpc.losses.scaled_entropy`); ``"squashed"``, ``-log pi(a)`` of the
        squashed sample (the tanh's correction in, no factor ``A``: every run saved before the field).
      conv_channels, conv_kernels, conv_strides: the CNN torso for pixel observations
        (:class:`jaxrl.networks.ConvEncoder`; TD-MPC2: 4 layers of 32 channels).
    """

    total_timesteps: int = 100_000
    num_envs: int = 4
    num_steps: int = 1
    buffer_size: int = 100_000
    batch_size: int = 128
    learning_starts: int = 2_000
    replay_ratio: float = 1.0
    latent_dim: int = 64
    simnorm_dim: int = 8
    enc_dim: int = 128
    num_enc_layers: int = 2
    mlp_dim: int = 128
    num_q: int = 5
    dropout: float = 0.0
    num_bins: int = 101
    vmin: float = -10.0
    vmax: float = 10.0
    horizon: int = 3
    plan: bool = True
    plan_horizon: int | None = None
    iterations: int = 4
    num_samples: int = 128
    num_elites: int = 16
    num_pi_trajs: int = 8
    log_std_min: float = -10.0
    log_std_max: float = 2.0
    init_std: float | None = 0.02
    model_adam_eps: float = 1e-5
    entropy: str = "scaled"
    conv_channels: tuple[int, ...] = (32, 32, 32, 32)
    conv_kernels: tuple[int, ...] = (7, 5, 3, 3)
    conv_strides: tuple[int, ...] = (2, 2, 2, 1)

    # Runs saved before ``init_std`` existed (2026-12-05) used the orthogonal init, before ``entropy``
    # (2026-12-06) the squashed bonus: replaying or resuming them keeps it (:func:`jaxrl.configs.with_legacy_fields`).
    LEGACY_DEFAULTS = {**OffPolicyConfig.LEGACY_DEFAULTS, "init_std": None, "model_adam_eps": 1e-5, "entropy": "squashed"}

    def __post_init__(self):
        super().__post_init__()
        check_positive_ints(self, ("latent_dim", "simnorm_dim", "enc_dim", "num_enc_layers", "mlp_dim", "num_q", "num_bins",
                                   "horizon"))
        if self.latent_dim % self.simnorm_dim:
            raise ConfigError(f"TDMPCConfig.latent_dim (= {self.latent_dim}) must be a multiple of simnorm_dim (= {self.simnorm_dim})")
        if self.num_q < 2:
            raise ConfigError(f"TDMPCConfig.num_q must be at least 2 (two heads are drawn for every target), got {self.num_q}")
        if self.entropy not in ("scaled", "squashed"):
            raise ConfigError(f"TDMPCConfig.entropy must be 'scaled' (TD-MPC2's) or 'squashed', got {self.entropy!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"TDMPCConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.num_bins < 2 or not self.vmin < self.vmax:
            raise ConfigError(f"TDMPCConfig needs num_bins >= 2 and vmin < vmax, got {self.num_bins}, {self.vmin}, {self.vmax}")
        if self.plan_horizon is not None:
            check_positive_ints(self, ("plan_horizon",))
            if self.plan_horizon > self.horizon:
                raise ConfigError(f"TDMPCConfig.plan_horizon (= {self.plan_horizon}) is longer than the sampled training "
                                  f"sequences (horizon = {self.horizon}): the model is never trained that far ahead")
        self.planner  # noqa: B018  (checks the MPPI counts)
        check_positive_floats(self, ("model_adam_eps",))
        if self.init_std is not None and not self.init_std > 0:
            raise ConfigError(f"TDMPCConfig.init_std must be > 0 or None (orthogonal init), got {self.init_std}")
        if not self.log_std_min < self.log_std_max:
            raise ConfigError(f"TDMPCConfig needs log_std_min < log_std_max, got {self.log_std_min} and {self.log_std_max}")
        check_conv(self)

    @property
    def sequence_length(self) -> int:
        """Observations per sampled training sequence: ``horizon + 1``."""
        return self.horizon + 1

    @property
    def planner(self) -> MPPI:
        """The MPPI planner's static counts (a one-line ConfigError when they do not fit)."""
        try:
            return MPPI(self.plan_horizon or self.horizon, self.iterations, self.num_samples, self.num_elites, self.num_pi_trajs)
        except ConfigError as e:
            raise ConfigError(f"TDMPCConfig: {e} (fields iterations, num_samples, num_elites, num_pi_trajs)") from None


@struct.dataclass
class TDMPCHparams:
    """Traced TD-MPC2 hyperparameters (a pytree: vmap over them, never recompiles).

    Attributes:
      lr: Adam learning rate of the world model and the policy prior (> 0).
      enc_lr_scale: the encoder's learning rate is ``lr * enc_lr_scale`` (TD-MPC2: 0.3).
      gamma: discount in [0, 1] (TD-MPC2 uses ``(L/5 - 1) / (L/5)`` clipped to [0.95, 0.995] for
        episodes of ``L`` agent steps: :func:`jaxrl.algos.tdmpc.discount_for`).
      tau: Polyak rate of the target Q heads and of the running Q scale (in (0, 1]).
      rho: per-step weight decay of the losses along the horizon (weight ``rho^t``).
      consistency_coef, reward_coef, value_coef: weights of the latent consistency, reward and value losses.
      entropy_coef: weight of the policy prior's entropy bonus (against Q divided by its running scale);
        the bonus is ``TDMPCConfig.entropy``'s (TD-MPC2's ``scaled_entropy`` by default).
      max_grad_norm: global gradient-norm clip of the model and of the policy (> 0).
      min_std, max_std: bounds of MPPI's sampling std.
      temperature: MPPI's weighting of the elites, ``exp(temperature * (value - max))``.
    """

    lr: Any = 3e-4
    enc_lr_scale: Any = 0.3
    gamma: Any = 0.99
    tau: Any = 0.01
    rho: Any = 0.5
    consistency_coef: Any = 20.0
    reward_coef: Any = 0.1
    value_coef: Any = 0.1
    entropy_coef: Any = 1e-4
    max_grad_norm: Any = 20.0
    min_std: Any = 0.05
    max_std: Any = 2.0
    temperature: Any = 0.5


_RANGES = {
    "lr": POSITIVE, "enc_lr_scale": NONNEG, "gamma": UNIT, "tau": RATE, "rho": UNIT, "consistency_coef": NONNEG,
    "reward_coef": NONNEG, "value_coef": NONNEG, "entropy_coef": NONNEG, "max_grad_norm": POSITIVE, "min_std": POSITIVE,
    "max_std": POSITIVE, "temperature": POSITIVE,
}

_default, as_hparams, _validate = hparams_functions(TDMPCHparams, _RANGES, "TD-MPC2")
default_hparams = _default


def validate_hparams(hparams, batch_shape=None):
    """Ranges (see :class:`TDMPCHparams`) and ``min_std <= max_std``; a ``ConfigError`` on the host."""
    import jax
    import numpy as np

    hp = _validate(hparams, batch_shape)
    if not isinstance(hp.min_std, jax.core.Tracer) and not isinstance(hp.max_std, jax.core.Tracer) and np.any(np.asarray(hp.min_std) > np.asarray(hp.max_std)):
        raise ConfigError(f"TD-MPC2 hyperparameters: min_std ({hp.min_std}) is larger than max_std ({hp.max_std})")
    return hp


def discount_for(episode_length: int, denom: float = 5.0, low: float = 0.95, high: float = 0.995) -> float:
    """TD-MPC2's discount heuristic for episodes of ``episode_length`` agent steps:
    ``clip((L / denom - 1) / (L / denom), low, high)`` (500 steps, DMC at action repeat 2: 0.99)."""
    frac = episode_length / denom
    return float(min(max((frac - 1) / frac, low), high))


def presets() -> dict[str, Preset]:
    """TD-MPC2's named settings (env steps count agent steps: with ``action_repeat=2``, as TD-MPC2
    runs DMC, one agent step is two control steps of the task). ``paper`` brings ``action_repeat=2``
    to whichever env it runs on (TD-MPC2 repeats only its DMC, Meta-World and ManiSkill envs:
    ``--env-opt action_repeat=1`` for others; ``--env-opt`` wins)."""
    return {
        "default": Preset(about="a 2-core CPU: latent 64, MLPs 128, 5 Q heads, MPPI 4 x 128 samples (16 elites, 8 from "
                                "the policy), 4 envs, batch 128, one gradient step per agent step (TD-MPC2's), TD-MPC2's std-0.02 init"),
        "paper": Preset(
            config=dict(total_timesteps=1_000_000, num_envs=1, buffer_size=1_000_000, batch_size=256, learning_starts=2_500,
                        pretrain_steps=2_499, model_adam_eps=1e-8, replay_ratio=1.0, latent_dim=512, enc_dim=256, num_enc_layers=2, mlp_dim=512, num_q=5, dropout=0.01, horizon=3,
                        iterations=6, num_samples=512, num_elites=64, num_pi_trajs=24),
            env_options=dict(action_repeat=2),
            about="a GPU: TD-MPC2's 5M-parameter model and planner (Hansen et al. 2024), one env, one gradient step per "
                  "agent step after 2,500 at once on the seed data (2,499 + that update's 1, as TD-MPC2), Adam eps 1e-8 "
                  "for the world model; 1M agent steps = 2M control steps at TD-MPC2's DM Control action repeat",
        ),
        "tiny": Preset(
            config=dict(total_timesteps=64, num_envs=2, num_steps=4, buffer_size=64, batch_size=8, learning_starts=16,
                        replay_ratio=0.25, latent_dim=16, enc_dim=16, mlp_dim=16, num_q=2, num_bins=11, horizon=2,
                        iterations=2, num_samples=8, num_elites=2, num_pi_trajs=2),
            env="probe_continuous", about="tests: 8 updates of 8 env steps on a probe env",
        ),
    }
