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
import time

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
    for f in glob.glob(str(tmp_path / "*.jaxprog")):
        os.utime(f, (1.0, 1.0))
    again, sources = _run(built, str(tmp_path), counts=counts)
    assert sources == {"init": "loaded", "chunk 2": "loaded"}, sources
    # a load marks the program used (its mtime): the folder's pruning removes the least recently used first
    assert all(os.path.getmtime(f) > time.time() - 600 for f in glob.glob(str(tmp_path / "*.jaxprog")))
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


def _fake_file(path, size: int, age_s: float) -> str:
    path.write_bytes(b"x" * size)
    os.utime(path, (time.time() - age_s,) * 2)
    return str(path)


def test_the_folder_keeps_the_most_recently_used_programs_within_its_bound(tmp_path):
    """``prune``: least recently used first (file mtime), never the program just written, a program's
    JSON goes with it; temporary files of a killed writer and orphaned JSON files go after an hour."""
    programs = {n: _fake_file(tmp_path / f"{n}.jaxprog", 1000, age) for n, age in (("a", 300), ("b", 200), ("c", 100))}
    for n in programs:
        _fake_file(tmp_path / f"{n}.jaxprog.json", 2, 0)
    stale = [_fake_file(tmp_path / ".jaxprog-tmp-killed", 50, 7200), _fake_file(tmp_path / "gone.jaxprog.json", 2, 7200)]
    fresh = [_fake_file(tmp_path / ".jaxprog-tmp-writing", 50, 10), _fake_file(tmp_path / "written.jaxprog.json", 2, 10),
             _fake_file(tmp_path / ".tmp-not-ours", 50, 7200)]  # another tool's temporary file: never ours to remove
    assert program_cache.prune(str(tmp_path), None) == []  # unbounded: only the stale files go
    assert not any(map(os.path.exists, stale)) and all(map(os.path.exists, fresh))
    removed = program_cache.prune(str(tmp_path), 2 * 1002 + 10, keep=programs["a"])  # room for two programs
    assert removed == [programs["b"]], removed  # "a" is older but is the one just written
    assert not os.path.exists(programs["b"] + ".json")
    assert all(os.path.exists(programs[n]) and os.path.exists(programs[n] + ".json") for n in "ac")
    assert program_cache.prune(str(tmp_path), 1500) == [programs["a"]]
    assert program_cache.prune(str(tmp_path / "absent"), 1) == []
    moved = _fake_file(tmp_path / "m.jaxprog", 10, 0)  # listed as used 500 s ago, loaded (touched) since
    assert program_cache._evict([(time.time() - 500, moved, [], 10)], 0) == [] and os.path.exists(moved)


def test_the_caches_bound_comes_from_one_variable_and_bad_values_are_one_line(monkeypatch, cli_in_process):
    monkeypatch.delenv("JAXRL_CACHE_MAX_MB", raising=False)
    assert program_cache.limit_bytes() == 2048 * 2**20 and program_cache.program_limit_bytes() == 256 * 2**20
    for text, expected in (("512", 512 * 2**20), ("1.5", 3 * 2**19), ("unlimited", None), ("-1", None)):
        monkeypatch.setenv("JAXRL_CACHE_MAX_MB", text)
        assert program_cache.limit_bytes() == expected, text
    for text in ("0", "0.5", "-3", "lots", "nan", "inf"):
        monkeypatch.setenv("JAXRL_CACHE_MAX_MB", text)
        with pytest.raises(ValueError, match="JAXRL_CACHE_MAX_MB"):
            program_cache.limit_bytes()
    code, out, err = cli_in_process(["train", "--env", "probe_action"])  # before anything is built
    assert code == 2 and err.strip() == "jaxrl: error: JAXRL_CACHE_MAX_MB='inf': give the caches' bound in MiB (at least 1), or 'unlimited'", err


def test_writing_a_program_prunes_the_folder_to_its_bound(built, traced, tmp_path, monkeypatch):
    _run(built, str(tmp_path), key="first config")
    first = set(glob.glob(str(tmp_path / "*.jaxprog")))
    assert len(first) == 2
    size = sum(os.path.getsize(f) + os.path.getsize(f + ".json") for f in first)  # one config's init and chunk
    monkeypatch.setenv("JAXRL_CACHE_MAX_MB", "1")
    monkeypatch.setattr(program_cache, "PROGRAM_SHARE", int(2**20 / (1.1 * size)))  # room for one config
    result, sources = _run(built, str(tmp_path), key="second config")
    assert sources == {"init": "exported", "chunk 2": "exported"}, sources
    _equal(result.state, traced.state)
    kept = set(glob.glob(str(tmp_path / "*.jaxprog")))
    assert len(kept) == 2 and not kept & first, (kept, first)  # the first config's programs went first
    assert {f + ".json" for f in kept} == set(glob.glob(str(tmp_path / "*.json")))


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


def test_jaxs_compilation_cache_is_pruned_least_recently_used_first_as_jaxrl_starts(tmp_path):
    """``prune_compiled`` keeps the most recently written or used entries (JAX's ``-atime`` where it kept
    one, else the file's mtime) within the bound; ``jaxrl`` runs it as a command starts, before anything
    else (here a command that then fails on its input)."""
    import subprocess
    import sys

    cache = tmp_path / "xla"
    cache.mkdir()

    def entry(name, age_s, used_s=None):
        path = _fake_file(cache / f"{name}-cache", 600_000, age_s)
        if used_s is not None:
            (cache / f"{name}-atime").write_bytes(int((time.time() - used_s) * 1e9).to_bytes(8, "little"))
        return path

    old, old_but_used, recent = entry("jit_a-1", 900), entry("jit_b-2", 800, used_s=10), entry("jit_c-3", 100)
    other = _fake_file(cache / "notes.txt", 50, 9000)  # not JAX's: never removed
    assert program_cache.prune_compiled(str(cache), 10**7) == []
    assert program_cache.prune_compiled(str(cache), 1_300_000) == [old]
    assert os.path.exists(old_but_used) and os.path.exists(cache / "jit_b-2-atime") and os.path.exists(recent)
    env = {**os.environ, "JAXRL_COMPILATION_CACHE": str(cache), "JAXRL_CACHE_MAX_MB": "1"}
    p = subprocess.run([sys.executable, "-m", "jaxrl.cli", "eval", str(tmp_path / "no-run")], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "does not exist" in p.stderr, p.stderr
    assert not os.path.exists(recent) and os.path.exists(old_but_used) and os.path.exists(other)  # 1 MiB: room for one
    env["JAXRL_CACHE_MAX_MB"] = "0.5"
    p = subprocess.run([sys.executable, "-m", "jaxrl.cli", "eval", str(tmp_path / "no-run")], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.strip().endswith("in MiB (at least 1), or 'unlimited'"), p.stderr
    assert os.path.exists(old_but_used)  # refused before anything was pruned
