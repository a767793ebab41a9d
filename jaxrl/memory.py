"""Will a run fit the device? An estimate from the state's shapes, checked before anything compiles.

A compiled chunk of updates takes the training state in and gives a new one out, so a run needs
about twice its state (replay buffers included) on each device, plus the program's working memory.
:func:`check_fits` refuses a run (or a sweep's runs on one device) whose state would not fit, with
one line that names the estimate and its largest part.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import jax
import numpy as np

from jaxrl.configs import ConfigError

GIB = 2**30


class MemoryEstimateError(ConfigError):
    """The state of a run (times the runs per device) would not fit the device's memory."""


def tree_bytes(tree: Any) -> int:
    """Bytes of a pytree of arrays or shape structs (typed PRNG keys count their key data)."""
    total = 0
    for x in jax.tree.leaves(tree):
        dtype = x.dtype
        size = 8 if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) else np.dtype(dtype).itemsize
        total += math.prod(x.shape) * size
    return int(total)


def largest_part(tree: Any) -> tuple[str, int]:
    """``(name, bytes)`` of the biggest top-level field of a state (e.g. ``"replay"``)."""
    parts = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = jax.tree_util.keystr(path[:1]).lstrip(".") or "state"
        parts[name] = parts.get(name, 0) + tree_bytes(leaf)
    return max(parts.items(), key=lambda kv: kv[1]) if parts else ("state", 0)


def _host_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def available_bytes(device: jax.Device) -> int | None:
    """Free memory of ``device`` (an accelerator's ``bytes_limit - bytes_in_use``; the host's available
    RAM for a CPU device); None when unknown."""
    if device.platform != "cpu":
        try:
            stats = device.memory_stats() or {}
        except Exception:  # noqa: BLE001 - some plugins do not implement it
            stats = {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return None
    return _host_available()


def check_fits(state_shapes: Any, runs: int = 1, devices: Sequence[jax.Device] | None = None, what: str = "the run") -> int:
    """Raise :class:`MemoryEstimateError` if ``runs`` states shaped like ``state_shapes`` (one run's,
    e.g. ``jax.eval_shape(trainer.init, key, hparams)``) split over ``devices`` need more than the
    devices have; returns the estimate per device in bytes. CPU devices share the host's RAM, so
    their needs add up."""
    devices = list(devices) if devices is not None else jax.devices()[:1]
    one = tree_bytes(state_shapes)
    per_device = 2 * one * -(-runs // len(devices))  # a chunk's input state and its output state
    cpu = devices[0].platform == "cpu"
    need = per_device * (len(devices) if cpu else 1)
    free = available_bytes(devices[0])
    if free is not None and need > free:
        part, part_bytes = largest_part(state_shapes)
        where = "the host's available RAM" if cpu else f"{devices[0].device_kind}'s free memory"
        raise MemoryEstimateError(
            f"{what} would need about {need / GIB:.1f} GiB ({runs} run(s) x {one / GIB:.2f} GiB of state, of which {part} "
            f"{part_bytes / GIB:.2f} GiB, x 2 for a chunk's input and output) but {where} is {free / GIB:.1f} GiB: "
            f"lower buffer_size, num_envs or the number of runs")
    return per_device
