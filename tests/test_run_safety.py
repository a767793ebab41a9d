"""Runs that cannot be corrupted or hijacked (issue 22).

One writer per run directory (two real processes), no code from run files, bad numbers refused
before anything compiles, checkpoints without checksums or of another identity refused,
read-only commands that change nothing, resume that never restarts silently, a full disk that
ends in one line, and the env's debug mode. Each test here failed on the code before the change.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import checkpoint as ckpt
from jaxrl import cli as jcli
from jaxrl import configs, experiment, rundir, runner, sinks
from jaxrl.algos import ppo
from jaxrl.trainer import Trainer

TINY = dict(total_timesteps=8 * 4 * 40, num_envs=8, num_steps=4, num_minibatches=2, update_epochs=1, hidden_sizes=[8])
SPEC = experiment.Spec(env="probe_obs_reward", config=TINY, hparams={"lr": 3e-3}, log_every=2, checkpoint_every=8, keep=3)


def _no_cache_env() -> dict:
    """The subprocesses' environment, read when each starts (so it carries the running test's XLA setting,
    which ``tests/conftest.py`` switches per test), with the compilation cache off."""
    return {**os.environ, "JAXRL_COMPILATION_CACHE": "off", "PYTHONDONTWRITEBYTECODE": "1"}


def _snapshot(folder):
    """Every file's bytes and every entry's name: equal before and after means nothing was changed."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))
            if p.name != rundir.LOCK_FILE}  # a writer that got the lock records itself there


def _cli(args, timeout=240, **kw):
    p = subprocess.run([sys.executable, "-m", "jaxrl.cli", *args], capture_output=True, text=True, env=_no_cache_env(),
                       timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One complete tiny run (40 updates, checkpoints at 24, 32, 40); tests copy it."""
    root = tmp_path_factory.mktemp("safety")
    out = experiment.train(SPEC, run_dir=str(root / "run"), progress=False, tensorboard=False)
    assert out.status == "complete" and out.updates_done == 40
    return root / "run"


@pytest.fixture()
def run(trained, tmp_path):
    shutil.copytree(trained, tmp_path / "run")
    return tmp_path / "run"


# ----------------------------------------------------------------------------- one writer


HOLDER = textwrap.dedent("""
    import os, sys, time
    from jaxrl import experiment
    spec = experiment.Spec(**{spec})
    go = sys.argv[2]

    def wait(p):  # hold the run (and its lock) after the first checkpoint until the test says go
        while not os.path.exists(go):
            time.sleep(0.05)

    experiment.train(spec, run_dir=sys.argv[1], progress=False, tensorboard=False, on_chunk=wait,
                     command=["holder"])
""")


def test_second_writer_is_refused_and_kill9_frees_the_run(tmp_path):
    """Two real processes: while one trains a run, a second `jaxrl train` of the same name and a
    `--resume` of it are refused in one line naming the holder, and change nothing; after a kill -9
    of the holder the run resumes at once and completes with one row per interval."""
    run_dir, go = tmp_path / "runs" / "same", tmp_path / "go"
    script = HOLDER.replace("{spec}", repr(SPEC.to_json()))
    holder = subprocess.Popen([sys.executable, "-c", script, str(run_dir), str(go)], env=_no_cache_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        while not list((run_dir / "checkpoints").glob(f"*/{ckpt.CHECKSUMS}")) and holder.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert holder.poll() is None, holder.communicate()
        before = _snapshot(run_dir)
        sets = [a for k, v in {**TINY, "lr": 1e-3}.items() for a in ("--set", f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}")]
        for args in (["train", "--env", SPEC.env, "--name", "same", "--runs-dir", str(tmp_path / "runs"), "--seed", "5", *sets],
                     ["train", "--resume", str(run_dir)]):
            code, out, err = _cli(args)
            assert code == 2 and len(err.strip().splitlines()) == 1, err
            assert f"is in use by process {holder.pid}" in err and "`holder`" in err, err
        assert _snapshot(run_dir) == before  # the refused writers changed nothing
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
    resumed = experiment.train(run_dir=str(run_dir), resume=True, progress=False, tensorboard=False)
    assert resumed.status == "complete" and resumed.updates_done == 40
    updates = [r["update"] for r in sinks.read_jsonl(run_dir / "metrics.jsonl")]
    assert updates == list(range(2, 41, 2))  # no duplicate or interleaved rows


def test_many_processes_starting_one_run_one_wins(tmp_path):
    """Eight processes lock the same new run directory at once: exactly one gets it, the others
    are told who holds it (the emptiness check happens under the lock)."""
    code = textwrap.dedent(f"""
        import sys, time
        from jaxrl import rundir
        try:
            lock = rundir.lock_new({str(tmp_path / 'run')!r}, ["racer"])
        except rundir.RunDirError as e:
            print("refused:", e); sys.exit(3)
        open({str(tmp_path / 'run')!r} + "/run.json", "w").write("{{}}")
        time.sleep(1.0)
        print("won")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(8)]
    outs = [(p.wait(timeout=60), p.stdout.read()) for p in procs]
    assert sorted(c for c, _ in outs) == [0] + [3] * 7, outs
    assert all("in use by process" in o or "exists and is not empty" in o for c, o in outs if c == 3), outs


def test_lock_is_released_by_the_holder_and_names_it():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        with rundir.acquire(d, ["jaxrl", "train", "x"]) as lock:
            assert lock.held
            info = json.loads(open(os.path.join(d, rundir.LOCK_FILE)).read())
            assert info["pid"] == os.getpid() and info["command"] == ["jaxrl", "train", "x"]
        assert not lock.held
        rundir.acquire(d).release()  # free again
        assert rundir.contents(d) == []  # the lock file is not content


def test_sweep_and_meta_runs_are_locked_too(tmp_path):
    """`jaxrl sweep` and `jaxrl meta` (new and resumed) take the same lock (flock conflicts between
    two open files even in one process, so the holder here is this test)."""
    from jaxrl import sweep_dir
    from jaxrl.algos.meta import run as meta_run

    for name in ("sweep", "meta"):
        with rundir.acquire(str(tmp_path / name), ["holder"]):
            with pytest.raises(rundir.RunDirBusy, match=f"in use by process {os.getpid()}"):
                if name == "sweep":
                    sweep_dir.sweep_to_dir("ppo", "probe_constant", config_changes=TINY, seeds=1, run_dir=str(tmp_path / name))
                else:
                    meta_run.meta_to_dir(meta_run.MetaSpec(config={"total_timesteps": 256, "num_envs": 4, "num_steps": 8}),
                                         run_dir=str(tmp_path / name))
    (tmp_path / "meta" / "meta.json").write_text(json.dumps(meta_run.MetaSpec().to_json()))
    with rundir.acquire(str(tmp_path / "meta"), ["holder"]):
        with pytest.raises(rundir.RunDirBusy, match="in use"):
            meta_run.meta_to_dir(run_dir=str(tmp_path / "meta"), resume=True)


@pytest.mark.parametrize("args,expect", [
    (["sweep", "--env", "probe_constant", "--random", "1000000000", "--set", "lr=1e-4:1e-3:log"], "more than 1,048,576 runs"),
    (["sweep", "--env", "probe_constant", "--random", "4", "--set", "lr=1e-4:inf:log"], "'inf' is not a finite number"),
    (["sweep", "--env", "probe_constant", "--env-opt", "debug=true"], "debug mode"),
    (["meta", "es", "--population", "2147483646"], "inner PPO runs at once"),
    (["meta", "es", "--env-opt", "debug=true"], "debug mode"),
    (["eval", "runs/x", "--episodes", "1e9"], "--episodes"),
])
def test_sweep_meta_and_eval_refuse_bad_sizes_at_once(args, expect, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = jcli.main(args + (["--runs-dir", str(tmp_path)] if args[0] != "eval" else []))
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, err
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------- no code from run files


@pytest.mark.parametrize("name", ["this:s", "builtins:print", "os:system", "jaxrl.cli:os.system"])
def test_run_file_naming_code_is_refused_without_running_it(run, name, capsys):
    spec = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**spec, "config": {**spec["config"], "objective": name}}))
    before = _snapshot(run)
    with pytest.raises(configs.ConfigError, match="not one of jaxrl's registered functions.*--trust-code"):
        experiment.load_state(str(run))
    assert "Beautiful is better than ugly" not in capsys.readouterr().out  # `import this` prints the Zen
    assert "this" not in sys.modules or name != "this:s"
    assert _snapshot(run) == before


def test_cli_refuses_code_in_run_files_and_sets(run):
    spec = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**spec, "config": {**spec["config"], "objective": "this:s"}}))
    for args in (["eval", str(run)], ["train", "--config", str(run)], ["train", "--set", "objective=this:s"]):
        code, out, err = _cli(args)
        assert code == 2 and "Beautiful" not in out and "--trust-code" in err and len(err.strip().splitlines()) == 1, (args, err)


def test_registered_and_trusted_callables():
    from jaxrl.algos.meta import objectives

    cfg = configs.from_dict(ppo.PPOConfig, {"objective": "jaxrl.algos.meta.objectives:dpo_objective"})
    assert cfg.objective is objectives.dpo_objective  # a registered function is selected by name
    assert "jaxrl.optim:default_optimizer" in configs.registered()
    with pytest.raises(configs.ConfigError, match="registered"):
        configs.from_dict(ppo.PPOConfig, {"objective": "jaxrl.algos.meta.objectives:dpo_drift"})  # jaxrl's, not a slot
    trusted = configs.from_dict(ppo.PPOConfig, {"objective": "json:dumps"}, trust_code=True)  # the Python API may opt in
    assert trusted.objective is json.dumps
    assert configs.parse_sets(["objective=json:dumps"], ppo.PPOConfig, ppo.PPOHparams, trust_code=True)[0]["objective"] is json.dumps


# ----------------------------------------------------------------------------- bad numbers


@pytest.mark.timeout(60)
def test_huge_step_count_is_refused_at_once(tmp_path, cli_in_process):
    """`--steps 1e99` used to walk every integer up to the update count (a silent hang)."""
    code, _, err = cli_in_process(["train", "--steps", "1e99", "--runs-dir", str(tmp_path)])
    assert code == 2 and "--steps" in err and "2147483647" in err and len(err.strip().splitlines()) == 1, err
    assert not tmp_path.joinpath("runs").exists() and os.listdir(tmp_path) == []


@pytest.mark.parametrize("args,expect", [
    (["--steps", "inf"], "--steps"), (["--steps", "12.5"], "--steps"), (["--seed", str(2**64)], "--seed"),
    (["--seed", "-1"], "--seed"), (["--num-envs", "1e12"], "--num-envs"), (["--env-opt", "depth=maybe"], "depth"),
    (["--env-opt", "episode_length=1e40"], "episode_length"), (["--set", "total_timesteps=1e99"], "total_timesteps"),
    (["--set", "lr=nan"], "lr"), (["--set", "lr=1e999"], "lr"), (["--set", "anneal_lr=maybe"], "anneal_lr"),
    (["--set", "init_log_std=nan"], "init_log_std"), (["--env-opt", "frame_stack=2147483647"], "frame_stack must be at most 256"),
    (["--env-opt", "obs=pixels", "--env-opt", "image_size=2147483647"], "image_size must be at most 4096"),
    (["--env", "probe_constant", "--steps", "2147483647", "--num-envs", "1", "--set", "num_steps=1", "--set", "num_minibatches=1"],
     "optimiser steps"), (["--eval-episodes", "1e9"], "--eval-episodes"),
])
def test_bad_values_are_one_line_errors_before_compiling(args, expect, capsys, tmp_path):
    try:
        code = jcli.main(["train", "--runs-dir", str(tmp_path), *args])
    except SystemExit as e:  # argparse's usage error (one line, see cli._Parser)
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, err
    assert os.listdir(tmp_path) == []


def test_seed_range_and_divisors():
    for seed in (2**32, 2**64, -1, 1.0, True):
        with pytest.raises(configs.ConfigError, match="seed"):
            experiment.build(experiment.Spec(env="probe_constant", seed=seed, config=TINY))
    assert runner.divisors(2**31 - 1) == [1, 2**31 - 1]  # a prime: trial division to sqrt, not a walk
    assert runner.divisors(360) == [d for d in range(1, 361) if 360 % d == 0]
    assert runner.pick_log_every(2**30) == 2**24 and runner.pick_chunk(2**30, 2**27, 2**24) == 2**27


# ----------------------------------------------------------------------------- checkpoints


def test_checksum_record_must_list_every_file(run):
    built = experiment.build(experiment.read_spec(str(run)))
    ck = experiment.checkpointer(str(run), built)
    (run / "checkpoints" / "40" / "extra.bin").write_bytes(b"x")
    with pytest.raises(ckpt.CheckpointError, match="extra.bin is not in its"):
        ck.verify(40)
    (run / "checkpoints" / "32" / ckpt.CHECKSUMS).write_text("{}")
    with pytest.raises(ckpt.CheckpointError, match="lists no file"):
        ck.verify(32)


def test_keep_prunes_only_after_the_new_checkpoint_is_verified(tmp_path):
    ck = ckpt.Checkpointer(str(tmp_path / "c"), keep=1)
    state = {"w": jnp.arange(4.0), "key": jax.random.key(0)}
    for step in (1, 2, 3):
        ck.save(step, state)
        assert ck.steps() == [step]  # one kept, and it is verified
        ck.verify(step)
    restored, _ = ck.restore(state)
    np.testing.assert_array_equal(restored["w"], state["w"])


SAVE_UNDER_LIMIT = textwrap.dedent("""
    import os, resource, signal, sys
    import jax.numpy as jnp
    import numpy as np
    from jaxrl import checkpoint as ckpt
    ck = ckpt.Checkpointer(sys.argv[1], keep=3)
    ck.save(1, {"w": jnp.zeros(8)})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    try:
        ck.save(2, {"w": jnp.asarray(np.random.default_rng(0).normal(size=1_000_000), jnp.float32)})  # 4 MB, incompressible
    except ckpt.CheckpointError as e:
        assert isinstance(e.__cause__, OSError), repr(e.__cause__)
        print("refused:", e)
    print("left:", sorted(os.listdir(sys.argv[1])), ck.steps())
""")


def test_a_failed_checkpoint_write_is_an_os_error_and_leaves_nothing(tmp_path):
    p = subprocess.run([sys.executable, "-c", SAVE_UNDER_LIMIT, str(tmp_path / "c")], capture_output=True, text=True,
                       env=_no_cache_env(), timeout=120)
    assert "refused: could not write checkpoint 2" in p.stdout and "File too large" in p.stdout, (p.stdout, p.stderr[-2000:])
    assert "left: ['1'] [1]" in p.stdout, p.stdout  # no temporary folder, no partial step 2


def test_a_lock_file_that_is_a_link_is_not_written_through(tmp_path):
    target = tmp_path / "bashrc"
    target.write_text("keep me\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / rundir.LOCK_FILE).symlink_to(target)
    with pytest.raises(rundir.RunDirError, match="symbolic link"):
        rundir.acquire(str(tmp_path / "run"))
    assert target.read_text() == "keep me\n"


def test_checkpoint_without_checksums_is_not_trusted(run, capsys):
    newest = run / "checkpoints" / "40"
    (newest / ckpt.CHECKSUMS).unlink()
    data = max((p for p in newest.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    before = _snapshot(run)
    _, _, info = experiment.load_state(str(run), warn=print)
    assert info["update"] == 32  # the previous, intact checkpoint
    assert f"has no {ckpt.CHECKSUMS}" in capsys.readouterr().out
    with pytest.raises(ckpt.CheckpointError, match="not trusted"):
        experiment.load_state(str(run), step=40)
    assert _snapshot(run) == before  # read-only: the bad checkpoint is left where it is


def test_eval_never_changes_the_run(run):
    """A corrupt newest checkpoint: `jaxrl eval` evaluates the previous one, says so, and the run
    directory is byte for byte the same afterwards (it used to move the bad one aside)."""
    data = max((p for p in (run / "checkpoints" / "40").rglob("*") if p.is_file() and p.name != ckpt.CHECKSUMS),
               key=lambda p: p.stat().st_size)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    before = _snapshot(run)
    code, out, err = _cli(["eval", str(run), "--episodes", "2"])
    assert code == 0 and "update 32" in out and "left in place" in err, (out, err)
    assert _snapshot(run) == before


def _read_only(folder, command):
    """``command`` (argv) with ``folder`` read-only: a read-only bind mount in a private mount
    namespace (root, e.g. in a container) or, for another user, the write bits removed."""
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True) if shutil.which("unshare") else None
    if probe is not None and probe.returncode == 0:
        mount = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec \"$@\""
        return ["unshare", "-m", "sh", "-c", mount, "sh", *command]
    if os.geteuid() != 0:
        subprocess.run(["chmod", "-R", "a-w", str(folder)], check=True)
        return command
    pytest.skip("no way to make a folder read-only for root here (no unshare); test_eval_never_changes_the_run covers the rest")


def test_eval_and_plot_work_on_a_read_only_run(run, tmp_path):
    """`jaxrl eval` of a read-only run with a damaged newest checkpoint used to fail with a
    PermissionError (it moved the checkpoint aside); now it evaluates the intact one. `jaxrl plot`
    writes its PNG to the current folder instead of the run's plots/."""
    data = max((p for p in (run / "checkpoints" / "40").rglob("*") if p.is_file() and p.name != ckpt.CHECKSUMS),
               key=lambda p: p.stat().st_size)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    for args, expect in ((["eval", str(run), "--episodes", "2"], "update 32"), (["plot", str(run)], "wrote run-episode_return.png")):
        p = subprocess.run(_read_only(run, [sys.executable, "-m", "jaxrl.cli", *args]), capture_output=True, text=True,
                           env=_no_cache_env(), cwd=tmp_path, timeout=240)
        assert p.returncode == 0 and expect in p.stdout, (p.stdout, p.stderr)
    assert (tmp_path / "run-episode_return.png").stat().st_size > 1000 and not (run / "plots").exists()


def _edit_spec(run, **changes):
    spec = json.loads((run / "run.json").read_text())
    for k, v in changes.items():
        spec[k] = {**spec[k], **v} if isinstance(v, dict) else v
    (run / "run.json").write_text(json.dumps(spec))


@pytest.mark.parametrize("change,field", [({"seed": 5}, "seed: this run has 5, the checkpoint 0"),
                                          ({"hparams": {"lr": 1e-3}}, "hparams.lr: this run has 0.001, the checkpoint 0.003"),
                                          ({"env_options": {"debug": True}}, "env_options.debug: this run has True, the checkpoint False")])
def test_foreign_or_edited_checkpoint_is_refused(run, change, field):
    """A checkpoint copied under a run with another seed, or a run.json whose hparams were edited:
    resume and eval refuse it naming the field (both used to be accepted silently)."""
    _edit_spec(run, **change)
    before = _snapshot(run)
    with pytest.raises(ckpt.CheckpointMismatchError, match=field.replace(".", r"\.")):
        experiment.train(run_dir=str(run), resume=True, progress=False, tensorboard=False)
    with pytest.raises(ckpt.CheckpointMismatchError, match="different run setup"):
        experiment.load_state(str(run))
    assert _snapshot(run) == before


def test_options_given_at_their_defaults_are_the_same_run(run):
    _edit_spec(run, env_options={"frame_stack": 1, "debug": False})  # the defaults, now written out
    _, _, info = experiment.load_state(str(run))
    assert info["update"] == 40


def test_a_refused_resume_moves_nothing_aside(run):
    """The newest checkpoint damaged AND the run's seed edited: resume refuses on the older one's
    identity, and the damaged one is still where it was (moving it is for a resume that proceeds)."""
    data = max((p for p in (run / "checkpoints" / "40").rglob("*") if p.is_file() and p.name != ckpt.CHECKSUMS),
               key=lambda p: p.stat().st_size)
    data.write_bytes(data.read_bytes()[:10])
    _edit_spec(run, seed=5)
    before = _snapshot(run)
    with pytest.raises(ckpt.CheckpointMismatchError, match="seed"):
        experiment.train(run_dir=str(run), resume=True, progress=False, tensorboard=False)
    assert _snapshot(run) == before


def test_other_stack_refused_for_resume_unless_allowed(run, monkeypatch, capsys):
    real = experiment.stack()
    monkeypatch.setattr(experiment, "stack", lambda: {**real, "jax": "99.0"})
    with pytest.raises(ckpt.CheckpointMismatchError, match=r"jax: this run has '99\.0'.*--allow-other-stack"):
        experiment.train(run_dir=str(run), resume=True, progress=False, tensorboard=False)
    _, _, info = experiment.load_state(str(run), warn=print)  # evaluating elsewhere is fine: a note
    assert info["update"] == 40 and "other software or hardware" in capsys.readouterr().out
    out = experiment.train(run_dir=str(run), resume=True, progress=False, tensorboard=False, allow_other_stack=True)
    assert out.status == "complete"


def test_resume_without_intact_checkpoint_refuses_unless_restart(run):
    """A run killed before its first checkpoint: --resume refuses (it used to restart from update 0
    and rewrite the metrics without a word); --restart trains it again."""
    shutil.rmtree(run / "checkpoints")
    (run / "result.json").unlink()
    before = _snapshot(run)
    with pytest.raises(ckpt.CheckpointError, match="nothing to resume from.*--restart"):
        experiment.train(run_dir=str(run), resume=True, progress=False, tensorboard=False)
    assert _snapshot(run) == before
    out = experiment.train(run_dir=str(run), resume=True, restart=True, progress=False, tensorboard=False)
    assert out.status == "complete" and out.updates_done == 40
    assert [r["update"] for r in sinks.read_jsonl(run / "metrics.jsonl")] == list(range(2, 41, 2))


# ----------------------------------------------------------------------------- a full disk


LIMITED_CLI = textwrap.dedent("""
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2)
    from jaxrl import cli
    sys.exit(cli.main(sys.argv[2:]))
""")


@pytest.mark.parametrize("limit,what,where", [
    (12_000, "metrics.jsonl", "the last good checkpoint is update 24"),  # ~420 B a row: fails near update 28
    (6_000, "checkpoints", "no checkpoint was written"),  # a checkpoint's largest file is ~7.7 KB
])
def test_full_disk_is_one_line_and_keeps_the_last_checkpoint(tmp_path, limit, what, where):
    """Writes start failing mid-run (a file size limit stands in for a full disk: the same OSError
    path): one line naming the file and the last good checkpoint, no traceback (orbax's threads
    included), a result.json, then a resume once the space is back completes the run with
    consistent metrics."""
    run_dir = tmp_path / "full"
    args = ["train", "--env", SPEC.env, "--name", "full", "--runs-dir", str(tmp_path), "--log-every", "1",
            "--checkpoint-every", "8", "--eval-episodes", "0", "--no-tensorboard"]
    args += [a for k, v in {**TINY, "lr": 3e-3}.items() for a in ("--set", f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}")]
    p = subprocess.run([sys.executable, "-c", LIMITED_CLI, str(limit), *args], capture_output=True, text=True, env=_no_cache_env(),
                       timeout=240)
    code, err = p.returncode, p.stderr
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"could not write {run_dir}" in err and what in err and where in err and "File too large" in err, err
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "killed" and bool(result["checkpoints"]) == (what == "metrics.jsonl"), result
    resumed = experiment.train(run_dir=str(run_dir), resume=True, restart=True, progress=False, tensorboard=False)
    assert resumed.status == "complete"
    assert [r["update"] for r in sinks.read_jsonl(run_dir / "metrics.jsonl")] == list(range(1, 41))


# ----------------------------------------------------------------------------- smaller


def test_plot_of_a_run_without_episodes_is_a_clear_error(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps(SPEC.to_json()))
    (run / "metrics.jsonl").write_text("".join(json.dumps({"update": u, "env_steps": 32 * u, "episode_return": None}) + "\n"
                                               for u in (2, 4)))
    code = jcli.main(["plot", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and "nothing to plot" in err and "no episode has ended" in err, err
    assert not (run / "plots").exists()


def test_cli_hides_the_xla_cache_loader_lines(tmp_path):
    """A program loaded from the persistent cache made XLA:CPU print two ~2 KB `cpu_aot_loader`
    ERROR lines; the CLI sets XLA's log level before anything imports jax."""
    script = textwrap.dedent(f"""
        import sys
        from jaxrl import cli
        if sys.argv[1] == "cli":
            cli.main(["algos"])  # any command: the level is set first
        import jax, jax.numpy as jnp
        jax.config.update("jax_compilation_cache_dir", {str(tmp_path)!r})
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        print(jax.jit(lambda x: jnp.sin(x) @ x.T + x[jnp.array([0, 1])].sum())(jnp.ones((4, 4))).sum())
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "JAXRL_DEBUG")}
    env["JAXRL_COMPILATION_CACHE"] = str(tmp_path)
    def run(mode):
        p = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 0, p.stderr[-2000:]
        return p.stderr

    run("cli")  # fills the cache
    assert any(tmp_path.iterdir())
    if "cpu_aot_loader" not in run("plain"):  # the same load without the CLI: the lines this test is about
        pytest.skip("this CPU's XLA prints no cache-loader lines: nothing to hide")
    assert "cpu_aot_loader" not in run("cli")


# ----------------------------------------------------------------------------- debug mode


def _stepping_trainer(env, params, bad_action, bad_at=3):
    """A trainer whose update steps one env with a fixed action, ``bad_action`` at update ``bad_at``."""
    good = jnp.zeros(env.action_spec.shape, env.action_spec.dtype)

    def init(key, hparams, meta_params=None):
        state, _ = env.reset(key, params)
        return {"env": state, "t": jnp.zeros((), jnp.int32), "key": key}

    def update(s):
        action = jnp.where(s["t"] + 1 == bad_at, jnp.asarray(bad_action, good.dtype), good)
        env_state, ts = env.step(s["key"], s["env"], action, params)
        return {"env": env_state, "t": s["t"] + 1, "key": s["key"]}, {"episodes": 0.0, "reward": ts.reward}

    return Trainer(init, update, num_updates=6, steps_per_update=1, policy=None)


@pytest.mark.parametrize("options,bad,message", [
    ({}, 7, "action 7 entered env 'probe_constant' outside its range [0, 2) (in updates 3 to 4)"),
    ({"continuous": True}, [float("nan")], "non-finite action [nan] entered env 'probe_constant' (in updates 3 to 4)"),
])
def test_debug_mode_reports_bad_actions_where_they_enter(options, bad, message):
    from jaxrl import envs

    env, params = envs.make("probe_constant", debug=True, **options)
    trainer = _stepping_trainer(env, params, bad)
    with pytest.raises(runner.DebugCheckError) as e:
        runner.run(trainer, jax.random.key(0), None, chunk_updates=2, check_finite=False, debug=True)
    assert str(e.value) == "debug: " + message
    quiet = runner.run(trainer, jax.random.key(0), None, chunk_updates=2, check_finite=False)  # off: no checks, no cost
    assert quiet.updates_done == 6
    fine = _stepping_trainer(env, params, 0 if not options else [0.5])
    a = runner.run(fine, jax.random.key(0), None, chunk_updates=2, check_finite=False, debug=True)
    b = runner.run(fine, jax.random.key(0), None, chunk_updates=2, check_finite=False)
    np.testing.assert_array_equal(a.metrics["reward"], b.metrics["reward"])


def nan_actions_optimizer(hparams, meta_params, config):
    """PPO's update rule, but every parameter becomes NaN at the 3rd optimiser step: the policy's actions turn NaN."""
    import optax

    def update(updates, count, params=None):
        poison = jnp.where(count >= 2, jnp.nan, 1.0)
        return jax.tree.map(lambda u: u * poison, updates), count + 1

    return optax.chain(ppo.default_optimizer(hparams, meta_params, config),
                       optax.GradientTransformation(lambda p: jnp.zeros((), jnp.int32), update))


def test_train_in_debug_mode_stops_where_a_nan_action_enters(tmp_path):
    spec = experiment.Spec(env="probe_constant", env_options={"continuous": True, "debug": True},
                           config={**TINY, "optimizer": nan_actions_optimizer}, log_every=8, checkpoint_every=8)
    # One compiled call of 8 updates: its failed debug check is reported before the NaN loss
    # that the NaN parameters also make (a call is checked after it returns).
    with pytest.raises(runner.DebugCheckError, match=r"debug: non-finite action \[nan\] entered env 'probe_constant' \(in updates 1 to 8\)"):
        experiment.train(spec, run_dir=str(tmp_path / "d"), progress=False, tensorboard=False)


def test_debug_option_is_checked_and_a_clean_debug_train_completes(tmp_path, capsys):
    from jaxrl import envs

    with pytest.raises(ValueError, match="debug must be True or False"):
        envs.make("probe_constant", debug="yes")
    assert envs.options("probe_constant")["debug"] is False
    code = jcli.main(["train", "--env", "probe_constant", "--env-opt", "debug=true", "--runs-dir", str(tmp_path), "--name", "d",
                      "--steps", "64", "--num-envs", "4", "--set", "num_steps=4", "--set", "hidden_sizes=8", "--eval-episodes", "0",
                      "--no-tensorboard"])
    assert code == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "d" / "run.json").read_text())["env_options"] == {"debug": True}
