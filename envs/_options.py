"""Validation of registry factory options (a clear error before anything compiles)."""

from __future__ import annotations

import numbers


def positive_int(name: str, value) -> int:
    """``value`` as an int, or ValueError unless it is an integer >= 1 (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)
