#!/usr/bin/env python
"""Meta-learned PPO update rules against default PPO, on held-out seeds (a script; never imported by the tests).

    python benchmarks/meta.py [--env gymnax/CartPole-v1] [--generations 16] [--population 16] [--seeds 2]
                              [--eval-seeds 64] [--rules lifetime_lr,lpo,dpo] [--json out.json]

1. Meta-training (ES, one compiled program per rule, run through jaxrl.runner): OpenES
   (antithetic, centred ranks) over the rule's meta-parameters (noise std and step per rule:
   ``ES_SETTINGS``); every member trains ``--seeds`` PPO agents for the small budget below; fitness = mean training return over the
   last 25% of updates. Rules: ``lifetime_lr`` (learned step-size multiplier over the lifetime,
   8 knots) and ``lpo`` (learned drift MLP, 16 hidden units). ``dpo`` has no meta-training
   (Lu et al.'s closed form, alpha=2, beta=0.6).
2. Evaluation on ``--eval-seeds`` HELD-OUT seeds (keys 10_000 + i, never used in
   meta-training), the same seeds for every rule: each rule trains PPO from scratch; reported
   per rule: the final training return (the fitness) and the greedy policy's return over 16
   episodes, mean and standard error; the difference to default PPO, paired by seed, in units
   of its standard error. For reference, the lifetime rule's constant-multiplier grid
   (log multipliers -1, 0, 0.7, 1.4, 2.1, chosen on the held-out seeds themselves, so an
   optimistic hand-tuned baseline) is evaluated too.
"""

from __future__ import annotations

import argparse
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import loadavg, machine_info, write_json
from jaxrl import envs, evaluate, runner
from jaxrl.algos import meta, ppo

PPO_CONFIG = dict(total_timesteps=16 * 32 * 48, num_envs=16, num_steps=32, num_minibatches=4, update_epochs=4,
                  hidden_sizes=(32, 32))
EVAL_SEED0 = 10_000
GRID = (-1.0, 0.0, 0.7, 1.4, 2.1)
# ES noise std and Adam step on the mean, per rule (log step sizes tolerate large moves; the LPO
# drift net does not: at sigma 0.3 most members trained far worse than PPO).
ES_SETTINGS = {"lifetime_lr": (0.5, 0.3), "lpo": (0.05, 0.03), "open": (0.05, 0.03)}


def meta_train(rule_name: str, env, env_params, args) -> dict:
    rule = meta.get_rule(rule_name)
    config = rule.configure(ppo.PPOConfig(**PPO_CONFIG))
    trainer = ppo.make_train(config, env, env_params)
    fitness = meta.ppo_fitness(trainer, ppo.default_hparams(), seeds=args.seeds, kind="final", last=0.25)
    es = meta.make_es(fitness, rule.initial(jax.random.key(args.meta_seed)),
                      meta.ESConfig(generations=args.generations, population=args.population, chunk=args.chunk),
                      steps_per_member=meta.steps_per_member(trainer, args.seeds))
    sigma, lr = ES_SETTINGS[rule_name]
    hp = meta.ESHparams(sigma=args.sigma or sigma, lr=args.es_lr or lr)

    def on_log(row):
        print(f"  {rule_name} gen {row['update']:>3}/{args.generations}: best {row['fitness_best']:7.1f}  mean "
              f"{row['fitness_mean']:7.1f} +/- {row['fitness_std']:5.1f}  non-finite {int(row['nonfinite_members'])}  "
              f"{row['steps_per_s']:>10,.0f} env steps/s", flush=True)

    res = runner.run(es, jax.random.key(args.meta_seed), hp, chunk_updates=args.generations, log_every=1, on_log=on_log)
    steps = args.generations * es.steps_per_update
    return {
        "rule": rule_name, "sigma": float(hp.sigma), "es_lr": float(hp.lr),
        "meta_params": jax.tree.map(lambda x: np.asarray(x).tolist(), res.state.params),
        "compile_s": res.compile_s, "run_s": res.run_s, "env_steps": steps, "env_steps_per_s": steps / res.run_s,
        "fitness_mean_by_generation": np.asarray(res.metrics["fitness_mean"]).tolist(),
        "fitness_best_by_generation": np.asarray(res.metrics["fitness_best"]).tolist(),
        "best_fitness": float(res.state.best_fitness), "params": res.state.params,
    }


def evaluator(config, env, env_params, num_seeds: int):
    """``run(meta_params) -> (final training return [seeds], greedy return [seeds])`` (one compiled program per config)."""
    trainer = ppo.make_train(config, env, env_params)
    keys = jnp.stack([jax.random.key(EVAL_SEED0 + i) for i in range(num_seeds)])

    def one(key, meta_params):
        train_key, eval_key = jax.random.split(key)
        state, metrics = trainer(train_key, ppo.default_hparams(), meta_params)
        greedy = evaluate.episode_returns(eval_key, env, env_params, trainer.policy(state), 16, max_steps=500)
        return meta.run_fitness(metrics, "final", 0.25), jnp.mean(greedy)

    program = jax.jit(jax.vmap(one, in_axes=(0, None)))

    def run(meta_params):
        t = time.perf_counter()
        out = jax.block_until_ready(program(keys, meta_params))
        return np.asarray(out[0], np.float64), np.asarray(out[1], np.float64), time.perf_counter() - t

    return run


def stats(x: np.ndarray) -> dict:
    x = np.asarray(x, np.float64)
    ok = x[np.isfinite(x)]
    return {"mean": float(ok.mean()), "se": float(ok.std(ddof=1) / math.sqrt(len(ok))), "n": int(len(ok)),
            "diverged": int(len(x) - len(ok))}


def versus(x: np.ndarray, base: np.ndarray) -> dict:
    d = np.asarray(x, np.float64) - np.asarray(base, np.float64)
    d = d[np.isfinite(d)]
    se = float(d.std(ddof=1) / math.sqrt(len(d)))
    return {"diff": float(d.mean()), "se": se, "z": float(d.mean() / se) if se > 0 else math.nan}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="gymnax/CartPole-v1")
    p.add_argument("--rules", default="lifetime_lr,lpo,dpo")
    p.add_argument("--generations", type=int, default=16)
    p.add_argument("--population", type=int, default=16)
    p.add_argument("--chunk", type=int, default=None)
    p.add_argument("--seeds", type=int, default=4, help="PPO runs per ES member")
    p.add_argument("--sigma", type=float, default=None, help="ES noise std (default: per rule, ES_SETTINGS)")
    p.add_argument("--es-lr", type=float, default=None, help="ES Adam step on the mean (default: per rule)")
    p.add_argument("--meta-seed", type=int, default=0)
    p.add_argument("--eval-seeds", type=int, default=64)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    rule_names = [r for r in args.rules.split(",") if r]
    doc = {"machine": machine_info(), "args": vars(args), "ppo_config": PPO_CONFIG, "eval_seeds": [EVAL_SEED0, EVAL_SEED0 + args.eval_seeds - 1]}
    env, env_params = envs.make(args.env)
    base_config = ppo.PPOConfig(**PPO_CONFIG)
    t0 = time.perf_counter()

    print(f"default PPO on {args.env}, {args.eval_seeds} held-out seeds ...", flush=True)
    fit, greedy, secs = evaluator(base_config, env, env_params, args.eval_seeds)(None)
    rows = {"ppo": {"fitness": fit, "greedy": greedy, "eval_s": secs}}

    trained = {}
    for name in rule_names:
        if name == "dpo":
            continue
        print(f"meta-training {name}: {args.generations} generations x {args.population} members x {args.seeds} seeds ...", flush=True)
        trained[name] = meta_train(name, env, env_params, args)
        print(f"  compile {trained[name]['compile_s']:.1f} s, run {trained[name]['run_s']:.1f} s "
              f"({trained[name]['env_steps_per_s']:,.0f} env steps/s)", flush=True)

    for name in rule_names:
        rule = meta.get_rule(name)
        run = evaluator(rule.configure(base_config), env, env_params, args.eval_seeds)
        if name == "dpo":
            fit, greedy, secs = run(None)  # the closed form (alpha=2, beta=0.6)
        else:
            fit, greedy, secs = run(trained[name]["params"])
        rows[name] = {"fitness": fit, "greedy": greedy, "eval_s": secs}
        if name == "lifetime_lr":  # the constant-multiplier grid through the same compiled program
            for x in GRID:
                f, g, s = run({"lifetime_lr": {"log_lr": jnp.full((8,), x, jnp.float32)}})
                rows[f"constant lr x{math.exp(x):.2f}"] = {"fitness": f, "greedy": g, "eval_s": s}

    base = rows["ppo"]
    table = []
    print(f"\n{args.env}: {PPO_CONFIG['total_timesteps']:,} env steps per PPO run, {args.eval_seeds} held-out seeds")
    print(f"{'rule':<24} {'train return':>18} {'vs PPO (z)':>16} {'greedy return':>18} {'vs PPO (z)':>16}")
    for name, r in rows.items():
        fs, gs = stats(r["fitness"]), stats(r["greedy"])
        fv, gv = versus(r["fitness"], base["fitness"]), versus(r["greedy"], base["greedy"])
        table.append({"rule": name, "train_return": fs, "greedy_return": gs, "train_vs_ppo": fv, "greedy_vs_ppo": gv,
                      "eval_s": r["eval_s"]})
        print(f"{name:<24} {fs['mean']:>9.1f} +/- {fs['se']:<5.1f} {fv['diff']:>+8.1f} ({fv['z']:>+5.1f}) "
              f"{gs['mean']:>9.1f} +/- {gs['se']:<5.1f} {gv['diff']:>+8.1f} ({gv['z']:>+5.1f})", flush=True)
    doc["table"] = table
    doc["meta_training"] = {k: {kk: vv for kk, vv in v.items() if kk != "params"} for k, v in trained.items()}
    doc["per_seed"] = {k: {"fitness": np.asarray(v["fitness"]).tolist(), "greedy": np.asarray(v["greedy"]).tolist()} for k, v in rows.items()}
    doc["total_s"] = time.perf_counter() - t0
    doc["loadavg_at_end"] = loadavg()
    print(f"total {doc['total_s'] / 60:.1f} min", flush=True)
    write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
