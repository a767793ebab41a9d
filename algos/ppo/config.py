"""PPO's static config and traced hyperparameters.

STATIC (``PPOConfig``, a frozen dataclass): shapes, counts, network sizes and
the pluggable pieces; changing any of them recompiles.
TRACED (``PPOHparams``, a pytree): numbers the compiled program takes as
inputs; a sweep vmaps over them and never recompiles.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from flax import struct

from jaxrl.configs import NONNEG, POSITIVE, UNIT, ConfigError, Preset, as_traced, check_mlp, check_ranges
from jaxrl.rollout import OnPolicyConfig
from jaxrl.algos.ppo.losses import clipped_surrogate
from jaxrl.optim import default_optimizer


@dataclasses.dataclass(frozen=True)
class PPOConfig(OnPolicyConfig):
    """Static PPO settings (changing one recompiles). The rollout and epoch fields
    (``total_timesteps``, ``num_envs``, ``num_steps``, ``num_minibatches``, ``update_epochs``) are
    :class:`jaxrl.rollout.OnPolicyConfig`'s, documented there.

    Attributes:
      hidden_sizes: hidden layer widths of the actor and of the critic MLP.
      activation: one of ``jaxrl.networks.ACTIVATIONS``.
      normalize_obs: normalise observations by running statistics held in
        the agent state (updated after each update, frozen within one). Image
        observations ``[H, W, C]`` (``obs="pixels"``) are never normalised: PPO's
        CNN torso scales them to ``[0, 1]``.
      normalize_advantages: per-minibatch advantage normalisation.
      anneal_lr: linear learning-rate decay to 0 over the run.
      clip_value_loss: PPO-style clipped value loss. Off by default: it clips
        the value change to ``clip_eps`` in RETURN units, which for 1000-step
        tasks with returns of tens to hundreds stalls the critic (on
        cartpole_balance it delayed learning from ~250k to ~700k env steps).
      init_log_std: initial log std of the Gaussian policy (continuous actions).
      objective: the policy objective slot, ``objective(ratio[N], advantages[N],
        hparams, meta_params, progress) -> surrogate[N]`` to MAXIMISE; default
        PPO's clipped surrogate. A learned objective reads ``meta_params``.
      optimizer: the update-rule slot, ``optimizer(hparams, meta_params,
        config) -> optax.GradientTransformation``; default clip-by-global-norm +
        Adam with the (optionally annealed) learning rate.
    """

    total_timesteps: int = 524_288
    num_envs: int = 32
    num_steps: int = 64
    num_minibatches: int = 4
    update_epochs: int = 4
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    normalize_obs: bool = True
    normalize_advantages: bool = True
    anneal_lr: bool = True
    clip_value_loss: bool = False
    init_log_std: float = 0.0
    objective: Callable = clipped_surrogate
    optimizer: Callable = default_optimizer

    def __post_init__(self):
        check_mlp(self)
        super().__post_init__()


@struct.dataclass
class PPOHparams:
    """Traced PPO hyperparameters (a pytree: vmap over them, never recompiles).

    Attributes:
      lr: Adam learning rate (> 0).
      gamma: discount in [0, 1].
      gae_lambda: GAE lambda in [0, 1].
      clip_eps: PPO ratio clip (> 0); also clips the value loss.
      ent_coef: entropy bonus coefficient (>= 0).
      vf_coef: value loss coefficient (>= 0).
      max_grad_norm: global gradient-norm clip (> 0).
      reward_scale: rewards are multiplied by this before the returns (> 0).
    """

    lr: Any = 1e-3
    gamma: Any = 0.99
    gae_lambda: Any = 0.95
    clip_eps: Any = 0.2
    ent_coef: Any = 0.0
    vf_coef: Any = 0.5
    max_grad_norm: Any = 0.5
    reward_scale: Any = 1.0


_RANGES = {
    "lr": POSITIVE, "gamma": UNIT, "gae_lambda": UNIT, "clip_eps": POSITIVE, "ent_coef": NONNEG, "vf_coef": NONNEG,
    "max_grad_norm": POSITIVE, "reward_scale": POSITIVE,
}


def default_hparams() -> PPOHparams:
    """PPO's default hyperparameters as Python floats."""
    return PPOHparams()


def hparam_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(PPOHparams))


def as_hparams(hparams: Any) -> PPOHparams:
    """Accept a ``PPOHparams`` or a mapping of its fields (missing ones take defaults); float32 leaves."""
    if hparams is None:
        raise ConfigError("PPO hparams must be a PPOHparams or a dict, got None")
    return as_traced(hparams, PPOHparams, "PPO hyperparameter")


def validate_hparams(hparams: Any, batch_shape: tuple[int, ...] | None = None) -> PPOHparams:
    """Check concrete hparams values (every element of a batch) are in range; raise ConfigError."""
    hp = as_hparams(hparams)
    check_ranges(hp, _RANGES, "PPO", batch_shape)
    return hp


def presets() -> dict[str, Preset]:
    """PPO's named settings: ``default`` (the MJX cart-pole run of ``jaxrl train``), ``tiny`` (the
    contract tests: a probe env, seconds to compile)."""
    return {
        "default": Preset(about="32 envs x 64 steps, 4 epochs of 4 minibatches; 524k env steps (the config of `jaxrl train`'s no-argument run)"),
        "tiny": Preset(
            config=dict(total_timesteps=8 * 4 * 4, num_envs=8, num_steps=4, num_minibatches=2, update_epochs=2,
                        hidden_sizes=(16,)),
            hparams=dict(lr=3e-3), env="probe_action", about="tests: 4 updates of 32 steps on probe_action",
        ),
    }
