"""Saved learned rules as importable slot functions.

``jaxrl.algos.meta.saved:objective@/abs/runs/meta/rule`` names the PPO objective of the rule
saved in that directory (``optimizer@...`` the optimiser), with ``.`` and ``%`` in the path
escaped as ``%2E`` / ``%25`` (``jaxrl.configs`` splits names on dots). Looking the name up
loads the rule (structure checked) and returns a slot function with its meta-parameters baked
in as constants; it ignores the ``meta_params`` that ``train`` passes. The same object is
returned for the same name, so configs holding it compare and hash equal.
"""

from __future__ import annotations

import functools

from jaxrl.algos.meta import rules
from jaxrl.configs import register


def _decode(text: str) -> str:
    return text.replace("%2E", ".").replace("%25", "%")


@functools.lru_cache(maxsize=None)
def _slot_function(name: str):
    slot, sep, encoded = name.partition("@")
    if not sep or slot not in ("objective", "optimizer"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r} (expected 'objective@PATH' or 'optimizer@PATH')")
    path = _decode(encoded)
    rule, meta_params, _ = rules.load_rule(path)
    if rule.slot != slot:
        raise rules.RuleError(f"learned rule {path} is a {rule.name!r} rule for the {rule.slot} slot, not the {slot} slot")
    fn = rule.fn

    if slot == "objective":
        def slot_fn(ratio, advantages, hparams, meta_params=None, progress=0.0):
            return fn(ratio, advantages, hparams, baked, progress)
    else:
        def slot_fn(hparams, meta_params, config):
            return fn(hparams, baked, config)

    baked = meta_params
    slot_fn.__module__, slot_fn.__qualname__, slot_fn.__name__ = __name__, name, name
    slot_fn.__doc__ = f"The {rule.name!r} rule saved in {path} ({rule.slot} slot), meta-parameters baked in."
    return register(slot_fn, f"{__name__}:{name}")  # data (rule.json + npz), never code, so a run file may name it


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    return _slot_function(name)
