"""The ``jaxrl`` command line: defaults, a tiny real run, and one-line errors."""

import os
import subprocess
import sys

import pytest

from jaxrl import cli


def run_cli(*args, timeout=240, cache="off"):
    env = {**os.environ, "JAXRL_COMPILATION_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "jaxrl.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_no_arguments_means_train_ppo_on_cartpole_balance(monkeypatch):
    from jaxrl import experiment

    seen = {}

    class Stop(Exception):
        pass

    def fake_train(spec, **kw):
        seen.update(spec=spec, **kw)
        raise Stop

    monkeypatch.setattr(experiment, "train", fake_train)
    monkeypatch.setenv("JAXRL_DEBUG", "1")  # re-raise instead of the one-line failure message
    with pytest.raises(Stop):
        cli.main([])
    spec = seen["spec"]
    assert (spec.algo, spec.env, spec.seed, spec.config, spec.hparams) == ("ppo", "cartpole_balance", 0, {}, {})
    assert spec.env_options == {"physics": "fast"}  # the demo's preset; any --env gets the faithful default
    with pytest.raises(Stop):
        cli.main(["train", "--env", "cartpole_balance"])
    assert seen["spec"].env_options == {}
    with pytest.raises(Stop):
        cli.main(["train", "--env-opt", "physics=faithful"])
    assert seen["spec"].env_options == {"physics": "faithful"}
    assert seen["run_dir"] is None and seen["runs_root"] == "runs" and not seen["resume"]
    # a preset for any env brings its env options (DrQ-v2's paper setting renders 84 x 84 pixels); --env-opt wins
    with pytest.raises(Stop):
        cli.main(["train", "drq", "--env", "cheetah_run", "--preset", "paper", "--env-opt", "frame_stack=2"])
    assert seen["spec"].env_options == {"obs": "pixels", "image_size": 84, "frame_stack": 2, "action_repeat": 2}
    assert seen["spec"].config["batch_size"] == 256
    with pytest.raises(Stop):  # DreamerV3's CPU pixel setting: 16 x 16 frames at action repeat 8
        cli.main(["train", "dreamer", "--env", "cartpole_balance", "--preset", "small_pixels"])
    assert seen["spec"].env_options == {"obs": "pixels", "image_size": 16, "action_repeat": 8}
    assert seen["spec"].config["conv_channels"] == (16, 32)
    # the world models' published settings run DM Control at action repeat 2, as TD-MPC2 and DreamerV3 (2023) do
    for algo, preset in (("tdmpc", "paper"), ("dreamer", "paper_xs"), ("dreamer", "paper_l")):
        with pytest.raises(Stop):
            cli.main(["train", algo, "--env", "cheetah_run", "--preset", preset])
        assert seen["spec"].env_options == {"action_repeat": 2}, (algo, preset)
    with pytest.raises(Stop):
        cli.main(["train", "tdmpc", "--env", "cheetah_run", "--preset", "paper", "--env-opt", "action_repeat=1"])
    assert seen["spec"].env_options == {"action_repeat": 1}
    # without --env a preset runs on the default env's FAITHFUL physics: the demo's fast physics is for no arguments only
    with pytest.raises(Stop):
        cli.main(["train", "dreamer", "--preset", "small_pixels"])
    assert (seen["spec"].env, seen["spec"].env_options) == ("cartpole_balance", {"obs": "pixels", "image_size": 16, "action_repeat": 8})
    with pytest.raises(Stop):
        cli.main(["train", "dreamer", "--preset", "small"])
    assert (seen["spec"].env, seen["spec"].env_options) == ("cartpole_balance", {})


def test_a_preset_says_when_it_brings_dm_controls_action_repeat_to_another_env(monkeypatch, capsys):
    """The world models' ``paper`` presets repeat actions twice on any env; on one that is not a DM
    Control task (a probe here; gymnax and Brax alike) the CLI says so in one line, once, unless
    ``--env-opt action_repeat`` is given or pixels are asked for (``make`` then refuses the env itself)."""
    from jaxrl import experiment, sweep_dir

    class Stop(Exception):
        pass

    def stop(*a, **kw):
        raise Stop

    monkeypatch.setattr(experiment, "train", stop)
    monkeypatch.setattr(sweep_dir, "sweep_to_dir", stop)
    monkeypatch.setenv("JAXRL_DEBUG", "1")
    for argv, noted in (
        (["train", "tdmpc", "--preset", "paper", "--env", "probe_continuous"], True),
        (["sweep", "dreamer", "--preset", "paper_xs", "--env", "probe_continuous"], True),
        (["train", "tdmpc", "--preset", "paper", "--env", "probe_continuous", "--env-opt", "action_repeat=2"], False),
        (["sweep", "tdmpc", "--preset", "paper", "--env", "probe_continuous", "--env-opt", "action_repeat=1"], False),
        (["train", "tdmpc", "--preset", "paper", "--env", "cheetah_run"], False),
        (["train", "tdmpc", "--preset", "default", "--env", "probe_continuous"], False),
        (["train", "dreamer", "--preset", "small_pixels", "--env", "probe_continuous"], False),  # pixels: make() refuses
    ):
        with pytest.raises(Stop):
            cli.main(argv)
        err = capsys.readouterr().err
        assert err.count("jaxrl: note: this preset repeats each action 2 times") == int(noted), (argv, err)
        if noted:
            assert "'probe_continuous'" in err and "--env-opt action_repeat=1" in err


@pytest.mark.parametrize("argv, env, options", [
    (["sweep", "dreamer", "--preset", "small_pixels", "--env", "cartpole_swingup"], "cartpole_swingup",
     {"obs": "pixels", "image_size": 16, "action_repeat": 8}),
    (["sweep", "drq", "--preset", "paper", "--env-opt", "frame_stack=2"], "cartpole_balance",
     {"obs": "pixels", "image_size": 84, "frame_stack": 2, "action_repeat": 2}),
    (["sweep", "tdmpc", "--preset", "paper", "--env", "cheetah_run"], "cheetah_run", {"action_repeat": 2}),
    (["sweep", "dreamer", "--preset", "tiny"], "probe_continuous", {}),
    (["sweep", "ppo"], "cartpole_balance", {"physics": "fast"}),
    (["sweep", "ppo", "--env", "cartpole_balance"], "cartpole_balance", {}),
])
def test_sweep_starts_from_the_env_train_would(monkeypatch, argv, env, options):
    """``jaxrl sweep`` takes the env and env options as ``jaxrl train`` does (``cli.start_env``): a
    preset's env options reach the runs (they were dropped before), and the demo's fast physics
    applies only without --env and --preset."""
    from jaxrl import sweep_dir

    seen = {}

    class Stop(Exception):
        pass

    def fake_sweep(algo, env_name, env_options, **kw):
        seen.update(env=env_name, options=env_options)
        raise Stop

    monkeypatch.setattr(sweep_dir, "sweep_to_dir", fake_sweep)
    monkeypatch.setenv("JAXRL_DEBUG", "1")
    with pytest.raises(Stop):
        cli.main(argv)
    assert (seen["env"], seen["options"]) == (env, options)


def test_algos_lists_presets_aligned_with_their_envs(capsys):
    """Under each algorithm its presets' descriptions start in one column (the longest name's), and a
    preset says which env it was made for, or which env options it brings to any env."""
    assert cli.main(["algos"]) == 0
    lines = capsys.readouterr().out.splitlines()
    dreamer = lines[next(i for i, line in enumerate(lines) if line.startswith("dreamer:")) + 1:]
    dreamer = dreamer[:next(i for i, line in enumerate(dreamer) if not line.startswith("    "))]
    names = [line.split()[1] for line in dreamer]
    assert "small_pixels" in names and "tiny" in names
    column = len("    --preset ") + max(map(len, names)) + 1
    assert all(line[column - 1] == " " and line[column] != " " for line in dreamer), dreamer
    row = dreamer[names.index("small_pixels")]
    assert row.endswith("(env options: obs=pixels image_size=16 action_repeat=8)"), row
    assert dreamer[names.index("tiny")].endswith("(env probe_continuous)")


def test_train_prints_progress_and_summary(tmp_path):
    cache = tmp_path / "xla"
    out = run_cli(
        "train", "ppo", "--env", "probe_action", "--steps", "4096", "--num-envs", "16", "--checkpoint-every", "16",
        "--eval-episodes", "8", "--runs-dir", str(tmp_path / "runs"), "--name", "cli", cache=cache,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "run directory: " in text and "steps/s" in text and "return" in text and "ETA" in text
    progress = [line for line in text.splitlines() if "%" in line and line.strip()[0].isdigit()]
    assert progress and progress[-1].split()[:2] == ["4,096", "100%"], text
    assert "complete: update 4 of 4" in text and "eval: deterministic policy over 8 episodes" in text
    assert text.splitlines()[0].startswith("backend: cpu, device: cpu x 1 (jax ")  # what it runs on, first
    assert sorted(os.listdir(tmp_path / "runs" / "cli")) == [".jaxrl-lock", "checkpoints", "metrics.jsonl", "result.json", "run.json", "tb"]
    assert any(cache.iterdir()), "compiled programs were not persisted to JAXRL_COMPILATION_CACHE"


def test_device_line_warns_when_an_accelerator_plugin_did_not_load(monkeypatch):
    line, warning = cli.device_line()
    assert line.startswith("backend: cpu") and warning is None  # no plugin installed here
    monkeypatch.setattr(cli, "_accelerator_plugins", lambda: ["jax-cuda12-plugin"])
    line, warning = cli.device_line()
    assert "jax-cuda12-plugin is installed but JAX runs on the CPU" in warning


@pytest.mark.parametrize(
    "args,match",
    [
        (["train", "--env", "nope"], "unknown env 'nope'"),
        (["train", "dqnn"], "unknown algorithm 'dqnn' (did you mean 'dqn'?)"),
        (["train", "--steps", "-5"], "expected an integer from 1 to 2147483647"),
        (["train", "--env", "probe_action", "--steps", "100"], "less than one update"),
    ],
)
def test_bad_input_is_one_line(args, match, cli_in_process):
    code, _, err = cli_in_process(args)
    assert code == 2
    err = err.strip()
    assert match in err, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err


def test_envs_lists_registry():
    out = run_cli("envs")
    assert out.returncode == 0
    assert "cartpole_balance" in out.stdout and "pendulum_swingup" in out.stdout
