"""Where the default test run's seconds go: per test, XLA compile vs tracing vs lowering vs the rest.

A pytest plugin plus its summary. Record (the default run, with its usual 2 workers)::

    PYTHONPATH=benchmarks JAXRL_TEST_TIME_DIR=/tmp/tt .venv/bin/pytest -p test_time -p no:cacheprovider
    python benchmarks/test_time.py /tmp/tt 30      # per file, then the 30 slowest tests

Each worker appends one JSON line per test to ``$JAXRL_TEST_TIME_DIR/<worker>.jsonl``: the test's
wall seconds (setup, call and teardown) and what ``jax.monitoring`` reported during it, summed:

* ``xla``: backend compile (``/jax/core/compile/backend_compile_duration``);
* ``trace``: tracing to a jaxpr (``jaxpr_trace_duration``);
* ``lower``: jaxpr to StableHLO (``jaxpr_to_mlir_module_duration``);
* ``rest``: wall minus those three: running the programs, NumPy references, subprocesses (a
  ``jaxrl`` CLI run in a subprocess is all "rest": its compiles are not seen). It can be negative
  when a program compiles on a thread while the test traces another (the runner's init).
* ``saved``: compile seconds the persistent compilation cache saved (tests/conftest.py shares one
  cache between the workers).

The summed seconds of two workers exceed the run's wall clock by about the workers' count.
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import sys
import time

import pytest

EVENTS = {
    "xla": "/jax/core/compile/backend_compile_duration",
    "trace": "/jax/core/compile/jaxpr_trace_duration",
    "lower": "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "saved": "/jax/compilation_cache/compile_time_saved_sec",
}
_sums: dict[str, float] = collections.defaultdict(float)
_counts: dict[str, int] = collections.defaultdict(int)


def _listener(event: str, duration: float, **_) -> None:
    _sums[event] += duration
    _counts[event] += 1


def pytest_configure(config) -> None:
    import jax.monitoring

    jax.monitoring.register_event_duration_secs_listener(_listener)


def _record(nodeid: str, wall: float, before: dict, counts_before: dict) -> None:
    folder = pathlib.Path(os.environ.get("JAXRL_TEST_TIME_DIR", "test_time"))
    folder.mkdir(parents=True, exist_ok=True)
    row = dict(test=nodeid, wall=wall, compiles=_counts[EVENTS["xla"]] - counts_before.get(EVENTS["xla"], 0))
    row.update({k: _sums[e] - before.get(e, 0.0) for k, e in EVENTS.items()})
    with open(folder / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    before, counts_before, start = dict(_sums), dict(_counts), time.perf_counter()
    yield
    _record(item.nodeid, time.perf_counter() - start, before, counts_before)


def summarize(folder: str, slowest: int = 0) -> None:
    rows = [json.loads(line) for path in sorted(pathlib.Path(folder).glob("*.jsonl")) for line in open(path)]
    cols = ("wall", "xla", "trace", "lower", "rest", "saved", "compiles")
    per_file: dict[str, dict[str, float]] = collections.defaultdict(lambda: dict.fromkeys(cols, 0.0))
    for r in rows:
        r["rest"] = r["wall"] - r["xla"] - r["trace"] - r["lower"]
        f = per_file[r["test"].split("::")[0]]
        for c in cols:
            f[c] += r[c]
    total = {c: sum(f[c] for f in per_file.values()) for c in cols}
    print(f"{'file':40s}" + "".join(f"{c:>9s}" for c in cols))
    for name, f in sorted(per_file.items(), key=lambda kv: -kv[1]["wall"]) + [("TOTAL", total)]:
        print(f"{name:40s}" + "".join(f"{f[c]:9.1f}" if c != "compiles" else f"{int(f[c]):9d}" for c in cols))
    for r in sorted(rows, key=lambda r: -r["wall"])[:slowest]:
        print(f"{r['wall']:6.1f}s  xla {r['xla']:5.1f} trace {r['trace']:5.1f} lower {r['lower']:5.1f} "
              f"rest {r['rest']:5.1f}  {r['test'].split('@')[0]}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python benchmarks/test_time.py FOLDER [SLOWEST]")
    summarize(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
