"""Sweeps: seeds x settings in one program equal separate runs, never recompile on new
values, give the same numbers on 8 devices as on 1 (padding included), refuse bad input."""

import io
import json
import os
import subprocess
import sys
import textwrap

import chex
import jax
import numpy as np
import pytest

from jaxrl import envs, sweep, sweep_dir
from jaxrl.algos import ppo

CFG = ppo.PPOConfig(total_timesteps=8 * 4 * 6, num_envs=8, num_steps=4, num_minibatches=2, update_epochs=2,
                    hidden_sizes=(8,), anneal_lr=False)


@pytest.fixture(scope="module")
def trainer():
    env, params = envs.make("probe_obs_reward")
    return ppo.make_train(CFG, env, params)


def _leaves(tree):
    return [np.asarray(jax.random.key_data(x) if jax.numpy.issubdtype(x.dtype, jax.dtypes.prng_key) else x)
            for x in jax.tree.leaves(tree)]


@pytest.mark.optimized  # sweep = separate runs to rtol 1e-4 in the programs users run (tests/conftest.py)
def test_sweep_equals_separate_runs_and_new_values_do_not_retrace(trainer):
    """Run by run, the sweep's numbers equal separate ``jit(train)`` calls up to float32
    rounding: XLA computes a vmapped matmul as one batched kernel, which rounds differently
    from the unbatched one (observed: ~1e-6 absolute on losses of ~1e-3)."""
    counted = chex.assert_max_traces(trainer.update, n=1)
    t = trainer.__class__(**{**trainer.__dict__, "update": counted})
    sweeper = sweep.Sweeper(t, ppo.default_hparams(), num_settings=2, num_seeds=2, validate=ppo.validate_hparams)
    settings = sweep.grid(lr=[1e-3, 3e-2])
    res = sweeper.run(settings, seeds=[0, 5], keep_state=True)
    assert res.metrics["loss"].shape == (2, 2, CFG.num_updates) and res.axes == ("config", "seed", "update")
    single = jax.jit(trainer)
    for c, setting in enumerate(settings):
        for s, seed in enumerate([0, 5]):
            state, metrics = single(jax.random.key(seed), ppo.default_hparams().replace(**setting))
            for k in ("loss", "episode_return", "grad_norm"):
                np.testing.assert_allclose(res.metrics[k][c, s], metrics[k], rtol=1e-4, atol=1e-5, err_msg=f"{k} {c} {s}")
            one = jax.tree.map(lambda x: x[c, s], res.state.params)
            for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(state.params)):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # Other values, same counts: the compiled programs are reused (a retrace would raise).
    again = sweeper.run(sweep.grid(lr=[5e-3, 1e-4]), seeds=[1, 2])
    assert not np.allclose(again.metrics["loss"], res.metrics["loss"])
    assert list(sweeper.runner._compiled) == [CFG.num_updates]  # one chunk program, compiled once
    chex.clear_trace_counter()


def test_kept_metrics_equal_the_full_sweep_and_unknown_names_are_refused(trainer):
    """``metrics=`` keeps only the named curves (plus the return) with the same numbers."""
    full = sweep.run_sweep(trainer, ppo.default_hparams(), [{}], seeds=[3])
    kept = sweep.run_sweep(trainer, ppo.default_hparams(), [{}], seeds=[3], metrics=["value_loss"])
    assert set(kept.metrics) == {"value_loss", "episode_return", "episodes"}
    for k in kept.metrics:
        np.testing.assert_array_equal(kept.metrics[k], full.metrics[k], err_msg=k)
    with pytest.raises(sweep.SweepError, match=r"unknown metric\(s\) 'vaule_loss'; this trainer reports: .*value_loss"):
        sweep.Sweeper(trainer, ppo.default_hparams(), 1, 1, metrics=["vaule_loss"])


def test_summary_statistics_match_numpy():
    x = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 100.0])
    assert sweep.iqm(x) == pytest.approx(np.mean([3.0, 5.0, 7.0, 8.0]))
    ret = np.array([[[1.0, 2.0, 4.0], [1.0, 2.0, 6.0]], [[9.0, 9.0, 9.0], [np.nan, np.nan, np.nan]]])
    res = sweep.SweepResult(
        settings=[{"lr": 1.0}, {"lr": 2.0}], seeds=[0, 1], hparams=[{}, {}],
        metrics={"episode_return": ret, "episodes": np.ones_like(ret), "loss": np.where(np.isnan(ret), np.nan, 0.0)},
        env_steps=np.arange(1, 4), compile_s=0, run_s=0, num_devices=1, num_padded=0)
    np.testing.assert_allclose(res.final_return(last=1 / 3), [[4.0, 6.0], [9.0, np.nan]])
    rows = res.summary(last=1 / 3)
    assert [r["config"] for r in rows] == [1, 0]
    assert rows[0]["mean"] == 9.0 and rows[0]["diverged"] == 1 and rows[0]["unfinished"] == 0
    assert rows[1]["mean"] == 5.0 and rows[1]["std"] == 1.0 and res.best["setting"] == {"lr": 2.0}
    # no episode ended in the final window is not divergence: the run is counted apart, as unfinished
    episodes = np.ones_like(ret)
    episodes[0, 1, -1] = 0
    res.metrics["episodes"] = episodes
    rows = res.summary(last=1 / 3)
    np.testing.assert_array_equal(res.diverged(), [[False, False], [False, True]])
    assert rows[1]["mean"] == 4.0 and rows[1]["diverged"] == 0 and rows[1]["unfinished"] == 1
    # without the loss curve, a non-finite return of an episode that ended still marks divergence
    del res.metrics["loss"]
    np.testing.assert_array_equal(res.diverged(), [[False, False], [False, True]])
    assert "div  unf" in sweep_dir.format_table(rows).splitlines()[0]


def test_return_curve_carries_the_last_ended_episodes_forward():
    # one setting, two seeds, 6 updates; the raw metric is 0 where no episode ended
    ret = np.array([[[0.0, 5.0, 0.0, 0.0, 7.0, 0.0], [0.0, 0.0, 0.0, 2.0, np.nan, 0.0]]])
    done = np.array([[[0, 2, 0, 0, 1, 0], [0, 0, 0, 3, 1, 0]]])
    res = sweep.SweepResult(settings=[{}], seeds=[0, 1], hparams=[{}], metrics={"episode_return": ret, "episodes": done},
                            env_steps=np.arange(1, 7), compile_s=0, run_s=0, num_devices=1, num_padded=0)
    nan = np.nan
    np.testing.assert_array_equal(res.return_curve(), [[[nan, 5.0, 5.0, 5.0, 7.0, 7.0], [nan, nan, nan, 2.0, nan, nan]]])


def test_sweep_plot_draws_the_carried_return_not_the_raw_zeros(tmp_path, monkeypatch):
    """CartPole episodes outlast an update of 4 steps, so the first update ends none: the plotted curve
    must be NaN there (the raw metric is 0) and equal to ``SweepResult.return_curve``."""
    from jaxrl import plot

    pytest.importorskip("gymnax", reason="gymnax is not installed (it requires jax < 0.12)")
    drawn = {}
    monkeypatch.setattr(plot, "plot_sweep", lambda steps, values, labels, out, **kw: drawn.setdefault("values", values))
    outcome = sweep_dir.sweep_to_dir(
        "ppo", "gymnax/CartPole-v1", seeds=2, swept={"lr": [1e-3]}, run_dir=str(tmp_path / "s"), live=False,
        config_changes=dict(total_timesteps=2 * 4 * 6, num_envs=2, num_steps=4, num_minibatches=2, update_epochs=1,
                            hidden_sizes=[8]), stream=io.StringIO())
    raw = outcome.result.metrics["episode_return"]
    assert np.all(outcome.result.metrics["episodes"][..., 0] == 0) and np.all(raw[..., 0] == 0)
    np.testing.assert_array_equal(drawn["values"], outcome.result.return_curve())
    assert np.all(np.isnan(drawn["values"][..., 0])) and np.isfinite(drawn["values"][..., -1]).all()


def test_random_search_and_grid():
    s = sweep.random_search(16, seed=3, lr=("log", 1e-4, 1e-2), ent_coef=(0.0, 0.1), clip_eps=[0.1, 0.2])
    assert len(s) == 16 and all(1e-4 <= x["lr"] <= 1e-2 and 0 <= x["ent_coef"] <= 0.1 and x["clip_eps"] in (0.1, 0.2) for x in s)
    assert s == sweep.random_search(16, seed=3, lr=("log", 1e-4, 1e-2), ent_coef=(0.0, 0.1), clip_eps=[0.1, 0.2])
    assert sweep.grid(lr=[1, 2], gamma=[0.9]) == [{"lr": 1, "gamma": 0.9}, {"lr": 2, "gamma": 0.9}]


@pytest.mark.parametrize(
    "settings,match",
    [
        ([{"learning_rate": 1e-3}], r"unknown hyperparameter 'learning_rate'.*sweepable fields are: lr, gamma"),
        ([{"num_envs": 16}], r"num_envs is a static config field .* cannot be swept.*sweepable \(traced\) fields are: lr"),
        ([], "empty grid"),
        ([{"lr": "fast"}], r"lr='fast' is not a number.*lr, gamma"),
        ([{"lr": True}], "is not a number"),
    ],
)
def test_bad_sweeps_are_clear_errors(trainer, settings, match):
    with pytest.raises(sweep.SweepError, match=match):
        sweep.run_sweep(trainer, ppo.default_hparams(), settings, seeds=2)


def test_empty_grid_values_and_out_of_range_values(trainer):
    with pytest.raises(sweep.SweepError, match="empty grid: lr has no values"):
        sweep.grid(lr=[])
    with pytest.raises(ppo.ConfigError, match=r"gamma=1.5 is out of range"):
        sweep.run_sweep(trainer, ppo.default_hparams(), [{"gamma": 1.5}], seeds=1, validate=ppo.validate_hparams)


SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    from jaxrl import envs, sweep
    from jaxrl.algos import ppo
    assert jax.device_count() == 8, jax.devices()
    env, params = envs.make("probe_obs_reward")
    cfg = ppo.PPOConfig(total_timesteps=8 * 4 * 4, num_envs=8, num_steps=4, num_minibatches=2, update_epochs=2,
                        hidden_sizes=(8,), anneal_lr=False)
    trainer = ppo.make_train(cfg, env, params)
    settings = sweep.grid(lr=[1e-3, 1e-2, 3e-2])           # 3 settings x 2 seeds = 6 runs: padded to 8
    eight = sweep.run_sweep(trainer, ppo.default_hparams(), settings, seeds=2, keep_state=True)
    one = sweep.run_sweep(trainer, ppo.default_hparams(), settings, seeds=2, devices=jax.devices()[:1], keep_state=True)
    shard_devices = {d.id for x in jax.tree.leaves(eight.state.params) for d in x.sharding.device_set}
    replicated = [str(x.sharding) for x in jax.tree.leaves(eight.run_state) if x.sharding.is_fully_replicated]
    out = {"padded": [eight.num_padded, one.num_padded], "devices": [eight.num_devices, one.num_devices],
           "shards": len(shard_devices), "replicated": replicated, "max_abs_diff": max(
               float(np.max(np.abs(eight.metrics[k] - one.metrics[k]))) for k in ("loss", "episode_return", "grad_norm")),
           "params_diff": max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                              for a, b in zip(jax.tree.leaves(eight.state.params), jax.tree.leaves(one.state.params))),
           "shape": list(eight.metrics["loss"].shape)}
    print("RESULT" + json.dumps(out))
""")


def test_eight_devices_equal_one_device_run_by_run_with_padding():
    """Same numbers up to float32 rounding (each device computes a batch of 1 run instead of 6,
    and XLA's batched kernels round differently with the batch size; observed ~4e-6)."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=280)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.split("RESULT", 1)[1])
    assert result["devices"] == [8, 1] and result["padded"] == [2, 0] and result["shape"] == [3, 2, 4]
    assert result["shards"] == 8  # the runs really were spread over the 8 devices
    assert result["replicated"] == []  # every leaf of the sharded state is split over them, none copied
    assert result["max_abs_diff"] <= 2e-5 and result["params_diff"] <= 2e-5, result


def _cli(args, cwd):
    env = {**os.environ, "JAXRL_COMPILATION_CACHE": "off"}
    return subprocess.run([sys.executable, "-m", "jaxrl.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=280)


def test_sweep_cli_ranks_settings_and_writes_curves_and_plot(tmp_path):
    out = _cli(["sweep", "ppo", "--env", "probe_action", "--seeds", "2", "--set", "lr=1e-4,1e-2", "--steps", "2048",
                "--num-envs", "8", "--set", "num_steps=8", "--set", "hidden_sizes=16", "--name", "s"], tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "2 settings x 2 seeds = 4 runs" in text and "steps/s" in text
    table = text.split("ranked:", 1)[1].strip().splitlines()
    assert table[0].split()[:2] == ["rank", "mean"], text
    assert table[1].split()[0] == "1" and table[1].endswith("lr=0.01") and table[2].endswith("lr=0.0001"), text
    run = tmp_path / "runs" / "s"
    curves = np.load(run / "curves.npz")
    assert curves["episode_return"].shape == (2, 2, 32) and curves["env_steps"][-1] == 2048
    summary = json.loads((run / "summary.json").read_text())["ranked"]
    assert summary[0]["setting"] == {"lr": 0.01} and summary[0]["mean"] > summary[1]["mean"] + 0.2
    assert (run / "plots" / "episode_return.png").read_bytes()[:4] == b"\x89PNG"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows and len(rows[-1]["episode_return_by_setting"]) == 2
    spec = json.loads((run / "sweep.json").read_text())
    assert spec["settings"] == [{"lr": 1e-4}, {"lr": 1e-2}] and spec["seeds"] == [0, 1]


@pytest.mark.parametrize(
    "args,match",
    [
        (["--set", "num_envs=8,16"], "num_envs is a static config field"),
        (["--set", "learning_rate=1e-3"], "unknown field 'learning_rate'.*sweepable"),
        (["--set", "lr=fast"], "'fast' is not a number"),
        (["--set", "lr=1e-4:1e-2"], "a range needs --random N"),
        (["--set", "gamma=0.9,2"], r"gamma=2 is out of range"),
        (["--devices", "64"], "only 1 device"),
        (["--coordinator", "localhost:1234"], "needs --coordinator, --num-processes and --process-id together"),
    ],
)
def test_sweep_cli_bad_input_is_one_line_and_writes_nothing(args, match, tmp_path, cli_in_process):
    code, out, err = cli_in_process(["sweep", *args])
    assert code == 2, (out, err)
    err = err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    import re

    assert re.search(match, err), err
    assert not (tmp_path / "runs").exists()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_processes_equal_one_process_run_by_run(tmp_path):
    """Multi-host, for real: two `jaxrl sweep` processes joined by jax.distributed (gloo collectives on
    the CPU, 2 devices each: a 4-device mesh over 2 processes) against one process with 4 devices.
    Process 0 writes the run directory; the curves equal the single-process ones run by run."""
    args = ["sweep", "ppo", "--env", "probe_action", "--seeds", "3", "--set", "lr=1e-4,1e-2", "--steps", "1024",
            "--num-envs", "8", "--set", "num_steps=8", "--set", "hidden_sizes=16", "--runs-dir", str(tmp_path / "runs")]
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "jaxrl.cli", *args, "--name", "multi", "--coordinator",
                               f"localhost:{port}", "--num-processes", "2", "--process-id", str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
             for i in range(2)]
    outs = [p.communicate(timeout=500) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    assert "4 device(s) (2 process(es))" in outs[0][0] and "ranked:" in outs[0][0]
    assert "process 1 of 2: done" in outs[1][0]
    single = subprocess.run([sys.executable, "-m", "jaxrl.cli", *args, "--name", "single"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=500,
                            env={**env, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
    assert single.returncode == 0, single.stderr[-3000:]
    multi, one = np.load(tmp_path / "runs" / "multi" / "curves.npz"), np.load(tmp_path / "runs" / "single" / "curves.npz")
    assert multi["episode_return"].shape == (2, 3, 16)
    for k in one.files:
        if k != "settings":
            np.testing.assert_allclose(multi[k], one[k], rtol=1e-6, atol=1e-6, err_msg=k)
