"""SAC, TD3, DQN and PQN LEARN, in the default test run (cheap gymnax tasks, 2 seeds in one program).

Thresholds, per seed unless said, chosen from 4-seed runs on this CPU (2026-12-02) with a margin; the
random policy is measured in each test on the same reset states. Each threshold was checked against a
broken loss (``python benchmarks/offpolicy_mutations.py``; seeds 0 and 1, the test's budget):

- SAC, Pendulum-v1, 20k env steps: measured -172 / -175 / -174 / -173 (random -1372). Asserted
  >= -400. Broken: the actor loss's sign flipped ends at -1465 / -1465, the TD target without the
  reward at -1495 / -1637.
- TD3, Pendulum-v1, 30k env steps: measured -471 / -173 / -170 / -179 (Pendulum's swing-up has a
  local optimum near -500). Asserted >= -800 each and a mean >= -600. Broken: the actor loss's sign
  flipped ends at -1809 / -1838.
- DQN, CartPole-v1, 100k env steps (learning from 2k): measured 500 on all 4 seeds (random 26; with
  Polyak targets instead of the default hard copies: 500 / 500 / 97 / 117, DQN's greedy policy
  oscillates on CartPole). Asserted >= 60 each and a mean >= 150. Broken: the loss on action 0
  instead of the action taken ends at 9.3 / 9.3. (A TD target WITHOUT the reward still reaches 500
  on CartPole: the termination signal alone teaches survival, so that mutation proves nothing here.)
- PQN, CartPole-v1, 262k env steps: measured 500 on all 4 seeds (2026-12-02). Asserted since 2026-12-06:
  each seed's best of 4 evaluations >= 400 and their mean >= 150 (the final policy alone can collapse; see
  the test). Broken: the Q(lambda) returns without the reward end at 15 / 13, and score at most 37.5 / 44.9
  at any evaluation.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs, evaluate
from jaxrl.algos import dqn, dreamer, pqn, sac, td3, tdmpc

pytestmark = pytest.mark.optimized  # thresholds set on the programs users run (tests/conftest.py)

pytest.importorskip("gymnax")


def _train_and_eval(algo, config, hparams, env_name, horizon, seeds=2, keep=None, with_state=False):
    """Train ``seeds`` seeds in one program (``keep``: only the first ``keep`` of those ``seeds`` keys)
    and evaluate each: ``(trained [seeds], random [seeds], metrics [seeds, ...])`` (and the trained
    states ``[seeds, ...]`` with ``with_state``)."""
    env, params = envs.make(env_name)
    trainer = algo.make_train(config, env, params)
    keys = jax.random.split(jax.random.key(0), seeds)[:keep]
    seeds = keys.shape[0]
    state, metrics = jax.jit(jax.vmap(trainer, in_axes=(0, None)))(keys, hparams)
    for k, v in metrics.items():
        assert np.all(np.isfinite(np.asarray(v, np.float64))), k
    trained, random = [], []
    for i in range(seeds):
        s = jax.tree.map(lambda x: x[i], state)
        t, r = evaluate.trained_and_random_returns(jax.random.key(1), env, params, trainer.policy(s), 16, horizon)
        trained.append(float(np.mean(t)))
        random.append(float(np.mean(r)))
    return (np.array(trained), np.array(random), metrics) + ((state,) if with_state else ())


PENDULUM = dict(num_envs=4, buffer_size=20_000, batch_size=128, learning_starts=1000, replay_ratio=0.25, hidden_sizes=(64, 64))


@pytest.mark.timeout(300)
def test_sac_learns_pendulum():
    cfg = sac.SACConfig(total_timesteps=20_000, **PENDULUM)
    trained, random, metrics = _train_and_eval(sac, cfg, sac.SACHparams(lr=1e-3, tau=0.01, init_alpha=1.0), "gymnax/Pendulum-v1", 200)
    assert np.all(random < -1000), random
    assert np.all(trained >= -400), (trained, random)
    alpha = np.asarray(metrics["alpha"])[:, -1]
    assert np.all(alpha < 1.0), alpha  # the temperature was tuned down from its start


@pytest.mark.timeout(300)
def test_td3_learns_pendulum():
    cfg = td3.TD3Config(total_timesteps=30_000, **PENDULUM)
    trained, random, _ = _train_and_eval(td3, cfg, td3.TD3Hparams(lr=1e-3, tau=0.01), "gymnax/Pendulum-v1", 200)
    assert np.all(random < -1000), random
    assert np.all(trained >= -800) and trained.mean() >= -600, (trained, random)


# how far each world-model loss falls (mean of the last tenth of the learning updates / the first tenth)
FALL = {"consistency_loss": 0.5, "reward_loss": 0.5, "value_loss": 0.5}
# The TD-MPC2 test's policy prior is checked by where its action ranks under the model's own Q among random
# actions (prior_q_rank), not by its return: the prior's MEAN is a poor Pendulum controller on half the
# seeds (4 seeds, 2026-12-06: -984 / -1170 / -190 / -1343 with TD-MPC2's bonus, -322 / -1100 / -246 / -908
# with the bonus before; random -1373), while the planner it serves ends between -349 and -613 on all of
# them. Rank on the test's seed (jax 0.9.2): 0.858 unbroken, 0.416 with the policy loss's sign flipped,
# 0.418 with the reward-less model (chance is 0.5). Asserted about halfway.
PRIOR_Q_RANK_MIN = 0.65
# Its planner (MPPI, which picks an elite at random also when greedy) ends between -296 and -600 unbroken,
# depending on the machine, stack and bonus: -296 (jax 0.9.2) / -373 (jax 0.12) now, -380.6 / -600.0 with
# the bonus before (-320 on another CPU). It only has to catch a model without the reward: -1274 now
# (-1374 / -1308 before), random -1373. Asserted about halfway between.
PLANNER_MIN = -950.0
TDMPC_PENDULUM = dict(total_timesteps=6_000, num_envs=4, buffer_size=6_000, learning_starts=1_000, replay_ratio=0.25,
                      iterations=3, num_samples=64, num_elites=8, num_pi_trajs=4)


def prior_q_rank(cfg, env, params, agent, n: int = 256, k: int = 32) -> float:
    """Where the policy prior's action ranks under the trained model's own Q: over ``n`` reset states of
    ``env`` (Pendulum: any angle, spin in [-1, 1]), the fraction of ``k`` uniformly random actions whose
    Q (the mean of all heads) is below the Q of the prior's mode, averaged (1: the prior's action beats
    every random one; 0.5: chance). The policy loss's whole job is to raise it: a prior trained to
    lower Q, or on a Q without the reward, stays at chance or below (0.42 measured for both, see
    ``PRIOR_Q_RANK_MIN``; the Q it is ranked under is learned from that prior's own actions). Unlike
    the prior's return, it does not need the prior's MEAN to be a good controller (the planner acts)."""
    from jaxrl.algos.tdmpc.train import Model, make_networks
    from jaxrl.twohot import Bins

    nets = make_networks(cfg, env)
    model = Model(nets, Bins(cfg.num_bins, cfg.vmin, cfg.vmax), env.action_spec)

    @jax.jit  # one program instead of ~100 op-by-op ones
    def rank(agent, params):
        k_obs, k_act = jax.random.split(jax.random.key(7))
        obs = jax.vmap(lambda key: env.reset(key, params)[1].obs)(jax.random.split(k_obs, n))
        z = model.encode(agent.model, obs)

        def q(a):
            return jnp.mean(model.bins.decode(nets.q.apply(agent.model["q"], z, a)), axis=0)  # [n]

        q_random = jax.vmap(q)(jax.random.uniform(k_act, (k, n, env.action_spec.shape[0]), minval=-1.0, maxval=1.0))
        return jnp.mean(q(model.pi(agent.pi, z).mode())[None] > q_random)

    return float(rank(agent, params))


def tdmpc_pendulum():
    """The TD-MPC2 test's run (ONE seed, the first key): ``(planner [1], prior [1], rank, random [1],
    metrics)``, the greedy planner's and the policy prior's (its mean, no planning) returns on 16
    episodes and the prior's :func:`prior_q_rank`; shared with ``benchmarks/offpolicy_mutations.py tdmpc``."""
    cfg = tdmpc.TDMPCConfig(**TDMPC_PENDULUM)
    hp = tdmpc.TDMPCHparams(lr=1e-3, gamma=tdmpc.discount_for(200))
    env, params = envs.make("gymnax/Pendulum-v1")
    trained, random, metrics, state = _train_and_eval(tdmpc, cfg, hp, "gymnax/Pendulum-v1", 200, keep=1, with_state=True)
    state = jax.tree.map(lambda x: x[0], state)
    prior = tdmpc.make_train(dataclasses.replace(cfg, plan=False), env, params).policy(state)
    prior_return = evaluate.episode_returns(jax.random.key(1), env, params, prior, 16, 200)
    rank = prior_q_rank(cfg, env, params, state.agent)
    return trained, np.array([float(np.mean(prior_return))]), rank, random, metrics


@pytest.mark.timeout(600)
def test_tdmpc_learns_pendulum_and_its_world_model_losses_fall():
    """TD-MPC2's default (CPU) model planning with a smaller MPPI (3 x 64 samples: half the test's
    cost), 6k env steps (5k after the random prefill), on ONE seed to keep the default run's time.
    Since TD-MPC2's init (``init_std=0.02``, 2026-12-05) the planner alone no longer tells a broken
    policy loss apart: ``python benchmarks/offpolicy_mutations.py tdmpc`` (this exact program, jax
    0.9.2, 2026-12-06) ends at -552 for the planner with the policy loss's sign flipped, against -296
    unbroken (random -1373). So the policy PRIOR is checked too, by the rank of its action under the
    model's Q among random actions (:func:`prior_q_rank`): 0.858 unbroken, 0.416 with that mutation,
    0.418 with the reward-less model (whose planner ends at -1274). Its return is printed, not
    asserted (-823 here, -1465 / -1392 for the mutants; see ``PRIOR_Q_RANK_MIN``). Asserted: planner >=
    ``PLANNER_MIN`` (-950: it catches the reward-less model), rank >= ``PRIOR_Q_RANK_MIN`` (0.65: it
    catches both)."""
    trained, prior, rank, random, metrics = tdmpc_pendulum()
    assert np.all(random < -1000), random
    print("planner", trained, "prior", prior, "Q rank", rank, "random", random)
    assert np.all(trained >= PLANNER_MIN), (trained, random)
    assert rank >= PRIOR_Q_RANK_MIN, (rank, prior)
    learning = np.asarray(metrics["learning"])[0] > 0
    for name in ("consistency_loss", "reward_loss", "value_loss"):
        v = np.asarray(metrics[name])[:, learning]  # [seeds, learning updates]
        n = v.shape[1] // 10
        first, last = v[:, :n].mean(1), v[:, -n:].mean(1)
        print(name, first, last)
        assert np.all(last < FALL[name] * first), (name, first, last)


DREAMER_CARTPOLE = dict(total_timesteps=12_000, num_envs=4, num_steps=5, buffer_size=12_000, batch_size=16, learning_starts=1_000,
                        replay_ratio=0.05, seq_length=16, imag_horizon=10, deter=64, hidden=64, layers=1, groups=8, classes=8,
                        num_bins=63)
DREAMER_HPARAMS = dict(lr=1e-3, actor_lr=3e-4, critic_lr=3e-4, gamma=0.99)


@pytest.mark.timeout(600)
def test_dreamer_learns_cartpole_and_its_world_model_losses_fall():
    """A small DreamerV3 (GRU 64, 8 x 8 latents, REINFORCE actor), 12k env steps with 550 gradient
    steps on 16 windows of 16: the greedy policy balances far longer than random, and the
    reconstruction and reward losses fall."""
    cfg = dreamer.DreamerConfig(**DREAMER_CARTPOLE)
    trained, random, metrics = _train_and_eval(dreamer, cfg, dreamer.DreamerHparams(**DREAMER_HPARAMS), "gymnax/CartPole-v1", 500)
    print("trained", trained, "random", random)
    assert np.all(random < 40), random
    assert np.all(trained >= 100), (trained, random)
    learning = np.asarray(metrics["learning"])[0] > 0
    for name in ("recon_loss", "reward_loss"):
        v = np.asarray(metrics[name])[:, learning]
        n = v.shape[1] // 10
        first, last = v[:, :n].mean(1), v[:, -n:].mean(1)
        print(name, first, last)
        assert np.all(last < 0.5 * first), (name, first, last)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_dreamer_learns_pendulum_with_actor_gradients_through_the_dynamics():
    """The continuous-action path (``actor_grad="dynamics"``: returns backpropagated through the imagined
    rollout into reparameterised actions), which the CartPole test above (discrete, REINFORCE) does not
    train: the same small model on gymnax Pendulum-v1, 12k env steps at 0.25 gradient steps per env step,
    2 seeds. Measured 2026-12-04 (benchmarks/RESULTS.md, DreamerV3, the identical program): -182 / -181,
    random -1372; at 0.05 gradient steps per env step (too few to learn) -1377 / -1401. Asserted >= -500
    on each seed (SAC's default-run test asserts >= -400 at 20k env steps). 195 s alone on 2 cores (2026-12-04: -181.6 / -181.2)."""
    cfg = dreamer.DreamerConfig(**{**DREAMER_CARTPOLE, "buffer_size": 20_000, "replay_ratio": 0.25}, actor_grad="dynamics")
    trained, random, _ = _train_and_eval(dreamer, cfg, dreamer.DreamerHparams(**DREAMER_HPARAMS), "gymnax/Pendulum-v1", 200)
    print("trained", trained, "random", random)
    assert np.all(random < -1000), random
    assert np.all(trained >= PLANNER_MIN), (trained, random)


@pytest.mark.timeout(300)
def test_dqn_learns_cartpole():
    cfg = dqn.DQNConfig(total_timesteps=100_000, learning_starts=2_000)
    trained, random, _ = _train_and_eval(dqn, cfg, dqn.default_hparams(), "gymnax/CartPole-v1", 500)
    assert np.all(random < 40), random
    assert np.all(trained >= 60) and trained.mean() >= 150, (trained, random)


def _evaluated_run(algo, config, hparams, env, params, seeds, evals=10, episodes=16):
    """``(env steps [evals], returns [evals, seeds])`` of :func:`jaxrl.evaluate.evaluated_run`."""
    res = evaluate.evaluated_run(algo.make_train(config, env, params), env, params, algo.as_hparams(hparams), seeds, evals,
                                 episodes)
    return res["env_steps"], res["returns"]


def pqn_cartpole():
    """The PQN test's run: 2 seeds in one program, 262k env steps in 4 compiled chunks, each seed's greedy
    policy evaluated after each chunk (16 episodes): ``(returns [4 evaluations, 2 seeds], random [16])``;
    shared with ``python benchmarks/offpolicy_mutations.py pqn``."""
    env, params = envs.make("gymnax/CartPole-v1")
    _, returns = _evaluated_run(pqn, pqn.PQNConfig(total_timesteps=262_144), pqn.default_hparams(), env, params,
                                seeds=2, evals=4)
    random = evaluate.episode_returns(jax.random.key(1), env, params, evaluate.random_policy(env.action_spec), 16)
    return np.asarray(returns), np.asarray(random)


@pytest.mark.timeout(300)
def test_pqn_learns_cartpole():
    """Each seed's greedy policy reaches >= 400 at one of 4 evaluations (65k, 131k, 197k, 262k env steps), as
    the slow test asks for 475 at some evaluation point, and its mean over the 4 is >= 150. Asserting the
    FINAL policy alone was fragile: PQN's greedy policy can collapse for a while after reaching 500 (the slow
    test's recorded run: 275.8 at 358k env steps between 500s; a 4-seed, 8-evaluation run of its 524k budget on
    2026-12-06: 170.6 at 328k, then 500), and on a 2-core AVX-512 machine whose XLA:CPU rounds differently
    from the one the threshold came from (the same code, other numbers) the old single-program run's final
    policies scored 9.4 / 349 where the old measurement was 500 / 500. Measured 2026-12-06 on that machine,
    this run: 242 / 208, 500 / 496, 500 / 500, 9.6 / 342 (best 500 / 500, means 313 / 387); with the Q(lambda)
    returns without the reward: best 37.5 / 44.9, at most 45 at every evaluation
    (``python benchmarks/offpolicy_mutations.py pqn``)."""
    returns, random = pqn_cartpole()
    print("PQN on CartPole-v1, evaluations x seeds:", returns.round(1).tolist(), "random", random.mean())
    assert random.mean() < 40, random
    assert np.all(returns.max(axis=0) >= 400) and np.all(returns.mean(axis=0) >= 150), returns


# ----------------------------------------------------------------------------- real tasks (slow; benchmarks/RESULTS.md)


SWINGUP = dict(total_timesteps=100_000, num_envs=4, buffer_size=200_000, batch_size=256, learning_starts=2_500,
               replay_ratio=1.0, hidden_sizes=(256, 256))


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("algo", [sac, td3], ids=["sac", "td3"])
def test_learns_cartpole_swingup_within_200k_env_steps(algo):
    """DM-Control-style cartpole_swingup from states at action repeat 2 (TD-MPC2's setting: 100k agent
    steps = 200k env steps; its published SAC curve gives 835 there), 2 seeds: each reaches an
    evaluation return >= 800 (16 episodes, deterministic policy) at some evaluation point within 200k
    env steps. Recorded in benchmarks/RESULTS.md ("Off-policy learners", "Learning on real tasks")."""
    env, params = envs.make("cartpole_swingup", action_repeat=2)
    steps, returns = _evaluated_run(algo, algo.Config(**SWINGUP), algo.default_hparams(), env, params, seeds=2)
    assert steps[-1] * 2 == 200_000
    assert np.all(returns.max(axis=0) >= 800), returns


@pytest.mark.slow
@pytest.mark.timeout(7200)
def test_tdmpc_learns_cartpole_swingup_within_200k_env_steps():
    """TD-MPC2's CPU preset (``default``: planning with MPPI) with one gradient step per agent step (as
    TD-MPC2 and the SAC test above) on cartpole_swingup from states at action repeat 2, 100k agent
    steps (= 200k control steps; TD-MPC2 published 839 there), 2 seeds: each reaches an evaluation
    return >= 800 (16 episodes, the greedy planner) at some evaluation point.
    Recorded in benchmarks/RESULTS.md ("TD-MPC2"), with SAC's curve on the same seeds beside it."""
    env, params = envs.make("cartpole_swingup", action_repeat=2)
    config = tdmpc.TDMPCConfig(total_timesteps=100_000, buffer_size=100_000, replay_ratio=1.0)
    steps, returns = _evaluated_run(tdmpc, config, tdmpc.default_hparams(), env, params, seeds=2)
    assert steps[-1] * 2 == 200_000
    assert np.all(returns.max(axis=0) >= 800), returns


def _dreamer_preset(name: str, agent_steps: int, **fields):
    """DreamerV3's preset ``name`` for an ``agent_steps`` run, with ``fields`` on its config, as
    ``benchmarks/curve.py dreamer --set <the preset's fields> --steps N`` builds it (the buffer holds the whole run)."""
    preset = dreamer.presets()[name]
    config = dreamer.DreamerConfig(**{**preset.config, "total_timesteps": agent_steps, "buffer_size": agent_steps, **fields})
    return config, dreamer.DreamerHparams(**preset.hparams)


@pytest.mark.slow
@pytest.mark.timeout(10_800)  # 1.5x the recorded run on a shared 2-core CPU (6,898 s)
@pytest.mark.xdist_group("dreamer-swingup")  # beside the pixel test on another worker, not after it
def test_dreamer_learns_cartpole_swingup_from_states():
    """DreamerV3's CPU setting that learned most of the swing-up (``small`` with 3-layer MLPs and
    DreamerV3 2023's ``G_t - v(s_t)`` actor objective, one gradient step per agent step) on DM Control's
    cartpole_swingup from states at action repeat 2, 50k agent steps = 100k frames, 2 seeds, 10
    evaluations of 8 greedy episodes: each seed reaches >= 400 at some evaluation.

    The threshold: this test's run on 2026-12-07 (benchmarks/RESULTS.md, "DreamerV3's slow tests") peaked at
    602 / 649 and ended at 550 / 492; the same program before the continuation's gradient was stopped
    (2026-12-06, "`small` with 3-layer MLPs and the 2023 actor objective") peaked at 508 / 662. Both runs
    stayed below 200 before 20k frames, and DreamerV3's own runs average 372 at 60k and 528 at 100k frames.
    Not solved (DreamerV3 published 851 at 500k frames); the test guards that the world model and
    imagination keep learning the swing-up, which a policy that never swings the pole up scores ~0-200 on.
    62 min on this 2-core CPU (the first half beside the default test run)."""
    env, params = envs.make("cartpole_swingup", action_repeat=2)
    config, hparams = _dreamer_preset("small", 50_000, replay_ratio=1.0, layers=3, actor_baseline=True)
    steps, returns = _evaluated_run(dreamer, config, hparams, env, params, seeds=2, evals=10, episodes=8)
    print("DreamerV3 on cartpole_swingup, evaluations x seeds:", np.asarray(returns).round(1).tolist())
    assert steps[-1] * 2 == 100_000
    assert np.all(returns.max(axis=0) >= 400), returns


@pytest.mark.slow
@pytest.mark.timeout(9_000)  # 1.5x the recorded run on a shared 2-core CPU (5,608 s)
@pytest.mark.xdist_group("dreamer-pixels")
def test_dreamer_learns_cartpole_balance_from_pixels():
    """DreamerV3's ``small_pixels`` preset (its image encoder, ``conv_style="dreamerv3"``) on DM Control's
    cartpole_balance from 16 x 16 RGB at action repeat 8 (its env options), 25k agent steps = 200k frames,
    2 seeds, 10 evaluations of 8 greedy episodes: each seed's mean over the last 5 evaluations (120k-200k
    frames) is >= 375, where the random policy scores ~259.

    The threshold: this program's run on 2026-12-07 (benchmarks/RESULTS.md, stop 52, "DreamerV3's image
    encoder") gave 515 / 516 (its evaluations 458-557 from 120k frames on), and seeds 2 / 3 of the same
    split 422 / 433; the same preset with jaxrl's CNN torso as encoder 383 / 436 and (before the
    continuation's gradient was stopped) 438 / 461, and 488 / 500 on seeds 2 / 3 (stop 53): no gain of
    DreamerV3's encoder over the torso was measured (4-seed means 471 and 452); the same model at action
    repeat 2, which did not learn the balance, averaged 316 over its 4 evaluations (274-363). 375 sits ~47
    under the worst of the 4 seeds (another CPU's rounding makes these seeds new ones), ~60 above the model
    that did not learn and 116 above random. A single evaluation is not asserted: they swing by ~100 between points. Not
    solved (DreamerV3 published 946 at 100k frames with 64 x 64 images and a ~12M model). 46 min alone on
    this 2-core CPU."""
    preset = dreamer.presets()["small_pixels"]
    env, params = envs.make("cartpole_balance", **preset.env_options)
    config, hparams = _dreamer_preset("small_pixels", 25_000)
    steps, returns = _evaluated_run(dreamer, config, hparams, env, params, seeds=2, evals=10, episodes=8)
    random = evaluate.episode_returns(jax.random.key(1), env, params, evaluate.random_policy(env.action_spec), 8)
    print("DreamerV3 on cartpole_balance from pixels, evaluations x seeds:", np.asarray(returns).round(1).tolist(),
          "random", float(np.mean(random)))
    assert steps[-1] * 8 == 200_000
    assert np.mean(random) < 320, random
    assert np.all(np.asarray(returns)[-5:].mean(axis=0) >= 375), returns


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("algo,config", [(dqn, dqn.DQNConfig()), (pqn, pqn.PQNConfig())], ids=["dqn", "pqn"])
def test_solves_cartpole_v1(algo, config):
    """gymnax CartPole-v1 at the default configs (DQN 200k env steps, PQN 524k), 4 seeds, 10 evaluations
    (16 deterministic episodes each): every seed's policy reaches the 'solved' level 475 at some
    evaluation point (as the swing-up test asks for 800 within its budget). The final policies are
    printed, not asserted: DQN's greedy policy oscillates on CartPole (8 seeds at the default all
    reach 500 and 4-6 of them END there, the others between 90 and 330; Rejax's DQN ends 6 of 8 at
    >= 475); PQN's end at 500 (benchmarks/RESULTS.md, "Off-policy learners")."""
    env, params = envs.make("gymnax/CartPole-v1")
    _, returns = _evaluated_run(algo, config, algo.default_hparams(), env, params, seeds=4, evals=10)
    print("final returns:", returns[-1])
    assert np.all(returns.max(axis=0) >= 475), returns
