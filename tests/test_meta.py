"""Meta-learning: learned objectives/optimisers reproduce PPO exactly at their initial meta-params,
train() vmaps over a population, ES and meta-gradient trainers are correct and improve a rule,
runs checkpoint and resume exactly, saved rules load by path, bad input is a clear error.

Compile time dominates on a CPU: each PPO program is compiled once per session (cached
builders), tiny shapes everywhere; ES machinery checks use a quadratic fitness (cheap compile).
Tests that share compiled programs share an xdist group; the PPO-heavy groups may run on
different workers.
"""

import functools
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl import checkpoint as ckpt
from jaxrl import configs, envs, runner
from jaxrl.algos import meta, ppo
from jaxrl.algos.meta import es as es_lib
from jaxrl.algos.meta import objectives, rules
from jaxrl.algos.meta import run as meta_run

CFG = ppo.PPOConfig(total_timesteps=8 * 4 * 6, num_envs=8, num_steps=4, num_minibatches=2, update_epochs=2,
                    hidden_sizes=(8,), anneal_lr=True)
HP = ppo.PPOHparams(lr=3e-3)
KEY = jax.random.key(1)


def _leaves(tree):
    return [np.asarray(jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x) for x in jax.tree.leaves(tree)]


def _equal(a, b):
    """Bit-for-bit equality of two pytrees (PRNG keys by their data)."""
    la, lb = _leaves(a), _leaves(b)
    return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb))


# ----------------------------------------------------------------------------- objectives (pure functions)


def test_dpo_matches_numpy_reference():
    r = np.array([0.5, 0.9, 1.0, 1.3, 2.0, 0.7, 1.0, 1.6], np.float32)
    a = np.array([1.5, -0.4, 2.0, 3.0, -2.0, 0.0, -1.0, 4.0], np.float32)
    up, down = (r - 1) * a, np.log(r) * a
    drift = np.where(a >= 0, np.maximum(up - 2.0 * np.tanh(up / 2.0), 0), np.maximum(down - 0.6 * np.tanh(down / 0.6), 0))
    np.testing.assert_allclose(objectives.dpo_drift(r, a), drift, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(meta.dpo_objective(r, a, HP), r * a - drift, rtol=1e-6, atol=1e-6)
    assert np.all(drift >= 0) and np.all(drift[r == 1.0] == 0)
    # as meta-parameters: alpha/beta from meta_params["dpo"] change the drift
    other = meta.dpo_objective(r, a, HP, {"dpo": {"alpha": 0.5, "beta": 0.6}})
    assert not np.allclose(other, r * a - drift)


def test_lpo_drift_is_a_valid_drift_and_zero_output_layer_is_ppo():
    lpo = jax.jit(meta.lpo_objective)
    r = jnp.exp(jax.random.normal(jax.random.key(0), (64,)) * 0.4)
    a = jax.random.normal(jax.random.key(1), (64,))
    theta = meta.init_lpo(jax.random.key(2))
    clip = ppo.clipped_surrogate(r, a, HP)
    np.testing.assert_array_equal(lpo(r, a, HP, theta, 0.3), clip)
    zeros = jax.tree.map(jnp.zeros_like, theta)
    np.testing.assert_array_equal(lpo(r, a, HP, zeros, 0.3), clip)
    learned = {"lpo": {**theta["lpo"], "w2": jax.random.normal(jax.random.key(3), (16,))}}
    obj = lpo(r, a, HP, learned, 0.3)
    drift = r * a - obj
    assert not np.allclose(obj, clip)
    assert np.all(drift >= -1e-6)  # total drift max(d_ppo + c, 0) >= 0
    at_one = lpo(jnp.ones(64), a, HP, learned, 0.3)
    np.testing.assert_allclose(at_one, a, atol=1e-6)  # zero drift at r = 1: objective = A
    # progress is an input: the same (r, A) at another point of the lifetime give another objective
    assert not np.allclose(lpo(r, a, HP, learned, 0.9), obj)


# ----------------------------------------------------------------------------- optimisers (pure functions)


def _opt_trajectory(tx, steps=5):
    """The parameters after each of ``steps`` optimiser steps on a small non-quadratic loss, ``[steps, ...]``."""
    params = {"w": jnp.array([[0.3, -1.2], [2.0, 0.1]]), "b": jnp.array([0.5, -0.5])}

    def loss(p):
        return jnp.sum(jnp.sin(p["w"]) ** 2) + jnp.sum((p["b"] - 1.0) ** 2) + jnp.sum(p["w"] @ p["b"])

    def step(carry, _):
        params, state = carry
        updates, state = tx.update(jax.grad(loss)(params), state, params)
        params = optax.apply_updates(params, updates)
        return (params, state), params

    return jax.jit(lambda p: jax.lax.scan(step, (p, tx.init(p)), None, length=steps)[1])(params)


def test_learned_optimizers_at_initial_meta_params_equal_ppo_default():
    for anneal in (True, False):
        cfg = CFG.replace(anneal_lr=anneal, total_timesteps=8 * 4 * 2)
        base = _opt_trajectory(ppo.default_optimizer(HP, None, cfg))
        lifetime = _opt_trajectory(meta.lifetime_lr_optimizer(HP, meta.init_lifetime_lr(), cfg))
        assert _equal(base, lifetime), f"lifetime_lr anneal={anneal}"  # bit for bit
        opened = _opt_trajectory(meta.open_optimizer(HP, meta.init_open(jax.random.key(0)), cfg))
        for x, y in zip(jax.tree.leaves(base), jax.tree.leaves(opened)):  # XLA fuses `* 1 + 0` differently
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-8)


def test_lifetime_multiplier_matches_numpy_interpolation_and_changes_the_steps():
    log_lr = jnp.array([0.0, 1.0, -2.0, 0.5])
    for p in (0.0, 0.1, 1 / 3, 0.5, 0.9, 1.0):
        expected = np.exp(np.interp(p, np.linspace(0, 1, 4), np.asarray(log_lr)))
        np.testing.assert_allclose(meta.lr_multiplier(log_lr, p), expected, rtol=1e-6)
    assert float(meta.lr_multiplier(jnp.array([9.0, 9.0]), 0.5)) == pytest.approx(np.exp(4.0), rel=1e-6)  # clipped
    cfg = CFG.replace(anneal_lr=False)
    base = jax.tree.map(lambda x: x[0], _opt_trajectory(ppo.default_optimizer(HP, None, cfg), steps=1))
    double = _opt_trajectory(meta.lifetime_lr_optimizer(HP, {"lifetime_lr": {"log_lr": jnp.full(4, np.log(2.0))}}, cfg), steps=1)
    double = jax.tree.map(lambda x: x[0], double)
    start = {"w": jnp.array([[0.3, -1.2], [2.0, 0.1]]), "b": jnp.array([0.5, -0.5])}
    for k in start:  # the first step is twice as long (up to rounding of the parameters, ~2e-7)
        np.testing.assert_allclose(double[k] - start[k], 2 * (base[k] - start[k]), rtol=1e-5, atol=1e-6)
    # OPEN: a non-zero output layer changes the update per parameter
    theta = meta.init_open(jax.random.key(0))
    theta["open"]["w2"] = 0.5 * jax.random.normal(jax.random.key(1), theta["open"]["w2"].shape)
    changed = _opt_trajectory(meta.open_optimizer(HP, theta, cfg), steps=1)
    assert not np.allclose(changed["w"][0], base["w"])


# ----------------------------------------------------------------------------- PPO with the slots


@functools.lru_cache(maxsize=None)
def _ppo():
    env, params = envs.make("probe_action")
    learned = ppo.make_train(CFG.replace(objective=meta.lpo_objective, optimizer=meta.lifetime_lr_optimizer), env, params)
    return env, params, jax.jit(ppo.make_train(CFG, env, params)), learned, jax.jit(learned)


def _initial_meta(key=jax.random.key(7)):
    return {**meta.init_lpo(key), **meta.init_lifetime_lr()}


@pytest.mark.xdist_group("test_meta-ppo")  # shares _ppo()'s compiled programs with the next test
def test_initial_and_zero_meta_params_reproduce_ppo_bit_for_bit():
    """LPO (documented initial: random hidden layer, zero output layer; and all zeros) in the
    objective slot and the lifetime step size (zeros) in the optimizer slot, in ONE program,
    give PPO's parameters bit for bit, and every metric equal to float32 rounding: bit for bit on
    JAX 0.9.2; on JAX 0.12 XLA sums the learned objective's extra (zero) terms in another order, and
    the reported losses (means of O(1) terms that nearly cancel) differ by up to 8e-9 in absolute
    value, while the parameters stay identical."""
    _, _, default, _, learned = _ppo()
    s0, m0 = default(KEY, HP)
    for mp in (_initial_meta(), jax.tree.map(jnp.zeros_like, _initial_meta())):
        s1, m1 = learned(KEY, HP, mp)
        assert _equal(s0.params, s1.params)
        for k in m0:
            np.testing.assert_allclose(m0[k], m1[k], rtol=1e-6, atol=1e-7, err_msg=k)  # float32 rounding of O(1) sums


@pytest.mark.xdist_group("test_meta-ppo")
def test_vmap_over_population_equals_python_loop():
    _, _, _, learned, single = _ppo()
    base = _initial_meta()
    flat, unravel = jax.flatten_util.ravel_pytree(base)
    noise = jax.random.normal(jax.random.key(3), (3, flat.shape[0]))
    members = [unravel(flat + 0.7 * n) for n in noise]
    batched = jax.tree.map(lambda *x: jnp.stack(x), *members)
    vs, vm = jax.jit(jax.vmap(learned, in_axes=(None, None, 0)))(KEY, HP, batched)
    losses = []
    for i, mp in enumerate(members):
        s, m = single(KEY, HP, mp)
        losses.append(m["loss"])
        for k in ("loss", "episode_return", "grad_norm"):
            np.testing.assert_allclose(vm[k][i], m[k], rtol=1e-4, atol=1e-5, err_msg=f"{k} member {i}")
        for a, b in zip(jax.tree.leaves(s.params), jax.tree.leaves(jax.tree.map(lambda x: x[i], vs.params))):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(losses[0], losses[1])  # the meta-params really change training


# ----------------------------------------------------------------------------- ES machinery (quadratic fitness)

TARGET = {"a": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array([[0.3, 0.0], [-1.0, 2.0]])}
START = jax.tree.map(jnp.zeros_like, TARGET)


def _quadratic(key, m):
    noise = 0.01 * jax.random.normal(key)  # common to all members of a generation
    return noise - sum(jnp.sum((m[k] - TARGET[k]) ** 2) for k in m)


def _nan_when_a0_positive(key, m):
    return jnp.where(m["a"][0] > 0.05, jnp.nan, _quadratic(key, m))


def test_centered_ranks_and_antithetic_sampling():
    f = jnp.array([3.0, -1.0, 10.0, 0.5, 7.0])
    np.testing.assert_allclose(meta.centered_ranks(f), (np.argsort(np.argsort(np.asarray(f))) / 4 - 0.5))
    strat = meta.OpenES(6, 4)
    hp = es_lib.as_es_hparams({"sigma": 0.3})
    state = strat.init(None, jnp.arange(4.0), hp)
    pop, _ = strat.ask(jax.random.key(0), state, hp)
    np.testing.assert_allclose(pop[:3] + pop[3:], np.broadcast_to(2 * np.arange(4.0), (3, 4)), rtol=1e-6)  # pairs mirror the mean
    # the search gradient: rank-weighted noise / (P sigma), by hand
    fit = jnp.array([1.0, 5.0, 2.0, 0.0, 3.0, 4.0])
    ranks = np.argsort(np.argsort(np.asarray(fit))) / 5 - 0.5
    expected = ranks @ ((np.asarray(pop) - np.arange(4.0)) / 0.3) / (6 * 0.3)
    np.testing.assert_allclose(meta.OpenES.gradient(pop, fit, jnp.arange(4.0), 0.3), expected, rtol=1e-5)


@functools.lru_cache(maxsize=None)
def _quadratic_es(generations=12, chunk=4, fitness=_quadratic):
    return meta.make_es(fitness, START, meta.ESConfig(generations=generations, population=8, chunk=chunk))


ES_HP = meta.ESHparams(sigma=0.2, lr=0.1)


def test_es_step_in_scan_equals_python_loop_and_improves():
    es = _quadratic_es()
    state, metrics = jax.jit(es)(KEY, ES_HP)
    s = jax.jit(es.init)(KEY, ES_HP)
    step = jax.jit(es.update)
    rows = []
    for _ in range(es.num_updates):
        s, m = step(s)
        rows.append(m)
    for k in metrics:
        np.testing.assert_allclose(metrics[k], np.stack([r[k] for r in rows]), rtol=1e-6, atol=1e-7, err_msg=k)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(s.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert metrics["fitness_mean"][-1] > 0.5 * metrics["fitness_mean"][0]  # -5.6 -> closer to 0
    assert int(state.generation) == es.num_updates and float(state.best_fitness) == pytest.approx(float(metrics["fitness_best"].max()))


def test_nonfinite_fitness_is_penalised_not_propagated():
    es = _quadratic_es(generations=6, fitness=_nan_when_a0_positive)
    state, metrics = jax.jit(es)(KEY, ES_HP)
    assert metrics["nonfinite_members"].sum() > 0  # some members hit the NaN region
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves((state.params, state.strategy, metrics)))
    assert float(state.params["a"][0]) < 0.05  # the search moved away from the penalised region
    # the penalty ranks NaN members last: the gradient pushes away from them
    pop = jnp.array([[1.0], [-1.0]])
    clean = jnp.where(jnp.isfinite(jnp.array([jnp.nan, 0.0])), jnp.array([jnp.nan, 0.0]), -1e9)
    assert float(meta.OpenES.gradient(pop, clean, jnp.zeros(1), 1.0)[0]) < 0
    # a diverged PPO run has fitness NaN even though its episode returns look fine
    fake = {"episode_return": jnp.ones(8), "episodes": jnp.ones(8), "loss": jnp.array([0.1] * 7 + [jnp.inf])}
    assert np.isnan(meta.run_fitness(fake)) and float(meta.run_fitness({**fake, "loss": jnp.zeros(8)})) == 1.0


def test_fitness_kinds_match_numpy():
    ret = jnp.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    done = jnp.array([1, 0, 2, 1, 0, 1, 3, 1])
    m = {"episode_return": ret, "episodes": done, "loss": jnp.zeros(8)}
    assert float(meta.run_fitness(m, "final", last=0.25)) == pytest.approx((6 * 3 + 7 * 1) / 4)
    assert float(meta.run_fitness(m, "auc")) == pytest.approx(np.mean([0, 2, 3, 5, 6, 7]))
    assert np.isnan(meta.run_fitness({**m, "episodes": jnp.zeros(8)}, "final"))
    with pytest.raises(configs.ConfigError, match="unknown fitness 'best'; choose one of: final, auc"):
        meta.ppo_fitness(None, HP, seeds=1, kind="best")


def test_chunked_runner_equals_one_program_and_resumes_exactly(tmp_path):
    es = _quadratic_es()
    whole, whole_metrics = jax.jit(es)(KEY, ES_HP)
    ck = ckpt.Checkpointer(str(tmp_path / "ck"), keep=10, identity={"what": "quadratic"})
    r = runner.Runner(es, chunk_updates=4)
    res = r.run(KEY, ES_HP, on_progress=lambda p: ck.save(p.updates_done, p.state))
    assert _equal(whole, res.state) and all(np.array_equal(whole_metrics[k], res.metrics[k]) for k in whole_metrics)
    assert ck.steps() == [4, 8, 12]
    restored, _ = ck.restore(jax.eval_shape(es.init, KEY, ES_HP), step=4)
    again = r.run(KEY, ES_HP, state=restored, start_update=4)  # same compiled chunk program
    assert _equal(again.state, whole)
    np.testing.assert_array_equal(again.metrics["fitness_mean"], whole_metrics["fitness_mean"][4:])


def test_evosax_adapter_runs_inside_the_compiled_loop():
    pytest.importorskip("evosax")
    es = meta.make_es(_quadratic, START, meta.ESConfig(generations=30, population=8, strategy="evosax:SNES"))
    state, metrics = jax.jit(es)(KEY, meta.ESHparams(sigma=0.5))
    assert metrics["fitness_mean"][-1] > 0.2 * metrics["fitness_mean"][0]
    with pytest.raises(meta.ESError, match="unknown evosax strategy 'NoSuchES'.*SNES"):
        meta.make_es(_quadratic, START, meta.ESConfig(strategy="evosax:NoSuchES"))


SHARD_SCRIPT = textwrap.dedent("""
    import json, jax, jax.numpy as jnp, numpy as np
    from jaxrl.algos import meta
    assert jax.device_count() == 2
    target = jnp.array([1.0, -2.0, 0.5])
    def fit(key, m):
        return 0.01 * jax.random.normal(key) - jnp.sum((m["a"] - target) ** 2)
    cfg = meta.ESConfig(generations=5, population=8, chunk=4)
    hp = meta.ESHparams(sigma=0.2, lr=0.1)
    two = meta.make_es(fit, {"a": jnp.zeros(3)}, cfg)
    one = meta.make_es(fit, {"a": jnp.zeros(3)}, cfg, devices=jax.devices()[:1])
    text = jax.jit(two).lower(jax.random.key(0), hp).as_text()
    s2, m2 = jax.jit(two)(jax.random.key(0), hp)
    s1, m1 = jax.jit(one)(jax.random.key(0), hp)
    print("RESULT" + json.dumps({"sharded": "sharding" in text and "runs" in text,
                                 "diff": float(np.max(np.abs(np.asarray(m2["fitness_mean"]) - np.asarray(m1["fitness_mean"])))),
                                 "pdiff": float(np.max(np.abs(np.asarray(s2.params["a"]) - np.asarray(s1.params["a"]))))}))
    try:
        meta.make_es(fit, {"a": jnp.zeros(3)}, meta.ESConfig(population=6, chunk=3))
    except meta.ESError as e:
        print("ERROR" + str(e))
""")


def test_population_split_over_devices_gives_the_same_numbers():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SHARD_SCRIPT], capture_output=True, text=True, env=env, timeout=280)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.split("RESULT", 1)[1].splitlines()[0])
    assert result["sharded"] and result["diff"] <= 1e-5 and result["pdiff"] <= 1e-5, result
    assert "the chunk of 3 members does not split over 2 devices" in out.stdout


# ----------------------------------------------------------------------------- ES improves a rule for PPO


def _es_spec(**changes):
    base = dict(
        method="es", rule="lifetime_lr", rule_options={"knots": 2}, env="probe_action",
        config={"total_timesteps": 8 * 4 * 16, "num_envs": 8, "num_steps": 4, "num_minibatches": 1, "update_epochs": 2,
                "hidden_sizes": [8], "anneal_lr": False},
        hparams={"lr": 3e-4}, meta_config={"generations": 8, "population": 8}, meta_hparams={"sigma": 0.5, "lr": 0.5},
        seeds=2, checkpoint_every=4,
    )
    return meta_run.MetaSpec(**{**base, **changes})


@pytest.mark.optimized  # a learning threshold (tests/conftest.py)
@pytest.mark.xdist_group("test_meta-es-ppo")  # compiles nothing shared: may run beside the others
def test_es_meta_learns_a_step_size_that_beats_its_start_on_a_probe(tmp_path):
    """With a too-small base learning rate (3e-4), PPO barely learns probe_action in 16 updates; ES must
    raise the learned step-size multiplier. A sign flip (descending the fitness) or a broken
    fitness lowers it instead, and the fitness does not rise."""
    out = meta_run.meta_to_dir(_es_spec(), run_dir=str(tmp_path / "m"))
    rows = [json.loads(line) for line in open(tmp_path / "m" / "metrics.jsonl")]
    fitness = [row["fitness_mean"] for row in rows]
    first, last = np.mean(fitness[:2]), np.mean(fitness[-2:])
    log_lr = np.asarray(out.result.state.params["lifetime_lr"]["log_lr"])
    assert log_lr[0] > 1.0 and log_lr.mean() > 1.0, log_lr  # the step size grew by more than e
    assert last > first + 0.08, fitness  # ~0.5 (random policy) -> ~0.65
    # the run directory: rule saved, checkpoints every 3 generations, loadable by path
    rule, mp, record = rules.load_rule(str(tmp_path / "m"))
    assert rule.name == "lifetime_lr" and record["info"]["generation"] == 8
    np.testing.assert_array_equal(mp["lifetime_lr"]["log_lr"], log_lr)
    assert json.load(open(tmp_path / "m" / "result.json"))["checkpoints"] == [4, 8]
    # resuming a finished meta run restores its final state from the checkpoint (nothing left to run)
    again = meta_run.meta_to_dir(run_dir=str(tmp_path / "m"), resume=True)
    assert _equal(again.result.state, out.result.state) and again.result.updates_done == 8


# ----------------------------------------------------------------------------- meta-gradients


@functools.lru_cache(maxsize=None)
def _metagrad():
    env, params = envs.make("probe_action")
    rule = meta.get_rule("lifetime_lr")
    cfg = rule.configure(CFG.replace(num_minibatches=1, update_epochs=1, anneal_lr=False, total_timesteps=8 * 4 * 4))
    trainer = ppo.make_train(cfg, env, params)
    init = rule.initial(knots=4)
    mg = meta.make_metagrad(trainer, HP, init, meta.MetaGradConfig(steps=2, unroll=2, seeds=2), env=env, env_params=params)
    inner = jax.jit(mg.init)(jax.random.key(0)).inner
    value_and_grad = jax.jit(jax.value_and_grad(lambda m, k: mg.loss(m, inner, k)[0]))
    return init, value_and_grad


@pytest.mark.optimized  # finite differences to rel 0.05, set on the programs users run (tests/conftest.py)
@pytest.mark.xdist_group("test_meta-grad")  # its program (second-order through 2 PPO updates) compiles in ~45 s of CPU
def test_meta_gradient_of_two_update_unroll_matches_finite_differences():
    init, value_and_grad = _metagrad()
    key = jax.random.key(3)
    value, grad = value_and_grad(init, key)
    g = np.asarray(grad["lifetime_lr"]["log_lr"])
    assert np.all(np.isfinite(g)) and np.isfinite(value)
    assert np.abs(g[:2]).min() > 1e-4  # the knots the 2 updates use get a non-zero meta-gradient
    assert np.all(g[3:] == 0)  # progress never reaches the last knot in 2 of 4 updates
    eps = 1e-2
    for i in (0, 1):
        e = jnp.zeros(4).at[i].set(eps)
        plus = value_and_grad({"lifetime_lr": {"log_lr": init["lifetime_lr"]["log_lr"] + e}}, key)[0]
        minus = value_and_grad({"lifetime_lr": {"log_lr": init["lifetime_lr"]["log_lr"] - e}}, key)[0]
        fd = (float(plus) - float(minus)) / (2 * eps)
        assert fd == pytest.approx(float(g[i]), rel=0.05, abs=1e-5), (i, fd, g[i])


# ----------------------------------------------------------------------------- rules: save, load, bad input


def test_saved_rule_loads_by_path_and_round_trips_through_configs(tmp_path):
    rule = meta.get_rule("lpo")
    mp = rule.initial(jax.random.key(4), hidden=4)
    path = meta.save_rule(str(tmp_path / "rule"), rule, mp, {"hidden": 4}, {"note": "test"})
    loaded, lmp, record = meta.load_rule(path)
    assert loaded is rule and record["options"] == {"hidden": 4} and _equal(lmp, mp)
    ref = meta.slot_reference(path, "objective")
    cfg = configs.from_dict(ppo.PPOConfig, {"objective": ref})  # what run.json replay / resume does
    assert configs.to_dict(cfg)["objective"] == ref and cfg == configs.from_dict(ppo.PPOConfig, {"objective": ref})
    r, a = jnp.array([0.8, 1.3]), jnp.array([1.0, -2.0])
    shifted = {"lpo": {**mp["lpo"], "w2": jnp.ones(4)}}
    meta.save_rule(str(tmp_path / "rule2.v1"), rule, shifted, {"hidden": 4})  # a dot in the path
    cfg2 = configs.from_dict(ppo.PPOConfig, {"objective": meta.slot_reference(str(tmp_path / "rule2.v1"))})
    np.testing.assert_allclose(cfg2.objective(r, a, HP, None, 0.5), meta.lpo_objective(r, a, HP, shifted, 0.5))
    assert meta.resolve_slot("objective", "dpo") == "jaxrl.algos.meta.objectives:dpo_objective"


def test_bad_rules_and_meta_params_are_one_line_errors(tmp_path):
    with pytest.raises(meta.RuleError, match=r"unknown rule 'lpp' \(did you mean 'lpo'\?\); known rules: dpo, lifetime_lr, lpo, open"):
        meta.get_rule("lpp")
    rule = meta.get_rule("lifetime_lr")
    with pytest.raises(meta.RuleError, match=r"wrong structure for rule 'lifetime_lr': .*log_lr'\] has shape \(3,\), expected \(8,\)"):
        meta.check_meta_params(rule, {"lifetime_lr": {"log_lr": jnp.zeros(3)}})
    with pytest.raises(meta.RuleError, match=r"wrong structure for rule 'lifetime_lr': missing .*log_lr.*unexpected .*lr"):
        meta.save_rule(str(tmp_path / "x"), rule, {"lifetime_lr": {"lr": jnp.zeros(8)}})
    path = meta.save_rule(str(tmp_path / "ok"), rule, rule.initial())
    np.savez(os.path.join(path, rules.PARAMS_FILE), **{"['lifetime_lr']['log_lr']": np.zeros(5, np.float32)})
    with pytest.raises(meta.RuleError, match=r"has shape \(5,\), expected \(8,\)"):
        meta.load_rule(path)
    with pytest.raises(meta.RuleError, match="has no option 'width'; its options are: knots=8"):
        rule.initial(width=3)
    good = meta.save_rule(str(tmp_path / "good"), rule, rule.initial())
    with pytest.raises(meta.RuleError, match="is a 'lifetime_lr' rule for the optimizer slot, not the objective slot"):
        meta.slot_reference(good, "objective")
    with pytest.raises(meta.RuleError, match="neither a saved rule directory nor a known objective"):
        meta.resolve_slot("objective", str(tmp_path / "missing"))
    for changes, match in [
        (dict(population=6, chunk=4), r"population \(= 6\) is not divisible by the chunk \(= 4\); choose a chunk among 1, 2, 3, 6"),
        (dict(population=7), "antithetic pairs, so the population must be even"),
        (dict(strategy="cma"), "strategy 'cma' is unknown"),
        (dict(generations=0), "generations must be a positive integer"),
    ]:
        with pytest.raises(meta.ESError, match=match):
            meta.ESConfig(**changes)
    es = _quadratic_es()
    with pytest.raises(meta.ESError, match="meta_params of the wrong structure"):
        es.init(KEY, ES_HP, {"a": jnp.zeros(4), "b": jnp.zeros((2, 2))})


@pytest.mark.parametrize("args,match", [
    (["meta", "es", "--rule", "lpp"], r"unknown rule 'lpp' \(did you mean 'lpo'\?\)"),
    (["meta", "es", "--population", "6", "--chunk", "4"], "not divisible by the chunk"),
    (["meta", "grad", "--generations", "3"], "--generations is not an option of `jaxrl meta grad`"),
    (["meta", "es", "--rule-opt", "width=3"], "rule 'lifetime_lr' has no option 'width'; its options are: knots=8"),
    (["meta", "es", "--set", "objective=jaxrl.algos.meta.objectives:dpo_objective"], "the objective slot is set by the rule"),
    (["train", "--objective", "nowhere/rule"], "neither a saved rule directory nor a known objective"),
])
def test_cli_bad_meta_input_is_one_line(args, match, capsys, tmp_path, monkeypatch):
    from jaxrl import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JAXRL_COMPILATION_CACHE", "off")
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("jaxrl: error:"), err
    assert __import__("re").search(match, err), err
    assert not (tmp_path / "runs").exists()


def test_cli_meta_arguments_make_the_spec(monkeypatch, tmp_path):
    from jaxrl import cli

    seen = {}
    monkeypatch.setattr(meta_run, "meta_to_dir", lambda spec=None, **kw: seen.update(spec=spec, **kw))
    monkeypatch.setenv("JAXRL_COMPILATION_CACHE", "off")
    assert cli.main(["meta", "es", "--rule", "lpo", "--env", "probe_continuous", "--generations", "3", "--population", "4",
                     "--chunk", "2", "--seeds", "3", "--sigma", "0.2", "--meta-lr", "0.1", "--fitness", "auc", "--steps", "4096",
                     "--set", "lr=3e-4", "--rule-opt", "hidden=4", "--runs-dir", str(tmp_path)]) == 0
    s = seen["spec"]
    assert (s.method, s.rule, s.env, s.seeds, s.fitness) == ("es", "lpo", "probe_continuous", 3, "auc")
    assert s.meta_config == {"generations": 3, "population": 4, "chunk": 2} and s.meta_hparams == {"sigma": 0.2, "lr": 0.1}
    assert s.config == {"total_timesteps": 4096} and s.hparams == {"lr": 3e-4} and s.rule_options == {"hidden": 4}


# ----------------------------------------------------------------------------- slow: end to end


@pytest.mark.slow
def test_cli_meta_es_then_train_with_the_rule_then_resume(tmp_path, monkeypatch, capsys):
    """`jaxrl meta es` writes a rule; `jaxrl train ppo --optimizer RULE_DIR` trains with it and stores
    the reference in run.json; `jaxrl meta --resume` of the finished run reports it complete."""
    from jaxrl import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JAXRL_COMPILATION_CACHE", "off")
    tiny = ["--env", "probe_action", "--steps", "512", "--num-envs", "8", "--set", "num_steps=4", "--set", "hidden_sizes=8",
            "--set", "num_minibatches=1"]
    assert cli.main(["meta", "es", "--rule", "lifetime_lr", "--rule-opt", "knots=2", "--generations", "2", "--population", "4",
                     "--seeds", "1", "--checkpoint-every", "1", "--name", "m", *tiny]) == 0
    text = capsys.readouterr().out
    assert "gen    1/2  best" in text and "gen    2/2" in text and "env steps/s" in text and "compile" in text, text
    assert cli.main(["train", "ppo", "--optimizer", "runs/m/rule", "--name", "t", "--eval-episodes", "0", *tiny]) == 0
    run = json.load(open(tmp_path / "runs" / "t" / "run.json"))
    assert run["config"]["optimizer"] == meta.slot_reference("runs/m/rule")
    assert cli.main(["meta", "--resume", "runs/m"]) == 0
    assert cli.main(["meta", "grad", "--resume", "runs/m"]) == 2  # an es run, not a grad run


@pytest.mark.slow
def test_meta_gradient_trainer_runs_resets_agents_and_lowers_its_loss(tmp_path):
    spec = meta_run.MetaSpec(method="grad", rule="lifetime_lr", rule_options={"knots": 2}, env="probe_action",
                             config={"total_timesteps": 8 * 4 * 4, "num_envs": 8, "num_steps": 4, "num_minibatches": 1,
                                     "update_epochs": 1, "hidden_sizes": [8], "anneal_lr": False},
                             hparams={"lr": 3e-4}, meta_config={"steps": 6, "unroll": 2, "seeds": 2},
                             meta_hparams={"lr": 0.3}, checkpoint_every=6)
    out = meta_run.meta_to_dir(spec, run_dir=str(tmp_path / "g"))
    rows = [json.loads(line) for line in open(tmp_path / "g" / "metrics.jsonl")]
    assert all(np.isfinite(r["meta_loss"]) and r["grad_norm"] > 0 for r in rows)
    assert sum(r["restarts"] for r in rows) == 3 * 2  # 2 agents, a 4-update lifetime ends every 2nd step of 2 updates
    log_lr = np.asarray(out.result.state.params["lifetime_lr"]["log_lr"])
    assert log_lr[0] > 0.3, log_lr  # the too-small step size is raised by gradient too


def test_meta_gradient_validation_sees_pixels_as_ppo_does():
    """The validation rollout and loss are PPO's own pieces (PPOParts): on pixel observations nothing
    normalises the images (PPO's CNN torso scales them), so at the rollout's own parameters every
    probability ratio is exactly 1 and the loss is -mean(advantage). (The metagrad's former private
    copy normalised images by the empty statistics, clipping every pixel to 10.)"""
    from jaxrl.algos.meta import metagrad

    env, params = envs.make("cartpole_balance", obs="pixels", image_size=8, episode_length=10, physics="fast")
    cfg = ppo.PPOConfig(total_timesteps=2 * 4, num_envs=2, num_steps=4, num_minibatches=1, update_epochs=1, hidden_sizes=(8,))
    parts = ppo.make_parts(cfg, env, params)
    trainer = ppo.make_train(cfg, env, params)

    def check(key):
        state = trainer.init(key, HP)
        batch = metagrad.validation_batch(state, key, parts, ppo.as_hparams(HP))
        return batch.obs, metagrad.validation_loss(state, batch, parts), -jnp.mean(batch.advantage)

    obs, loss, expected = jax.jit(check)(jax.random.key(0))
    assert obs.dtype == jnp.uint8 and obs.shape == (4, 2, 8, 8, 3) and int(obs.max()) > 10
    np.testing.assert_allclose(loss, expected, atol=1e-6)
