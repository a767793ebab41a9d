"""Runs a person can trust: run directories, in-graph logging, checkpoint/resume, eval, plot.

The subprocess tests share one persistent XLA cache (a session temp folder), so
only the first CLI process pays the full compile.
"""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl import checkpoint as ckpt
from jaxrl import configs, experiment, runner, sinks
from jaxrl.algos import ppo

TINY = dict(total_timesteps=8 * 4 * 200, num_envs=8, num_steps=4, num_minibatches=2, update_epochs=2, hidden_sizes=[8])
SPEC = experiment.Spec(env="probe_obs_reward", config=TINY, hparams={"lr": 3e-3}, log_every=2, checkpoint_every=4, keep=3)
TIMING = ("time_s", "steps_per_s")


@pytest.fixture(scope="session")
def xla_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("xla")


def cli(args, cache, **kw):
    env = {**os.environ, "JAXRL_COMPILATION_CACHE": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "jaxrl.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **kw)


def run_cli(args, cache, timeout=240, **kw):
    p = cli(args, cache, **kw)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def spec_args(spec=SPEC):
    args = ["--env", spec.env, "--log-every", str(spec.log_every), "--checkpoint-every", str(spec.checkpoint_every), "--eval-episodes", "0"]
    for k, v in {**spec.config, **spec.hparams}.items():
        args += ["--set", f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"]
    return args


@pytest.fixture(scope="session")
def reference():
    """The uninterrupted run, in-process: final state and every log row."""
    built = experiment.build(SPEC)
    rows = []
    res = runner.run(built.trainer, jax.random.key(SPEC.seed), built.hparams, chunk_updates=built.chunk,
                     log_every=built.log_every, on_log=rows.append)
    return built, res, rows


def _leaves(tree):
    return [np.asarray(jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x) for x in jax.tree.leaves(tree)]


def assert_trees_equal(a, b):
    la, lb = _leaves(a), _leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(x, y)


def assert_rows_equal(rows, ref_rows):
    assert [r["update"] for r in rows] == [r["update"] for r in ref_rows]
    for r, q in zip(rows, ref_rows):
        for k, v in q.items():
            if k not in TIMING:
                assert (r[k] is None and v != v) or r[k] == v, (k, r["update"], r[k], v)


def _wait_for_rows(path, update, proc, timeout=120):
    t = time.time()
    while time.time() - t < timeout:
        if os.path.exists(path):
            rows = sinks.read_jsonl(path)
            if rows and rows[-1]["update"] >= update:
                return rows[-1]["update"]
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before update {update}: {proc.communicate()}")
        time.sleep(0.02)
    raise AssertionError("timed out waiting for log rows")


def test_ctrl_c_then_kill_then_resume_is_bit_exact(tmp_path, xla_cache, reference):
    """Ctrl-C saves a checkpoint and exits 130; a SIGKILL later loses nothing checkpointed;
    resuming twice ends bit-for-bit where the uninterrupted run ends (state and metric rows)."""
    built, ref, ref_rows = reference
    run_dir = tmp_path / "runs" / "r"
    args = ["train", "ppo", *spec_args(), "--runs-dir", str(tmp_path / "runs"), "--name", "r"]
    p = cli(args, xla_cache)
    _wait_for_rows(run_dir / "metrics.jsonl", 20, p)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (out, err)
    assert "resume with: jaxrl train --resume" in out
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "interrupted" and result["updates_done"] in result["checkpoints"]
    assert result["updates_done"] < 200

    p = cli(["train", "--resume", str(run_dir), "--eval-episodes", "0"], xla_cache)
    _wait_for_rows(run_dir / "metrics.jsonl", result["updates_done"] + 40, p)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    saved = ckpt.Checkpointer(str(run_dir / "checkpoints")).steps()
    assert saved and saved[-1] < 200, saved

    code, out, err = run_cli(["train", "--resume", str(run_dir), "--eval-episodes", "0"], xla_cache)
    assert code == 0, err
    assert f"resuming at update {saved[-1]} of 200" in out
    _, state, info = experiment.load_state(str(run_dir))
    assert info["update"] == 200
    assert_trees_equal(state, ref.state)
    assert_rows_equal(sinks.read_jsonl(run_dir / "metrics.jsonl"), ref_rows)
    assert json.loads((run_dir / "result.json").read_text())["status"] == "complete"
    assert len(os.listdir(run_dir / "checkpoints")) == SPEC.keep


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One complete tiny run directory (train once; tests copy it)."""
    root = tmp_path_factory.mktemp("trained")
    with open(root / "progress.txt", "w") as stream:
        out = experiment.train(SPEC, run_dir=str(root / "run"), progress=True, stream=stream)
    assert out.status == "complete" and out.updates_done == 200
    return root


@pytest.fixture()
def finished_run(trained_run, tmp_path):
    shutil.copytree(trained_run / "run", tmp_path / "run")
    return tmp_path / "run"


def test_metrics_file_one_finite_row_per_interval_and_sinks(trained_run, reference):
    built, ref, ref_rows = reference
    rows = sinks.read_jsonl(trained_run / "run" / "metrics.jsonl")
    assert len(rows) == 200 // SPEC.log_every
    assert [r["update"] for r in rows] == list(range(2, 201, 2))
    assert [r["env_steps"] for r in rows] == [u * 32 for u in range(2, 201, 2)]
    for r in rows:
        for k in ("loss", "value_loss", "policy_loss", "entropy", "grad_norm", "episode_return", "steps_per_s"):
            assert np.isfinite(r[k]), (k, r)
        assert r["nonfinite"] == 0
    assert_rows_equal(rows, ref_rows)
    # Rows are reduced in the graph: a row's loss is the mean of its updates' losses.
    np.testing.assert_allclose(rows[0]["loss"], np.mean(ref.metrics["loss"][:2]), rtol=1e-6)
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(trained_run / "run" / "tb"))
    progress = (trained_run / "progress.txt").read_text()
    assert "steps/s" in progress and "6,400  100%" in progress
    spec = json.loads((trained_run / "run" / "run.json").read_text())
    assert spec["versions"]["jax"] == jax.__version__ and spec["device"]["platform"] == "cpu"
    assert spec["config"]["num_envs"] == 8 and spec["hparams"]["lr"] == 3e-3 and spec["hparams"]["gamma"] == 0.99


def test_rows_at_chunk_ends_equal_live_rows(reference):
    """``live=False`` (one compiled call per chunk, rows after it) gives the same state and the
    same rows as live logging (one call per row), and each row is the NumPy reduction of its
    updates' metrics."""
    built, ref, ref_rows = reference
    rows = []
    res = runner.run(built.trainer, jax.random.key(SPEC.seed), built.hparams, chunk_updates=built.chunk,
                     log_every=built.log_every, on_log=rows.append, live=False)
    assert_trees_equal(res.state, ref.state)
    assert_rows_equal(rows, ref_rows)
    n = built.log_every
    for i, row in enumerate(ref_rows):
        part = {k: v[i * n:(i + 1) * n] for k, v in ref.metrics.items()}
        assert row["update"] == (i + 1) * n and row["env_steps"] == (i + 1) * n * built.trainer.steps_per_update
        np.testing.assert_allclose(row["loss"], np.mean(part["loss"]), rtol=1e-6)
        ended = part["episodes"]
        if ended.sum():
            np.testing.assert_allclose(row["episode_return"], np.sum(part["episode_return"] * ended) / ended.sum(), rtol=1e-6)


def test_programs_have_no_host_callback(reference):
    """The chunk program a run compiles has no host callback, so jax's persistent compilation
    cache can keep it (a repeated ``jaxrl train`` skips the XLA compile)."""
    built, _, _ = reference
    r = runner.Runner(built.trainer, built.chunk, log_every=built.log_every, on_log=lambda row: None)
    state = jax.jit(built.trainer.init)(jax.random.key(0), built.hparams)
    assert r.block == built.log_every
    text = r._chunk_program(state).lower(state, r.block).as_text()
    assert "callback" not in text


def test_chunked_logged_run_equals_single_jit(reference):
    built, res, _ = reference
    state, metrics = jax.jit(built.trainer)(jax.random.key(SPEC.seed), built.hparams)
    assert_trees_equal(state, res.state)
    for k in metrics:
        np.testing.assert_array_equal(metrics[k], res.metrics[k])


def test_config_file_replays_the_run_exactly(tmp_path, reference):
    built, _, _ = reference
    resolved = built.resolved_spec()
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"name": "x", **resolved.to_json(), "versions": {}}))
    again = experiment.build(experiment.read_spec(str(path)))
    assert again.resolved_spec() == resolved and again.config == built.config
    assert jax.tree.map(float, again.hparams) == jax.tree.map(float, built.hparams)


# ----------------------------------------------------------------------------- checkpoints


def test_truncated_checkpoint_is_refused_and_previous_still_loads(finished_run, reference):
    built = reference[0]
    ck = experiment.checkpointer(str(finished_run), built)
    steps = ck.steps()
    assert steps == [192, 196, 200]
    data = sorted((p for p in (finished_run / "checkpoints" / "200").rglob("*") if p.is_file() and p.parent.name == "d"),
                  key=lambda p: p.stat().st_size)[-1]
    with open(data, "r+b") as f:
        f.truncate(data.stat().st_size // 2)
    with pytest.raises(ckpt.CheckpointError, match=r"checkpoint 200 .* is corrupt: .* has \d+ bytes, expected \d+"):
        ck.restore(built.abstract_state(), 200)
    state, info = ck.restore(built.abstract_state(), 196)
    assert info["update"] == 196 and int(state.update_step) == 196
    warnings = []
    state, info, step = ck.restore_latest(built.abstract_state(), warn=warnings.append)
    assert step == 196 and "corrupt" in warnings[0] and (finished_run / "corrupt-checkpoint-200").is_dir()


def test_checkpoint_of_another_env_or_config_is_refused(finished_run, reference, cli_in_process):
    built = reference[0]
    other = experiment.build(experiment.Spec(env="probe_action", config=TINY, log_every=2, checkpoint_every=4))
    with pytest.raises(ckpt.CheckpointMismatchError, match="env: this run has 'probe_action', the checkpoint 'probe_obs_reward'"):
        experiment.checkpointer(str(finished_run), other).restore(built.abstract_state())
    bigger = experiment.build(experiment.Spec(env="probe_obs_reward", config={**TINY, "hidden_sizes": [16]}, log_every=2))
    with pytest.raises(ckpt.CheckpointMismatchError, match="hidden_sizes"):
        experiment.checkpointer(str(finished_run), bigger).restore(bigger.abstract_state())
    # From the CLI: a run.json edited to another env is a one-line error and the run is untouched.
    spec = json.loads((finished_run / "run.json").read_text())
    (finished_run / "run.json").write_text(json.dumps({**spec, "env": "probe_action"}))
    before = _snapshot(finished_run)
    code, out, err = cli_in_process(["eval", str(finished_run)])
    assert code == 2 and "different run setup" in err and len(err.strip().splitlines()) == 1, err
    assert _snapshot(finished_run) == before


def _snapshot(folder):
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def nan_optimizer(hparams, meta_params, config):
    """PPO's default update rule, but the parameters become NaN from the 17th optimiser step on."""
    def update(updates, count, params=None):
        poison = jnp.where(count >= 16 * config.update_epochs * config.num_minibatches, jnp.nan, 1.0)
        return jax.tree.map(lambda u: u * poison, updates), count + 1

    return optax.chain(ppo.default_optimizer(hparams, meta_params, config),
                       optax.GradientTransformation(lambda p: jnp.zeros((), jnp.int32), update))


def test_non_finite_stops_with_update_and_quantity_and_keeps_checkpoint(tmp_path):
    spec = experiment.Spec(env="probe_obs_reward", config={**TINY, "total_timesteps": 8 * 4 * 24, "optimizer": nan_optimizer},
                           log_every=2, checkpoint_every=4)
    with pytest.raises(runner.NonFiniteError, match=r"non-finite (loss|grad_norm|trainable state.*) at update 1[78]; training stopped \(the last good checkpoint is update 16"):
        experiment.train(spec, run_dir=str(tmp_path / "nan"), progress=False, tensorboard=False)
    result = json.loads((tmp_path / "nan" / "result.json").read_text())
    assert result["status"] == "failed" and result["checkpoints"][-1] == 16
    _, state, info = experiment.load_state(str(tmp_path / "nan"), trust_code=True)  # its optimizer is this module's function
    assert info["update"] == 16 and all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state.params))


# ----------------------------------------------------------------------------- eval, plot, bad input


def test_eval_and_plot_write_outputs(finished_run, tmp_path, xla_cache):
    code, out, err = run_cli(["eval", str(finished_run), "--episodes", "4"], xla_cache)
    assert code == 0, err
    assert "update 200 (6,400 env steps), 4 episodes: return" in out
    shutil.copytree(finished_run, tmp_path / "seed1")
    spec = json.loads((tmp_path / "seed1" / "run.json").read_text())
    (tmp_path / "seed1" / "run.json").write_text(json.dumps({**spec, "seed": 1}))
    png = tmp_path / "plot.png"
    code, out, err = run_cli(["plot", str(finished_run), str(tmp_path / "seed1"), "--out", str(png)], xla_cache)
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_render_of_an_env_without_a_model_is_one_line(finished_run, xla_cache):
    """The render command's plumbing (GL check, checkpoint load) up to the renderer; the
    rendering itself is tested in test_video.py."""
    code, out, err = run_cli(["render", str(finished_run)], xla_cache)
    assert code == 2 and "env probe_obs_reward has no MuJoCo model to render" in err, err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args,match",
    [
        (["eval", "runs/does-not-exist"], "run directory runs/does-not-exist does not exist"),
        (["train", "--resume", "runs/does-not-exist"], "run directory runs/does-not-exist does not exist"),
        (["train", "--set", "learning_rate=1e-3"], "unknown field 'learning_rate'"),
        (["train", "--set", "num_envs=many"], "PPOConfig.num_envs expects int, got 'many'"),
        (["train", "--set", "lr"], "--set expects name=value"),
        (["train", "--env-opt", "episode_lenght=5"], "env 'cartpole_balance' has no option 'episode_lenght'; its options are: episode_length=1000"),
        (["train", "--set", "gamma=2"], r"gamma=2 is out of range"),
        (["train", "--set", "normalize_obs=maybe"], "expects true/false"),
        (["train", "--resume", ".", "--env", "probe_action"], "do not also pass --env"),
        (["plot", "runs/does-not-exist"], "does not exist"),
        (["train", "--wandb", "p"], "pip install 'jaxrl\\[wandb\\]'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(args, match, tmp_path, cli_in_process):
    code, out, err = cli_in_process(args)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    import re

    assert re.search(match, err), err
    assert not (tmp_path / "runs").exists()


def test_existing_run_dir_is_never_overwritten(finished_run, xla_cache):
    before = _snapshot(finished_run)
    code, out, err = run_cli(["train", "--runs-dir", str(finished_run.parent), "--name", finished_run.name], xla_cache)
    assert code == 2 and "exists and is not empty" in err
    assert _snapshot(finished_run) == before


def test_unwritable_dir_and_full_disk_are_reported_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(experiment.RunDirError, match="is not writable"):
        experiment.train(SPEC, run_dir=str(blocker / "run"), progress=False)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10 << 30, 10 << 30, 1 << 20))
    with pytest.raises(experiment.RunDirError, match="not enough disk space .* 1 MiB free"):
        experiment.train(SPEC, run_dir=str(tmp_path / "full"), progress=False)


# ----------------------------------------------------------------------------- configs


def test_set_parsing_and_json_round_trip():
    c, h = configs.parse_sets(["hidden_sizes=16,16", "anneal_lr=false", "lr=3e-4", "total_timesteps=1e5", "config.num_envs=4"],
                              ppo.PPOConfig, ppo.PPOHparams)
    assert c == {"hidden_sizes": (16, 16), "anneal_lr": False, "total_timesteps": 100000, "num_envs": 4}
    assert h == {"lr": 3e-4}
    cfg = ppo.PPOConfig(**c)
    assert configs.from_dict(ppo.PPOConfig, json.loads(json.dumps(configs.to_dict(cfg)))) == cfg
    with pytest.raises(configs.ConfigError, match="total_timesteps expects int, got '1.5'"):
        configs.parse_sets(["total_timesteps=1.5"], ppo.PPOConfig, ppo.PPOHparams)
    with pytest.raises(configs.ConfigError, match="names the function 'nowhere:fn', which is not one of jaxrl's registered"):
        configs.parse_sets(["objective=nowhere:fn"], ppo.PPOConfig, ppo.PPOHparams)
    with pytest.raises(configs.ConfigError, match="cannot import 'nowhere:fn'"):
        configs.parse_sets(["objective=nowhere:fn"], ppo.PPOConfig, ppo.PPOHparams, trust_code=True)


def test_optional_fields_parse_none_and_their_value_type():
    """A field annotated ``X | None`` takes ``none``/``null``/``None`` and, where its default is None,
    is coerced to ``X`` (a command-line ``plan_horizon=2`` is the int 2, not the string '2')."""
    from jaxrl.algos import tdmpc

    c, _ = configs.parse_sets(["plan_horizon=2", "init_std=None"], tdmpc.TDMPCConfig, tdmpc.TDMPCHparams)
    assert c == {"plan_horizon": 2, "init_std": None}
    c, _ = configs.parse_sets(["plan_horizon=null", "init_std=0.05"], tdmpc.TDMPCConfig, tdmpc.TDMPCHparams)
    assert c == {"plan_horizon": None, "init_std": 0.05}
    cfg = tdmpc.TDMPCConfig(plan_horizon=2, init_std=None)
    assert configs.from_dict(tdmpc.TDMPCConfig, json.loads(json.dumps(configs.to_dict(cfg)))) == cfg
    with pytest.raises(configs.ConfigError, match="plan_horizon expects int or None, got 'x'"):
        configs.parse_sets(["plan_horizon=x"], tdmpc.TDMPCConfig, tdmpc.TDMPCHparams)
    with pytest.raises(configs.ConfigError, match="init_std expects float or None, got 'x'"):
        configs.parse_sets(["init_std=x"], tdmpc.TDMPCConfig, tdmpc.TDMPCHparams)


def test_a_run_saved_before_a_config_field_existed_replays_and_resumes_with_its_old_value(tmp_path):
    """TD-MPC2's ``init_std`` and ``model_adam_eps`` and the replay loop's ``pretrain_steps`` came after
    runs were saved: a complete saved config without them (an old ``run.json``) builds with the old init,
    eps and no burst
    (``LEGACY_DEFAULTS``), and the run's checkpointer accepts
    the old checkpoint's identity (which lacks the field) while refusing one that recorded another
    value; a partial config takes today's default."""
    from jaxrl import checkpoint
    from jaxrl.algos import tdmpc

    spec = experiment.Spec(algo="tdmpc", env="probe_continuous", config=dict(tdmpc.presets()["tiny"].config))
    built = experiment.build(spec)
    assert built.config.init_std == 0.02
    old = {k: v for k, v in built.resolved_spec().config.items()
           if k not in ("init_std", "pretrain_steps", "model_adam_eps", "entropy")}
    rebuilt = experiment.build(dataclasses.replace(spec, config=old))
    assert rebuilt.config.init_std is None and rebuilt.identity()["config"]["init_std"] is None
    assert rebuilt.config.pretrain_steps == 0  # the off-policy loop's legacy field (every replay learner's)
    assert rebuilt.config.model_adam_eps == 1e-5
    assert built.config.entropy == "scaled" and rebuilt.config.entropy == "squashed"
    newer = {**old, "init_std": 0.02, "model_adam_eps": 1e-5, "entropy": "scaled"}  # saved after init_std existed, before pretrain_steps
    assert experiment.build(dataclasses.replace(spec, config=newer)).config == built.config
    ck = experiment.checkpointer(str(tmp_path), rebuilt, warn=lambda msg: None)
    like = {"x": jnp.zeros(2)}

    def meta(config):
        return {"step": 1, "identity": {**rebuilt.identity(), "config": config}, "stack": ck.stack,
                "structure": checkpoint.structure(like)}

    ck.check_compatible(meta(old), like)  # the old run's checkpoint: no init_std recorded
    with pytest.raises(checkpoint.CheckpointMismatchError, match="init_std"):
        ck.check_compatible(meta({**old, "init_std": 0.02}), like)
    with pytest.raises(checkpoint.CheckpointMismatchError, match="pretrain_steps"):
        ck.check_compatible(meta({**old, "pretrain_steps": 7}), like)
    assert configs.with_legacy_fields(tdmpc.TDMPCConfig, {"batch_size": 8}) == {"batch_size": 8}


def test_a_dreamer_run_saved_before_its_actor_switches_resumes_with_the_old_actor(tmp_path):
    """DreamerV3's ``actor_dist``, ``actor_state_grad`` and ``conv_style`` came after runs were saved: an
    old run's config builds with the tanh normal and state gradients (its actor then) and the CNN torso's
    layers (its pixel encoder then), and its checkpoint's
    identity (without the fields) is accepted, one that recorded the bounded normal refused."""
    from jaxrl import checkpoint
    from jaxrl.algos import dreamer

    spec = experiment.Spec(algo="dreamer", env="probe_continuous", config=dict(dreamer.presets()["tiny"].config))
    built = experiment.build(spec)
    old = {k: v for k, v in built.resolved_spec().config.items()
           if k not in ("actor_dist", "actor_state_grad", "conv_style")}
    rebuilt = experiment.build(dataclasses.replace(spec, config=old))
    assert (rebuilt.config.actor_dist, rebuilt.config.actor_state_grad, rebuilt.config.conv_style) == (
        "tanh_normal", True, "torso")
    ck = experiment.checkpointer(str(tmp_path), rebuilt, warn=lambda msg: None)
    like = {"x": jnp.zeros(2)}

    def meta(config):
        return {"step": 1, "identity": {**rebuilt.identity(), "config": config}, "stack": ck.stack,
                "structure": checkpoint.structure(like)}

    ck.check_compatible(meta(old), like)
    with pytest.raises(checkpoint.CheckpointMismatchError, match="actor_dist"):
        ck.check_compatible(meta({**old, "actor_dist": "bounded_normal"}), like)


def test_train_help_documents_every_field(xla_cache):
    code, out, err = run_cli(["train", "--help"], xla_cache)
    assert code == 0
    assert "PPOConfig (static: recompiles)" in out and "PPOHparams (traced: sweepable, no recompile)" in out
    for name in [*configs.to_dict(ppo.PPOConfig()), *configs.to_dict(ppo.PPOHparams())]:
        assert f"  {name}=" in out, name


def test_wandb_sink_logs_rows_against_env_steps(monkeypatch, tmp_path):
    """With wandb installed (a stand-in module here), rows go to wandb.log at step = env steps."""
    import types

    calls = {"log": []}

    class FakeRun:
        def log(self, data, step):
            calls["log"].append((step, data))

        def finish(self):
            calls["finished"] = True

    fake = types.ModuleType("wandb")
    fake.init = lambda **kw: calls.update(init=kw) or FakeRun()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    sink = sinks.WandbSink("proj", "run-1", {"algo": "ppo"}, str(tmp_path), resume=True)
    sink.write({"update": 2, "env_steps": 64, "loss": 0.5, "episode_return": float("nan")})
    sink.close()
    assert calls["init"]["project"] == "proj" and calls["init"]["id"] == "run-1" and calls["init"]["resume"] == "allow"
    assert calls["log"] == [(64, {"loss": 0.5})] and calls["finished"]



def test_second_ctrl_c_quits_during_a_chunk(tmp_path, xla_cache):
    """One long chunk (no checkpoint until its end): the first Ctrl-C asks for a stop after the chunk,
    the second quits at once; the run ends long before the chunk would have."""
    run_dir = tmp_path / "runs" / "long"
    args = ["train", "ppo", "--env", "probe_obs_reward", "--set", "total_timesteps=3072000", "--set", "num_envs=64",
            "--set", "num_steps=16", "--set", "num_minibatches=2", "--set", "update_epochs=2", "--set", "hidden_sizes=16",
            "--log-every", "10", "--checkpoint-every", "3000", "--eval-episodes", "0", "--no-tensorboard",
            "--runs-dir", str(tmp_path / "runs"), "--name", "long"]
    p = cli(args, xla_cache)
    _wait_for_rows(run_dir / "metrics.jsonl", 10, p)
    p.send_signal(signal.SIGINT)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (out, err)
    assert "stopping after this chunk" in out and "jaxrl: interrupted" in err
    rows = sinks.read_jsonl(run_dir / "metrics.jsonl")
    assert rows[-1]["update"] < 3000  # it did not wait for the chunk to end
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "killed" and result["checkpoints"] == []
