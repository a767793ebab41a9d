"""Traced programs kept across processes: a repeated ``jaxrl train`` skips tracing and lowering.

JAX's persistent compilation cache skips the XLA compile of a program it has seen, but every new
process still traces the Python (the env stack, the networks, the losses) and lowers it to
StableHLO before it can even look the program up: about 4.5 s of the default command's 5 s warm
start on a 2-core CPU. Here a program is exported once (``jax.export``: its StableHLO and its
input and output signatures) into a file, and a later process with the same program key
deserializes it and compiles it (a hit in the compilation cache) without tracing it: only a thin
wrapper around the stored module is lowered (about 0.2 s for the default command's training
program), and the runner traces ``init`` abstractly (``eval_shape``) for the state's structure.

    program = program_cache.lowered(directory, key, fn, args)   # None: trace as usual
    out = program.compile()(*args)                               # == jax.jit(fn)(*args)

What decides whether a file may be reused, all hashed into its name:

- ``key``: what the caller's program depends on besides its inputs' shapes (the run's config,
  env and options; :meth:`jaxrl.experiment.Built.program_key`);
- every file of jaxrl's own packages (the core, ``jaxrl.envs`` with its MJCF models,
  ``jaxrl.algos``), the versions of jax, jaxlib and the libraries a program is traced from, the
  JAX settings that change a trace, the backend and device kind;
- the inputs' tree structure (with static fields) and their shapes and dtypes.

So an edit of an installed jaxrl file is a new key; a function replaced in memory at run time
(monkeypatching) is not seen. Callables from outside jaxrl in a config, and saved learned rules
(their meta-parameters are constants of the program), turn the cache off for that run
(:meth:`jaxrl.experiment.Built.program_key`).

Numbers: the first process compiles the deserialized export too, so the first and every later
run compile the same module; ``tests/test_program_cache.py`` checks that both equal plain
``jax.jit``, bit for bit.

Used on the CPU backend only (verified there; elsewhere ``lowered`` returns None and the caller
traces). An exported program calls LAPACK through custom calls that jaxlib registers only when it
lowers a linear-algebra op; :func:`_prepare_custom_calls` registers them first (without that, a
fresh process crashes in the first call), and a program with any other custom call is not kept.
A file that fails its checksum (over the program and what is stored beside it) or does not load
is ignored and rewritten; any other failure of the cache warns and traces, never fails the run.

**Bounded.** A program loaded is marked used (its file's mtime); after each program written, the
least recently used are removed until the folder holds at most :func:`program_limit_bytes`
(``JAXRL_CACHE_MAX_MB`` / 8: 256 MiB by default), with temporary files that a killed writer left
behind (older than an hour). So the files of configs, jaxrl versions and libraries no longer run
go first. The ``jaxrl`` command bounds JAX's compilation cache beside it by the whole
``JAXRL_CACHE_MAX_MB`` as it starts (:func:`prune_compiled`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import time
import warnings
from typing import Callable

import jax

FORMAT = 1
LIBRARIES = ("jax", "jaxlib", "flax", "optax", "chex", "numpy", "mujoco", "mujoco-mjx", "brax", "gymnax")
# JAX settings that cannot change a traced program (where caches and logs go); every other one is in the key
_UNTRACED_FLAG = re.compile(r"cache|log|traceback|profil|explain")
DEFAULT_LIMIT_MB = 2048  # JAXRL_CACHE_MAX_MB's default: the compiled programs' bound (JAX's cache)
PROGRAM_SHARE = 8  # the traced programs' folder may take 1 / PROGRAM_SHARE of it
STALE_S = 3600.0  # a temporary file this old was left by a killed writer
_TMP_PREFIX = ".jaxprog-tmp-"  # the cache's temporary files (a write in progress)
_CUSTOM_CALL = re.compile(r'(?:custom_call\s*@|call_target_name\s*=\s*")([A-Za-z0-9_.]+)')


def environment_digest() -> str | None:
    """A digest of jaxrl's package files, the libraries' versions, the JAX settings that shape a
    trace and the device; None when a package file cannot be read (then nothing is kept or loaded).
    The settings are read at every call: a process may change one (e.g. ``jax_enable_x64``) between runs."""
    installed = _installed_digest()
    if installed is None:
        return None
    h = hashlib.sha256(installed.encode())
    for flag, value in sorted(jax.config.values.items()):
        if not _UNTRACED_FLAG.search(flag):
            h.update(f"{flag}={value!r}".encode())
    device = jax.devices()[0]
    h.update(f"{device.platform} {device.device_kind} {jax.device_count()}".encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _installed_digest() -> str | None:
    """jaxrl's package files and the libraries' versions (read once per process)."""
    import importlib.metadata as md
    import platform

    import jaxrl
    import jaxrl.algos
    import jaxrl.envs

    h = hashlib.sha256(f"format {FORMAT} python {platform.python_version()}".encode())
    files = set()
    for package in (jaxrl, jaxrl.envs, jaxrl.algos):
        root = os.path.dirname(os.path.realpath(package.__file__))
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            files.update(os.path.join(folder, n) for n in names if not n.endswith((".pyc", ".pyo")))
    for path in sorted(files):
        try:
            with open(path, "rb") as f:
                h.update(path.encode() + b"\0" + hashlib.sha256(f.read()).digest())
        except OSError:  # a broken link (an editor's lock file), a file removed meanwhile
            return None
    for dist in LIBRARIES:
        try:
            h.update(f"{dist}={md.version(dist)}".encode())
        except md.PackageNotFoundError:
            h.update(f"{dist}=-".encode())
    return h.hexdigest()


def limit_bytes() -> int | None:
    """The bound of jaxrl's caches in bytes, from ``JAXRL_CACHE_MAX_MB`` (MiB, default 2048, at least
    1); None for ``unlimited`` (or ``-1``). Anything else is a ``ValueError`` naming the variable."""
    text = os.environ.get("JAXRL_CACHE_MAX_MB", "").strip()
    if not text:
        return DEFAULT_LIMIT_MB << 20
    if text.lower() in ("unlimited", "-1"):
        return None
    try:
        mb = float(text)
    except ValueError:
        mb = float("nan")
    if not 1 <= mb < float("inf"):
        raise ValueError(f"JAXRL_CACHE_MAX_MB={text!r}: give the caches' bound in MiB (at least 1), or 'unlimited'")
    return int(mb * 2**20)


def program_limit_bytes() -> int | None:
    """The traced programs' share of :func:`limit_bytes` (None: unbounded)."""
    limit = limit_bytes()
    return None if limit is None else limit // PROGRAM_SHARE


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:  # removed meanwhile by another process, or not ours to remove
        pass


def _evict(entries: list[tuple[float, str, list[str], int]], max_bytes: int | None, keep: str | None = None) -> list[str]:
    """Remove ``entries`` ``(last use, path, companion paths, bytes)``, least recently used first, until
    the rest take at most ``max_bytes``; never ``keep``, nor a file whose mtime moved since it was
    listed (another process rewrote or used it meanwhile). Returns the paths removed."""
    total, removed = sum(e[3] for e in entries), []
    for used, path, companions, size in sorted(entries):
        if max_bytes is None or total <= max_bytes:
            break
        try:
            if path == keep or os.stat(path).st_mtime > used:
                continue
        except OSError:  # gone already
            total -= size
            continue
        for p in (path, *companions):
            _unlink(p)
        removed.append(path)
        total -= size
    return removed


def _listing(directory: str) -> dict[str, os.stat_result]:
    """``{name: stat}`` of ``directory``'s files (empty when it cannot be read)."""
    out = {}
    try:
        with os.scandir(directory) as it:
            for e in it:
                try:
                    out[e.name] = e.stat()
                except OSError:
                    pass
    except OSError:
        pass
    return out


def prune(directory: str, max_bytes: int | None, keep: str | None = None) -> list[str]:
    """Bound a folder of exported programs: the least recently used (file mtime: a load marks a
    program used) go until the programs and their JSON take at most ``max_bytes``, never ``keep``;
    the cache's temporary files and orphaned JSON files older than :data:`STALE_S` go too. Returns
    the programs removed."""
    files, now, entries = _listing(directory), time.time(), []
    for name, info in files.items():
        path = os.path.join(directory, name)
        orphan = name.endswith(".jaxprog.json") and name[:-5] not in files
        if (name.startswith(_TMP_PREFIX) or orphan) and now - info.st_mtime > STALE_S:
            _unlink(path)
        elif name.endswith(".jaxprog"):
            meta = files.get(name + ".json")
            entries.append((info.st_mtime, path, [path + ".json"], info.st_size + (meta.st_size if meta else 0)))
    return _evict(entries, max_bytes, keep)


def prune_compiled(directory: str, max_bytes: int | None) -> list[str]:
    """Bound JAX's persistent compilation cache (``<key>-cache`` files, with ``<key>-atime`` where JAX
    kept a last use): the least recently written or used entries go until the rest take at most
    ``max_bytes``. ``jaxrl`` calls it as a command starts (:func:`jaxrl.cli._setup_compilation_cache`),
    so a folder may exceed the bound by what one run writes. Returns the entries removed."""
    files, entries = _listing(directory), []
    for name, info in files.items():
        if name.endswith("-cache"):
            key = name[: -len("-cache")]
            used = info.st_mtime
            try:
                with open(os.path.join(directory, f"{key}-atime"), "rb") as f:
                    used = max(used, int.from_bytes(f.read(8), "little") / 1e9)
            except (OSError, ValueError):
                pass
            entries.append((used, os.path.join(directory, name), [os.path.join(directory, f"{key}-atime")], info.st_size))
    return _evict(entries, max_bytes)


def usable() -> bool:
    """Whether exported programs are used on this backend (the CPU only: verified there)."""
    return jax.default_backend() == "cpu"


def _abstract(x) -> jax.ShapeDtypeStruct:
    """The shape, dtype and weak type of an array, a Python scalar or a ``ShapeDtypeStruct``."""
    a = x if isinstance(x, jax.ShapeDtypeStruct) else jax.typeof(x)
    return jax.ShapeDtypeStruct(a.shape, a.dtype, weak_type=getattr(a, "weak_type", False))


class Unstable(ValueError):
    """A tree's static data has no description that is the same in every process."""


def _stable(value, depth: int = 0) -> str:
    """A text of a tree node's static data that is the same in every process (``repr`` is not:
    MJX keeps NumPy arrays in wrappers whose ``repr`` is their address)."""
    import numpy as np

    if depth > 20:
        raise Unstable("static data nested too deep")
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return repr(value)
    if isinstance(value, type):
        return f"<{value.__module__}.{value.__qualname__}>"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__}({', '.join(_stable(v, depth + 1) for v in value)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_stable(k, depth + 1)}: {_stable(v, depth + 1)}" for k, v in value.items()) + "}"
    if isinstance(value, (np.ndarray, np.generic)):
        a = np.ascontiguousarray(value)
        return f"ndarray({a.dtype}, {a.shape}, {hashlib.sha256(a.tobytes()).hexdigest()[:16]})"
    text = repr(value)
    if " at 0x" not in text:
        return f"{type(value).__qualname__}:{text}"
    fields = dict(getattr(value, "__dict__", {}))
    for cls in type(value).__mro__:  # slots (MJX's array wrapper has no __dict__)
        slots = getattr(cls, "__slots__", ())
        for name in [slots] if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(value, name):
                fields[name] = getattr(value, name)
    if fields:
        return f"<{type(value).__module__}.{type(value).__qualname__}>{_stable(fields, depth + 1)}"
    raise Unstable(f"no stable description of {text}")


def _tree_text(tree) -> str:
    """The structure of a tree: node types and their static data, stable across processes."""
    data = tree.node_data()
    if data is None:
        return "*"
    kind, aux = data
    children = ", ".join(_tree_text(c) for c in tree.children())
    return f"{_stable(kind)}[{_stable(aux)}]({children})"


def _signature(args: tuple) -> str:
    leaves, tree = jax.tree.flatten(args)
    avals = [(str(a.dtype), a.shape, a.weak_type) for a in map(_abstract, leaves)]
    return f"{_tree_text(tree)} {avals}"


def _custom_calls(exported) -> list[str]:
    return sorted(set(_CUSTOM_CALL.findall(exported.mlir_module())))


def _prepare_custom_calls(targets: list[str]) -> bool:
    """Register the custom calls ``targets`` need in this process; False if one is unknown."""
    if any(not t.startswith("lapack_") for t in targets):
        return False
    if targets:
        try:
            from jaxlib import lapack

            lapack._lapack.initialize()
        except Exception:  # noqa: BLE001 - another jaxlib layout: trace instead
            return False
    return True


def _write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees the old file or the whole new one)."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=_TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _checksum(blob: bytes, meta: dict) -> str:
    """SHA-256 of a program's bytes and of everything stored beside it (but the checksum itself)."""
    rest = json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True)
    return hashlib.sha256(blob + b"\0" + rest.encode()).hexdigest()


def _load(path: str):
    """``(exported, meta)`` from ``path`` (and its ``.json``), or None when absent or damaged."""
    from jax import export

    try:
        with open(path + ".json") as f:
            meta = json.load(f)
        with open(path, "rb") as f:
            blob = f.read()
        if meta.get("sha256") != _checksum(blob, meta) or not _prepare_custom_calls(meta.get("custom_calls", [])):
            return None
        return export.deserialize(bytearray(blob)), meta
    except Exception:  # noqa: BLE001 - unreadable, not JSON, not an export of this jax: trace instead
        return None


def _export(path: str, fn: Callable, args: tuple, meta: Callable[[], dict] | None):
    """Trace ``fn`` on ``args``'s shapes, keep the export in ``path``; ``(exported, meta)`` read back
    from the bytes written (so this process compiles what a later one will), or None when the
    program cannot be kept (a host callback, an unknown custom call, an output of other types)."""
    from jax import export

    leaves, tree = jax.tree.flatten(args)
    abstract = [_abstract(x) for x in leaves]
    try:
        exported = export.export(jax.jit(lambda *xs: fn(*jax.tree.unflatten(tree, xs))))(*abstract)
        blob = exported.serialize()
    except (ValueError, NotImplementedError, ImportError):  # an output not made of dicts, lists and tuples; a host
        return None  # callback; no flatbuffers (jax.export's serialiser)
    calls = _custom_calls(exported)
    if exported.ordered_effects or exported.unordered_effects or not _prepare_custom_calls(calls):
        return None
    info = {**(meta() if meta else {}), "format": FORMAT, "custom_calls": calls}
    info["sha256"] = _checksum(blob, info)
    _write(path, blob)
    _write(path + ".json", json.dumps(info).encode())
    return export.deserialize(bytearray(blob)), info


class Program:
    """A program read from (or just written to) the cache, lowered for its arguments' shapes.

    ``meta``: what was stored beside it; ``loaded``: it came from the file (nothing was traced).
    :meth:`compile` (XLA, a hit in the persistent compilation cache after the first time) may run
    on another thread while this one traces something else."""

    def __init__(self, lowered, meta: dict, loaded: bool):
        self.lowered, self.meta, self.loaded = lowered, meta, loaded

    def compile(self) -> Callable:
        """``call(*args)``: the same as ``jax.jit(fn)(*args)``, for arguments of the same structure and shapes."""
        program = self.lowered.compile()
        return lambda *args: program(*jax.tree.leaves(args))


def lowered(directory: str | None, key: str | None, fn: Callable, args: tuple,
            meta: Callable[[], dict] | None = None) -> Program | None:
    """``fn(*args)``'s exported program from ``directory`` (exported and written there first if absent).

    ``args`` is a tuple of pytrees (any node types; only their shapes matter); ``fn``'s output must
    be made of dicts, lists, tuples and arrays. ``meta()`` (JSON-safe, called after ``fn`` was
    traced) is stored beside the program and returned with it on later loads. None when
    ``directory`` or ``key`` is None, on another backend than the CPU, or when the program cannot
    be kept: the caller traces as usual.
    """
    if directory is None or key is None or not usable():
        return None
    try:
        return _lowered(directory, key, fn, args, meta)
    except Exception as e:  # noqa: BLE001 - the cache must never fail a run that tracing would run
        warnings.warn(f"jaxrl.program_cache: {type(e).__name__}: {e}; the program is traced instead", stacklevel=2)
        return None


def _prune_after_writing(directory: str, path: str) -> None:
    try:
        limit = program_limit_bytes()
    except ValueError as e:  # the CLI refuses it at start; a library caller is told, and nothing is pruned
        warnings.warn(f"jaxrl.program_cache: {e}; the folder is not pruned", stacklevel=3)
        return
    prune(directory, limit, keep=path)


def _lowered(directory: str, key: str, fn: Callable, args: tuple, meta) -> Program | None:
    environment = environment_digest()
    if environment is None:
        return None
    try:
        signature = _signature(args)
    except Unstable:
        return None
    name = hashlib.sha256(f"{environment} {key} {signature}".encode()).hexdigest()[:32]
    path = os.path.join(directory, f"{name}.jaxprog")
    found = _load(path)
    loaded = found is not None
    if found is None:
        try:
            found = _export(path, fn, args, meta)
        except OSError:  # an unwritable folder: trace as usual
            return None
        if found is None:
            return None
    if loaded:
        try:
            os.utime(path)  # used now: the last to go when the folder is pruned
        except OSError:
            pass
    else:
        _prune_after_writing(directory, path)
    exported, info = found
    return Program(jax.jit(exported.call).lower(*jax.tree.leaves(args)), info, loaded)
