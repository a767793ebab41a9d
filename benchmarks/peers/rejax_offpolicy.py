"""Rejax SAC / DQN / PQN / TD3 on gymnax envs, N seeds vmapped in one jit (peers for jaxrl's learners).

Run INSIDE the Rejax venv (``bash benchmarks/peers/setup_rejax.sh`` makes ``.venv-rejax``):

    .venv-rejax/bin/python benchmarks/peers/rejax_offpolicy.py --algo sac --seeds 8 --repeats 3 --json out.json
    .venv-rejax/bin/python benchmarks/peers/rejax_offpolicy.py --algo dqn --seeds 8 --serve   # driver mode

Pairs (each with Rejax's own shipped config, see SHIPPED_CONFIGS):
    sac  Pendulum-v1 (default) | CartPole-v1 (discrete SAC, also shipped)
    td3  Pendulum-v1
    dqn  CartPole-v1
    pqn  CartPole-v1

What it does (the same protocol as ``rejax_ppo.py``):
  * builds ``rejax.<ALGO>.create(**cfg)`` from Rejax's shipped config for (algo, env)
    (``configs/gymnax/{pendulum,cartpole}.yaml`` in github.com/keraJLi/rejax, key = algo name; the
    values are copied below since the PyPI wheel ships no configs), ``--total-timesteps``
    overriding ``total_timesteps``;
  * by default turns Rejax's in-training evaluation OFF (``eval_callback`` -> a no-op,
    ``skip_initial_evaluation=True``, ``eval_freq=total_timesteps``): the shipped configs evaluate
    128 stochastic episodes every ``eval_freq`` env steps INSIDE the jitted train (SAC/TD3 on
    Pendulum: every 100 steps, i.e. 2.56M eval env steps for 10k training steps), which would be
    timed as training. ``--rejax-eval`` keeps the shipped behaviour;
  * ``train = jax.jit(jax.vmap(algo.train))`` (Rejax's documented multi-seed pattern) over
    ``jax.random.split(PRNGKey(--seed), N)``; compile timed apart (AOT ``lower().compile()``),
    one warm-up call, then ``--repeats`` timed calls (``block_until_ready``), median reported;
  * ``--serve``: after the warm-up, one timed call per ``run`` line on stdin (a JSON line
    ``{"run_s": ...}`` answers each), so a driver can interleave these calls with its own;
  * evaluates each seed's final policy after (and outside) the timing: ``--eval-episodes``
    episodes per seed, fixed-length scan of ``max_steps_in_episode`` steps, rewards after an
    episode's end not counted. Primary: deterministic (argmax Q for DQN/PQN, argmax logits for
    discrete SAC, tanh(mean) rescaled for SAC, the actor's output for TD3); also Rejax's own
    ``make_act`` policy (SAC: sampled; DQN/PQN: epsilon-greedy with epsilon 0.005; TD3: same as
    deterministic);
  * records the facts that matter for a fair comparison (``fairness_notes`` in the JSON):
    gradient updates per env step, learning starts, buffer/batch, target-network scheme, network
    sizes, exploration, truncation handling. See benchmarks/peers/REJAX_OFFPOLICY.md.

Rejax 0.1.3 needs gymnax 0.0.x (its code unpacks 5 values from ``env.step``; gymnax 1.0 returns 6).
gymnax 0.0.9 folds the time limit into ``done`` (CartPole-v1: 500 steps; Pendulum-v1: 200 steps, its
ONLY episode end), and Rejax masks the bootstrap with ``done``: time-limit truncation is treated as
termination by all four algorithms.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import rejax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import _lscpu_field, _version, loadavg  # noqa: E402  (benchmarks/common.py)

# Rejax's shipped configs, copied from keraJLi/rejax @ d751095 (newest snapshot read 2026-06):
#   configs/gymnax/pendulum.yaml, keys `sac` and `td3`;
#   configs/gymnax/cartpole.yaml, keys `dqn`, `pqn` and `sac`.
# Everything not listed takes the class defaults of rejax 0.1.3 (recorded in the JSON's
# config_used, read back from the built object).
SHIPPED_CONFIGS = {
    # pendulum.yaml `sac`. Not listed -> defaults: hidden_layer_sizes (64, 64), num_critics 2,
    # max_grad_norm inf, target_update_freq 1, normalize_rewards False.
    ("sac", "Pendulum-v1"): {
        "env": "Pendulum-v1",
        "agent_kwargs": {"activation": "swish"},
        "num_envs": 1,
        "buffer_size": 10_000,
        "fill_buffer": 256,
        "batch_size": 256,
        "learning_rate": 0.01,
        "num_epochs": 1,
        "total_timesteps": 10_000,
        "eval_freq": 100,
        "gamma": 0.99,
        "polyak": 0.98,
        "target_entropy_ratio": None,  # `null` in the yaml; unused for continuous actions (target = -action_dim)
        "normalize_observations": True,
    },
    # pendulum.yaml `td3`. Not listed -> defaults: hidden (64, 64) (hard-coded), num_critics 2,
    # target_update_freq 1, normalize_rewards False.
    ("td3", "Pendulum-v1"): {
        "env": "Pendulum-v1",
        "actor_kwargs": {"activation": "swish"},
        "critic_kwargs": {"activation": "swish"},
        "num_envs": 1,
        "buffer_size": 10_000,
        "fill_buffer": 1000,
        "batch_size": 100,
        "learning_rate": 0.001,
        "num_epochs": 1,
        "total_timesteps": 10_000,
        "eval_freq": 100,
        "gamma": 0.99,
        "polyak": 0.95,
        "max_grad_norm": 100,
        "exploration_noise": 0.3,
        "target_noise": 0.2,
        "target_noise_clip": 0.5,
        "policy_delay": 2,
        "normalize_observations": True,
    },
    # cartpole.yaml `dqn` (the yaml has `# target_update_freq: 200` commented out -> default 1,
    # i.e. a soft update every iteration). Not listed -> defaults: hidden (64, 64) (hard-coded),
    # normalize_rewards False.
    ("dqn", "CartPole-v1"): {
        "env": "CartPole-v1",
        "agent": "DuelingQNetwork",
        "agent_kwargs": {"activation": "swish"},
        "num_envs": 10,
        "buffer_size": 50_000,
        "fill_buffer": 5_000,
        "batch_size": 100,
        "max_grad_norm": 10,
        "learning_rate": 0.001,
        "num_epochs": 5,
        "total_timesteps": 100_000,
        "eval_freq": 2_500,
        "polyak": 0.98,
        "eps_start": 1,
        "eps_end": 0.05,
        "exploration_fraction": 0.5,
        "gamma": 0.99,
        "ddqn": True,
        "normalize_observations": False,
    },
    # cartpole.yaml `pqn`. Not listed -> network hidden (64, 64) with relu(LayerNorm(.)) (hard-coded
    # in PQN.create_agent), normalize_rewards False.
    ("pqn", "CartPole-v1"): {
        "env": "CartPole-v1",
        "num_envs": 16,
        "num_steps": 128,
        "num_minibatches": 16,
        "max_grad_norm": 10,
        "learning_rate": 0.0003,
        "num_epochs": 5,
        "total_timesteps": 524288,
        "eval_freq": 16384,
        "eps_start": 1,
        "eps_end": 0.05,
        "exploration_fraction": 0.5,
        "gamma": 0.99,
        "td_lambda": 0.9,
        "normalize_observations": False,
    },
    # cartpole.yaml `sac` (discrete SAC; extra, not one of the four main pairs).
    ("sac", "CartPole-v1"): {
        "env": "CartPole-v1",
        "agent_kwargs": {"activation": "tanh"},
        "num_envs": 5,
        "buffer_size": 10_000,
        "fill_buffer": 1000,
        "batch_size": 256,
        "learning_rate": 0.001,
        "num_epochs": 2,
        "total_timesteps": 50_000,
        "eval_freq": 500,
        "gamma": 0.99,
        "polyak": 0.95,
        "target_entropy_ratio": 0.7,
    },
}
DEFAULT_ENV = {"sac": "Pendulum-v1", "td3": "Pendulum-v1", "dqn": "CartPole-v1", "pqn": "CartPole-v1"}
ALGO_CLASS = {"sac": rejax.SAC, "td3": rejax.TD3, "dqn": rejax.DQN, "pqn": rejax.PQN}
# Reference levels (for the printout only): CartPole-v1 "solved" at 475; Pendulum-v1 returns
# above about -200 mean the pendulum is swung up and held.
GOOD_RETURN = {"CartPole-v1": 475.0, "Pendulum-v1": -200.0}


def _json_safe(x):
    """The algo's config as JSON: numbers/strings kept, modules and functions as their repr."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)  # "inf": keep the JSON strict
    if isinstance(x, (bool, int, float, str)) or x is None:
        return x
    if isinstance(x, (np.ndarray, jax.Array)) and np.ndim(x) == 0:
        return _json_safe(np.asarray(x).item())
    if isinstance(x, (np.ndarray, jax.Array)):
        return np.asarray(x).tolist()
    if isinstance(x, (np.generic,)):
        return _json_safe(x.item())
    return repr(x)


def _activation_name(name: str, module) -> str:
    if name == "pqn":
        return "relu(LayerNorm(x))"  # PQN.create_agent: lambda x: nn.relu(nn.LayerNorm()(x))
    act = getattr(module.activation, "__name__", repr(module.activation))
    return "swish (= silu)" if act == "silu" else act


def _net(name: str, module, kind: str) -> dict:
    cls = type(module)
    base = cls.__mro__[1].__name__ if cls.__name__ == "EpsilonGreedyPolicy" else None
    d = {
        "class": cls.__name__ + (f"({base})" if base else ""),
        "hidden_layer_sizes": list(module.hidden_layer_sizes),
        "activation": _activation_name(name, module),
        "role": kind,
    }
    return d


_CONFIG_KEYS = (
    "total_timesteps", "eval_freq", "skip_initial_evaluation", "num_envs", "num_steps",
    "num_minibatches", "num_epochs", "buffer_size", "fill_buffer", "batch_size", "learning_rate",
    "max_grad_norm", "gamma", "polyak", "target_update_freq", "num_critics", "target_entropy_ratio",
    "eps_start", "eps_end", "exploration_fraction", "ddqn", "td_lambda", "exploration_noise",
    "target_noise", "target_noise_clip", "policy_delay", "normalize_observations", "normalize_rewards",
)


def algo_description(name: str, algo) -> dict:
    """The settings the built algo actually uses (read back from the object, not from the input)."""
    d = {k: _json_safe(getattr(algo, k)) for k in _CONFIG_KEYS if hasattr(type(algo), k) or hasattr(algo, k)}
    d["algorithm"] = type(algo).__name__
    if name in ("sac", "td3"):
        d["actor"] = _net(name, algo.actor, "policy")
        d["critic"] = _net(name, algo.critic, f"Q(s, a), {algo.num_critics} independent copies (vmapped), min over copies in the target")
        if name == "sac":
            d["target_entropy"] = _json_safe(algo.target_entropy)
    else:
        d["agent"] = _net(name, algo.agent, "Q(s, .)")
    d["env"] = algo.env.name
    d["env_wrapper"] = type(algo.env).__name__  # FloatObsWrapper when normalize_observations
    d["max_steps_in_episode"] = int(algo.env_params.max_steps_in_episode)
    d["discrete_actions"] = bool(algo.discrete)
    return d


def steps_per_iteration(name: str, algo) -> int:
    """Env steps per Rejax train_iteration (all envs together)."""
    if name == "pqn":
        return algo.num_envs * algo.num_steps
    if name == "td3":
        return algo.num_envs * algo.policy_delay
    return algo.num_envs


def num_iterations(name: str, algo) -> int:
    """train() = scan(ceil(T / eval_freq)) of fori_loop(ceil(eval_freq / steps_per_iteration))."""
    per = steps_per_iteration(name, algo)
    return int(math.ceil(algo.total_timesteps / algo.eval_freq)) * int(math.ceil(algo.eval_freq / per))


def count_updates(name: str, algo) -> dict:
    """Gradient updates one seed gets over the whole train(), computed from Rejax's loop structure."""
    iters = num_iterations(name, algo)
    if name == "pqn":
        n = iters * algo.num_epochs * algo.num_minibatches
        return {"q_updates": n, "minibatch_size": algo.minibatch_size}
    if name in ("sac", "dqn"):
        # train_iteration: collect num_envs steps, then `num_epochs` updates iff global_step > fill_buffer.
        active = sum(1 for i in range(1, iters + 1) if i * algo.num_envs > algo.fill_buffer)
        key = "sac_updates (each: 1 actor + 1 critic-ensemble + 1 alpha step)" if name == "sac" else "q_updates"
        return {key: active * algo.num_epochs, "target_updates": iters}
    # td3: each iteration = policy_delay x (collect num_envs steps, num_epochs critic updates iff
    # global_step > fill_buffer), then num_epochs actor updates iff global_step > fill_buffer, then
    # a polyak update of both targets.
    critic = actor = 0
    step = 0
    for _ in range(iters):
        for _ in range(algo.policy_delay):
            step += algo.num_envs
            critic += algo.num_epochs if step > algo.fill_buffer else 0
        actor += algo.num_epochs if step > algo.fill_buffer else 0
    return {"critic_updates": critic, "actor_updates": actor, "target_updates": iters}


def fairness_notes(name: str, algo) -> dict:
    """What jaxrl's learner must match for a like-for-like comparison (read from rejax 0.1.3's source)."""
    n = {}
    clip = ("optax.clip(max_grad_norm): ELEMENT-WISE clipping of each gradient entry to "
            "[-max_grad_norm, max_grad_norm] (not a global-norm clip), then Adam; one optimizer "
            "setting (same lr) for every network")
    trunc = (f"gymnax 0.0.9 folds the {int(algo.env_params.max_steps_in_episode)}-step time limit into done and "
             "Rejax's targets use (1 - done): truncation treated as termination (no bootstrap)"
             + (" -- on Pendulum-v1 this is the ONLY episode end" if algo.env.name == "Pendulum-v1" else ""))
    sample = ("ReplayBuffer.sample: jax.random.choice(size=buffer_size, replace=False, p=mask/num_entries), "
              "i.e. Gumbel top-k over the WHOLE buffer_size array every sample: cost O(buffer_size) per "
              "gradient step, independent of how full the buffer is; minibatch drawn WITHOUT replacement")
    if name == "sac":
        n["grad_updates_per_env_step"] = algo.num_epochs / algo.num_envs
        n["update_unit"] = ("per update, in this order on ONE minibatch: actor step, critic step (all "
                            f"{algo.num_critics} critics in one vmapped loss, summed), alpha step (log_alpha, init 0 -> alpha 1)")
        n["learning_starts"] = f"updates only while global_step > fill_buffer ({algo.fill_buffer}); actions come from the (random-init) policy from step 0, no uniform warm-up"
        n["target"] = (f"polyak: target <- {algo.polyak} * target + {1 - algo.polyak:.3g} * online, every "
                       f"train_iteration (target_update_freq={algo.target_update_freq} env step(s) x num_envs), "
                       "also before learning starts; critic target only (no actor target)")
        n["exploration"] = "sampled squashed-Gaussian action (log_std clipped to [-10, 2]); entropy auto-tuned"
        n["target_entropy"] = _json_safe(algo.target_entropy)
    elif name == "td3":
        n["grad_updates_per_env_step"] = {"critic": algo.num_epochs / algo.num_envs,
                                          "actor": algo.num_epochs / (algo.num_envs * algo.policy_delay)}
        n["update_unit"] = (f"per iteration: {algo.policy_delay} x (collect {algo.num_envs} env step(s), "
                            f"{algo.num_epochs} critic update(s)), then {algo.num_epochs} actor update(s) on the "
                            "last critic minibatch(es), then polyak of actor and critic targets")
        n["learning_starts"] = f"global_step > fill_buffer ({algo.fill_buffer}); UNIFORM random actions until then"
        n["target"] = (f"polyak {algo.polyak} (tau {1 - algo.polyak:.3g}) on actor and critic targets once per "
                       f"iteration = every {algo.num_envs * algo.policy_delay} env steps, also before learning starts")
        n["exploration"] = (f"actor + N(0, {algo.exploration_noise}) in ABSOLUTE action units (Pendulum range "
                            f"[-2, 2]), clipped; target smoothing noise {algo.target_noise} clipped at "
                            f"{algo.target_noise_clip} (absolute units); note the target noise uses ts.rng unsplit")
    elif name == "dqn":
        n["grad_updates_per_env_step"] = algo.num_epochs / algo.num_envs
        n["update_unit"] = (f"per iteration: collect {algo.num_envs} env steps (1 per env), then "
                            f"{algo.num_epochs} Q updates each on a fresh minibatch of {algo.batch_size}")
        n["learning_starts"] = f"global_step > fill_buffer ({algo.fill_buffer}); UNIFORM random actions until then"
        n["target"] = (f"polyak {algo.polyak} (tau {1 - algo.polyak:.3g}) every iteration = every "
                       f"{algo.num_envs} env steps (target_update_freq {algo.target_update_freq}); "
                       f"double DQN={bool(algo.ddqn)}; loss optax.l2_loss = 0.5 * squared error (no Huber)")
        n["exploration"] = (f"epsilon-greedy, linear {algo.eps_start} -> {algo.eps_end} over "
                            f"exploration_fraction {algo.exploration_fraction} x total_timesteps "
                            f"(= {int(algo.exploration_fraction * algo.total_timesteps)} env steps, counted from step 0)")
    elif name == "pqn":
        n["grad_updates_per_env_step"] = (algo.num_epochs * algo.num_minibatches) / (algo.num_envs * algo.num_steps)
        n["update_unit"] = (f"per iteration: {algo.num_envs} envs x {algo.num_steps} steps rollout, Q(lambda) "
                            f"targets (lambda {algo.td_lambda}) from the Q values taken AT COLLECTION TIME, then "
                            f"{algo.num_epochs} epochs x {algo.num_minibatches} minibatches of {algo.minibatch_size}")
        n["learning_starts"] = "none (on-policy-style; no replay buffer)"
        n["target"] = ("no target network; note Rejax's calculate_targets carries t.next_q (=Q(s_{t+1})) to step t-1, "
                       "so for every step but the last of a rollout the (1-lambda) bootstrap term uses max Q(s_{t+2}) "
                       "instead of max Q(s_{t+1}) (checked: lambda=0, gamma=1, r=0, max next_q 10,20,30,40 -> "
                       "targets 20,30,40,40; purejaxql, which it adapts, carries Q(s_t))")
        n["exploration"] = (f"epsilon-greedy, linear {algo.eps_start} -> {algo.eps_end} over "
                            f"{int(algo.exploration_fraction * algo.total_timesteps)} env steps")
    n["gradient_clipping"] = clip + ("" if np.isfinite(algo.max_grad_norm) else " (max_grad_norm inf here: no clipping)")
    if name != "pqn":
        n["replay"] = f"buffer_size {algo.buffer_size}, batch_size {algo.batch_size}; " + sample
        n["obs_normalization"] = (
            "running mean/var of next_obs updated every env step; the buffer stores RAW obs, normalized with the "
            "CURRENT statistics when sampled" if algo.normalize_observations else "off")
    else:
        n["obs_normalization"] = "on" if algo.normalize_observations else "off"
    n["truncation"] = trunc
    n["seed_vectorization"] = "jax.jit(jax.vmap(algo.train)) over split keys: the N seeds are independent"
    n["updates_per_seed"] = count_updates(name, algo)
    return n


def build_algo(name: str, env_name: str, total_timesteps: int | None, rejax_eval: bool):
    import copy

    cfg = copy.deepcopy(SHIPPED_CONFIGS[(name, env_name)])
    if total_timesteps is not None:
        cfg["total_timesteps"] = int(total_timesteps)
    if not rejax_eval:
        # One outer chunk, no callback work: train() = scan(len 1) of fori_loop(ceil(T / steps_per_iteration)).
        cfg["eval_freq"] = cfg["total_timesteps"]
        cfg["skip_initial_evaluation"] = True
    algo = ALGO_CLASS[name].create(**copy.deepcopy(cfg))
    if not rejax_eval:
        algo = algo.replace(eval_callback=lambda algo, ts, rng: ())
    return cfg, algo


def make_deterministic_policy(name: str, algo):
    """policy(ts, obs[E, ...]) -> actions[E, ...], the deterministic/greedy action of the final policy."""

    def policy(ts, obs):
        if getattr(algo, "normalize_observations", False):
            obs = algo.normalize_obs(ts.obs_rms_state, obs)
        if name in ("dqn", "pqn"):
            return jnp.argmax(algo.agent.apply(ts.q_ts.params, obs), axis=-1)
        if name == "td3":
            return algo.actor.apply(ts.actor_ts.params, obs)  # tanh-squashed, rescaled to the action range
        if algo.discrete:  # discrete SAC: argmax of the logits
            return algo.actor.apply(ts.actor_ts.params, obs, method=lambda m, x: m._action_dist(x).mode())
        # continuous SAC: the mean of the pre-tanh Gaussian, squashed and rescaled as SquashedGaussianPolicy does.
        return algo.actor.apply(
            ts.actor_ts.params, obs,
            method=lambda m, x: m.action_loc + jnp.tanh(m._action_dist(x).mode()) * m.action_scale,
        )

    return policy


def make_final_eval(name: str, algo, num_episodes: int):
    """evaluate(ts_batched, keys[N]) -> (deterministic[N, E], rejax_act[N, E]) undiscounted returns."""
    env, env_params = algo.env, algo.env_params
    max_steps = int(env_params.max_steps_in_episode)
    v_reset = jax.vmap(env.reset, in_axes=(0, None))
    v_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    det_policy = make_deterministic_policy(name, algo)

    def one_seed(ts, key, deterministic: bool):
        if deterministic:
            def policy(obs, k):
                return det_policy(ts, obs)
        else:
            act = algo.make_act(ts)  # Rejax's own per-observation act(obs, rng)

            def policy(obs, k):
                return jax.vmap(act)(obs, jax.random.split(k, num_episodes))

        reset_key, key = jax.random.split(key)
        obs, state = v_reset(jax.random.split(reset_key, num_episodes), env_params)

        def step(carry, k):
            state, obs, ret, active = carry
            k_act, k_env = jax.random.split(k)
            action = policy(obs, k_act)
            if not algo.discrete:
                action = action.reshape(num_episodes, -1)
            obs, state, reward, done, _ = v_step(jax.random.split(k_env, num_episodes), state, action, env_params)
            reward = reward.reshape(num_episodes)
            done = done.reshape(num_episodes)
            ret = ret + jnp.where(active, reward, 0.0)
            return (state, obs, ret, active & ~done), None

        init = (state, obs, jnp.zeros(num_episodes, jnp.float32), jnp.ones(num_episodes, bool))
        (_, _, ret, _), _ = jax.lax.scan(step, init, jax.random.split(key, max_steps))
        return ret

    def evaluate(ts, keys):
        det = jax.vmap(lambda t, k: one_seed(t, k, True))(ts, keys)
        own = jax.vmap(lambda t, k: one_seed(t, k, False))(ts, keys)
        return det, own

    return jax.jit(evaluate)


def _block(x):
    return jax.block_until_ready(x)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--algo", required=True, choices=sorted(ALGO_CLASS))
    p.add_argument("--env", default=None, choices=["Pendulum-v1", "CartPole-v1"],
                   help="default: Pendulum-v1 for sac/td3, CartPole-v1 for dqn/pqn (sac also has a shipped CartPole config)")
    p.add_argument("--seeds", type=int, required=True, help="seeds vmapped in one jit")
    p.add_argument("--total-timesteps", type=int, default=None, help="override the shipped total_timesteps")
    p.add_argument("--repeats", type=int, default=3, help="timed runs after the warm-up (median reported)")
    p.add_argument("--seed", type=int, default=0, help="base key: keys = split(PRNGKey(seed), seeds)")
    p.add_argument("--eval-episodes", type=int, default=16, help="final-policy episodes per seed")
    p.add_argument("--rejax-eval", action="store_true",
                   help="keep Rejax's shipped in-training evaluation (128 stochastic episodes every eval_freq env steps)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--serve", action="store_true",
                   help="after compiling, print a JSON line and time one call per 'run' line read from stdin "
                        "(any other line ends the timing; --repeats is then ignored)")
    args = p.parse_args(argv)
    env_name = args.env or DEFAULT_ENV[args.algo]
    if (args.algo, env_name) not in SHIPPED_CONFIGS:
        p.error(f"Rejax ships no config for {args.algo} on {env_name}; pairs: {sorted(SHIPPED_CONFIGS)}")
    if args.seeds < 1 or args.repeats < 1 or args.eval_episodes < 1:
        p.error("--seeds, --repeats and --eval-episodes must be >= 1")
    tag = f"[rejax {args.algo}]"

    load_start = loadavg()
    cfg, algo = build_algo(args.algo, env_name, args.total_timesteps, args.rejax_eval)
    per_it = steps_per_iteration(args.algo, algo)
    iters = num_iterations(args.algo, algo)
    expected_steps = iters * per_it
    if expected_steps != algo.total_timesteps:
        print(f"{tag} note: total_timesteps {algo.total_timesteps} is not a multiple of the chunking "
              f"(eval_freq {algo.eval_freq}, {per_it} env steps per iteration); Rejax rounds UP to "
              f"{expected_steps} env steps per seed", flush=True)
    notes = fairness_notes(args.algo, algo)
    print(f"{tag} {type(algo).__name__} {env_name}: {args.seeds} seeds, total_timesteps {algo.total_timesteps} "
          f"-> {iters} iterations of {per_it} env steps; in-training eval {'ON' if args.rejax_eval else 'OFF'}; "
          f"grad updates/env step {notes['grad_updates_per_env_step']}; updates/seed {notes['updates_per_seed']}",
          flush=True)

    keys = jax.random.split(jax.random.PRNGKey(args.seed), args.seeds)
    train = jax.jit(jax.vmap(algo.train))

    t = time.perf_counter()
    lowered = train.lower(keys)
    lower_s = time.perf_counter() - t
    compiled = lowered.compile()
    compile_s = time.perf_counter() - t
    print(f"{tag} compile {compile_s:.2f} s (trace+lower {lower_s:.2f} s, XLA {compile_s - lower_s:.2f} s)", flush=True)

    t = time.perf_counter()
    ts, evaluation = _block(compiled(keys))
    warmup_s = time.perf_counter() - t
    print(f"{tag} warm-up run {warmup_s:.3f} s", flush=True)
    run_s, cpu_s = [], []

    def timed_run():
        nonlocal ts, evaluation
        t, c = time.perf_counter(), time.process_time()
        ts, evaluation = _block(compiled(keys))
        run_s.append(time.perf_counter() - t)
        cpu_s.append(time.process_time() - c)
        return run_s[-1]

    if args.serve:
        # Interleaved timing: the driver alternates one call here with one call of its own, so a
        # slow minute of the machine hits both frameworks alike.
        print(json.dumps({"ready": True, "compile_s": compile_s}), flush=True)
        for line in sys.stdin:
            if line.strip() != "run":
                break
            print(json.dumps({"run_s": timed_run(), "cpu_s": cpu_s[-1]}), flush=True)
        if not run_s:  # the driver asked for no timed call: keep the warm-up as the only figure
            run_s.append(warmup_s)
            cpu_s.append(float("nan"))
    else:
        for i in range(args.repeats):
            timed_run()
            print(f"{tag} run {i + 1}/{args.repeats}: {run_s[-1]:.3f} s", flush=True)
    median_run_s = statistics.median(run_s)
    env_steps = np.asarray(ts.global_step)  # [N]
    steps_per_s = float(env_steps.sum()) / median_run_s

    # Final policy, evaluated outside the timing.
    t = time.perf_counter()
    eval_fn = make_final_eval(args.algo, algo, args.eval_episodes)
    eval_keys = jax.random.split(jax.random.PRNGKey(10_000 + args.seed), args.seeds)
    det, own = _block(eval_fn(ts, eval_keys))
    eval_s = time.perf_counter() - t
    det_mean = np.asarray(det).mean(axis=1)
    own_mean = np.asarray(own).mean(axis=1)
    good = GOOD_RETURN[env_name]

    doc = {
        "benchmark": f"rejax_{args.algo}_{env_name.split('-')[0].lower()}",
        "algo": args.algo,
        "env": env_name,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "versions": {
            "python": platform.python_version(),
            **{d: _version(d) for d in ("jax", "jaxlib", "flax", "optax", "gymnax", "rejax", "distrax",
                                        "chex", "numpy", "tfp-nightly")},
        },
        "device": {
            "jax_backend": jax.default_backend(),
            "jax_devices": [str(d) for d in jax.devices()],
            "cpu_model": _lscpu_field("Model name"),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "xla_flags": os.environ.get("XLA_FLAGS"),
            "loadavg_at_start": load_start,
            "loadavg_at_end": loadavg(),
        },
        "config_source": (f"keraJLi/rejax @ d751095 configs/gymnax/{env_name.split('-')[0].lower()}.yaml "
                          f"({args.algo}), total_timesteps overridable"),
        "config_input": _json_safe(cfg),
        "config_used": algo_description(args.algo, algo),
        "fairness_notes": notes,
        "rejax_in_training_eval": bool(args.rejax_eval),
        "num_seeds": args.seeds,
        "base_seed": args.seed,
        "iterations_per_seed": iters,
        "env_steps_per_iteration": per_it,
        "env_steps_per_seed": int(env_steps[0]),
        "compile_s": compile_s,
        "compile_method": "jax.jit(jax.vmap(algo.train)).lower(keys).compile() (compile_s includes lower_s)",
        "lower_s": lower_s,
        "warmup_run_s": warmup_s,
        "run_s": run_s,
        "cpu_s": cpu_s,
        "median_cpu_s": statistics.median(cpu_s),
        "median_run_s": median_run_s,
        "env_steps_per_s_all_seeds": steps_per_s,
        "final_eval": {
            "episodes_per_seed": args.eval_episodes,
            "max_steps": int(algo.env_params.max_steps_in_episode),
            "primary": "deterministic",
            "deterministic_policy": {
                "sac": "tanh(mean) rescaled to the action range" if not algo.discrete else "argmax of the logits",
                "td3": "actor output",
                "dqn": "argmax Q",
                "pqn": "argmax Q",
            }[args.algo],
            "rejax_act_policy": {
                "sac": "sampled from the policy",
                "td3": "actor output (no noise)",
                "dqn": "epsilon-greedy, epsilon 0.005",
                "pqn": "epsilon-greedy, epsilon 0.005",
            }[args.algo],
            "deterministic_return_per_seed": det_mean.tolist(),
            "rejax_act_return_per_seed": own_mean.tolist(),
            "deterministic_mean": float(det_mean.mean()),
            "rejax_act_mean": float(own_mean.mean()),
            "reference_return": good,
            "frac_seeds_deterministic_ge_reference": float((det_mean >= good).mean()),
            "eval_s_incl_compile": eval_s,
        },
    }
    if args.rejax_eval:
        # Rejax's own curve: (lengths, returns) each [N, num_evals(+1), 128]; keep per-seed means.
        _, returns = evaluation
        doc["rejax_training_curve_mean_return_per_seed"] = np.asarray(returns).mean(axis=-1).tolist()

    print(
        f"{tag} {args.seeds} seeds: compile {compile_s:.2f} s, median run {median_run_s:.3f} s "
        f"({steps_per_s:,.0f} env steps/s over all seeds); final deterministic return per seed "
        f"{np.round(det_mean, 1).tolist()} (mean {det_mean.mean():.1f}; Rejax act {own_mean.mean():.1f}), "
        f"{100 * (det_mean >= good).mean():.0f}% of seeds >= {good:g}",
        flush=True,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"{tag} wrote {args.json}", flush=True)
    return doc


if __name__ == "__main__":
    main()
