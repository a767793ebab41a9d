"""jaxrl.algos: one sub-package per algorithm family.

Every algorithm package exports ``Config`` (static, frozen dataclass),
``Hparams`` (traced pytree), ``default_hparams()``, ``validate_hparams(h)``
and ``make_train(config, env, env_params) -> jaxrl.trainer.Trainer``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from jaxrl.configs import did_you_mean

_ALGORITHMS = {"ppo": "jaxrl.algos.ppo", "sac": "jaxrl.algos.sac", "td3": "jaxrl.algos.td3", "dqn": "jaxrl.algos.dqn", "pqn": "jaxrl.algos.pqn"}


def names() -> list[str]:
    return sorted(_ALGORITHMS)


def get(name: str) -> ModuleType:
    """The algorithm package registered as ``name``; a clear error if there is none."""
    if name not in _ALGORITHMS:
        hint = did_you_mean(str(name), names())
        raise ValueError(f"unknown algorithm {name!r}{hint}; known algorithms: {', '.join(names())}")
    return importlib.import_module(_ALGORITHMS[name])
