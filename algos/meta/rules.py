"""The learnable update rules by name, and learned rules saved to / loaded from a directory.

A :class:`Rule` names a PPO slot (``objective`` or ``optimizer``), the slot function that
reads ``meta_params[rule.name]``, and ``init(key, **options)`` giving its documented initial
meta-parameters. A saved rule is a directory::

    rule/
      rule.json          {"format", "rule", "slot", "options", "structure", "info"}
      meta_params.npz    every leaf of the meta-parameters, by its pytree path

:func:`load_rule` checks the saved leaves against the structure the rule's ``init`` gives
(paths, shapes, dtypes) and refuses a mismatch in one line. :func:`slot_reference` turns a
saved rule into ``"jaxrl.algos.meta.saved:<slot>@<path>"``, a name that ``jaxrl.configs``
imports back (so ``PPOConfig(objective=...)`` round-trips through ``run.json``, resume included).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.configs import ConfigError, did_you_mean
from jaxrl.algos.ppo.losses import clipped_surrogate
from jaxrl.optim import default_optimizer
from jaxrl.algos.meta import objectives, optimizers

FORMAT = "jaxrl-rule/1"
RULE_FILE, PARAMS_FILE = "rule.json", "meta_params.npz"


class RuleError(ConfigError):
    """An unknown rule name, a malformed saved rule, or meta-parameters of the wrong structure."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """A learnable update rule for PPO.

    Attributes:
      name: the registry name and the key of its meta-parameters (``meta_params[name]``).
      slot: ``"objective"`` or ``"optimizer"`` (the :class:`PPOConfig` field it fills).
      fn: the slot function (module level, so a config that holds it can be saved).
      init: ``init(key, **options) -> meta_params`` (``{name: {...}}``), the documented start.
      options: the default ``init`` options (static sizes, e.g. ``hidden=16``).
      doc: one line.
    """

    name: str
    slot: str
    fn: Callable
    init: Callable
    options: dict
    doc: str

    def initial(self, key=None, **options) -> dict:
        """The initial meta-parameters with ``options`` over the defaults (unknown options refused)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise RuleError(f"rule {self.name!r} has no option {', '.join(map(repr, unknown))}; its options are: "
                            f"{', '.join(f'{k}={v!r}' for k, v in self.options.items()) or 'none'}")
        return self.init(jax.random.key(0) if key is None else key, **{**self.options, **options})

    def configure(self, config):
        """``config`` with this rule's function in its slot."""
        return config.replace(**{self.slot: self.fn})


RULES: dict[str, Rule] = {
    "lpo": Rule("lpo", "objective", objectives.lpo_objective, objectives.init_lpo, {"hidden": 16},
                "learned drift MLP over ratio/advantage features and progress; initial = PPO's clip"),
    "dpo": Rule("dpo", "objective", objectives.dpo_objective, objectives.init_dpo, {},
                "Lu et al. (2022) closed-form drift; meta-parameters alpha=2, beta=0.6"),
    "lifetime_lr": Rule("lifetime_lr", "optimizer", optimizers.lifetime_lr_optimizer, optimizers.init_lifetime_lr,
                        {"knots": 8}, "learned step-size multiplier over the lifetime, on top of PPO's Adam; initial = Adam"),
    "open": Rule("open", "optimizer", optimizers.open_optimizer, optimizers.init_open, {"hidden": 16},
                 "per-parameter learned optimiser (OPEN-style MLP over gradient, momenta, progress); initial = Adam"),
}

# Hand-designed slot fillers by name (``--objective dpo``, ``--optimizer adam``).
NAMED_SLOTS = {
    "objective": {"ppo": clipped_surrogate, "clip": clipped_surrogate, "dpo": objectives.dpo_objective},
    "optimizer": {"adam": default_optimizer, "default": default_optimizer},
}


def names() -> list[str]:
    return sorted(RULES)


def get_rule(name: str) -> Rule:
    """The rule registered as ``name``; a one-line error listing the rules otherwise."""
    if name not in RULES:
        hint = did_you_mean(str(name), names())
        raise RuleError(f"unknown rule {name!r}{hint}; known rules: {', '.join(names())}")
    return RULES[name]


def structure(tree: Any) -> list[list]:
    """``[[path, shape, dtype], ...]`` of every leaf."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [[jax.tree_util.keystr(p), list(np.shape(x)), str(jnp.asarray(x).dtype)] for p, x in leaves]


def check_meta_params(rule: Rule, meta_params: Any, **options) -> Any:
    """``meta_params`` as float32 arrays if they have the structure of ``rule.initial(**options)``; else RuleError."""
    expected = structure(rule.initial(**options))
    try:
        found = structure(meta_params)
    except Exception as e:  # noqa: BLE001 - anything that is not a pytree of arrays
        raise RuleError(f"meta-params for rule {rule.name!r} are not a pytree of arrays: {e}") from None
    if found != expected:
        exp, got = {p: s for p, s, _ in expected}, {p: s for p, s, _ in found}
        missing, extra = sorted(set(exp) - set(got)), sorted(set(got) - set(exp))
        wrong = [f"{p} has shape {tuple(got[p])}, expected {tuple(exp[p])}" for p in exp if p in got and got[p] != exp[p]]
        dtypes = [f"{p} is {d}, expected {e}" for (p, _, d), (_, _, e) in zip(found, expected) if d != e] if not (missing or extra or wrong) else []
        detail = "; ".join(([f"missing {', '.join(missing)}"] if missing else []) + ([f"unexpected {', '.join(extra)}"] if extra else [])
                           + wrong + dtypes)
        raise RuleError(f"meta-params of the wrong structure for rule {rule.name!r}: {detail}")
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), meta_params)


# ----------------------------------------------------------------------------- saving / loading


def save_rule(path: str, rule: Rule | str, meta_params: Any, options: dict | None = None, info: dict | None = None) -> str:
    """Write ``meta_params`` of ``rule`` to the directory ``path`` (created); returns its absolute path."""
    from jaxrl.checkpoint import write_json_atomic

    rule = get_rule(rule) if isinstance(rule, str) else rule
    options = {**rule.options, **(options or {})}
    meta_params = check_meta_params(rule, jax.device_get(meta_params), **options)
    path = os.path.abspath(path)
    os.makedirs(path, exist_ok=True)
    leaves = jax.tree_util.tree_flatten_with_path(meta_params)[0]
    arrays = {jax.tree_util.keystr(p): np.asarray(x) for p, x in leaves}
    tmp = os.path.join(path, f".{PARAMS_FILE}.tmp-{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, os.path.join(path, PARAMS_FILE))
    write_json_atomic(os.path.join(path, RULE_FILE), {
        "format": FORMAT, "rule": rule.name, "slot": rule.slot, "options": options,
        "structure": structure(meta_params), "info": info or {},
    })
    return path


def load_rule(path: str) -> tuple[Rule, dict, dict]:
    """``(rule, meta_params, record)`` of a saved rule directory (or of a meta run directory holding ``rule/``)."""
    folder = path
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, RULE_FILE)) and os.path.exists(os.path.join(path, "rule", RULE_FILE)):
        folder = os.path.join(path, "rule")
    record_path = os.path.join(folder, RULE_FILE)
    if not os.path.exists(record_path):
        what = "does not exist" if not os.path.exists(path) else f"has no {RULE_FILE} (not a saved rule)"
        raise RuleError(f"learned rule {path} {what}")
    try:
        with open(record_path) as f:
            record = json.load(f)
        rule = get_rule(record["rule"])
        options = dict(record.get("options", {}))
        with np.load(os.path.join(folder, PARAMS_FILE), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except RuleError:
        raise
    except (OSError, ValueError, KeyError) as e:
        raise RuleError(f"learned rule {path} is unreadable: {type(e).__name__}: {e}") from None
    like = rule.initial(**options)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(like)[0]]
    missing = [p for p in paths if p not in arrays]
    if missing or len(arrays) != len(paths):
        extra = sorted(set(arrays) - set(paths))
        raise RuleError(f"meta-params of the wrong structure for rule {rule.name!r} in {path}: "
                        + "; ".join(([f"missing {', '.join(missing)}"] if missing else []) + ([f"unexpected {', '.join(extra)}"] if extra else [])))
    meta_params = jax.tree.unflatten(jax.tree.structure(like), [arrays[p] for p in paths])
    return rule, check_meta_params(rule, meta_params, **options), record


def slot_reference(path: str, slot: str | None = None) -> str:
    """The importable name of a saved rule's slot function, ``"jaxrl.algos.meta.saved:<slot>@<abs path>"``
    (``.`` and ``%`` in the path escaped); checks the rule loads and fills ``slot``."""
    rule, _, _ = load_rule(path)
    if slot is not None and rule.slot != slot:
        raise RuleError(f"learned rule {path} is a {rule.name!r} rule for the {rule.slot} slot, not the {slot} slot")
    folder = os.path.abspath(path)
    if not os.path.exists(os.path.join(folder, RULE_FILE)):
        folder = os.path.join(folder, "rule")
    if "<" in folder:
        raise RuleError(f"learned rule path {folder!r} may not contain '<'")
    return f"jaxrl.algos.meta.saved:{rule.slot}@{folder.replace('%', '%25').replace('.', '%2E')}"


def resolve_slot(slot: str, value: str) -> str:
    """A command-line ``--objective`` / ``--optimizer`` value -> a ``"module:name"`` for the config:
    a hand-designed name (``ppo``, ``dpo``; ``adam``) or the path of a saved rule."""
    from jaxrl.configs import _callable_name

    named = NAMED_SLOTS[slot]
    if value in named:
        return _callable_name(named[value])
    if os.path.exists(value):
        return slot_reference(value, slot)
    raise RuleError(f"--{slot} {value!r} is neither a saved rule directory nor a known {slot} "
                    f"({', '.join(named)}); learned rules are saved by `jaxrl meta es` as RUN_DIR/rule")
