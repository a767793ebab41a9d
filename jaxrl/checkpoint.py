"""Checkpoints of the FULL training state with orbax, verified on restore.

What is saved is the whole state pytree the trainer carries (for PPO:
network params, optimiser state, observation-normaliser statistics, the env
states of every parallel env, the PRNG key, the update counter, the hparams),
plus a small JSON record: the run's identity (algorithm, env, static config),
the state's structure (every leaf's path, shape and dtype) and host counters
(update index, env steps, elapsed seconds).

Safety:
- orbax writes each step into a temporary folder and renames it when complete,
  so a kill during a write leaves the previous checkpoints intact;
- after a save, jaxrl records the size and SHA-256 of every file of the step
  (``jaxrl_checksums.json``); a truncated or altered checkpoint, or one WITHOUT that
  record (its writer was killed before finishing it, or the record was removed), is
  not trusted: it is refused with a message naming the file, and
  :meth:`Checkpointer.restore_latest` falls back to the newest intact one (a writer
  moves the bad one aside, never deleting it; a read-only reader leaves it where it is);
- a checkpoint's identity is everything that makes its numbers: algorithm, env and
  its options, static config, seed, traced hyperparameters (``identity``), and the
  software stack (``stack``: versions of jax, jaxlib, mujoco, ..., and the backend). A
  checkpoint of another identity, or whose state has a different structure, is refused
  with the field that differs; one of another stack is refused for resuming (the numbers
  would part from an uninterrupted run's) unless ``allow_other_stack``, and only noted
  for evaluation. A checkpoint written before a field was recorded is noted, not refused.

Typed PRNG keys are stored as their raw ``key_data`` and re-wrapped on restore.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

CHECKSUMS = "jaxrl_checksums.json"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or was written by a different run setup."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint was written by a different algorithm, env, config or state structure."""


def _is_key(x) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def to_saveable(tree: Any) -> dict[str, Any]:
    """The state as a flat ``{"00000": leaf, ...}`` dict of plain arrays for orbax.

    Typed PRNG keys become their ``uint32`` key data; zero-size leaves (e.g. an
    MJX model without actuator activations) are left out, since orbax refuses
    them (they are rebuilt from the target's shapes on restore).
    """
    leaves = jax.tree.leaves(tree)
    return {f"{i:05d}": jax.random.key_data(x) if _is_key(x) else x for i, x in enumerate(leaves) if _size(x) > 0}


def _size(x) -> int:
    return int(np.prod(x.shape)) if hasattr(x, "shape") else 1


def from_saveable(flat: dict[str, Any], like: Any) -> Any:
    """Inverse of :func:`to_saveable`, using ``like`` (state or shapes) for the structure and key types."""
    leaves, treedef = jax.tree.flatten(like)
    out = []
    for i, ref in enumerate(leaves):
        if _size(ref) == 0:
            out.append(jnp.zeros(ref.shape, ref.dtype))
        elif _is_key(ref):
            out.append(jax.random.wrap_key_data(flat[f"{i:05d}"], impl=ref.dtype._impl))  # arrays and shape structs
        else:
            out.append(flat[f"{i:05d}"])
    return jax.tree.unflatten(treedef, out)


def structure(tree: Any) -> list[list]:
    """``[[path, shape, dtype], ...]`` for every leaf (what a checkpoint must match)."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [[jax.tree_util.keystr(p), list(x.shape), str(x.dtype)] for p, x in leaves]


def state_bytes(tree: Any) -> int:
    """Bytes of the state's arrays (an estimate of one checkpoint's size)."""
    return int(sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.eval_shape(to_saveable, tree).values()))


def _file_digests(folder: str) -> dict[str, list]:
    out = {}
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            if name == CHECKSUMS:
                continue
            path = os.path.join(root, name)
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            out[os.path.relpath(path, folder)] = [os.path.getsize(path), digest.hexdigest()]
    return out


def write_json_atomic(path: str, data: Any) -> None:
    """Write JSON to a temporary file, fsync it, then rename it over ``path`` (never half-written;
    a failed write leaves neither a partial file nor the temporary one)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _as_os_error(error: BaseException) -> OSError:
    """``error`` as an OSError: itself, its cause, or (tensorstore's ``ValueError: ... [os_error_code='28']``)
    one built from the error code in its message."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError):
            return cause
        cause = cause.__cause__ or cause.__context__
    m = re.search(r"os_error_code='?(\d+)", str(error))
    code = int(m.group(1)) if m else errno.EIO
    return OSError(code, os.strerror(code) if m else f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")


def _diff(expected: dict, found: dict, prefix: str = "") -> list[str]:
    """``"field: this run has X, the checkpoint Y"`` for every field that differs, dicts field by field.
    Top-level fields the checkpoint does not record are left to :func:`_unrecorded` (an older jaxrl);
    below the top level a field on one side only is a difference."""
    out = []
    for k in sorted(set(expected) | set(found)):
        if k not in found:
            if prefix:
                out.append(f"{prefix}{k}: this run has {expected[k]!r}, the checkpoint none")
            continue
        if k not in expected:
            out.append(f"{prefix}{k}: this run has none, the checkpoint {found[k]!r}")
            continue
        a, b = expected[k], found[k]
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: this run has {a!r}, the checkpoint {b!r}")
    return out


def _with_defaults(found: dict, defaults: dict) -> dict:
    """``found`` with the sub-dicts of ``defaults`` filled in under it (e.g. an env's default options
    under the options a checkpoint recorded as given)."""
    out = dict(found)
    for k, d in defaults.items():
        if isinstance(d, dict) and isinstance(out.get(k), dict):
            out[k] = {**d, **out[k]}
    return out


def _unrecorded(expected: dict, found: dict) -> list[str]:
    return sorted(set(expected) - set(found))


class Checkpointer:
    """Save and restore a run's state in ``directory`` (one orbax step per checkpoint).

    Args:
      directory: the checkpoint folder (created unless ``read_only``).
      keep: how many of the newest checkpoints to keep.
      identity: JSON-safe facts a checkpoint must match to be restored into this
        run (algorithm, env, env options, static config, seed, hparams).
      stack: JSON-safe facts of the software and hardware (versions, backend) a
        checkpoint must match to be RESUMED (see ``allow_other_stack``).
      read_only: never write, move or delete anything (``eval``, ``render``).
      allow_other_stack: restore a checkpoint of another ``stack`` (a note instead of an error).
      warn: where notes go (default ``print``).
      identity_defaults: sub-dicts of defaults filled in under a checkpoint's identity before it is
        compared (e.g. ``{"env_options": <the env's defaults>}``: a checkpoint that recorded only the
        options given still compares equal to one that recorded them all).
    """

    def __init__(self, directory: str, keep: int = 3, identity: dict | None = None, stack: dict | None = None,
                 read_only: bool = False, allow_other_stack: bool = False, warn: Callable[[str], None] = print,
                 identity_defaults: dict | None = None):
        import orbax.checkpoint as ocp

        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self._ocp = ocp
        self.directory = os.path.abspath(directory)
        self.identity = json.loads(json.dumps(identity or {}))
        self.stack = json.loads(json.dumps(stack or {}))
        self.read_only, self.allow_other_stack, self.warn = read_only, allow_other_stack or read_only, warn
        self._keep, self._manager = keep, None
        self._identity_defaults = json.loads(json.dumps(identity_defaults or {}))
        if os.path.isdir(self.directory):  # else created by the first save: a refused resume creates nothing
            self._open()

    def _open(self) -> None:
        # Never orbax's own read_only option (it logs three warnings per open): a read-only
        # Checkpointer simply never saves, moves or deletes. Never orbax's max_to_keep either: it
        # prunes inside save, BEFORE the new step's checksums exist; :meth:`_prune` runs after them.
        options = self._ocp.CheckpointManagerOptions(max_to_keep=None, enable_async_checkpointing=False, create=True)
        self._manager = self._ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        """The steps saved, oldest first."""
        if self._manager is None:
            return []
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, info: dict | None = None) -> None:
        """Write ``state`` as checkpoint ``step`` (blocking), then its checksums."""
        if self.read_only:
            raise CheckpointError(f"{self.directory} was opened read-only")
        ocp = self._ocp
        meta = {"step": int(step), "identity": self.identity, "stack": self.stack, "structure": structure(state), "info": info or {}}
        try:
            if self._manager is None:
                self._open()
            self._manager.save(
                int(step),
                args=ocp.args.Composite(state=ocp.args.StandardSave(to_saveable(state)), meta=ocp.args.JsonSave(meta)),
                force=True,
            )
            self._manager.wait_until_finished()
            folder = self._step_dir(step)
            write_json_atomic(os.path.join(folder, CHECKSUMS), _file_digests(folder))
        except Exception as e:  # noqa: BLE001 - a full disk is an OSError here, a ValueError from tensorstore
            self._remove_partial(step)
            cause = _as_os_error(e)
            raise CheckpointError(f"could not write checkpoint {step} to {self.directory}: {cause.strerror or cause}") from cause
        self._prune()

    def _remove_partial(self, step: int) -> None:
        """Delete what a failed save of ``step`` left (orbax's temporary folder, or the step without
        checksums): the older checkpoints stay as they were."""
        for name in os.listdir(self.directory) if os.path.isdir(self.directory) else []:
            if name == str(int(step)) or name.startswith(f"{int(step)}.orbax-checkpoint-tmp"):
                shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)

    def _prune(self) -> None:
        """Keep the newest ``keep`` checkpoints (called once the newest has its checksums)."""
        steps = self.steps()
        for step in steps[: max(0, len(steps) - self._keep)]:
            try:
                self._manager.delete(step)
            except Exception:  # noqa: BLE001 - an old checkpoint left behind costs disk, not correctness
                shutil.rmtree(self._step_dir(step), ignore_errors=True)

    def _step_dir(self, step: int) -> str:
        return os.path.join(self.directory, str(int(step)))

    def verify(self, step: int) -> None:
        """Raise :class:`CheckpointError` if a file of ``step`` is missing, truncated or altered."""
        folder = self._step_dir(step)
        path = os.path.join(folder, CHECKSUMS)
        if not os.path.exists(path):  # its writer was killed before finishing it, or the record was removed
            raise CheckpointError(f"checkpoint {step} in {self.directory} has no {CHECKSUMS} (its writer was stopped before "
                                  "finishing it, or the file was removed): not trusted")
        try:
            with open(path) as f:
                expected = json.load(f)
        except (OSError, ValueError) as e:
            raise CheckpointError(f"checkpoint {step} in {self.directory} is corrupt: unreadable {CHECKSUMS} ({e})") from None
        found = _file_digests(folder)
        if not isinstance(expected, dict) or not expected:
            raise CheckpointError(f"checkpoint {step} in {self.directory} is corrupt: {CHECKSUMS} lists no file")
        extra = sorted(set(found) - set(expected))
        if extra:
            raise CheckpointError(f"checkpoint {step} in {self.directory} is corrupt: {extra[0]} is not in its {CHECKSUMS}")
        for name, (size, digest) in expected.items():
            if name not in found:
                raise CheckpointError(f"checkpoint {step} in {self.directory} is corrupt: {name} is missing")
            if found[name][0] != size:
                raise CheckpointError(
                    f"checkpoint {step} in {self.directory} is corrupt: {name} has {found[name][0]} bytes, expected {size}"
                )
            if found[name][1] != digest:
                raise CheckpointError(f"checkpoint {step} in {self.directory} is corrupt: {name} does not match its checksum")

    def read_meta(self, step: int) -> dict:
        ocp = self._ocp
        try:
            return self._manager.restore(int(step), args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        except Exception as e:  # orbax raises many types for a damaged folder
            raise CheckpointError(f"checkpoint {step} in {self.directory} is unreadable: {type(e).__name__}: {e}") from None

    def check_compatible(self, meta: dict, like: Any) -> None:
        """Refuse a checkpoint written for another algorithm/env/config or state structure."""
        step = meta.get("step")
        where = f"checkpoint {step} in {self.directory}"
        theirs = _with_defaults(meta.get("identity", {}), self._identity_defaults)
        diffs = _diff(self.identity, theirs)
        if diffs:
            raise CheckpointMismatchError(f"{where} was written by a different run setup: " + "; ".join(diffs))
        missing = _unrecorded(self.identity, theirs) + [f"stack.{k}" for k in _unrecorded(self.stack, meta.get("stack", {}))]
        if missing:
            self.warn(f"jaxrl: note: {where} was written by an older jaxrl that did not record {', '.join(missing)}; not checked")
        stack_diffs = _diff(self.stack, meta.get("stack", {}))
        if stack_diffs and not self.allow_other_stack:
            raise CheckpointMismatchError(f"{where} was written with other software or hardware ({'; '.join(stack_diffs)}): resuming "
                                          "would not give an uninterrupted run's numbers; allow it with --allow-other-stack")
        if stack_diffs:
            self.warn(f"jaxrl: note: {where} was written with other software or hardware: {'; '.join(stack_diffs)}")
        mine, theirs = structure(like), meta.get("structure")
        if mine != theirs:
            detail = next((f"{a} vs {b}" for a, b in zip(mine, theirs or []) if a != b), f"{len(mine)} vs {len(theirs or [])} leaves")
            raise CheckpointMismatchError(f"checkpoint {step} in {self.directory} holds a differently shaped state ({detail})")

    def restore(self, like: Any, step: int | None = None) -> tuple[Any, dict]:
        """Restore checkpoint ``step`` (default: the newest) into a state shaped like ``like``.

        Args:
          like: a state or its ``jax.eval_shape`` (gives the structure and key types).

        Returns:
          ``(state, info)``: the state and the host counters saved with it.
        """
        steps = self.steps()
        if not steps:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        step = steps[-1] if step is None else int(step)
        if step not in steps:
            raise CheckpointError(f"no checkpoint {step} in {self.directory}; saved steps: {steps}")
        self.verify(step)
        meta = self.read_meta(step)
        self.check_compatible(meta, like)
        ocp = self._ocp
        abstract = jax.eval_shape(to_saveable, like)
        try:
            restored = self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))["state"]
        except Exception as e:
            raise CheckpointError(f"checkpoint {step} in {self.directory} is corrupt: {type(e).__name__}: {e}") from None
        return from_saveable(restored, like), meta.get("info", {})

    def restore_latest(self, like: Any, warn: Callable[[str], None] | None = None) -> tuple[Any, dict, int]:
        """Restore the newest INTACT checkpoint; a corrupt newer one is reported and (unless
        ``read_only``) moved aside.

        A checkpoint of a different run setup is an error, not skipped.
        Returns ``(state, info, step)``.
        """
        warn = warn or self.warn
        steps = self.steps()
        if not steps:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        bad = []
        for step in reversed(steps):
            try:
                state, info = self.restore(like, step)
            except CheckpointMismatchError:
                raise
            except CheckpointError as e:
                warn(f"jaxrl: warning: {e}; {'skipped it (left in place)' if self.read_only else 'skipped it'}")
                bad.append(step)
                continue
            if not self.read_only:  # only once an intact one restored: a refused resume changes nothing
                self.move_aside(bad, warn)
            return state, info, step
        raise CheckpointError(f"no intact checkpoint in {self.directory}")

    def resume_point(self, like: Any, restart: bool = False) -> tuple[Any, dict, int]:
        """``(state, info, update)`` to resume from: the newest intact checkpoint. With none (a run
        stopped before its first checkpoint, or every one damaged), a :class:`CheckpointError` that
        says so, unless ``restart``: then ``(None, {}, 0)``, the run starts over."""
        try:
            return self.restore_latest(like)
        except CheckpointMismatchError:
            raise
        except CheckpointError as e:
            if not restart:
                raise CheckpointError(f"{e}: nothing to resume from (the run stopped before its first checkpoint, or every "
                                      "checkpoint is damaged); pass --restart to start it again from the beginning") from None
        return None, {}, 0

    def move_aside(self, steps: list[int], warn: Callable[[str], None] | None = None) -> None:
        """Move damaged checkpoints out of the folder (never deleted): ``RUN/corrupt-checkpoint-<step>``."""
        for step in steps:
            aside = os.path.join(os.path.dirname(self.directory), f"corrupt-checkpoint-{step}")
            (warn or self.warn)(f"jaxrl: warning: moved the damaged checkpoint {step} to {aside}")
            shutil.move(self._step_dir(step), aside)
        if steps and self._manager is not None:
            self._manager.reload()

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
