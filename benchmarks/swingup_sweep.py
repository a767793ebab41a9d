#!/usr/bin/env python
"""Search for a stable PPO setting on cartpole_swingup (a script; never imported by the tests).

    python benchmarks/swingup_sweep.py --settings "lr=1e-3;lr=5e-4,reward_scale=0.1" [--config num_envs=64] [--seed 0]

Every setting (PPOHparams overrides, ";"-separated) trains in ONE vmapped
program (hparams are traced, so they never recompile), with the same seed, in
chunks; after each chunk the deterministic policy of every setting is
evaluated on 16 episodes (untimed). ``--config`` overrides the static
PPOConfig (default: total_timesteps=3_000_000, num_envs=32, num_steps=64,
num_minibatches=4), one compile per invocation. Prints the eval curves and a summary;
``--json PATH`` also writes them as a JSON document. Under vmap the AutoReset cond becomes a select, so the sweep's
steps/s is NOT a throughput figure; use foundation.py for that.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import foundation as fb  # noqa: E402
from common import write_json  # noqa: E402
from jaxrl import envs, evaluate  # noqa: E402
from jaxrl.algos import ppo  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--settings", required=True, help='";"-separated PPOHparams overrides, e.g. "lr=1e-3;lr=5e-4,ent_coef=0.01"')
    p.add_argument("--config", default=None, help="PPOConfig overrides, e.g. num_envs=64,total_timesteps=2000000")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunks", type=int, default=60, help="about this many eval points")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)

    settings = [fb._parse_overrides(s) for s in args.settings.split(";")]
    cfg = ppo.PPOConfig(**{**dict(total_timesteps=3_000_000, num_envs=32, num_steps=64, num_minibatches=4),
                           **fb._parse_overrides(args.config)})
    hps = [ppo.validate_hparams(ppo.PPOHparams(**s)) for s in settings]
    hp = jax.tree.map(lambda *x: np.stack(x), *hps)
    k = len(settings)
    env, env_params = envs.make("cartpole_swingup")
    trainer = ppo.make_train(cfg, env, env_params)
    chunk = fb._chunk_size(cfg.num_updates, args.chunks)
    # the same seed for every setting: only the hparams differ
    keys = jax.random.wrap_key_data(np.repeat(np.asarray(jax.random.key_data(jax.random.key(args.seed)))[None], k, 0))

    def eval_returns(key, state):
        return evaluate.episode_returns(key, env, env_params, trainer.policy(state), fb.EVAL_EPISODES)

    t = time.perf_counter()
    state = jax.jit(jax.vmap(trainer.init, in_axes=(0, 0, None)))(keys, hp, None)
    run_chunk = jax.jit(jax.vmap(lambda s: trainer.run_updates(s, chunk))).lower(state).compile()
    eval_fn = jax.jit(jax.vmap(eval_returns, in_axes=(None, 0))).lower(jax.random.key(0), state).compile()
    compile_s = time.perf_counter() - t
    print(f"[sweep] config {fb._parse_overrides(args.config) or 'base'}; {k} settings x {cfg.num_updates} updates "
          f"x {cfg.batch_size} steps; chunk {chunk}; compile {compile_s:.1f} s", flush=True)
    for i, s in enumerate(settings):
        print(f"[sweep]   [{i}] {s}", flush=True)

    curve, done, run_s = [], 0, 0.0
    last = [None] * k
    while done < cfg.num_updates:
        t = time.perf_counter()
        state, metrics = run_chunk(state)
        metrics = jax.device_get(metrics)
        run_s += time.perf_counter() - t
        done += chunk
        ev = np.asarray(eval_fn(jax.random.key(10_000 + args.seed), state))  # [k, episodes]
        tr = [fb._chunk_train_return({m: metrics[m][i] for m in ("episodes", "episode_return")}) for i in range(k)]
        last = [t_ if t_ is not None else l_ for t_, l_ in zip(tr, last)]
        point = {"env_steps": done * cfg.batch_size, "run_s": run_s, "train_return_last": list(last),
                 "eval_return": ev.mean(1).tolist(), "eval_return_min": ev.min(1).tolist()}
        curve.append(point)
        cells = "  ".join(f"[{i}] tr {fb._fmt(last[i], '6.1f', '     -')} ev {ev[i].mean():6.1f}" for i in range(k))
        print(f"[sweep] {point['env_steps']:>10,} {run_s:7.1f} s  {cells}", flush=True)

    summary = []
    for i, s in enumerate(settings):
        evs = [pt["eval_return"][i] for pt in curve]
        hit = next((pt["env_steps"] for pt in curve if pt["eval_return"][i] >= fb.TARGET_RETURN), None)
        n_last = max(1, len(curve) // 4)
        summary.append({"setting": s, "steps_to_800": hit, "best_eval": max(evs), "final_eval": evs[-1],
                        "mean_eval_last_quarter": float(np.mean(evs[-n_last:])),
                        "min_eval_after_800": (min(evs[[pt["env_steps"] for pt in curve].index(hit):]) if hit else None)})
        print(f"[sweep] [{i}] {s}: 800 at {hit}, best {max(evs):.1f}, final {evs[-1]:.1f}, "
              f"mean of last quarter {summary[-1]['mean_eval_last_quarter']:.1f}, "
              f"min after first 800 {fb._fmt(summary[-1]['min_eval_after_800'])}", flush=True)
    doc = {"machine": fb.machine_info(), "config": {kk: v for kk, v in vars(cfg).items() if kk not in ("objective", "optimizer")},
           "settings": settings, "seed": args.seed, "chunk_updates": chunk, "compile_s": compile_s, "run_s": run_s,
           "curve": curve, "summary": summary}
    write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
