"""The default run's compile setting (tests/conftest.py): unmarked tests compile with most of XLA's
optimisations off, ``optimized`` and ``slow`` tests as users' programs do, and their subprocesses inherit it."""

import os

import jax
import pytest

FAST = os.environ.get("JAXRL_TEST_XLA", "fast") == "fast"


def _disabled():
    return bool(jax.config.values["jax_disable_most_optimizations"]), os.environ.get("JAX_DISABLE_MOST_OPTIMIZATIONS")


def test_an_unmarked_test_compiles_unoptimised_in_the_default_run():
    assert _disabled() == ((True, "1") if FAST else (False, os.environ.get("JAX_DISABLE_MOST_OPTIMIZATIONS")))


@pytest.mark.optimized
def test_an_optimized_test_compiles_as_users_programs_do():
    flag, env = _disabled()
    assert not flag and (env == "0" or not FAST)


def test_the_setting_comes_back_after_an_optimized_test():
    assert _disabled()[0] == FAST
