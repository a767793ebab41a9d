"""Shared test setup: tests import helpers from each other (``from test_wrappers import ...``)."""

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

# One persistent compilation cache per test session, empty at its start, shared by the xdist
# workers and by the ``jaxrl`` subprocesses the tests start: a program that several tests build
# (an algorithm's tiny preset in its own file and in test_contract, a CLI run of what a test
# compiled in-process) is compiled once. Never the developer's ~/.cache/jaxrl/xla: a run's length
# must not depend on what earlier sessions compiled. Tests that exercise the cache set their own
# folder; ``JAXRL_TEST_CACHE=off`` runs without one. The controller makes the folder (workers
# inherit the variable) and removes it at exit.
if "PYTEST_XDIST_WORKER" not in os.environ and "JAXRL_TEST_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["JAXRL_TEST_CACHE"] = tempfile.mkdtemp(prefix="jaxrl-test-xla-")
    atexit.register(shutil.rmtree, os.environ["JAXRL_TEST_CACHE"], ignore_errors=True)
os.environ["JAXRL_COMPILATION_CACHE"] = os.environ["JAXRL_TEST_CACHE"]
# Unbounded: the session's folder goes at exit (and the CLI subprocesses would list it as each starts).
# tests/test_program_cache.py checks the bound.
os.environ.setdefault("JAXRL_CACHE_MAX_MB", "unlimited")
# The default run is compile-bound (about 2/3 of its seconds are XLA's). Its programs compile with
# most of XLA's optimisations off (JAX_DISABLE_MOST_OPTIMIZATIONS: LLVM at -O0, its expensive passes
# skipped): a third less compile time for code that runs a few steps 2-3x more slowly. The same ops
# in the same order, rounded differently. Tests marked ``optimized`` and every ``slow`` test compile
# as a user's program does (:func:`pytest_runtest_setup`): the learning tests (probes included) and the
# finite-difference check, whose thresholds were set on the programs users run; the sweep-equals-runs
# check, whose rtol 1e-4 one loss missed unoptimised; programs that run long enough to pay for the
# full compile (test_suite.FULL_XLA). The other tolerance and bit-equality checks passed unoptimised
# (benchmarks/RESULTS.md, stop 50). ``JAXRL_TEST_XLA=full`` compiles every test fully. Subprocesses
# (the CLI tests) inherit the setting of the test that starts them.
_TEST_XLA = os.environ.get("JAXRL_TEST_XLA", "fast")
if _TEST_XLA not in ("fast", "full"):
    raise ValueError(f"JAXRL_TEST_XLA must be 'fast' (the default) or 'full', got {_TEST_XLA!r}")
if _TEST_XLA == "fast":
    os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# XLA:CPU logs two ERROR lines per program it loads from the cache (a benign tuning-feature
# mismatch); it reads its log level once, when jaxlib loads, i.e. below.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

from jaxrl import cli

cli._setup_compilation_cache()  # the CLI's own setup of JAXRL_COMPILATION_CACHE ("off": none)


def pytest_itemcollected(item):
    """Schedule for ``pytest -n N --dist loadgroup`` (the default, see pyproject.toml).

    Most test files share compiled programs between their tests (module fixtures, cached
    rollouts), so a file's tests run on one worker; tests/test_suite.py compiles one program
    per task, so there each task's tests form their own group and tasks spread over workers;
    each notebook (tests/test_notebooks.py) compiles its own programs, so notebooks spread too, as
    do the ``slow`` learning runs (each compiles its own program: ``pytest -m slow -n 2`` runs two
    at once instead of a file's one after another).

    The marker is added as each test is collected: pytest-xdist's worker turns markers into the
    ``@group`` suffix of the test id in its own ``pytest_collection_modifyitems``, which runs
    BEFORE a conftest's (marking there silently splits every group over the workers).
    """
    if item.get_closest_marker("xdist_group"):
        return
    group = item.path.stem
    params = item.callspec.params if hasattr(item, "callspec") else {}
    if item.path.name == "test_suite.py" and (params.get("name") or params.get("twin")):
        from test_suite import FULL_XLA, TWINS  # a twin reuses its base's rollout

        task = params.get("name") or params.get("twin")
        group = f"suite-{TWINS.get(task, task)}"
        if TWINS.get(task, task) in FULL_XLA:
            item.add_marker(pytest.mark.optimized)
    elif item.path.name == "test_envs.py" and params.get("name"):
        from test_envs import SHARED  # these reuse test_suite's rollout of the task

        if params["name"] in SHARED:
            group = f"suite-{params['name']}"
    elif item.path.name == "test_contract.py" and params.get("name"):
        group = f"contract-{params['name']}"  # an algorithm's tests share its compiled programs
    elif item.path.name == "test_notebooks.py" and params:
        group = f"notebook-{item.callspec.id}"
    elif item.get_closest_marker("slow"):
        group = f"{group}-{item.name}"  # a long learning run compiles its own program: spread them over workers
    item.add_marker(pytest.mark.xdist_group(group))


def _xla_optimizations_disabled() -> bool:
    import jax

    return bool(jax.config.values.get("jax_disable_most_optimizations", False))  # a JAX without the flag: False


def _set_xla_optimizations(disabled: bool) -> None:
    import jax

    jax.config.update("jax_disable_most_optimizations", disabled)
    os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1" if disabled else "0"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """An ``optimized`` or ``slow`` test compiles (from its fixtures on) with XLA's full optimisations, as a
    user's program does; the next test gets the session's setting back (:func:`pytest_runtest_teardown`).
    The in-memory jit cache is not keyed on the setting, so a program an earlier test compiled may be
    reused as it was; the persistent cache's key holds it."""
    item._jaxrl_xla_restore = None
    full = item.get_closest_marker("optimized") or item.get_closest_marker("slow")  # slow: long learning runs
    if full and _xla_optimizations_disabled():
        item._jaxrl_xla_restore = True
        _set_xla_optimizations(False)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    if getattr(item, "_jaxrl_xla_restore", None):
        _set_xla_optimizations(True)


_COMPILED = []  # names of the programs XLA compiled in this process (a listener registered once, below)


def _count_compiles(event, duration, fun_name=None, **_):
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILED.append(fun_name)


import jax.monitoring  # noqa: E402  (after the cache setup above)

jax.monitoring.register_event_duration_secs_listener(_count_compiles)


@pytest.fixture
def cli_in_process(tmp_path, monkeypatch, capsys):
    """``run(args) -> (exit code, stdout, stderr)`` of ``jaxrl ARGS`` run in this process
    (``cli.main``) with ``tmp_path`` as the working folder. For the one-line input errors, which the
    CLI reports before anything compiles; a subprocess per case spent ~3 s importing JAX and MuJoCo.
    What a user's terminal would also show is added to ``stderr``: Python warnings and log records
    at WARNING or above (pytest would otherwise collect them). Output written by native code to
    file descriptor 2 is not captured. It asserts that XLA compiled nothing during the call but the
    float32 casts of the hyperparameters' values (``as_hparams``, eager ``convert_element_type``);
    JAX keeps what this process compiled before, so that means nothing this worker had not
    compiled already (tests/test_run_safety.py keeps real subprocesses for the end-to-end case)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JAXRL_DEBUG", raising=False)

    def run(args):
        import logging
        import warnings

        capsys.readouterr()
        before = len(_COMPILED)
        records = []
        handler = logging.Handler(logging.WARNING)
        handler.emit = records.append
        absl_level = logging.getLogger("absl").level
        logging.getLogger().addHandler(handler)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                try:
                    code = cli.main(list(args))
                except SystemExit as e:  # argparse's own errors exit 2
                    code = e.code
        finally:
            logging.getLogger().removeHandler(handler)
            logging.getLogger("absl").setLevel(absl_level)  # cli.main silences absl for its process
        out, err = capsys.readouterr()
        err += "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught)
        err += "".join(f"{r.levelname}:{r.name}:{r.getMessage()}\n" for r in records)
        compiled = [n for n in _COMPILED[before:] if n != "jit(convert_element_type)"]
        assert not compiled, f"jaxrl {' '.join(args)} compiled {compiled} before its error"
        return code, out, err

    return run
