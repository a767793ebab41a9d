"""DreamerV3's static config and traced hyperparameters.

STATIC (``DreamerConfig``, a frozen dataclass; changing a field recompiles): the shared replay-learner
fields (:class:`jaxrl.offpolicy.OffPolicyConfig`; ``batch_size`` counts SEQUENCES of ``seq_length``
steps), the RSSM's and the heads' sizes, the imagination horizon, the CNN. TRACED (``DreamerHparams``,
a pytree: a sweep vmaps over them and never recompiles): learning rates, discount, lambda, the KL
balance and free bits, the entropy bonus, the slow critic's rate, the return scale's rate.

Units: env steps are AGENT steps of the made env (with ``make(..., action_repeat=2)``, as DreamerV3
runs DM Control, one agent step is two frames). ``replay_ratio`` is gradient steps per env step:
DreamerV3's ``train_ratio`` (replayed steps per env step) is ``replay_ratio * batch_size * seq_length``
(512 = 0.5 x 16 x 64 on DMC).

The defaults are a model sized for a 2-core CPU (the ``default`` preset: GRU 128, one hidden layer of
128 per MLP, 8 x 16 latents, batch 16 x 16, train ratio 32). The ``small`` preset trades size for
gradient steps (GRU 64, MLPs 1 x 64, 8 x 8 latents, a bounded-normal actor, ONE gradient step per env
step, train ratio 256): measured on this CPU it learns part of ``cartpole_swingup`` in 20k agent steps,
where ``default`` did not in 100k (benchmarks/RESULTS.md, DreamerV3). DreamerV3's 32 x 32
latents (with 2-layer MLPs) cost 5x more per gradient step here (1.0 s against the default's 0.18 s on the 2-core CPU
of 2026-12-02: the heads read 1,152 features at every imagined state), so they are in the GPU presets: DreamerV3's published sizes XS, S, M and L
(Hafner et al. 2023, with its code's DMC setup: 4 envs, batch 16 x 64, train ratio 512, its learning
rates and Adam eps) are the ``paper_xs`` ... ``paper_l`` presets, for a GPU.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flax import struct

from jaxrl.configs import (
    NONNEG, POSITIVE, RATE, UNIT, ConfigError, Preset, check_conv, check_positive_floats, check_positive_ints, hparams_functions,
)
from jaxrl.networks import CONV_STYLES
from jaxrl.offpolicy import OffPolicyConfig

ACTOR_GRADS = ("auto", "dynamics", "reinforce")
ACTOR_DISTS = ("tanh_normal", "bounded_normal")


@dataclasses.dataclass(frozen=True)
class DreamerConfig(OffPolicyConfig):
    """Static DreamerV3 settings (changing one recompiles).

    Attributes:
      seq_length: steps of each replayed training sequence (DreamerV3: 64); the RSSM observes
        them in order, restarting its state where an episode starts.
      imag_horizon: steps imagined from every posterior state for the actor and critic (15).
      deter: width of the RSSM's deterministic (GRU) state.
      blocks: the RSSM's recurrent core: 0 is DreamerV3 2023's GRU (one LayerNormed Dense of ``[input, h]``
        gives the gates); ``k`` > 0 is DreamerV3's current block GRU (its code since 2024, with ``k`` = 8):
        ``deter`` in ``k`` blocks, each with block-diagonal weights, so a wide state stays cheap
        (:class:`algos.dreamer.networks.BlockGRU`; ``deter`` must divide by ``k``).
      hidden: width of the RSSM's input, prior and posterior layers and of every MLP.
      layers: hidden layers of the encoder (states), decoder (states), reward, continue, actor
        and critic MLPs (LayerNorm + SiLU).
      groups, classes: the stochastic latent is ``groups`` categoricals of ``classes`` each (32 x 32),
        sampled one-hot with straight-through gradients.
      unimix: uniform mix of the latents' and of discrete actions' categoricals (0.01).
      num_bins, vmin, vmax: two-hot bins of rewards and values in symlog space (255 on [-20, 20]).
      actor_grad: ``dynamics`` (backpropagate the returns through the model into reparameterised
        actions), ``reinforce`` (score function), or ``auto``: dynamics for continuous actions,
        reinforce for discrete, as DreamerV3.
      actor_dist: the continuous actor's distribution: ``tanh_normal`` (a Gaussian squashed by tanh;
        its entropy the one-sample ``-log_prob``) or ``bounded_normal`` (DreamerV3's: a Gaussian with
        mean ``tanh(out)``, sampled unbounded, clipped to ``[-1, 1]`` to act and to enter the RSSM
        (straight-through scaled), its entropy the Gaussian's, so the logged ``entropy`` of the two
        is not comparable). Ignored for discrete actions.
      actor_state_grad: with dynamics gradients, whether they also flow through the actor's INPUT
        (the imagined state) into earlier steps (True), or only through its actions (False: DreamerV3
        2023 feeds the actor ``sg(state)``). Ignored under REINFORCE (the input is always stopped).
      actor_baseline: with dynamics gradients, whether the actor maximises ``G_t - v(s_t)`` with the
        critic's value keeping its gradient through the imagined states (True: DreamerV3 2023's
        ``-(ret - base)``, the ``paper_*`` presets) or ``G_t`` (False: DreamerV1/V2's objective). The
        two differ in gradient, not only in value: ``v(s_t)`` depends on the earlier actions through
        the dynamics. Ignored under REINFORCE (its baseline never carries a gradient).
      min_std, max_std: bounds of the continuous actor's std (before its tanh, for ``tanh_normal``).
      model_adam_eps: Adam's eps in the world model's optimiser (with the default ``optimizer`` slot):
        DreamerV3 2023's is 1e-8 (the ``paper_*`` presets); the actor's and critic's keep 1e-5, as in its code.
        1e-5 (the CPU presets, and every run saved before the field) damps the steps of weights whose
        gradients are smaller than about 1e-5.
      num_steps: env steps per env per update (default 2: with 4 envs, one gradient step per update).
      conv_channels, conv_kernels, conv_strides: the pixel encoder (:class:`jaxrl.networks.ConvEncoder`,
        flattened maps); the decoder mirrors the channels with stride-2 transposed convolutions, so
        images must be ``2 ** len(conv_channels)`` times an integer on each side.
      conv_style: the encoder's layers (:data:`jaxrl.networks.CONV_STYLES`): ``torso`` (jaxrl's CNN
        torso, as DrQ-v2's and PPO's: inputs in [0, 1], VALID convolutions with bias, ReLU) or
        ``dreamerv3`` (DreamerV3 2023's layers: inputs centred to [-0.5, 0.5], SAME convolutions
        without bias, each followed by LayerNorm over its channels and SiLU; a 16x16 image through
        two stride-2 layers leaves 4x4 maps where VALID leaves 2x2). Unlike DreamerV3's: orthogonal
        kernels, LayerNorm eps 1e-6 (its 1e-3), and ``len(conv_channels)`` layers where DreamerV3
        takes as many as bring the image down to 4x4. The decoder is DreamerV3's either way.
        Default ``dreamerv3``, for fidelity to DreamerV3, not for a measured gain: on cartpole_balance from
        16x16 pixels (``small_pixels``, 200k frames, seeds 0-3) the mean of the last 5 evaluations was
        515 / 516 / 422 / 433 against the torso's 383 / 436 / 488 / 500, no difference shown
        (benchmarks/RESULTS.md, stops 52-53); runs saved before the field keep ``torso``. Static.
    """

    total_timesteps: int = 100_000
    num_envs: int = 4
    num_steps: int = 2
    buffer_size: int = 100_000
    batch_size: int = 16
    learning_starts: int = 2_000
    replay_ratio: float = 0.125
    seq_length: int = 16
    imag_horizon: int = 15
    deter: int = 128
    blocks: int = 0
    hidden: int = 128
    layers: int = 1
    groups: int = 8
    classes: int = 16
    unimix: float = 0.01
    num_bins: int = 255
    vmin: float = -20.0
    vmax: float = 20.0
    actor_grad: str = "auto"
    actor_dist: str = "tanh_normal"
    actor_state_grad: bool = True
    actor_baseline: bool = False
    min_std: float = 0.1
    max_std: float = 1.0
    model_adam_eps: float = 1e-5
    conv_channels: tuple[int, ...] = (16, 32, 64)
    conv_kernels: tuple[int, ...] = (4, 4, 4)
    conv_strides: tuple[int, ...] = (2, 2, 2)
    conv_style: str = "dreamerv3"

    # Fields added after runs were saved, with the value those runs had (old run.json / checkpoints).
    LEGACY_DEFAULTS = {**OffPolicyConfig.LEGACY_DEFAULTS, "actor_dist": "tanh_normal", "actor_state_grad": True,
                       "actor_baseline": False, "model_adam_eps": 1e-5, "conv_style": "torso"}

    def __post_init__(self):
        super().__post_init__()
        check_positive_ints(self, ("seq_length", "imag_horizon", "deter", "hidden", "layers", "groups", "classes", "num_bins"))
        check_positive_floats(self, ("model_adam_eps",))
        if not isinstance(self.blocks, int) or isinstance(self.blocks, bool) or self.blocks < 0 or (self.blocks and self.deter % self.blocks):
            raise ConfigError(f"DreamerConfig.blocks must be 0 (one GRU) or divide deter (= {self.deter}) into equal "
                              f"blocks, got {self.blocks}")
        if self.seq_length < 2:
            raise ConfigError(f"DreamerConfig.seq_length must be at least 2 (a step has an observation before and after), "
                              f"got {self.seq_length}")
        per_env = -(-self.buffer_size // self.num_envs)
        if self.seq_length > per_env:
            raise ConfigError(f"DreamerConfig.seq_length (= {self.seq_length}) is longer than the buffer holds per env "
                              f"(buffer_size / num_envs = {per_env} slots): raise buffer_size or shorten the sequences")
        if not 0.0 <= self.unimix < 1.0:
            raise ConfigError(f"DreamerConfig.unimix must be in [0, 1), got {self.unimix}")
        if self.num_bins < 2 or not self.vmin < self.vmax:
            raise ConfigError(f"DreamerConfig needs num_bins >= 2 and vmin < vmax, got {self.num_bins}, {self.vmin}, {self.vmax}")
        if self.actor_grad not in ACTOR_GRADS:
            raise ConfigError(f"DreamerConfig.actor_grad must be one of {', '.join(ACTOR_GRADS)}, got {self.actor_grad!r}")
        if self.actor_dist not in ACTOR_DISTS:
            raise ConfigError(f"DreamerConfig.actor_dist must be one of {', '.join(ACTOR_DISTS)}, got {self.actor_dist!r}")
        if not isinstance(self.conv_style, str) or self.conv_style not in CONV_STYLES:
            raise ConfigError(f"DreamerConfig.conv_style must be one of {', '.join(CONV_STYLES)}, got {self.conv_style!r}")
        for field in ("actor_state_grad", "actor_baseline"):
            if not isinstance(getattr(self, field), bool):
                raise ConfigError(f"DreamerConfig.{field} must be True or False, got {getattr(self, field)!r}")
        if not 0.0 < self.min_std < self.max_std:
            raise ConfigError(f"DreamerConfig needs 0 < min_std < max_std, got {self.min_std} and {self.max_std}")
        check_conv(self)

    @property
    def stoch(self) -> int:
        """Width of the flattened stochastic latent: ``groups * classes``."""
        return self.groups * self.classes


@struct.dataclass
class DreamerHparams:
    """Traced DreamerV3 hyperparameters (a pytree: vmap over them, never recompiles).

    Attributes:
      lr: the world model's learning rate (3e-4 for the small CPU model; DreamerV3: 1e-4, the
        ``paper_*`` presets); max_grad_norm: its global-norm clip (1000).
      actor_lr, critic_lr: the actor's and the critic's (1e-4; DreamerV3: 3e-5); ac_max_grad_norm: their clip (100).
      gamma: discount of the imagined returns (DreamerV3: 0.997, a horizon of 333 steps).
      lam: lambda of the imagined TD(lambda) returns (0.95).
      free_nats: free bits of each KL term (1.0 nat per step, summed over the latent's groups).
      dyn_coef, rep_coef: weights of the dynamics KL (trains the prior, 0.5) and the representation
        KL (trains the posterior, 0.1).
      entropy_coef: the actor's entropy bonus against returns divided by their scale (3e-4).
      critic_tau: Polyak rate of the slow critic (0.02); slowreg_coef: weight of the critic's
        regression toward the slow critic's prediction (1.0).
      return_rate: rate of the running 5th-95th percentile return scale (0.01).
    """

    lr: Any = 3e-4
    max_grad_norm: Any = 1000.0
    actor_lr: Any = 1e-4
    critic_lr: Any = 1e-4
    ac_max_grad_norm: Any = 100.0
    gamma: Any = 0.997
    lam: Any = 0.95
    free_nats: Any = 1.0
    dyn_coef: Any = 0.5
    rep_coef: Any = 0.1
    entropy_coef: Any = 3e-4
    critic_tau: Any = 0.02
    slowreg_coef: Any = 1.0
    return_rate: Any = 0.01


_RANGES = {
    "lr": POSITIVE, "max_grad_norm": POSITIVE, "actor_lr": POSITIVE, "critic_lr": POSITIVE, "ac_max_grad_norm": POSITIVE,
    "gamma": UNIT, "lam": UNIT, "free_nats": NONNEG, "dyn_coef": NONNEG, "rep_coef": NONNEG, "entropy_coef": NONNEG,
    "critic_tau": RATE, "slowreg_coef": NONNEG, "return_rate": RATE,
}

default_hparams, as_hparams, validate_hparams = hparams_functions(DreamerHparams, _RANGES, "DreamerV3")

# DreamerV3's model sizes (Hafner et al. 2023, table B.1): GRU width, hidden width, MLP layers, CNN depth.
_SIZES = {"xs": (256, 256, 1, 24), "s": (512, 512, 2, 32), "m": (1024, 640, 3, 48), "l": (2048, 768, 4, 64)}


def paper_size(name: str, image_layers: int = 4) -> dict:
    """Config fields of DreamerV3's model size ``name`` (``xs``, ``s``, ``m``, ``l``) with its DMC
    training setup as its 2023 code (``configs.yaml``: 4 envs, batch 16 x 64, train ratio 512, learning
    once the replay holds one batch of steps, 1,024; a 1M-step replay; the world model's Adam eps 1e-8)
    and its continuous actor (a bounded normal fed ``sg(state)``, gradients through the dynamics, the
    return minus the critic's value with its gradient as the objective). ``total_timesteps`` 500k agent
    steps: 1M frames at the presets' action repeat 2, DreamerV3's DMC-vision budget (its proprio scores
    are read at 500k frames: ``--steps 250000``)."""
    deter, hidden, layers, depth = _SIZES[name]
    return dict(total_timesteps=500_000, num_envs=4, num_steps=2, buffer_size=1_000_000, batch_size=16, seq_length=64,
                learning_starts=1_024, replay_ratio=0.5, deter=deter, hidden=hidden, layers=layers, groups=32, classes=32,
                actor_dist="bounded_normal", actor_state_grad=False, actor_baseline=True, model_adam_eps=1e-8,
                conv_channels=tuple(depth * 2 ** i for i in range(image_layers)), conv_kernels=(4,) * image_layers,
                conv_strides=(2,) * image_layers, conv_style="dreamerv3")


def presets() -> dict[str, Preset]:
    """DreamerV3's named settings (env steps are agent steps). The ``paper_*`` ones bring
    ``action_repeat=2`` to whichever env they run on, as DreamerV3's 2023 code ran DM Control
    (``configs.yaml``: ``env.dmc.repeat: 2``; its code since 2024-12 runs repeat 1 with other train
    ratios, not these presets); ``--env-opt action_repeat=K`` wins (1 outside DM Control)."""
    paper = {f"paper_{n}": Preset(config=paper_size(n), hparams=dict(lr=1e-4, actor_lr=3e-5, critic_lr=3e-5),
                                  env_options=dict(action_repeat=2),
                                  about=f"a GPU: DreamerV3's {n.upper()} model (GRU {_SIZES[n][0]}, MLPs {_SIZES[n][2]} x "
                                        f"{_SIZES[n][1]}, CNN depth {_SIZES[n][3]}), 32 x 32 latents, batch 16 x 64, "
                                        "train ratio 512, 4 envs, DM Control's action repeat in its 2023 code")
             for n in _SIZES}
    small = dict(num_envs=4, num_steps=5, learning_starts=1_000, replay_ratio=1.0, seq_length=16, imag_horizon=10,
                 deter=64, hidden=64, layers=1, groups=8, classes=8, num_bins=63, actor_dist="bounded_normal")
    small_hparams = dict(lr=1e-3, actor_lr=3e-4, critic_lr=3e-4, gamma=0.99)
    return {
        "default": Preset(about="a 2-core CPU: GRU 128, MLPs 1 x 128, 8 x 16 latents, CNN 16-32-64, 4 envs, batch 16 x 16, "
                                "0.125 gradient steps per env step (train ratio 32)"),
        "small": Preset(
            config=small, hparams=small_hparams,
            about="a 2-core CPU, more updates on a smaller model: GRU 64, MLPs 1 x 64, 8 x 8 latents, imagination 10, "
                  "a bounded-normal actor, 4 envs, batch 16 x 16, 1 gradient step per env step (train ratio 256); "
                  "measured to learn more of the swing-up than `default` (one task, 2 seeds to 30k agent steps; benchmarks/RESULTS.md)"),
        "small_pixels": Preset(
            config={**small, "replay_ratio": 0.5, "conv_channels": (16, 32), "conv_kernels": (4, 4), "conv_strides": (2, 2)},
            hparams=small_hparams, env_options=dict(obs="pixels", image_size=16, action_repeat=8),
            about="a 2-core CPU from pixels: `small` with a CNN 16-32 (4x4, stride 2) and 0.5 gradient steps per agent step, "
                  "16 x 16 RGB at action repeat 8 (no frame stack: the RSSM carries the past); on cartpole_balance "
                  "446-557 at 200k frames, 422-516 over its last 5 evaluations (4 seeds; not solved; benchmarks/RESULTS.md)"),
        **paper,
        "tiny": Preset(
            config=dict(total_timesteps=64, num_envs=2, num_steps=4, buffer_size=64, batch_size=4, learning_starts=16,
                        replay_ratio=0.25, seq_length=4, imag_horizon=3, deter=8, hidden=8, layers=1, groups=2, classes=4,
                        num_bins=11, conv_channels=(4, 8), conv_kernels=(4, 4), conv_strides=(2, 2)),
            env="probe_continuous", about="tests: 8 updates of 8 env steps on a probe env"),
    }
