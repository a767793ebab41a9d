"""Mutation checks of the off-policy learning tests: break one loss, run the test's training, print the returns.

    python benchmarks/offpolicy_mutations.py [sac|td3|dqn|pqn|tdmpc|drq|dreamer ...]

Each mutation must end near the random policy's return, below the test's threshold, while the
unbroken learner passes it (tests/test_offpolicy_learning.py; DrQ-v2's: tests/test_drq.py). PQN's test
asserts each seed's BEST of 4 evaluations, so the best is what is printed as "trained" for it. TD-MPC2's
sign-flipped policy loss is caught by where the policy prior's action ranks under the model's Q among
random actions, printed beside the planner's return and the prior's (its planner compensates: -552 with
jax 0.9.2, above the planner's -950 threshold, which catches the reward-less model). Results:
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import sys

import jax.numpy as jnp
import numpy as np

sys.path.insert(0, "tests")
import test_offpolicy_learning as t  # noqa: E402
from jaxrl import returns as core_returns  # noqa: E402
import test_drq  # noqa: E402
from jaxrl.algos import dqn, dreamer, sac, td3  # noqa: E402
from jaxrl.algos.dreamer import losses as dreamer_losses  # noqa: E402
from jaxrl.algos.drq import losses as drq_losses  # noqa: E402
from jaxrl.algos.dqn import losses as dqn_losses  # noqa: E402

dqn_losses_q_loss = dqn_losses.q_loss
from jaxrl.algos.pqn import train as pqn_train  # noqa: E402
from jaxrl.algos.sac import losses as sac_losses  # noqa: E402
from jaxrl.algos.td3 import losses as td3_losses  # noqa: E402
from jaxrl.algos.tdmpc import losses as tdmpc_losses  # noqa: E402

tdmpc_model_losses, tdmpc_td_targets = tdmpc_losses.model_losses, tdmpc_losses.td_targets
drq_losses_n_step_target = drq_losses.n_step_target
dreamer_imagined_returns = dreamer_losses.imagined_returns


def no_reward_target(reward, terminated, next_value, gamma, reward_scale=1.0):
    return gamma * (1.0 - terminated.astype(jnp.float32)) * next_value


def patched(module, name, fn):
    class Patch:
        def __enter__(self):
            self.old = getattr(module, name)
            setattr(module, name, fn)

        def __exit__(self, *a):
            setattr(module, name, self.old)

    return Patch()


def flipped(fn):
    def wrapped(*args, **kw):
        loss, metrics = fn(*args, **kw)
        return -loss, metrics

    return wrapped


RUNS = {
    "sac": [("actor loss sign flipped", sac_losses, "actor_loss", flipped(sac_losses.actor_loss)),
            ("TD target without the reward", sac_losses, "td_target", no_reward_target)],
    "td3": [("actor loss sign flipped", td3_losses, "actor_loss", flipped(td3_losses.actor_loss))],
    "dqn": [("TD target without the reward (CartPole still teaches survival through termination)", dqn_losses, "td_target",
             no_reward_target),
            ("the loss on action 0 instead of the action taken", dqn_losses, "q_loss",
             lambda q, batch, target, loss: dqn_losses_q_loss(q, batch._replace(action=batch.action * 0), target, loss))],
    "pqn": [("lambda returns without the reward", pqn_train, "lambda_returns",
             lambda r, v, d, lam, done=None: core_returns.lambda_returns(r * 0.0, v, d, lam, done))],
    "tdmpc": [("policy loss sign flipped", tdmpc_losses, "policy_loss", flipped(tdmpc_losses.policy_loss)),
              ("the reward head and the TD targets without the reward", tdmpc_losses, "model_losses",
               lambda zs, nz, rl, ql, reward, targets, *a: tdmpc_model_losses(
                   zs, nz, rl, ql, reward * 0.0, targets - jnp.asarray(reward), *a))],
    "dreamer": [("actor loss sign flipped", dreamer_losses, "actor_loss", flipped(dreamer_losses.actor_loss)),
                ("imagined returns without the reward", dreamer_losses, "imagined_returns",
                 lambda reward, *a: dreamer_imagined_returns(reward * 0.0, *a))],
    "drq": [("actor loss sign flipped", drq_losses, "actor_loss", flipped(drq_losses.actor_loss)),
            ("n-step TD target without the reward", drq_losses, "n_step_target",
             lambda reward, discount, next_q: drq_losses_n_step_target(reward * 0.0, discount, next_q))],
}


def run(name):
    if name == "drq":  # its test's own run (seed 0), uncached
        *_, trained, random = test_drq._pixel_run.__wrapped__()
        return np.array([trained.mean()]), np.array([random.mean()]), None
    if name in ("sac", "td3"):
        mod = sac if name == "sac" else td3
        steps = 20_000 if name == "sac" else 30_000
        hp = mod.default_hparams().replace(lr=1e-3, tau=0.01)
        if name == "sac":
            hp = hp.replace(init_alpha=1.0)
        return t._train_and_eval(mod, mod.Config(total_timesteps=steps, **t.PENDULUM), hp, "gymnax/Pendulum-v1", 200)
    if name == "tdmpc":  # the test's own run (ONE seed); the prior's return printed beside the planner's
        trained, prior, rank, random, metrics = t.tdmpc_pendulum()
        print(f"tdmpc: the policy prior alone (no planning): {np.round(prior, 1)}; its action's rank under the "
              f"model's Q among random ones: {rank:.3f}")
        return trained, random, metrics
    if name == "dreamer":
        hp = dreamer.DreamerHparams(**t.DREAMER_HPARAMS)
        return t._train_and_eval(dreamer, dreamer.DreamerConfig(**t.DREAMER_CARTPOLE), hp, "gymnax/CartPole-v1", 500)
    if name == "dqn":
        return t._train_and_eval(dqn, dqn.DQNConfig(total_timesteps=100_000, learning_starts=2_000), dqn.default_hparams(),
                                 "gymnax/CartPole-v1", 500)
    returns, random = t.pqn_cartpole()  # the test's run: what it asserts is each seed's best evaluation
    print(f"pqn: evaluations x seeds {returns.round(1).tolist()}")
    return returns.max(axis=0), np.array([random.mean()]), None


if __name__ == "__main__":
    for name in sys.argv[1:] or list(RUNS):
        for what, module, attr, fn in RUNS[name]:
            with patched(module, attr, fn):
                trained, random, _ = run(name)
            print(f"{name}: {what}: trained {trained.round(1).tolist()} random {random.round(1).tolist()}", flush=True)
