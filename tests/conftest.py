"""Shared test setup: tests import helpers from each other (``from test_wrappers import ...``)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Schedule for ``pytest -n N --dist loadgroup`` (the default, see pyproject.toml).

    Most test files share compiled programs between their tests (module fixtures, cached
    rollouts), so a file's tests run on one worker; tests/test_suite.py compiles one program
    per task, so there each task's tests form their own group and tasks spread over workers.
    """
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        group = item.path.stem
        if item.path.name == "test_suite.py" and hasattr(item, "callspec"):
            task = item.callspec.params.get("name") or item.callspec.params.get("twin")
            if task is not None:
                from test_suite import TWINS  # a twin reuses its base's rollout

                group = f"suite-{TWINS.get(task, task)}"
        item.add_marker(pytest.mark.xdist_group(group))
