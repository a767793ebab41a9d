"""Host-side metric sinks: the receivers of the runner's in-graph log rows.

A row is a dict ``{"update": int, "env_steps": int, "time_s": float,
"steps_per_s": float, <metric>: float, ...}`` (see :func:`jaxrl.runner.run`).
Every sink has ``write(row)`` and ``close()``; :class:`Sinks` fans a row out.

- :class:`JsonlSink`: one JSON object per line, flushed per row (NaN -> null).
- :class:`TensorBoardSink`: tensorboardX event files, x axis = env steps.
- :class:`WandbSink`: Weights & Biases (the ``wandb`` extra).
- :class:`ProgressBar`: a terminal line with env steps, %, steps/s, return, ETA.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any, Iterable

_SKIP_SCALARS = ("update", "env_steps")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class SinkWriteError(OSError):
    """A sink could not write its file (a full disk, a quota...); ``filename`` is the file's path."""


def _write_error(path: str, error: OSError) -> SinkWriteError:
    return SinkWriteError(error.errno, error.strerror or str(error), path)


class JsonlSink:
    """Append rows to ``path`` as JSON lines (flushed, so a kill loses at most the row being written).

    A failed write (a full disk) raises :class:`SinkWriteError` naming the file; a torn last line
    is ignored by :func:`read_jsonl` and removed by :func:`truncate_jsonl` when the run resumes.
    """

    def __init__(self, path: str):
        self.path = path
        try:
            self._file = open(path, "a", buffering=1)
        except OSError as e:
            raise _write_error(path, e) from None

    def write(self, row: dict) -> None:
        try:
            self._file.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")
        except OSError as e:
            raise _write_error(self.path, e) from None

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as e:
            raise _write_error(self.path, e) from None


def read_jsonl(path: str) -> list[dict]:
    """Rows of a metrics file; a torn last line (a kill mid-write) is ignored."""
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except ValueError:
                break
    return rows


def truncate_jsonl(path: str, last_update: int) -> int:
    """Keep only rows with ``update <= last_update`` (a resume replays the rest); atomic. Returns rows kept."""
    if not os.path.exists(path):
        return 0
    rows = [r for r in read_jsonl(path) if r.get("update", 0) <= last_update]
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    os.replace(tmp, path)
    return len(rows)


class TensorBoardSink:
    """Scalars under ``train/<metric>`` against env steps, in a TensorBoard event file.

    Written synchronously on the runner's sink thread (tensorboardX's record format, without its
    writer thread, whose failures on a full disk were tracebacks nobody could catch); a failed
    write raises :class:`SinkWriteError` naming the file. One event per row, flushed every
    ``flush_s`` seconds and on close.
    """

    def __init__(self, logdir: str, flush_s: float = 10.0, purge_step: int | None = None):
        """``purge_step``: on resume, the env step of the checkpoint; TensorBoard hides points
        logged after it by the interrupted process (they are logged again)."""
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto.event_pb2 import Event, SessionLog

        self.logdir, self.flush_s, self._last_flush = logdir, flush_s, time.monotonic()
        self.path = logdir
        try:
            os.makedirs(logdir, exist_ok=True)
            self._writer = EventsWriter(os.path.join(logdir, "events"))
            self.path = self._writer._file_name if hasattr(self._writer, "_file_name") else logdir
            if purge_step is not None:
                self._writer.write_event(Event(step=purge_step, wall_time=time.time(),
                                               session_log=SessionLog(status=SessionLog.START)))
            self._writer.flush()
        except OSError as e:
            raise _write_error(self.path, e) from None

    def write(self, row: dict) -> None:
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.proto.summary_pb2 import Summary

        values = [Summary.Value(tag=f"train/{name}", simple_value=float(value)) for name, value in row.items()
                  if name not in _SKIP_SCALARS and isinstance(value, (int, float)) and math.isfinite(value)]
        try:
            self._writer.write_event(Event(wall_time=time.time(), step=int(row["env_steps"]), summary=Summary(value=values)))
            if time.monotonic() - self._last_flush >= self.flush_s:
                self._writer.flush()
                self._last_flush = time.monotonic()
        except OSError as e:
            raise _write_error(self.path, e) from None

    def close(self) -> None:
        try:
            self._writer.close()
        except OSError as e:
            raise _write_error(self.path, e) from None


def require_wandb() -> None:
    """Raise a one-line error now (before a run starts) if wandb is not installed."""
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise ImportError("Weights & Biases logging needs the wandb package: pip install 'jaxrl[wandb]'") from None


class WandbSink:
    """Log rows to Weights & Biases; needs ``pip install 'jaxrl[wandb]'``."""

    def __init__(self, project: str, name: str, config: dict, directory: str, resume: bool = False):
        require_wandb()
        import wandb

        self._run = wandb.init(project=project, name=name, id=name, config=config, dir=directory,
                               resume="allow" if resume else None)

    def write(self, row: dict) -> None:
        self._run.log({k: v for k, v in row.items() if k not in _SKIP_SCALARS and v == v}, step=int(row["env_steps"]))

    def close(self) -> None:
        self._run.finish()


def _fmt_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """Progress while the compiled program runs: redrawn in place on a terminal, else one line
    at most every ``interval_s`` seconds (and always the last row)."""

    def __init__(self, total_updates: int, steps_per_update: int, stream=None, interval_s: float = 2.0, tty: bool | None = None):
        self.total = total_updates
        self.steps_per_update = steps_per_update
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval_s = interval_s
        self._last_print = -math.inf
        self._return = None
        self._header = False
        self._open_line = False  # a tty line drawn without its newline yet
        self._unprinted = None  # the newest row's line when it was throttled (printed on close)

    def header(self) -> str:
        return f"{'env steps':>14} {'%':>5} {'steps/s':>10} {'return':>8} {'ETA':>8}"

    def line(self, row: dict) -> str:
        if row.get("episode_return") is not None and row["episode_return"] == row["episode_return"]:
            self._return = row["episode_return"]
        pct = 100.0 * row["update"] / self.total
        rate = row.get("steps_per_s") or float("nan")
        eta = (self.total - row["update"]) * self.steps_per_update / rate if rate == rate and rate > 0 else float("nan")
        ret = f"{self._return:8.1f}" if self._return is not None else f"{'-':>8}"
        return f"{row['env_steps']:>14,} {pct:>4.0f}% {rate:>10,.0f} {ret} {_fmt_duration(eta):>8}"

    def write(self, row: dict) -> None:
        if not self._header:
            print(self.header(), file=self.stream, flush=True)
            self._header = True
        text = self.line(row)
        now = time.monotonic()
        last = row["update"] >= self.total
        if self.tty:
            self.stream.write("\r" + text + ("\n" if last else ""))
            self.stream.flush()
            self._open_line = not last
        elif last or now - self._last_print >= self.interval_s:
            print(text, file=self.stream, flush=True)
            self._last_print = now
            self._unprinted = None
        else:
            self._unprinted = text

    def close(self) -> None:
        if self._unprinted is not None:  # a stopped run: show where it ended
            print(self._unprinted, file=self.stream, flush=True)
            self._unprinted = None
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False


class Sinks:
    """Fan one row out to several sinks."""

    def __init__(self, sinks: Iterable[Any] = ()):
        self.sinks = list(sinks)

    def write(self, row: dict) -> None:
        for sink in self.sinks:
            sink.write(row)

    def close(self, quiet: bool = False) -> None:
        """Close every sink; the first error is raised after all are closed (none if ``quiet``:
        the run is already failing for a reason of its own)."""
        first = None
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as e:  # noqa: BLE001 - re-raised below
                first = first or e
        if first is not None and not quiet:
            raise first
