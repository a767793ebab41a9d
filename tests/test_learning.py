"""PPO LEARNS a real MJX task within the default test run (about a minute of CPU).

Threshold: cartpole_balance returns lie in [0, 1000]. The random policy gets
about 300-360 (measured in this test, every run). We train 327,680 steps at lr 3e-3
and require the deterministic policy to average >= 700 over 16 episodes AND beat
the random policy by >= 300. A sign error in the surrogate, a critic that does not
learn (e.g. GAE without bootstrapping or a broken value loss) or a policy that never
updates stays near the random return.

Why lr 3e-3 and not PPO's default 1e-3: at 1e-3 this budget is marginal and the result
depends on the machine's XLA:CPU code (seed 0 reached ~990 on an Intel Xeon with jax
0.9.2, 400 with jax 0.11.2, and 363 on an AMD EPYC with jax 0.9.2, the same numbers before
and after the acting-seam change). At 3e-3 seeds 0 / 1 / 2 reach 997 / 1000 / 992 (AMD
EPYC, 2026-12-02; sweeps notebook: 979-988 over 4 seeds at 262k). Checked by mutation at
3e-3 (seed 0, same budget): the surrogate with its sign flipped ends at 135, GAE with
every bootstrap value zeroed at 97 (random: 359).
"""

import jax
import numpy as np
import pytest

from jaxrl import envs, evaluate
from jaxrl.algos import ppo

pytestmark = pytest.mark.optimized  # thresholds set on the programs users run (tests/conftest.py)


def _policy_returns(env, params, trainer, state, key, episodes=16):
    """Deterministic returns of the trained policy and of a uniformly random policy, ONE compile."""
    trained, random = evaluate.trained_and_random_returns(key, env, params, trainer.policy(state), episodes)
    return np.asarray(trained), np.asarray(random)


@pytest.mark.timeout(240)
def test_ppo_learns_cartpole_balance():
    # The fast physics preset (Euler, what the numbers above were measured on): about 3x cheaper
    # here than DM Control's RK4; PPO on the faithful default is the slow swing-up test below.
    env, params = envs.make("cartpole_balance", physics="fast")
    config = ppo.PPOConfig(total_timesteps=327_680)  # 160 updates x 2048 steps
    trainer = ppo.make_train(config, env, params)
    state, metrics = jax.jit(trainer)(jax.random.key(0), ppo.default_hparams().replace(lr=3e-3))
    assert all(np.all(np.isfinite(v)) for v in metrics.values())
    trained, random = _policy_returns(env, params, trainer, state, jax.random.key(1))
    assert 100 < random.mean() < 600, random  # sanity of the baseline itself
    assert trained.mean() >= 700, (trained, random)
    assert trained.mean() >= random.mean() + 300, (trained, random)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_ppo_learns_cartpole_swingup_several_seeds():
    env, params = envs.make("cartpole_swingup")
    config = ppo.PPOConfig(total_timesteps=1_048_576)
    trainer = ppo.make_train(config, env, params)
    keys = jax.random.split(jax.random.key(0), 2)
    state, metrics = jax.jit(jax.vmap(trainer, in_axes=(0, None)))(keys, ppo.default_hparams())
    for i in range(2):
        s = jax.tree.map(lambda x: x[i], state)
        trained, random = _policy_returns(env, params, trainer, s, jax.random.key(i))
        # Swing-up under default PPO is learned but not held steadily (benchmarks/RESULTS.md: eval
        # returns at ~1M steps of 812 / 767 / 345 over three seeds, up to 850 later): the smoke
        # threshold asks for a clear improvement over the random policy (~30), not a solved task.
        assert trained.mean() >= 250, (i, trained, random)
        assert trained.mean() >= random.mean() + 200, (i, trained, random)


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_ppo_learns_cheetah_run_from_states():
    """A locomotion task from states (issue 5's smoke test): cheetah_run, 1000-step episodes, reward
    = forward speed / 10 clipped to [0, 1]. A random policy scores ~3 (it jitters in place). Measured
    at seed 0 (2026-11-22, 2-core CPU, 450 s): deterministic return 398 (309-504 over 8 episodes)
    after 1M env steps. Asserted: >= 200 and >= random + 150; a policy that never updates, or a
    surrogate with the wrong sign, stays at the random level."""
    env, params = envs.make("cheetah_run")
    config = ppo.PPOConfig(total_timesteps=1_048_576, num_envs=64, num_steps=64, num_minibatches=8, update_epochs=8,
                           hidden_sizes=(128, 128))
    trainer = ppo.make_train(config, env, params)
    hp = ppo.default_hparams().replace(lr=3e-4, ent_coef=0.0, gamma=0.99)
    state, metrics = jax.jit(trainer)(jax.random.key(0), hp)
    trained, random = _policy_returns(env, params, trainer, state, jax.random.key(1), episodes=8)
    ended = np.asarray(metrics["episodes"]) > 0
    print("cheetah_run: trained", trained, "random", random, "training returns", np.asarray(metrics["episode_return"])[ended])
    assert trained.mean() >= 200, (trained, random)
    assert trained.mean() >= random.mean() + 150, (trained, random)
