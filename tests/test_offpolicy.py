"""The replay learners' machinery: one-line errors before compiling, the memory estimate, the update-rule
slot (a learned optimiser trains SAC), checkpoints holding the buffer and resuming after kill -9, and a
sweep in which every run has its own buffer (8 forced CPU devices give the numbers of one)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import cli, envs, evaluate, experiment, memory, offpolicy, sinks
from jaxrl.algos import sac
from test_contract import assert_trees_equal, setup
from test_runs import _wait_for_rows, cli as cli_proc, run_cli, xla_cache  # noqa: F401  (a fixture)

TINY = sac.presets()["tiny"]


# ----------------------------------------------------------------------------- bad input, before compiling


@pytest.mark.parametrize("args,match", [
    (["train", "dqn", "--env", "probe_continuous"], "DQN needs discrete actions; probe_continuous has Box"),
    (["train", "pqn", "--env", "probe_continuous"], "PQN needs discrete actions"),
    (["train", "sac", "--env", "probe_action"], "SAC needs continuous (Box) actions; probe_action has Discrete"),
    (["train", "td3", "--env", "probe_action"], "TD3 needs continuous (Box) actions"),
    (["train", "sac", "--env", "probe_continuous", "--set", "batch_size=512", "--set", "buffer_size=100"],
     "SACConfig.batch_size (= 512) is larger than the replay buffer (buffer_size = 100)"),
    (["train", "sac", "--env", "probe_continuous", "--set", "buffer_size=2000000000"],
     "sac on probe_continuous would need about"),
    (["train", "sac", "--env", "probe_continuous", "--set", "learning_starts=999999", "--steps", "1000"],
     "learning_starts (= 999999) leaves no update to learn in"),
    (["train", "sac", "--env", "probe_continuous", "--set", "replay_ratio=0.3"], "must be a whole number of gradient steps"),
    (["train", "sac", "--preset", "huge"], "the algorithm 'sac' has no preset 'huge'; its presets: default, small, paper, tiny"),
    (["train", "sacc"], "unknown algorithm 'sacc' (did you mean 'sac'?)"),
    (["train", "sac", "--objective", "dpo"], "--objective: the algorithm 'sac' has no objective slot"),
    (["sweep", "sac", "--env", "probe_continuous", "--set", "hidden_sizes=8,8", "--set", "lr=1e-3,1e-4",
      "--set", "buffer_size=2000000000", "--seeds", "64"], "the sweep's 128 runs would need about"),
])
def test_bad_input_is_one_line_before_compiling(args, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main([*args, "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_memory_estimate_names_the_replay_buffer_and_counts_runs():
    env, params = envs.make("probe_continuous")
    config = sac.SACConfig(total_timesteps=1000, buffer_size=1_000_000, batch_size=8, learning_starts=10, hidden_sizes=(8,))
    trainer = sac.make_train(config, env, params)
    shapes = jax.eval_shape(trainer.init, jax.random.key(0), sac.default_hparams())
    one = memory.tree_bytes(shapes)
    assert memory.largest_part(shapes)[0] == "replay"
    assert memory.largest_part(shapes)[1] == offpolicy.replay_bytes(config, env) > 0.95 * one
    assert memory.check_fits(shapes) == 2 * one
    with pytest.raises(memory.MemoryEstimateError, match=r"262144 run\(s\) x .* of which replay .* x 2 for a chunk"):
        memory.check_fits(shapes, runs=4096 * 64, devices=jax.devices()[:1] * 64, what="x")


# ----------------------------------------------------------------------------- the update-rule slot


def test_a_learned_optimizer_fills_sacs_slot_and_at_its_start_equals_adam():
    """``jaxrl meta``'s lifetime step-size rule, at its initial meta-parameters (a multiplier of 1), gives
    SAC's default optimiser bit for bit; other meta-parameters change the run."""
    from jaxrl.algos.meta import rules

    _, trainer, hparams, env, env_params, _, state, metrics = setup("sac")
    rule = rules.get_rule("lifetime_lr")
    config = rule.configure(trainer.config)
    learned = sac.make_train(config, env, env_params)
    meta = rule.initial(jax.random.key(0))
    f = jax.jit(learned)
    s1, m1 = f(jax.random.key(0), hparams, meta)
    learned_nets = (s1.agent.actor, s1.agent.critic, s1.agent.target_critic, s1.agent.log_alpha)
    assert_trees_equal(learned_nets, (state.agent.actor, state.agent.critic, state.agent.target_critic, state.agent.log_alpha))
    for k in metrics:
        np.testing.assert_array_equal(m1[k], metrics[k], err_msg=k)
    s2, m2 = f(jax.random.key(0), hparams, jax.tree.map(lambda x: x + 1.0, meta))
    assert not np.allclose(np.asarray(m2["critic_loss"]), np.asarray(m1["critic_loss"]))


# ----------------------------------------------------------------------------- checkpoints and kill -9

SAC_ARGS = ["train", "sac", "--env", "probe_continuous", "--steps", "2048", "--num-envs", "2", "--set", "num_steps=4",
            "--set", "buffer_size=512", "--set", "batch_size=16", "--set", "learning_starts=64", "--set", "hidden_sizes=16",
            "--set", "replay_ratio=0.25", "--log-every", "8", "--checkpoint-every", "32", "--eval-episodes", "0"]


@pytest.mark.timeout(600)
def test_checkpoint_holds_the_buffer_and_kill_9_then_resume_ends_as_the_uninterrupted_run(tmp_path, xla_cache):
    runs = tmp_path / "runs"
    code, out, err = run_cli([*SAC_ARGS, "--runs-dir", str(runs), "--name", "ref"], xla_cache)
    assert code == 0, err
    p = cli_proc([*SAC_ARGS, "--runs-dir", str(runs), "--name", "kill"], xla_cache)
    _wait_for_rows(runs / "kill" / "metrics.jsonl", 136, p)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    _, state, info = experiment.load_state(str(runs / "kill"))
    assert 32 <= info["update"] < 256
    assert int(jnp.min(state.replay.size)) > 0 and state.replay.obs.shape[:2] == (2, 256)  # the buffer was saved
    code, out, err = run_cli(["train", "--resume", str(runs / "kill"), "--eval-episodes", "0"], xla_cache)
    assert code == 0, err
    assert f"resuming at update {info['update']} of 256" in out
    _, ref_state, _ = experiment.load_state(str(runs / "ref"))
    _, state, _ = experiment.load_state(str(runs / "kill"))
    assert_trees_equal(state, ref_state)
    rows, ref_rows = sinks.read_jsonl(runs / "kill" / "metrics.jsonl"), sinks.read_jsonl(runs / "ref" / "metrics.jsonl")
    assert [r["update"] for r in rows] == [r["update"] for r in ref_rows]
    for r, q in zip(rows, ref_rows):
        assert r["loss"] == q["loss"] and r["episode_return"] == q["episode_return"], r["update"]
    code, out, err = run_cli(["eval", str(runs / "kill"), "--episodes", "4"], xla_cache)  # eval works on a SAC run
    assert code == 0 and "update 256 (2,048 env steps), 4 episodes: return" in out, (out, err)


def test_jaxrl_sweep_td3_over_learning_rates(tmp_path, capsys):
    """``jaxrl sweep`` takes any registered learner: TD3's tiny preset, 2 learning rates x 2 seeds."""
    code = cli.main(["sweep", "td3", "--preset", "tiny", "--env", "probe_continuous", "--seeds", "2",
                     "--set", "lr=1e-3,3e-4", "--runs-dir", str(tmp_path / "runs"), "--name", "s"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "done: 4 runs, 256 env steps" in out and "lr=0.001" in out and "lr=0.0003" in out
    curves = np.load(tmp_path / "runs" / "s" / "curves.npz")
    assert curves["critic_loss"].shape == (2, 2, 8)


# ----------------------------------------------------------------------------- sweeps


SWEEP_SCRIPT = textwrap.dedent("""
    import json, jax, numpy as np
    from jaxrl import envs, sweep
    from jaxrl.algos import sac
    preset = sac.presets()["tiny"]
    config, _ = preset.build(sac.SACConfig, sac.SACHparams)
    env, params = envs.make(preset.env)
    trainer = sac.make_train(config, env, params)
    settings = sweep.grid(lr=[1e-3, 3e-3])
    out = {}
    for n in (8, 1):
        res = sweep.run_sweep(trainer, sac.default_hparams(), settings, seeds=[0, 1], keep_state=(n == 8),
                              devices=jax.devices()[:n])
        out[n] = {"devices": res.num_devices, "loss": np.asarray(res.metrics["critic_loss"]).tolist(),
                  "reward": np.asarray(res.metrics["reward"]).tolist()}
        if n == 8:
            replay = res.state.replay
            out["buffers_differ"] = bool(np.any(np.asarray(replay.obs[0, 0]) != np.asarray(replay.obs[0, 1])))
            out["buffer_shape"] = list(replay.obs.shape)
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.timeout(600)
def test_a_sac_sweep_gives_each_run_its_own_buffer_and_8_devices_equal_one(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SWEEP_SCRIPT], capture_output=True, text=True, env=env, timeout=500, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.split("RESULT", 1)[1].splitlines()[0])
    eight, one = res["8"], res["1"]
    assert eight["devices"] == 8 and one["devices"] == 1
    assert res["buffer_shape"][:3] == [2, 2, 2]  # [setting, seed, env, capacity, ...]: a buffer per run
    assert res["buffers_differ"]  # two seeds stored different experience
    np.testing.assert_allclose(eight["loss"], one["loss"], rtol=1e-5, atol=1e-6)
    # Exact on JAX 0.9.2; on JAX 0.12 the program split over 8 devices is fused differently, and 2 of
    # 32 rewards differ in the last float32 bit (6e-8): equal to float rounding, not bit for bit.
    np.testing.assert_allclose(eight["reward"], one["reward"], rtol=1e-6, atol=1e-7)
    # (that each run equals the same run alone is tests/test_contract.py's vmapped-vs-separate check)


def test_an_update_traces_the_agents_learn_once():
    """The skipped branch (before the buffer can be sampled) takes the metrics' shapes from the same
    trace as the learning branch: a world model's update is traced once per program, not twice."""
    import dataclasses

    config = sac.SACConfig(total_timesteps=64, num_envs=2, num_steps=4, buffer_size=64, batch_size=4, learning_starts=8,
                           hidden_sizes=(8,))
    env, params = envs.make("probe_continuous")
    agent, traced = sac.make_agent(config, env), []

    def learn(*args):
        traced.append(1)
        return agent.learn(*args)

    trainer = offpolicy.make_train(config, env, params, dataclasses.replace(agent, learn=learn), sac.as_hparams)
    state = jax.eval_shape(trainer.init, jax.random.key(0), sac.default_hparams())
    jax.jit(trainer.update).trace(state)
    assert len(traced) == 1


# ----------------------------------------------------------------------------- a stateful agent in the shared loop


def test_the_shared_loop_carries_an_agents_state_and_stores_its_extras():
    """A planner or recurrent agent needs no change to jaxrl.offpolicy: a carry (here: the step of the
    episode, restarted on ``first``) threads through acting, survives across updates, is reset by
    auto-resets, and the agent's extras are stored in the buffer beside each step; sequence learners
    wait until every env holds a window of ``sample_length`` slots."""
    from jaxrl.policy import reset_where

    from jaxrl.algos import dqn

    env, params = envs.make("probe_discount")  # two-step episodes
    base = dqn.make_agent(dqn.DQNConfig(total_timesteps=64, num_envs=2, buffer_size=64, batch_size=4, learning_starts=8,
                                        hidden_sizes=(8,), target_update_period=2), env)

    def explore(agent, hp, key, carry, obs, first, progress):
        t = reset_where(first, jnp.zeros_like(carry), carry) + 1
        return jnp.zeros(obs.shape[0], jnp.int32), t, {"t": t}

    def greedy(agent, hp, key, carry, obs, first):
        return jnp.zeros(obs.shape[0], jnp.int32), reset_where(first, jnp.zeros_like(carry), carry) + 1

    agent = offpolicy.Agent(init=base.init, explore=explore, greedy=greedy, learn=base.learn, sample_length=3,
                            init_carry=lambda b: jnp.full((b,), 50, jnp.int32), extras={"t": jnp.zeros((), jnp.int32)})
    config = dqn.DQNConfig(total_timesteps=64, num_envs=2, buffer_size=64, batch_size=4, learning_starts=8, hidden_sizes=(8,))
    trainer = offpolicy.make_train(config, env, params, agent, dqn.as_hparams)
    state, metrics = jax.jit(trainer)(jax.random.key(0), dqn.default_hparams())
    replay = state.replay
    t, first, final = np.asarray(replay.extras["t"]), np.asarray(replay.first), np.asarray(replay.final)
    steps = ~final & (np.arange(t.shape[1])[None] < np.asarray(replay.size)[:, None])
    assert np.all(t[steps & first] == 1)  # restarted at every episode's first step ...
    assert np.all(t[steps & ~first] == 2) and np.any(steps & ~first)  # ... and carried to its second
    assert state.rollout.carry.shape == (2,)
    assert np.asarray(metrics["learning"])[-1] == 1.0
    ret = evaluate.episode_returns(jax.random.key(1), env, params, trainer.policy(state), 4, 2)
    assert ret.shape == (4,)


def test_a_carry_that_holds_the_action_taken_holds_the_warm_ups_random_action():
    """During the random warm-up the trainer replaces ``explore``'s action; an agent whose carry holds
    the action it took (a recurrent model's next input: DreamerV3's) gets the EXECUTED action through
    ``Agent.executed``. Here ``explore`` always chooses action 0 and carries it; each step stores the
    carry it started from, which must equal the env action of the step before (random during the
    warm-up, 0 after). Without ``executed`` the carry would hold 0 throughout the warm-up."""
    from jaxrl.algos import dqn

    env, params = envs.make("probe_discount")  # two-step episodes, 2 actions
    config = dqn.DQNConfig(total_timesteps=64, num_envs=2, buffer_size=128, batch_size=4, learning_starts=24, hidden_sizes=(8,))
    base = dqn.make_agent(config, env)

    def explore(agent, hp, key, carry, obs, first, progress):
        return jnp.zeros(obs.shape[0], jnp.int32), jnp.zeros_like(carry), {"prev": carry}

    agent = offpolicy.Agent(init=base.init, explore=explore, greedy=base.greedy, learn=base.learn,
                            init_carry=lambda b: jnp.full((b,), 7, jnp.int32), extras={"prev": jnp.zeros((), jnp.int32)},
                            executed=lambda carry, action: action.astype(carry.dtype))
    trainer = offpolicy.make_train(config, env, params, agent, dqn.as_hparams)
    state, _ = jax.jit(trainer)(jax.random.key(0), dqn.default_hparams())
    replay = state.replay
    action, prev, final = (np.asarray(x) for x in (replay.action, replay.extras["prev"], replay.final))
    assert np.all(np.asarray(replay.size) == 32 + 16)  # 32 steps and 16 final slots per env: never wrapped, in order
    for b in range(2):
        taken = [(int(a), int(p)) for a, p, f in zip(action[b], prev[b], final[b]) if not f][:32]
        assert taken[0][1] == 7  # the initial carry
        assert all(p == a_before for (a_before, _), (_, p) in zip(taken, taken[1:])), taken
        warm = [a for a, _ in taken[:12]]  # the warm-up's 24 env steps over 2 envs
        assert 0 < sum(warm) < len(warm), warm  # random actions: both were taken
        assert all(a == 0 for a, _ in taken[12:]), taken  # explore's own action after the warm-up


# ----------------------------------------------------------------------------- steps skipped under vmap


def test_warm_up_updates_and_td3s_delayed_actor_compute_nothing_also_under_vmap(monkeypatch):
    """A replay learner's gradient steps run only in updates that learn, and TD3's actor step only when
    due, in a vmapped sweep too (:func:`jaxrl.control_flow.compute_if`; with a ``lax.cond`` ``vmap``
    computed both branches and discarded one: every warm-up update's gradient steps, every critic
    step's actor step). Counted by host callbacks in the traced program: 8 updates of 2 gradient
    steps, 3 of warm-up, policy delay 2 -> 10 critic steps and 5 actor steps, vmapped over 2 runs,
    update by update as the runner's chunks and a sweep run them (a callback without batched
    arguments fires once for the batch; in one ``jit(vmap(train))`` the update index stays unbatched
    and a cond stayed a cond). ``benchmarks/state_hashes.py --sweep`` gave the old fingerprints for
    every algorithm alone and in one ``jit(vmap(train))``, and run update by update as a sweep for
    all but TD3 (float32 rounding in its actor's Adam moments: the batch's actor step is fused inside a cond)."""
    import dataclasses

    from jaxrl.algos import td3
    from jaxrl.algos.td3 import train as td3_train

    config = td3.TD3Config(total_timesteps=64, num_envs=2, num_steps=4, buffer_size=64, batch_size=4, learning_starts=24,
                           replay_ratio=0.25, hidden_sizes=(8,), policy_delay=2)
    assert (config.warmup_updates, config.grad_steps, config.num_updates) == (3, 2, 8)
    env, params = envs.make("probe_continuous")
    calls = {"critic": 0, "actor": 0}

    def count(kind):
        def bump():
            calls[kind] += 1
        jax.debug.callback(bump)

    actor_step = td3_train.actor_step
    monkeypatch.setattr(td3_train, "actor_step", lambda *a: (count("actor"), actor_step(*a))[1])
    plain = td3.make_agent(config, env)
    agent = dataclasses.replace(plain, learn=lambda *a: (count("critic"), plain.learn(*a))[1])
    trainer = offpolicy.make_train(config, env, params, agent, td3.as_hparams)
    hp = td3.as_hparams(td3.default_hparams())
    keys = jax.random.split(jax.random.key(0), 2)
    hps = jax.tree.map(lambda x: jnp.stack([x, x]), hp)
    state = jax.jit(jax.vmap(trainer.init))(keys, hps)
    update = jax.jit(jax.vmap(trainer.update))
    for _ in range(trainer.num_updates):  # as the runner's chunks: the state (its update index too) batched
        state, metrics = update(state)
    jax.block_until_ready(state)
    jax.effects_barrier()
    assert calls == {"critic": 10, "actor": 5}, calls  # a cond here ran 16 and 16
    assert np.asarray(metrics["learning"]).tolist() == [1.0, 1.0] and np.asarray(state.agent.step).tolist() == [10, 10]


# ----------------------------------------------------------------------------- the pretraining burst


def test_the_pretraining_burst_runs_once_at_the_first_learning_update_also_under_vmap():
    """``pretrain_steps`` (TD-MPC2's burst on the seed data) adds its gradient steps to the FIRST update
    that learns, which for a sequence learner is when every env holds a window, not the end of the
    random warm-up; later updates take ``grad_steps``. Under ``vmap`` the burst's loop (a traced trip
    count) gives each run what it gives alone, and the learning-rate schedule counts the burst."""
    import dataclasses

    config = sac.SACConfig(total_timesteps=64, num_envs=2, num_steps=4, buffer_size=64, batch_size=4, learning_starts=8,
                           replay_ratio=0.25, hidden_sizes=(8,), pretrain_steps=5)
    assert (config.warmup_updates, config.grad_steps, config.num_updates) == (1, 2, 8)
    assert config.num_optimizer_steps == (8 - 1) * 2 + 5
    env, params = envs.make("probe_continuous")
    # Windows of 20 slots: the buffer can first be sampled two updates after the warm-up.
    agent = dataclasses.replace(sac.make_agent(config, env), sample_length=20)
    trainer = offpolicy.make_train(config, env, params, agent, sac.as_hparams)
    hp = sac.as_hparams(sac.default_hparams())
    update = jax.jit(trainer.update)
    state = jax.jit(trainer.init)(jax.random.key(0), hp)
    steps, learning = [], []
    for _ in range(trainer.num_updates):
        state, metrics = update(state)
        steps.append(int(state.agent.step))
        learning.append(float(metrics["learning"]))
    first = learning.index(1.0)
    print("first learning update", first, "steps", steps)
    assert first > config.warmup_updates and learning == [0.0] * first + [1.0] * (8 - first), learning
    assert steps == [0] * first + [5 + 2 * (k + 1) for k in range(8 - first)], steps
    assert all(np.isfinite(float(v)) for v in metrics.values())

    batched = jax.jit(jax.vmap(trainer))(jax.random.split(jax.random.key(3), 2), jax.tree.map(lambda x: jnp.stack([x, x]), hp))
    for i in range(2):
        alone = jax.jit(trainer)(jax.random.split(jax.random.key(3), 2)[i], hp)
        assert int(batched[0].agent.step[i]) == int(alone[0].agent.step) == steps[-1]
        assert_trees_equal(jax.tree.map(lambda x: x[i], batched[0].agent), alone[0].agent, exact=False)
    with pytest.raises(Exception, match="pretrain_steps must be a non-negative integer, got -1"):
        config.replace(pretrain_steps=-1)
