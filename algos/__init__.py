"""jaxrl.algos: one sub-package per algorithm family.

The protocol (README, "Algorithms: what every learner provides"; checked for every registered name
by ``tests/test_contract.py``). Every algorithm package exports:

- ``Config``: a frozen dataclass of STATIC fields (shapes, counts, network sizes, pluggable slots);
  changing one recompiles. Replay learners subclass :class:`jaxrl.offpolicy.OffPolicyConfig`,
  rollout learners :class:`jaxrl.rollout.OnPolicyConfig`.
- ``Hparams``: a ``flax.struct`` pytree of TRACED fields (learning rates, discounts, ...): a sweep
  vmaps over them and never recompiles; ``default_hparams()`` and ``validate_hparams(h,
  batch_shape=None)`` (ranges, a ``ConfigError`` on the host).
- ``presets() -> {name: jaxrl.configs.Preset}``: named settings, ``default`` and ``tiny`` (a probe
  env, used by the contract tests) among them.
- ``make_train(config, env, env_params) -> jaxrl.trainer.Trainer``, refusing an env it cannot
  handle with a one-line ``ConfigError``. Its ``update`` reports ``loss`` and
  :func:`jaxrl.trainer.episode_metrics`; ``policy(state)`` is a :class:`jaxrl.policy.Policy`;
  ``trainable(state)`` is everything learned (checked for NaN/inf after every update); env steps
  are ``update x steps_per_update`` (a replay prefill is the first updates, never ``init``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from jaxrl.configs import did_you_mean

_ALGORITHMS = {
    "ppo": "jaxrl.algos.ppo",
    "sac": "jaxrl.algos.sac",
    "td3": "jaxrl.algos.td3",
    "dqn": "jaxrl.algos.dqn",
    "pqn": "jaxrl.algos.pqn",
    "tdmpc": "jaxrl.algos.tdmpc",
    "drq": "jaxrl.algos.drq",
    "dreamer": "jaxrl.algos.dreamer",
}


def names() -> list[str]:
    return sorted(_ALGORITHMS)


def get(name: str) -> ModuleType:
    """The algorithm package registered as ``name``; a clear error if there is none."""
    if name not in _ALGORITHMS:
        hint = did_you_mean(str(name), names())
        raise ValueError(f"unknown algorithm {name!r}{hint}; known algorithms: {', '.join(names())}")
    return importlib.import_module(_ALGORITHMS[name])
