"""What every registered algorithm's trainer promises (parametrised over ``jaxrl.algos.names()``).

Each algorithm ships a ``tiny`` preset (a probe env, a few updates); on it, every trainer:
- reports the shared metrics (``loss`` and the episode metrics);
- traces ONCE under ``jit(vmap(train))``, new hparams values reuse the program;
- run in compiled chunks by the runner gives exactly the numbers of one ``jit(train)``;
- vmapped over runs equals separate runs (to float32 rounding: vmap batches the matmuls);
- resumed from a checkpoint (orbax, the full state: replay buffers, env states, keys) ends
  bit for bit where the uninterrupted run ends;
- stops with the update index and the leaf's path when ANY floating leaf of its trainable state
  (not only a field named ``params``) becomes NaN;
- acts through the acting seam (``trainer.policy(state)`` is a ``jaxrl.policy.Policy``).
Compiled programs are shared by the tests of one algorithm (a module-level cache).
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import algos, checkpoint, envs, evaluate, runner
from jaxrl.policy import Policy

NAMES = algos.names()
SHARED_METRICS = ("loss", "episode_return", "episode_length", "episodes", "reward")


def _leaves(tree):
    return [np.asarray(jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x)
            for x in jax.tree.leaves(tree)]


def assert_trees_equal(a, b, exact=True):
    la, lb = _leaves(a), _leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        if exact or not np.issubdtype(x.dtype, np.floating):
            np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


@functools.lru_cache(maxsize=None)
def setup(name):
    """(algo, trainer, hparams, env, env_params, jit(train) and its outputs) for the tiny preset."""
    algo = algos.get(name)
    preset = algo.presets()["tiny"]
    config, hparams = preset.build(algo.Config, algo.Hparams)
    env, env_params = envs.make(preset.env, **preset.env_options)
    trainer = algo.make_train(config, env, env_params)
    hparams = algo.validate_hparams(hparams)
    single = jax.jit(trainer)
    state, metrics = single(jax.random.key(0), hparams)
    return algo, trainer, hparams, env, env_params, single, state, metrics


@functools.lru_cache(maxsize=None)
def chunked_runner(name):
    _, trainer, *_ = setup(name)
    assert trainer.num_updates % 2 == 0
    return runner.Runner(trainer, chunk_updates=2)


def test_every_algorithm_has_a_tiny_preset_and_the_protocol():
    for name in NAMES:
        algo = algos.get(name)
        for attr in ("Config", "Hparams", "default_hparams", "validate_hparams", "make_train", "presets"):
            assert hasattr(algo, attr), (name, attr)
        assert "tiny" in algo.presets() and "default" in algo.presets(), name
        algo.validate_hparams(algo.default_hparams())


@pytest.mark.parametrize("name", NAMES)
def test_reports_the_shared_metrics_finite_and_acts_through_the_seam(name):
    _, trainer, _, env, env_params, _, state, metrics = setup(name)
    for k in SHARED_METRICS:
        assert k in metrics and metrics[k].shape == (trainer.num_updates,), (name, k)
    for k, v in metrics.items():
        assert np.all(np.isfinite(np.asarray(v, np.float64))), (name, k)
    policy = trainer.policy(state)
    assert isinstance(policy, Policy)
    ret = jax.jit(lambda s, k: evaluate.episode_returns(k, env, env_params, trainer.policy(s), 4, 3))(state, jax.random.key(1))
    assert ret.shape == (4,) and np.all(np.isfinite(ret))


@pytest.mark.parametrize("name", NAMES)
def test_traces_once_under_jit_vmap_and_vmapped_runs_equal_separate_runs(name):
    _, trainer, hparams, _, _, single, _, _ = setup(name)
    counted = chex.assert_max_traces(lambda key, hp: trainer(key, hp), n=1)
    batched = jax.jit(jax.vmap(counted))
    keys = jax.random.split(jax.random.key(5), 2)
    hp2 = jax.tree.map(lambda x: jnp.stack([x, x * 0.5]), hparams)
    states, metrics = batched(keys, hp2)
    states_again, _ = batched(keys, jax.tree.map(lambda x: x * 0.9, hp2))  # new values: no retrace
    chex.clear_trace_counter()
    for i in range(2):
        alone_state, alone_metrics = single(keys[i], jax.tree.map(lambda x: x[i], hp2))
        for k in alone_metrics:
            np.testing.assert_allclose(metrics[k][i], alone_metrics[k], rtol=1e-4, atol=1e-5, err_msg=f"{name} {k} run {i}")
        assert_trees_equal(jax.tree.map(lambda x: x[i], states), alone_state, exact=False)


def test_a_curves_seed_keys_do_not_depend_on_how_many_seeds_run():
    """``evaluate.seed_keys`` (``evaluated_run``'s run keys; the benchmarks' ``--first-seed``): seed ``i``
    run alone has the key it has in a longer curve, so a curve can gain seeds one run at a time."""
    key = jax.random.key(0)
    three = jax.random.key_data(evaluate.seed_keys(key, 3))
    np.testing.assert_array_equal(three, jax.random.key_data(jax.random.split(key, 3)))
    for i in range(3):
        np.testing.assert_array_equal(jax.random.key_data(evaluate.seed_keys(key, 1, i)), three[i:i + 1])
    np.testing.assert_array_equal(jax.random.key_data(evaluate.seed_keys(key, 2, 1)), three[1:])
    assert len({tuple(k) for k in three.tolist()}) == 3
    with pytest.raises(ValueError, match="first_seed >= 0"):
        evaluate.seed_keys(key, 1, -1)


@pytest.mark.parametrize("name", NAMES)
def test_chunked_run_equals_one_jit(name):
    _, trainer, hparams, _, _, _, state, metrics = setup(name)
    res = chunked_runner(name).run(jax.random.key(0), hparams)
    assert_trees_equal(res.state, state)
    for k in metrics:
        np.testing.assert_array_equal(res.metrics[k], metrics[k], err_msg=f"{name} {k}")


@pytest.mark.parametrize("name", NAMES)
def test_resume_from_a_checkpoint_is_bit_exact(name, tmp_path):
    _, trainer, hparams, _, _, _, state, metrics = setup(name)
    run = chunked_runner(name)
    ck = checkpoint.Checkpointer(str(tmp_path / "ck"), keep=2)
    half = trainer.num_updates // 2

    def save_and_stop(p):
        ck.save(p.updates_done, p.state, {"update": p.updates_done})
        return p.updates_done >= half

    run.run(jax.random.key(0), hparams, on_progress=save_and_stop)
    like = jax.eval_shape(trainer.init, jax.random.key(0), hparams)
    restored, info = ck.restore(like)
    assert info["update"] == half
    res = run.run(jax.random.key(123), hparams, state=restored, start_update=half)  # the key is in the state
    assert_trees_equal(res.state, state)
    for k in metrics:
        np.testing.assert_array_equal(res.metrics[k], metrics[k][half:], err_msg=f"{name} {k}")


def _last_float_leaf(tree):
    """(index, keystr path) of the last floating leaf of ``tree``."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    idx = max(i for i, (_, x) in enumerate(flat) if jnp.issubdtype(x.dtype, jnp.inexact))
    return idx, jax.tree_util.keystr(flat[idx][0])


def poisoned(trainer, hparams, at_update: int):
    """``trainer`` whose update only counts (``update_step + 1``, zero metrics of the real update's
    shapes) and adds NaN to the LAST floating leaf of the trainable state (an optimiser moment, a
    temperature's, a normaliser's count: never a field named params) once ``update_step`` reaches
    ``at_update``; and that leaf's path inside ``trainer.trainable(state)``.

    The real update is not run: the guard is the runner's, the same for every algorithm, and it
    compiles around the real update in test_chunked_run_equals_one_jit; what is per algorithm is
    which leaves ``trainer.trainable`` exposes to it. (Recompiling a world-model learner with a
    poisoned update cost 40-46 s of the default run.)"""
    import dataclasses

    like = jax.eval_shape(trainer.init, jax.random.key(0), hparams)
    metric_shapes = jax.eval_shape(trainer.update, like)[1]

    def update(state):
        new_state = state.replace(update_step=state.update_step + 1)
        idx, _ = _last_float_leaf(trainer.trainable(new_state))
        target = jax.tree.leaves(trainer.trainable(new_state))[idx]
        bad = jnp.where(new_state.update_step == at_update, jnp.nan, 0.0).astype(target.dtype)
        metrics = {k: jnp.zeros(v.shape, v.dtype) for k, v in metric_shapes.items()}
        return jax.tree.map(lambda x: x + bad if x is target else x, new_state), metrics

    return dataclasses.replace(trainer, update=update), _last_float_leaf(trainer.trainable(like))[1]


@pytest.mark.parametrize("name", NAMES)
def test_non_finite_trainable_state_stops_the_run_with_the_update_and_leaf(name):
    _, trainer, hparams, *_ = setup(name)
    bad_trainer, path = poisoned(trainer, hparams, at_update=3)
    assert not path.startswith((".params", "[0]")), path  # the guard must look past the network parameters
    with pytest.raises(runner.NonFiniteError, match=r"non-finite trainable state.* at update 3$") as info:
        runner.run(bad_trainer, jax.random.key(0), hparams, chunk_updates=trainer.num_updates)
    assert info.value.quantity == "trainable state" + path, (info.value.quantity, path)
