"""Validation of registry factory options (a clear error before anything compiles)."""

from __future__ import annotations

import numbers


from jaxrl.configs import MAX_COUNT  # step counters are int32 inside the compiled program


def positive_int(name: str, value) -> int:
    """``value`` as an int, or ValueError unless it is an integer from 1 to 2**31 - 1 (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if int(value) > MAX_COUNT:
        raise ValueError(f"{name} must be at most {MAX_COUNT} (counts are int32 in the compiled program), got {value!r}")
    return int(value)
