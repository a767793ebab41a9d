"""Rejax PPO on gymnax CartPole-v1, N seeds vmapped in one jit (a peer to compare jaxrl's PPO with).

Run INSIDE the Rejax venv (``bash benchmarks/peers/setup_rejax.sh`` makes ``.venv-rejax``):

    .venv-rejax/bin/python benchmarks/peers/rejax_ppo.py --seeds 8 --repeats 3 --json out.json

What it does:
  * builds ``rejax.PPO.create(**cfg)`` from Rejax's own shipped CartPole PPO config
    (``configs/gymnax/cartpole.yaml`` in github.com/keraJLi/rejax, key ``ppo``; the values are
    copied below, since the PyPI wheel ships no configs), ``--total-timesteps`` overriding
    ``total_timesteps``;
  * by default turns Rejax's in-training evaluation OFF (``eval_callback`` -> a no-op,
    ``skip_initial_evaluation=True``, ``eval_freq=total_timesteps``): the shipped config
    evaluates 128 stochastic episodes (up to 500 steps each) every 1000 env steps INSIDE the
    jitted train, which would be timed as training. ``--rejax-eval`` keeps the shipped behaviour;
  * ``train = jax.jit(jax.vmap(algo.train))`` (Rejax's documented multi-seed pattern) over
    ``jax.random.split(PRNGKey(--seed), N)``; compile timed apart (AOT ``lower().compile()``),
    one warm-up call, then ``--repeats`` timed calls (``block_until_ready``), median reported;
  * ``--serve``: after the warm-up, one timed call per ``run`` line on stdin (a JSON line
    ``{"run_s": ...}`` answers each), so a driver can interleave these calls with its own;
  * evaluates each seed's final policy on CartPole-v1 after (and outside) the timing:
    ``--eval-episodes`` episodes per seed, greedy (argmax of the logits; the primary metric)
    and sampled (Rejax's own ``act`` samples), fixed-length scan of ``max_steps_in_episode``
    steps, rewards after an episode's end not counted.

Rejax 0.1.3 needs gymnax 0.0.x (its code unpacks 5 values from ``env.step``; gymnax 1.0 returns 6).
gymnax 0.0.9's CartPole-v1 has the same dynamics as 1.0.1's; it folds the 500-step time limit
into ``done`` (Rejax then treats truncation as termination: no bootstrap).
"""

from __future__ import annotations

import argparse
import datetime
import json
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

# Rejax's shipped CartPole-v1 PPO config: keraJLi/rejax, configs/gymnax/cartpole.yaml, key `ppo`
# (same values in the older configs/cartpole.yaml). Everything not listed takes PPO's defaults:
# hidden_layer_sizes (64, 64), normalize_observations False, normalize_rewards False.
SHIPPED_CONFIG = {
    "env": "CartPole-v1",
    "agent_kwargs": {"activation": "tanh"},
    "num_envs": 5,
    "num_steps": 100,
    "num_epochs": 5,
    "num_minibatches": 5,
    "learning_rate": 0.00075,
    "max_grad_norm": 0.5,
    "total_timesteps": 100_000,
    "eval_freq": 1000,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_eps": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
}
SOLVED_RETURN = 475.0


def _json_safe(x):
    """The algo's config as JSON: numbers/strings kept, modules and functions as their repr."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (bool, int, float, str)) or x is None:
        return x
    if isinstance(x, (np.ndarray, jax.Array)) and np.ndim(x) == 0:
        return np.asarray(x).item()
    return repr(x)


def algo_description(algo) -> dict:
    """The settings the built algo actually uses (read back from the object, not from the input)."""
    d = {}
    for k in (
        "total_timesteps", "eval_freq", "skip_initial_evaluation", "num_envs", "num_steps",
        "num_minibatches", "num_epochs", "learning_rate", "max_grad_norm", "gamma", "gae_lambda",
        "clip_eps", "ent_coef", "vf_coef", "normalize_observations", "normalize_rewards",
    ):
        d[k] = _json_safe(getattr(algo, k))
    d["actor"] = {
        "class": type(algo.actor).__name__,
        "hidden_layer_sizes": list(algo.actor.hidden_layer_sizes),
        "activation": getattr(algo.actor.activation, "__name__", repr(algo.actor.activation)),
    }
    d["critic"] = {
        "class": type(algo.critic).__name__,
        "hidden_layer_sizes": list(algo.critic.hidden_layer_sizes),
        "activation": getattr(algo.critic.activation, "__name__", repr(algo.critic.activation)),
    }
    d["env"] = type(algo.env).__name__
    d["max_steps_in_episode"] = int(algo.env_params.max_steps_in_episode)
    return d


def build_algo(total_timesteps: int | None, rejax_eval: bool):
    cfg = dict(SHIPPED_CONFIG, agent_kwargs=dict(SHIPPED_CONFIG["agent_kwargs"]))
    if total_timesteps is not None:
        cfg["total_timesteps"] = int(total_timesteps)
    if not rejax_eval:
        # One outer chunk, no callback work: train() = scan(len 1) of fori_loop(ceil(T / (envs*steps))).
        cfg["eval_freq"] = cfg["total_timesteps"]
        cfg["skip_initial_evaluation"] = True
    algo = rejax.PPO.create(**cfg)
    if not rejax_eval:
        algo = algo.replace(eval_callback=lambda algo, ts, rng: ())
    return cfg, algo


def make_final_eval(algo, num_episodes: int):
    """returns(ts_batched, keys[N]) -> (greedy[N, E], sampled[N, E]) undiscounted episode returns."""
    env, env_params = algo.env, algo.env_params
    max_steps = int(env_params.max_steps_in_episode)
    v_reset = jax.vmap(env.reset, in_axes=(0, None))
    v_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def one_seed(ts, key, greedy: bool):
        def policy(obs, k):
            if algo.normalize_observations:
                obs = algo.normalize_obs(ts.obs_rms_state, obs)
            dist = algo.actor.apply(ts.actor_ts.params, obs, method=lambda m, x: m._action_dist(x))
            return dist.mode() if greedy else dist.sample(seed=k)

        reset_key, key = jax.random.split(key)
        obs, state = v_reset(jax.random.split(reset_key, num_episodes), env_params)

        def step(carry, k):
            state, obs, ret, active = carry
            k_act, k_env = jax.random.split(k)
            action = policy(obs, k_act)
            obs, state, reward, done, _ = v_step(jax.random.split(k_env, num_episodes), state, action, env_params)
            ret = ret + jnp.where(active, reward, 0.0)
            return (state, obs, ret, active & ~done), None

        init = (state, obs, jnp.zeros(num_episodes, jnp.float32), jnp.ones(num_episodes, bool))
        (_, _, ret, _), _ = jax.lax.scan(step, init, jax.random.split(key, max_steps))
        return ret

    def evaluate(ts, keys):
        greedy = jax.vmap(lambda t, k: one_seed(t, k, True))(ts, keys)
        sampled = jax.vmap(lambda t, k: one_seed(t, k, False))(ts, keys)
        return greedy, sampled

    return jax.jit(evaluate)


def _block(x):
    return jax.block_until_ready(x)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, required=True, help="seeds vmapped in one jit")
    p.add_argument("--total-timesteps", type=int, default=None,
                   help=f"override the shipped total_timesteps ({SHIPPED_CONFIG['total_timesteps']})")
    p.add_argument("--repeats", type=int, default=3, help="timed runs after the warm-up (median reported)")
    p.add_argument("--seed", type=int, default=0, help="base key: keys = split(PRNGKey(seed), seeds)")
    p.add_argument("--eval-episodes", type=int, default=16, help="final-policy episodes per seed")
    p.add_argument("--rejax-eval", action="store_true",
                   help="keep Rejax's shipped in-training evaluation (128 stochastic episodes every eval_freq=1000 steps)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--serve", action="store_true",
                   help="after compiling, print a JSON line and time one call per 'run' line read from stdin "
                        "(any other line ends the timing; --repeats is then ignored)")
    args = p.parse_args(argv)
    if args.seeds < 1 or args.repeats < 1 or args.eval_episodes < 1:
        p.error("--seeds, --repeats and --eval-episodes must be >= 1")

    load_start = loadavg()
    cfg, algo = build_algo(args.total_timesteps, args.rejax_eval)
    batch = algo.num_envs * algo.num_steps
    if algo.total_timesteps % batch:
        print(f"[rejax] note: total_timesteps {algo.total_timesteps} is not a multiple of num_envs*num_steps={batch}; "
              "Rejax rounds the number of updates UP", flush=True)
    if args.rejax_eval:
        iters = int(np.ceil(algo.total_timesteps / algo.eval_freq)) * int(np.ceil(algo.eval_freq / batch))
    else:
        iters = int(np.ceil(algo.total_timesteps / batch))
    print(f"[rejax] PPO CartPole-v1: {args.seeds} seeds, total_timesteps {algo.total_timesteps} "
          f"-> {iters} updates of {batch} env steps; in-training eval {'ON' if args.rejax_eval else 'OFF'}",
          flush=True)

    keys = jax.random.split(jax.random.PRNGKey(args.seed), args.seeds)
    train = jax.jit(jax.vmap(algo.train))

    t = time.perf_counter()
    lowered = train.lower(keys)
    lower_s = time.perf_counter() - t
    compiled = lowered.compile()
    compile_s = time.perf_counter() - t
    print(f"[rejax] compile {compile_s:.2f} s (trace+lower {lower_s:.2f} s, XLA {compile_s - lower_s:.2f} s)", flush=True)

    t = time.perf_counter()
    ts, evaluation = _block(compiled(keys))
    warmup_s = time.perf_counter() - t
    run_s, cpu_s = [], []

    def timed_run():
        nonlocal ts, evaluation
        t, c = time.perf_counter(), time.process_time()
        ts, evaluation = _block(compiled(keys))
        run_s.append(time.perf_counter() - t)
        cpu_s.append(time.process_time() - c)
        return run_s[-1]

    if args.serve:
        # Interleaved timing: the driver (benchmarks/sweep.py) alternates one call here with one
        # call of its own, so a slow minute of the machine hits both frameworks alike.
        print(json.dumps({"ready": True, "compile_s": compile_s}), flush=True)
        for line in sys.stdin:
            if line.strip() != "run":
                break
            print(json.dumps({"run_s": timed_run(), "cpu_s": cpu_s[-1]}), flush=True)
    else:
        for i in range(args.repeats):
            timed_run()
            print(f"[rejax] run {i + 1}/{args.repeats}: {run_s[-1]:.3f} s", flush=True)
    median_run_s = statistics.median(run_s)
    env_steps = np.asarray(ts.global_step)  # [N]
    steps_per_s = float(env_steps.sum()) / median_run_s

    # Final policy, evaluated outside the timing.
    t = time.perf_counter()
    eval_fn = make_final_eval(algo, args.eval_episodes)
    eval_keys = jax.random.split(jax.random.PRNGKey(10_000 + args.seed), args.seeds)
    greedy, sampled = _block(eval_fn(ts, eval_keys))
    eval_s = time.perf_counter() - t
    greedy_mean = np.asarray(greedy).mean(axis=1)
    sampled_mean = np.asarray(sampled).mean(axis=1)

    doc = {
        "benchmark": "rejax_ppo_cartpole",
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
        "config_source": "keraJLi/rejax configs/gymnax/cartpole.yaml (ppo), total_timesteps overridable",
        "config_input": _json_safe(cfg),
        "config_used": algo_description(algo),
        "rejax_in_training_eval": bool(args.rejax_eval),
        "num_seeds": args.seeds,
        "base_seed": args.seed,
        "updates_per_seed": iters,
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
            "primary": "greedy",
            "greedy_return_per_seed": greedy_mean.tolist(),
            "sampled_return_per_seed": sampled_mean.tolist(),
            "greedy_mean": float(greedy_mean.mean()),
            "sampled_mean": float(sampled_mean.mean()),
            "frac_seeds_greedy_ge_475": float((greedy_mean >= SOLVED_RETURN).mean()),
            "frac_seeds_sampled_ge_475": float((sampled_mean >= SOLVED_RETURN).mean()),
            "eval_s_incl_compile": eval_s,
        },
    }
    if args.rejax_eval:
        # Rejax's own curve: (lengths, returns) each [N, num_evals(+1), 128]; keep per-seed means.
        _, returns = evaluation
        doc["rejax_training_curve_mean_return_per_seed"] = np.asarray(returns).mean(axis=-1).tolist()

    print(
        f"[rejax] {args.seeds} seeds: compile {compile_s:.2f} s, median run {median_run_s:.3f} s "
        f"({steps_per_s:,.0f} env steps/s over all seeds); final greedy return mean {greedy_mean.mean():.1f} "
        f"(sampled {sampled_mean.mean():.1f}), {100 * (greedy_mean >= SOLVED_RETURN).mean():.0f}% of seeds >= 475",
        flush=True,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"[rejax] wrote {args.json}", flush=True)
    return doc


if __name__ == "__main__":
    main()
