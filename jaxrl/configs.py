"""Configs as data: dataclass <-> JSON, ``--set name=value`` parsing, field help.

An algorithm has a STATIC config (a frozen dataclass: changing a field
recompiles) and TRACED hyperparameters (a ``flax.struct`` dataclass: a sweep
vmaps over them). This module treats both generically, so every algorithm's
fields are settable from the command line and saved in a run directory:

- :func:`to_dict` / :func:`from_dict`: JSON-safe round trip. Tuples stay
  tuples; callables (the objective / optimizer slots) are saved as
  ``"module:qualname"`` and looked up back in jaxrl's registry of slot functions
  (:func:`register`): a name read from a run file or the command line can only
  select a function jaxrl registered, never import other code, unless the caller
  passes ``trust_code=True`` (``--trust-code`` on the command line).
- :func:`parse_sets`: ``["lr=3e-4", "hidden_sizes=64,64"]`` -> changes for the
  config and the hparams, each value parsed by the type of the field's default;
  unknown names and malformed values raise :class:`ConfigError` naming the
  field and listing the fields that exist.
- :func:`field_docs` / :func:`help_text`: one line per field (static or traced,
  default, the docstring's description) for ``jaxrl train --help``.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import math
import re
from typing import Any, Callable

import numpy as np


def did_you_mean(name: Any, known) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``known`` to ``name``, or ``""``: for error messages."""
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""

class ConfigError(ValueError):
    """A config or hyperparameter name or value is invalid (raised before anything compiles)."""


def as_traced(value: Any, cls, what: str, error: type[Exception] = None):
    """``value`` (a ``cls`` pytree dataclass, a dict of some of its fields, or None for the defaults)
    as ``cls`` with float32 array leaves; ``error`` (default :class:`ConfigError`) names unknown fields."""
    import jax
    import jax.numpy as jnp

    error = error or ConfigError
    known = [f.name for f in dataclasses.fields(cls)]
    if value is None:
        value = cls()
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise error(f"unknown {what}(s) {unknown}; the {what}s are: {', '.join(known)}")
        value = cls(**value)
    if not isinstance(value, cls):
        raise error(f"{what}s must be a {cls.__name__} or a dict of {', '.join(known)}, got {type(value).__name__}")
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), value)


MAX_COUNT = 2**31 - 1  # counters (updates, env steps, buffer slots) are int32 in the compiled program
MAX_SEED = 2**32 - 1  # JAX (without x64) takes a seed modulo 2**32: a larger one would repeat a smaller one's numbers


def check_positive_ints(obj: Any, names) -> None:
    """Raise :class:`ConfigError` unless each field ``names`` of the config ``obj`` is an int in
    ``[1, MAX_COUNT]`` (counts are int32 inside the compiled program)."""
    import numpy as np

    for name in names:
        v = getattr(obj, name)
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"{type(obj).__name__}.{name} must be a positive integer, got {v!r}")
        if v > MAX_COUNT:
            raise ConfigError(f"{type(obj).__name__}.{name} must be at most {MAX_COUNT} (counts are int32 in the compiled "
                              f"program), got {v!r}")


def check_positive_floats(obj: Any, names) -> None:
    """Raise :class:`ConfigError` unless each field ``names`` of the config ``obj`` is a finite real
    number > 0 (an Adam eps, a scale; not a bool)."""
    for name in names:
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise ConfigError(f"{type(obj).__name__}.{name} must be > 0, got {v!r}")


def check_count(obj: Any, what: str, value: int) -> None:
    """Raise :class:`ConfigError` if a derived count of the config ``obj`` (e.g. its optimiser steps,
    a product of fields) does not fit the int32 counters of the compiled program."""
    if value > MAX_COUNT:
        raise ConfigError(f"{type(obj).__name__}: {what} (= {value:,}) is more than {MAX_COUNT:,} (counters are int32 in "
                          "the compiled program): fewer steps, or larger batches")


def check_mlp(obj: Any) -> None:
    """A config's network fields: ``hidden_sizes`` (made a tuple) of positive ints and a known ``activation``."""
    import numpy as np

    from jaxrl.networks import ACTIVATIONS

    name = type(obj).__name__
    object.__setattr__(obj, "hidden_sizes", tuple(obj.hidden_sizes))
    if not obj.hidden_sizes or any(not isinstance(h, (int, np.integer)) or isinstance(h, bool) or h < 1 for h in obj.hidden_sizes):
        raise ConfigError(f"{name}.hidden_sizes must be positive integers, got {obj.hidden_sizes!r}")
    if obj.activation not in ACTIVATIONS:
        raise ConfigError(f"{name}.activation {obj.activation!r} is unknown; choose one of {', '.join(ACTIVATIONS)}")


def check_int_tuples(obj: Any, names) -> None:
    """Each field ``names`` of the config ``obj`` made a tuple; a :class:`ConfigError` unless it is a
    non-empty tuple of positive integers (layer widths, kernel sizes, strides)."""
    for name in names:
        value = tuple(getattr(obj, name))
        object.__setattr__(obj, name, value)
        if not value or any(not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1 for v in value):
            raise ConfigError(f"{type(obj).__name__}.{name} must be a non-empty tuple of positive integers, got {value!r}")


def check_conv(obj: Any) -> None:
    """A config's CNN fields ``conv_channels``, ``conv_kernels``, ``conv_strides``: tuples of positive
    integers with one entry per layer (:class:`jaxrl.networks.ConvEncoder`)."""
    check_int_tuples(obj, ("conv_channels", "conv_kernels", "conv_strides"))
    if not len(obj.conv_channels) == len(obj.conv_kernels) == len(obj.conv_strides):
        raise ConfigError(f"{type(obj).__name__}.conv_channels, conv_kernels and conv_strides must have one entry per layer")


# The ranges of traced hyperparameters, ``(lo, hi, closed_below)`` as :func:`check_ranges` reads them.
POSITIVE = (0.0, math.inf, False)  # > 0: learning rates, gradient clips, scales
NONNEG = (0.0, math.inf, True)  # >= 0: loss coefficients, noise scales
UNIT = (0.0, 1.0, True)  # [0, 1]: discounts, lambdas, probabilities
RATE = (0.0, 1.0, False)  # (0, 1]: Polyak rates, fractions of a run
REAL = (-math.inf, math.inf, True)  # any finite value
EPSILON_SCHEDULE = {"eps_start": UNIT, "eps_end": UNIT, "eps_decay": RATE}  # DQN-style exploration (DQN, PQN)


def hparams_functions(cls, ranges: dict, algo: str):
    """An algorithm's ``(default_hparams, as_hparams, validate_hparams)`` for its traced hparams class
    ``cls`` with ``ranges`` (see :func:`check_ranges`)."""

    def default_hparams():
        """The default hyperparameters (Python floats)."""
        return cls()

    def as_hparams(hparams):
        """A ``cls`` or a dict of its fields (missing ones take defaults; None: all defaults) -> float32 leaves."""
        return as_traced(hparams, cls, f"{algo} hyperparameter")

    def validate_hparams(hparams, batch_shape=None):
        """Check concrete values (every element of a batch) are in range; :class:`ConfigError` otherwise."""
        hp = as_hparams(hparams)
        check_ranges(hp, ranges, algo, batch_shape)
        return hp

    return default_hparams, as_hparams, validate_hparams


def check_ranges(hparams: Any, ranges: dict, algo: str, batch_shape: tuple[int, ...] | None = None) -> None:
    """Raise :class:`ConfigError` if a concrete hyperparameter (every element of a batch) is outside
    its range. ``ranges``: ``name -> (lo, hi, closed_below)``; values must be finite, ``<= hi`` and
    ``>= lo`` (``> lo`` unless ``closed_below``). Traced values are skipped."""
    import jax
    import numpy as np

    for name, (lo, hi, closed) in ranges.items():
        x = getattr(hparams, name)
        if isinstance(x, jax.core.Tracer):
            continue
        x = np.asarray(x)
        if batch_shape is not None and x.shape != tuple(batch_shape):
            raise ConfigError(f"{algo} hyperparameter {name} has shape {x.shape}, expected {tuple(batch_shape)}")
        ok = np.isfinite(x) & (x >= lo if closed else x > lo) & (x <= hi)
        if not np.all(ok):
            bound = f"{'[' if closed else '('}{lo}, {hi}]"
            raise ConfigError(f"{algo} hyperparameter {name}={float(x[~ok].ravel()[0]):.6g} is out of range {bound}")


def _callable_name(fn: Callable) -> str:
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise ConfigError(f"cannot save the callable {fn!r} in a config: it has no importable name (use a module-level function)")
    return f"{module}:{qualname}"


_REGISTERED: dict[str, Callable] = {}


def register(fn: Callable, name: str | None = None) -> Callable:
    """Let configs read from files select ``fn`` by its name ``"module:qualname"`` (a decorator).

    jaxrl registers its slot functions (PPO's objectives, the default optimiser, learned rules,
    saved rules); an algorithm's callable defaults are accepted by name as well. Any other
    ``module:name`` in a run file or a ``--set`` is refused unless the caller trusts the code.
    """
    _REGISTERED[name or _callable_name(fn)] = fn
    return fn


def registered() -> list[str]:
    """The names of the registered slot functions (those imported so far)."""
    return sorted(_REGISTERED)


def _untrusted(text: str, where: str) -> ConfigError:
    return ConfigError(
        f"{where} names the function {text!r}, which is not one of jaxrl's registered functions "
        f"({', '.join(registered())}); a config read from a file or the command line cannot run other code. "
        "If you trust it, pass --trust-code (Python: trust_code=True), which imports and runs it")


def _import_callable(text: str, trust_code: bool = False, where: str = "a config field") -> Callable:
    """``"module:qualname"`` -> the callable. Untrusted: only jaxrl's own modules are imported, and
    only a function :func:`register` made known is returned."""
    module, _, qualname = text.partition(":")
    if not module or not qualname:
        raise ConfigError(f"{where} expects a callable as 'module:name', got {text!r}")
    if not trust_code and text in _REGISTERED:
        return _REGISTERED[text]
    if not trust_code and module != "jaxrl" and not module.startswith("jaxrl."):
        raise _untrusted(text, where)  # before importing anything
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"{where}: cannot import {text!r}: {e}") from None
    if not trust_code and _REGISTERED.get(text) is not obj:
        raise _untrusted(text, where)
    if not callable(obj):
        raise ConfigError(f"{where}: {text!r} is not callable")
    return obj


def _to_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if callable(value):
        return _callable_name(value)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    return value


def to_dict(obj: Any) -> dict[str, Any]:
    """JSON-safe dict of a config/hparams dataclass (callables as ``"module:name"``)."""
    return {f.name: _to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _defaults(cls) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls)}


_SCALARS = {"int": int, "float": float, "str": str, "bool": bool}


def _optional_kind(cls, name: str) -> type | None:
    """The scalar type of a field annotated ``X | None`` (``int | None`` -> ``int``; ``object`` for a
    non-scalar ``X``), or None when the field is not optional."""
    parts = [p.strip() for p in str({f.name: f.type for f in dataclasses.fields(cls)}[name]).split("|")]
    if "None" not in parts:
        return None
    kinds = [_SCALARS.get(p, object) for p in parts if p != "None"]
    return kinds[0] if len(kinds) == 1 else object


def _coerce(cls, name: str, value: Any, trust_code: bool = False) -> Any:
    """A JSON value or a command-line string -> the type of the field's default (a field annotated
    ``X | None`` also takes ``None`` / ``"none"`` / ``"null"``, and ``X`` where its default is None)."""
    default = _defaults(cls)[name]
    where = f"{cls.__name__}.{name}"
    optional = _optional_kind(cls, name)
    if optional is not None:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
            return None
        if default is None:
            if optional is object:
                return value
            try:
                return _bool(value) if optional is bool else _scalar(optional, value)
            except (ValueError, TypeError, OverflowError):
                raise ConfigError(f"{where} expects {optional.__name__} or None, got {value!r}") from None
    if callable(default):
        if callable(value):
            return value
        if not isinstance(value, str):
            raise ConfigError(f"{where} expects a callable as 'module:name', got {value!r}")
        if value == _to_json(default):
            return default
        return _import_callable(value, trust_code, where)
    if isinstance(default, bool):
        try:
            return _bool(value)
        except ValueError:
            raise ConfigError(f"{where} expects true/false, got {value!r}") from None
    if isinstance(default, tuple):
        items = value if isinstance(value, (list, tuple)) else [v for v in str(value).replace(" ", "").split(",") if v]
        kind = type(default[0]) if default else str
        try:
            return tuple(_scalar(kind, v) for v in items)
        except (ValueError, TypeError, OverflowError):
            raise ConfigError(f"{where} expects a comma-separated list of {kind.__name__}, got {value!r}") from None
    try:
        return _scalar(type(default), value)
    except (ValueError, TypeError, OverflowError):
        raise ConfigError(f"{where} expects {type(default).__name__}{' or None' if optional else ''}, got {value!r}") from None


def _scalar(kind: type, value: Any) -> Any:
    if kind is int:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, str):
            text = value.strip().replace("_", "")
            number = float(text) if re.fullmatch(r"[0-9.]+e[0-9]+", text.lower()) else int(text)
        else:
            number = value
        if float(number) != int(number):
            raise ValueError(value)
        return int(number)
    if kind is float:
        if isinstance(value, bool) or not math.isfinite(float(value)):
            raise ValueError(value)  # NaN and inf are never a setting (an unset bound is a field's None)
        return float(value)
    if kind is str:
        return str(value)
    return value


def legacy_defaults(cls) -> dict[str, Any]:
    """Fields added to ``cls`` after runs were saved, each with the value that reproduces those runs
    (the class's ``LEGACY_DEFAULTS``, e.g. TD-MPC2's ``init_std: None``, its init before the field)."""
    return dict(getattr(cls, "LEGACY_DEFAULTS", {}))


def with_legacy_fields(cls, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with :func:`legacy_defaults` filled in when it is a complete saved config from before
    those fields existed: it names every field of ``cls`` but some legacy ones (a run's ``run.json``
    records every field). A partial config (only the changed fields) is returned as it is: its
    missing fields take today's defaults."""
    legacy = legacy_defaults(cls)
    missing = {f.name for f in dataclasses.fields(cls)} - set(data)
    if data and missing and missing <= set(legacy):
        return {**data, **{k: legacy[k] for k in sorted(missing)}}
    return data


def from_dict(cls, data: dict[str, Any], base: Any = None, trust_code: bool = False):
    """Build ``cls`` from a (JSON) dict; missing fields take ``base``'s values or the defaults.

    Raises :class:`ConfigError` for an unknown field or a value of the wrong type. A callable
    field named as ``"module:name"`` must be a registered function (:func:`register`) unless
    ``trust_code`` (then any importable function is imported).
    """
    known = _defaults(cls)
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{cls.__name__} has no field {', '.join(map(repr, unknown))}; its fields are: {', '.join(known)}")
    values = {k: getattr(base, k) for k in known} if base is not None else dict(known)
    values.update({k: _coerce(cls, k, v, trust_code) for k, v in data.items()})
    return cls(**values)


def parse_sets(sets: list[str], config_cls, hparams_cls, trust_code: bool = False) -> tuple[dict, dict]:
    """``["name=value", ...]`` -> ``(config_changes, hparams_changes)``, each value parsed.

    A name may be qualified (``config.num_envs``, ``hparams.lr``) when both have it. A callable
    field takes a registered function's name (or, with ``trust_code``, any ``module:name``).
    """
    config_fields, hparam_fields = _defaults(config_cls), _defaults(hparams_cls)
    config_changes, hparam_changes = {}, {}
    for item in sets:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--set expects name=value, got {item!r}")
        scope, _, bare = name.rpartition(".")
        if scope in ("config", "") and bare in config_fields:
            config_changes[bare] = _coerce(config_cls, bare, value, trust_code)
        elif scope in ("hparams", "") and bare in hparam_fields:
            hparam_changes[bare] = _coerce(hparams_cls, bare, value, trust_code)
        else:
            every = list(config_fields) + list(hparam_fields)
            hint = did_you_mean(bare, every)
            raise ConfigError(
                f"unknown field {name!r}{hint}; static config fields: {', '.join(config_fields)}; "
                f"traced hyperparameters: {', '.join(hparam_fields)}"
            )
    return config_changes, hparam_changes


def field_docs(cls) -> dict[str, str]:
    """``name -> description`` from the ``Attributes:`` sections of the class's docstring and its
    bases' (a field documented by a base class, e.g. the shared off-policy fields, keeps its text)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is not object and "__doc__" in vars(klass):
            docs.update(_attribute_docs(inspect.cleandoc(klass.__doc__ or "")))
    return docs


def _attribute_docs(doc: str) -> dict[str, str]:
    docs, current = {}, None
    in_attrs = False
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            in_attrs = True
            continue
        if not in_attrs:
            continue
        m = re.match(r"^  (\w+): (.*)$", line)
        if m:
            current = m.group(1)
            docs[current] = m.group(2).strip()
        elif current and line.startswith("    "):
            docs[current] += " " + line.strip()
        elif line.strip() and not line.startswith(" "):
            break
    return docs


def help_text(config_cls, hparams_cls, width: int = 100) -> str:
    """The ``--set`` fields of an algorithm, one block per field, for ``--help``."""
    lines = []
    for cls, kind in ((config_cls, "static: recompiles"), (hparams_cls, "traced: sweepable, no recompile")):
        lines.append(f"{cls.__name__} ({kind}):")
        docs = field_docs(cls)
        for name, default in _defaults(cls).items():
            shown = _to_json(default)
            if isinstance(shown, list):
                shown = ",".join(map(str, shown))
            text = docs.get(name, "")
            first = text.split(". ")[0].rstrip(".")
            lines.append(f"  {name}={shown}")
            if first:
                lines.append(f"      {first[: width - 6]}")
    return "\n".join(lines)


def parse_options(items: list[str], defaults: dict[str, Any], what: str) -> dict[str, Any]:
    """``["name=value", ...]`` -> ``{name: value}`` typed like ``defaults[name]`` (e.g. env options)."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"expected name=value, got {item!r}")
        if name not in defaults:
            raise ConfigError(f"{what} has no option {name!r}; its options are: {', '.join(f'{k}={v!r}' for k, v in defaults.items()) or 'none'}")
        default = defaults[name]
        try:
            if isinstance(default, bool):
                out[name] = _bool(value)
            elif isinstance(default, (int, float, str)):
                out[name] = _scalar(type(default), value)
            else:
                out[name] = value
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{what} option {name} expects {type(default).__name__}, got {value!r}") from None
    return out


def _bool(value: Any) -> bool:
    """``true/false, yes/no, on/off, 1/0`` (any case) -> bool; anything else is a ValueError."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named setting of an algorithm (``algo.presets()[name]``; ``jaxrl train ALGO --preset NAME``).

    Attributes:
      config: static config fields that differ from the defaults.
      hparams: traced hyperparameters that differ from the defaults.
      env: the env (and ``env_options``) the preset was made for; ``None``: any.
      about: one line: what it is for and what it costs.
    """

    config: dict = dataclasses.field(default_factory=dict)
    hparams: dict = dataclasses.field(default_factory=dict)
    env: str | None = None
    env_options: dict = dataclasses.field(default_factory=dict)
    about: str = ""

    def build(self, config_cls, hparams_cls):
        """``(config, hparams)`` instances with the preset's values."""
        return from_dict(config_cls, self.config), from_dict(hparams_cls, self.hparams)
