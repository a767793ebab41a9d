"""Shared by the benchmark scripts: the facts recorded beside every figure.

The scripts run as ``python benchmarks/<name>.py``, so this folder is on
``sys.path`` and they ``from common import machine_info``.
"""

from __future__ import annotations

import datetime
import statistics
import os
import platform
import subprocess
import sys
import time
from importlib import metadata

import jax


def _lscpu_field(name: str) -> str | None:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def _simd_flags() -> list[str] | None:
    """The CPU's vector-instruction flags (``lscpu``: x86 sse*, avx*, fma, amx*; Arm asimd*, sve*, sme*), or None."""
    flags = _lscpu_field("Flags")
    prefixes = ("sse", "avx", "fma", "amx", "asimd", "sve", "sme")
    return None if flags is None else sorted(f for f in flags.split() if f.startswith(prefixes))


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "cpu_model": _lscpu_field("Model name"),
        # XLA:CPU picks kernels by these (AVX-512 machines round differently: compare fingerprints on one machine)
        "cpu_simd_flags": _simd_flags(),
        "cpu_count": os.cpu_count(),
        "mem_total_gib": _mem_total_gib(),
        "loadavg_at_start": load,
        "platform": platform.platform(),
        "jax_backend": jax.default_backend(),
        "jax_compilation_cache_dir": jax.config.jax_compilation_cache_dir,  # None: every compile is real
        "jax_devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,  # e.g. "cpu", "NVIDIA H100 80GB HBM3"
        "versions": {
            "python": platform.python_version(),
            **{d: _version(d) for d in ("jax", "jaxlib", "mujoco", "mujoco-mjx", "flax", "optax", "numpy")},
        },
    }




def loadavg() -> tuple | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def write_json(path: str | None, doc: dict) -> None:
    """Write the script's JSON document to ``path`` (nothing when ``path`` is None)."""
    if path:
        import json

        with open(path, "w") as f:
            json.dump(doc, f, indent=1, default=str)


def physics_settings(mj_model, n_substeps: int) -> dict:
    """What decides a MuJoCo model's per-step work beside its geometry: timestep, integrator,
    physics steps per env step, Newton / line-search caps, implicit damping in Euler
    (``eulerdamp``) and MJX's contact caps (the ``max_contact_points`` / ``max_geom_pairs``
    custom numerics, -1 when absent). Shared by benchmarks/envs.py and its Playground peer script."""
    import mujoco

    def numeric(name: str) -> int:
        i = mujoco.mj_name2id(mj_model, mujoco.mjtObj.mjOBJ_NUMERIC, name)
        return int(mj_model.numeric_data[mj_model.numeric_adr[i]]) if i >= 0 else -1

    opt = mj_model.opt
    return {"timestep": float(opt.timestep), "integrator": int(opt.integrator), "n_substeps": int(n_substeps),
            "iterations": int(opt.iterations), "ls_iterations": int(opt.ls_iterations),
            "eulerdamp": not opt.disableflags & mujoco.mjtDisableBit.mjDSBL_EULERDAMP,
            "max_contact_points": numeric("max_contact_points"), "max_geom_pairs": numeric("max_geom_pairs")}


def time_program(fn, args, repeats: int) -> dict:
    """Compile ``jax.jit(fn)`` for ``args`` (timed), then run it ``repeats`` times: median run seconds."""
    t = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - t)
    return {"compile_s": compile_s, "run_s": statistics.median(runs), "runs_s": runs}


def learner_speed(trainer, hparams, updates: int, repeats: int, keys=None) -> dict:
    """A replay learner's cost: compile seconds of a chunk of ``updates`` updates
    (``jit(trainer.run_updates)``, the program the runner calls), env steps per second of that chunk
    once past the random prefill (median of ``repeats`` calls), and the state's bytes (all of it, and
    the replay buffer's). ``keys``: init's key (default ``key(0)``; ``[R]`` keys for a
    :func:`jaxrl.trainer.vmapped` trainer, whose hparams leaves are ``[R]``)."""
    import numpy as np

    from jaxrl import memory

    state = jax.jit(trainer.init)(jax.random.key(0) if keys is None else keys, hparams)
    t0 = time.perf_counter()
    chunk = jax.jit(lambda s: trainer.run_updates(s, updates)).lower(state).compile()
    compile_s = time.perf_counter() - t0
    while np.min(state.update_step) < trainer.config.warmup_updates + 1:  # past the random prefill: learning
        state = jax.block_until_ready(chunk(state)[0])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state = jax.block_until_ready(chunk(state)[0])
        times.append(time.perf_counter() - t0)
    return {"compile_s": compile_s, "env_steps_per_s": updates * trainer.steps_per_update / statistics.median(times),
            "runs_s": times, "state_bytes": memory.tree_bytes(state), "replay_bytes": memory.tree_bytes(state.replay)}
