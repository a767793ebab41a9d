"""One writer per run directory: an exclusive lock held for the life of the writing process.

Every command that writes a run directory (``jaxrl train``, ``train --resume``, ``sweep``,
``meta``) holds an ``flock`` on ``RUN_DIR/.jaxrl-lock`` from before it looks at the directory
until it returns. The kernel releases the lock when the process ends in any way (``kill -9``
included), so a crashed run can be resumed at once; nothing stale is left to clean up. A second
writer gets one line naming the process that holds the lock (its pid, host, command and start
time, which the holder writes into the lock file). Read-only commands (``eval``, ``render``,
``plot``) take no lock and never write the run's files.

The lock file stays after a run ends (removing it would let a process that opened the old file
and one that creates a new one both "hold" a lock); only the ``flock`` counts, never the file's
presence. On network filesystems ``flock`` is as reliable as the filesystem's lock support (NFS
v4 and Lustre with locking enabled carry it between hosts; some FUSE filesystems do not).
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import socket
import stat
import sys
import time

LOCK_FILE = ".jaxrl-lock"


class RunDirError(ValueError):
    """A run directory is missing, exists already, is in use, is unwritable, or lacks space."""


class RunDirBusy(RunDirError):
    """A run directory is in use by another process, or (for a new run) is not empty."""


class RunLock:
    """An exclusive lock on a run directory (a context manager; :meth:`release` is idempotent)."""

    def __init__(self, run_dir: str, fd: int):
        self.run_dir, self._fd = run_dir, fd

    def record(self, command: list[str] | None = None) -> None:
        """Write who holds the lock (pid, host, command, start time) into the lock file, for the
        error message of a second writer."""
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command or sys.argv,
                "started": datetime.datetime.now().isoformat(timespec="seconds")}
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps(info).encode() + b"\n", 0)
        except OSError:
            pass  # a full disk: the lock holds all the same, only the holder's description is missing

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(fd: int) -> str:
    """Who holds the lock, as the holder wrote it into the lock file (best effort)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 1 << 16) or b"{}")
        command = " ".join(info.get("command") or []) or "?"
        return f"process {info.get('pid', '?')} on {info.get('host', '?')} (`{command}`, since {info.get('started', '?')})"
    except (OSError, ValueError):
        return "another process"


def acquire(run_dir: str, command: list[str] | None = None, record: bool = True) -> RunLock:
    """Create ``run_dir`` if needed and lock it for this process, or raise :class:`RunDirError`.

    The error names the holder: ``run directory runs/x is in use by process 4242 on host
    (`jaxrl train ...`, since 2026-12-02T05:40:01)``. ``record``: write this process's
    description into the lock file now (else call :meth:`RunLock.record` once it is sure to write).
    """
    fd = _open_lock_file(run_dir)
    for attempt in range(3):  # a reader's brief shared probe (:func:`holder`) must not refuse a writer
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as e:
            busy = e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
            if busy and attempt < 2:
                time.sleep(0.1)
                continue
            holder = _holder(fd) if busy else None
            os.close(fd)
            if holder is None:
                raise RunDirError(f"cannot lock run directory {run_dir}: {e.strerror or e}") from None
            raise RunDirBusy(_in_use(run_dir, holder)) from None
    lock = RunLock(run_dir, fd)
    if record:
        lock.record(command)
    else:
        os.ftruncate(fd, 0)  # no stale description of a previous holder
    return lock


def _open_lock_file(run_dir: str) -> int:
    """The lock file's descriptor: created if missing, never through a symbolic link, a regular file."""
    try:
        os.makedirs(run_dir, exist_ok=True)
        fd = os.open(os.path.join(run_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise RunDirError(f"{os.path.join(run_dir, LOCK_FILE)} is a symbolic link: refusing to write through it") from None
        raise RunDirError(f"run directory {run_dir} is not writable: {e.strerror or e}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RunDirError(f"{os.path.join(run_dir, LOCK_FILE)} is not a regular file")
    return fd


def _in_use(run_dir: str, holder: str) -> str:
    return f"run directory {run_dir} is in use by {holder}; one process writes a run at a time"


def holder(run_dir: str) -> str | None:
    """Who holds ``run_dir``'s lock now, or None (never creates or changes anything)."""
    try:
        fd = os.open(os.path.join(run_dir, LOCK_FILE), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def contents(run_dir: str) -> list[str]:
    """The entries of ``run_dir`` other than the lock file (``[]`` if it does not exist)."""
    if not os.path.isdir(run_dir):
        return []
    return sorted(n for n in os.listdir(run_dir) if n != LOCK_FILE)


def lock_new(run_dir: str, command: list[str] | None = None, hint: str = "") -> RunLock:
    """Lock ``run_dir`` for a NEW run: it must not exist or be empty (checked under the lock, so
    two processes starting the same run cannot both pass). ``hint`` ends the error message."""
    def refuse():
        held = holder(run_dir)
        return RunDirBusy(_in_use(run_dir, held) if held else f"run directory {run_dir} exists and is not empty; "
                          f"{hint or 'choose another name'}")

    if contents(run_dir):  # before locking: a refused run adds no lock file to someone's directory
        raise refuse()
    lock = acquire(run_dir, command, record=False)
    if contents(run_dir):  # under the lock: of two processes starting the same run, one sees the other's files
        lock.release()
        raise refuse()
    lock.record(command)
    return lock


def lock_fresh_name(root: str, name: str, command: list[str] | None = None, tries: int = 1000) -> tuple[str, RunLock]:
    """``(path, lock)`` for the first of ``root/name``, ``root/name-2``, ``root/name-3``, ... that is
    new or empty and not in use (default run names: two runs started in the same second both start)."""
    def make_path(i: int) -> str:
        return os.path.join(root, f"{name}-{i}" if i else name)

    for i in [0, *range(2, tries)]:
        path = make_path(i)
        if contents(path):
            continue
        try:
            return path, lock_new(path, command)
        except RunDirBusy:
            continue
    raise RunDirError(f"no free run directory name like {make_path(0)} after {tries} tries")
