"""Exported programs kept across runs (jaxrl.program_cache): the same numbers, nothing traced, safe keys.

Every algorithm's ``tiny`` run, traced / exported / loaded in three processes, is checked bit for bit
by ``python benchmarks/program_cache_check.py`` (benchmarks/RESULTS.md); here PPO's, in-process. The
CLI tests (tests/test_runs.py: kill, resume, bit-exact) run through the cache as well: their
subprocesses share one XLA cache folder, so the later ones load the programs the first exported.
"""

from __future__ import annotations

import dataclasses
import glob
import os

import jax
import numpy as np
import pytest

from jaxrl import experiment, program_cache, runner
from jaxrl.algos import ppo

SPEC = experiment.Spec(algo="ppo", env="probe_action", config=dict(ppo.presets()["tiny"].config), hparams={"lr": 3e-3}, log_every=2)


def _counting(trainer, counts):
    """``trainer`` whose ``update`` and ``init`` count how often they are traced (or run eagerly)."""
    def update(state):
        counts["update"] += 1
        return trainer.update(state)

    def init(*args):
        counts["init"] += 1
        return trainer.init(*args)

    return dataclasses.replace(trainer, update=update, init=init)


def _run(built, program_dir=None, key="ppo tiny", hparams=None, counts=None):
    trainer = _counting(built.trainer, counts) if counts is not None else built.trainer
    r = runner.Runner(trainer, 2, log_every=2, on_log=lambda row: None, program_dir=program_dir, program_key=key)
    result = r.run(jax.random.key(3), hparams or built.hparams)
    return result, r.program_sources


def _equal(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def built():
    return experiment.build(SPEC)


@pytest.fixture(scope="module")
def traced(built):
    result, sources = _run(built)
    assert set(sources.values()) == {"traced"}, sources
    return result


def test_a_loaded_program_gives_the_traced_numbers_and_traces_nothing(built, traced, tmp_path):
    first, sources = _run(built, str(tmp_path))
    assert sources == {"init": "exported", "chunk 2": "exported"}, sources
    assert len(glob.glob(str(tmp_path / "*.jaxprog"))) == 2
    counts = {"update": 0, "init": 0}
    again, sources = _run(built, str(tmp_path), counts=counts)
    assert sources == {"init": "loaded", "chunk 2": "loaded"}, sources
    # the update is never traced; init only abstractly, for the state's structure
    assert counts == {"update": 0, "init": 1}, counts
    for result in (first, again):
        _equal(result.state, traced.state)
        _equal(result.metrics, traced.metrics)
    # the hparams' values and the seed are inputs: other values load the same programs
    _, sources = _run(built, str(tmp_path), hparams=dataclasses.replace(built.hparams, lr=built.hparams.lr * 0.1))
    assert sources == {"init": "loaded", "chunk 2": "loaded"}, sources
    # another key (another config) is another program
    _, sources = _run(built, str(tmp_path), key="ppo tiny, another config")
    assert sources == {"init": "exported", "chunk 2": "exported"}, sources


def test_a_damaged_or_truncated_file_is_ignored_and_written_again(built, traced, tmp_path):
    _run(built, str(tmp_path))
    files = sorted(glob.glob(str(tmp_path / "*.jaxprog")), key=os.path.getsize)
    with open(files[-1], "r+b") as f:  # the chunk program: flip bytes in the middle
        f.seek(os.path.getsize(files[-1]) // 2)
        f.write(b"\xff" * 64)
    with open(files[0], "r+b") as f:
        f.truncate(100)
    result, sources = _run(built, str(tmp_path))
    assert sources == {"init": "exported", "chunk 2": "exported"}, sources
    _equal(result.state, traced.state)
    meta = files[-1] + ".json"  # what is stored beside a program is under its checksum too
    with open(meta) as f:
        text = f.read()
    assert '"custom_calls": [' in text
    with open(meta, "w") as f:
        f.write(text.replace('"custom_calls": [', '"custom_calls": ["other", '))
    result, sources = _run(built, str(tmp_path))
    assert sources == {"init": "loaded", "chunk 2": "exported"}, sources  # init's files were intact
    _equal(result.state, traced.state)
    _, sources = _run(built, str(tmp_path))
    assert sources == {"init": "loaded", "chunk 2": "loaded"}, sources


def test_a_non_finite_value_is_named_also_by_a_loaded_program(built, tmp_path):
    bad = dataclasses.replace(built.hparams, lr=built.hparams.lr * np.nan)
    errors = []
    for program_dir, source in ((None, "traced"), (str(tmp_path), "exported"), (str(tmp_path), "loaded")):
        r = runner.Runner(built.trainer, 2, log_every=2, on_log=lambda row: None, program_dir=program_dir, program_key="ppo tiny")
        with pytest.raises(runner.NonFiniteError) as e:
            r.run(jax.random.key(3), bad)
        assert r.program_sources == {"init": source, "chunk 2": source}, r.program_sources
        errors.append(str(e.value))
    assert errors == errors[:1] * 3, errors
    assert "trainable state" in errors[0] or "loss" in errors[0] or "grad_norm" in errors[0], errors


def _external_objective(*args, **kwargs):  # a callable whose code is outside jaxrl
    return ppo.config.clipped_surrogate(*args, **kwargs)


def test_the_program_key_holds_the_config_not_the_seed_or_hparams_and_refuses_foreign_code(built):
    assert built.program_key() is None  # no program folder: nothing is kept
    at = lambda spec: dataclasses.replace(experiment.build(spec), program_dir="x").program_key()  # noqa: E731
    key = at(SPEC)
    assert key is not None
    assert at(dataclasses.replace(SPEC, seed=7)) == key
    assert at(dataclasses.replace(SPEC, hparams={"lr": 1e-4})) == key
    assert at(dataclasses.replace(SPEC, config={**SPEC.config, "num_envs": 4})) != key
    assert at(dataclasses.replace(SPEC, env="probe_obs_reward")) != key
    foreign = dataclasses.replace(built, program_dir="x", config=dataclasses.replace(built.config, objective=_external_objective))
    assert foreign.program_key() is None

    def saved_rule(*args, **kwargs):  # as jaxrl.algos.meta.saved names a rule read from a folder
        return ppo.config.clipped_surrogate(*args, **kwargs)

    saved_rule.__module__, saved_rule.__qualname__ = "jaxrl.algos.meta.saved", "objective@/runs/meta/rule"
    rule = dataclasses.replace(built, program_dir="x", config=dataclasses.replace(built.config, objective=saved_rule))
    assert rule.program_key() is None


class _Wrapped:
    """A static field like MJX's NumPy wrapper: slots, an array, and a ``repr`` that is an address."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


@jax.tree_util.register_pytree_node_class
class _Node:
    """A tree node with static data (as MJX's ``Contact`` holds wrapped arrays)."""

    def __init__(self, static, x):
        self.static, self.x = static, x

    def tree_flatten(self):
        return (self.x,), self.static

    @classmethod
    def tree_unflatten(cls, static, children):
        return cls(static, *children)


def test_a_trees_description_is_the_same_for_equal_static_data_and_never_an_address():
    def signature(n):
        return program_cache._signature((_Node(_Wrapped(np.arange(n)), np.float32(1.0)),))

    a = signature(3)
    assert " at 0x" in repr(_Wrapped(np.arange(3)))
    assert a == signature(3) and " at 0x" not in a, a
    assert signature(4) != a


def test_a_program_with_a_host_callback_is_not_kept(tmp_path):
    def fn(x):
        jax.debug.callback(lambda v: None, x)
        return {"y": x + 1}

    assert program_cache.lowered(str(tmp_path), "k", fn, (np.float32(1.0),)) is None
    program = program_cache.lowered(str(tmp_path), "k", lambda x: {"y": x + 1}, (np.float32(1.0),))
    assert program is not None and not program.loaded
    assert program.compile()(np.float32(2.0))["y"] == 3.0
