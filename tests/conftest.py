"""Shared test setup: tests import helpers from each other (``from test_wrappers import ...``)."""

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

# In-process ``jaxrl.cli.main`` calls would point the worker's JAX at the developer's persistent
# compilation cache (~/.cache/jaxrl/xla) for the rest of the session, so a local run's length
# would depend on what earlier sessions compiled. Tests that exercise the cache set their own.
os.environ.setdefault("JAXRL_COMPILATION_CACHE", "off")

import pytest


def pytest_itemcollected(item):
    """Schedule for ``pytest -n N --dist loadgroup`` (the default, see pyproject.toml).

    Most test files share compiled programs between their tests (module fixtures, cached
    rollouts), so a file's tests run on one worker; tests/test_suite.py compiles one program
    per task, so there each task's tests form their own group and tasks spread over workers;
    each notebook (tests/test_notebooks.py) compiles its own programs, so notebooks spread too.

    The marker is added as each test is collected: pytest-xdist's worker turns markers into the
    ``@group`` suffix of the test id in its own ``pytest_collection_modifyitems``, which runs
    BEFORE a conftest's (marking there silently splits every group over the workers).
    """
    if item.get_closest_marker("xdist_group"):
        return
    group = item.path.stem
    params = item.callspec.params if hasattr(item, "callspec") else {}
    if item.path.name == "test_suite.py" and (params.get("name") or params.get("twin")):
        from test_suite import TWINS  # a twin reuses its base's rollout

        task = params.get("name") or params.get("twin")
        group = f"suite-{TWINS.get(task, task)}"
    elif item.path.name == "test_envs.py" and params.get("name"):
        from test_envs import SHARED  # these reuse test_suite's rollout of the task

        if params["name"] in SHARED:
            group = f"suite-{params['name']}"
    elif item.path.name == "test_contract.py" and params.get("name"):
        group = f"contract-{params['name']}"  # an algorithm's tests share its compiled programs
    elif item.path.name == "test_notebooks.py" and params:
        group = f"notebook-{item.callspec.id}"
    item.add_marker(pytest.mark.xdist_group(group))
