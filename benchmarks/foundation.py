#!/usr/bin/env python
"""Foundation benchmarks for jaxrl (a script; never imported by the tests).

    python benchmarks/foundation.py [--quick] [--json out.json] [--part envs|ppo|all]

A. Env throughput: ``cartpole_balance`` through the full training wrapper stack
   (``TimeLimit -> VecEnv -> AutoReset -> EpisodeStats``) against a bare
   ``lax.scan`` of ``vmap(mjx.step)`` on the same ``mjx.Model``; same batch
   size, same number of steps, random uniform actions in [-1, 1] drawn inside
   the scan in both. Compile (AOT ``lower().compile()``) is timed apart from
   the runs; the run time is the median of several runs, the two variants are
   run interleaved so that load from other processes hits both alike.

B. PPO time to a return: ``cartpole_balance`` and ``cartpole_swingup``, run in
   compiled chunks by :func:`jaxrl.runner.run`; after each chunk (in its
   ``on_progress``, outside the runner's timed run) the deterministic policy is
   evaluated (16 episodes, one jitted program compiled once per task). Also the
   compile time of one ``jax.jit(train)``.

Every number printed comes from this run; timings on a shared machine are
noisy, hence the medians and the same-run ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import machine_info  # benchmarks/common.py (the script's folder is on sys.path)
from jaxrl import envs, evaluate, runner, wrappers
from jaxrl.algos import ppo
from jaxrl.envs.mjx_env import MjxState, mjx

TARGET_RATIO = 0.9
TARGET_COMPILE_S = 20.0
TARGET_RETURN = 800.0
EVAL_EPISODES = 16


def _timed(fn, *args):
    t = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t


# ----------------------------------------------------------------------------- A. env throughput


def _env_programs(batch: int, steps: int):
    """(jaxrl stack scan, task-only scan, bare mjx scan) and their initial states."""
    env, params = envs.make("cartpole_balance")
    stack = wrappers.training_stack(env, batch)  # TimeLimit -> VecEnv -> AutoReset -> EpisodeStats
    task_only = wrappers.VecEnv(env.unwrapped, num_envs=batch)  # no TimeLimit / AutoReset / EpisodeStats
    act_shape = (batch,) + env.action_spec.shape

    def actions(k):
        return jax.random.uniform(k, act_shape, jnp.float32, minval=-1.0, maxval=1.0)

    def env_scan(venv):
        # Consumes obs and reward (as a learner would), so neither is dead code.
        def run(state, params, key):
            def body(carry, k):
                state, acc = carry
                a_key, s_key = jax.random.split(k)
                state, ts = venv.step(s_key, state, actions(a_key), params)
                return (state, acc + jnp.sum(ts.reward) + jnp.sum(ts.obs)), None

            (state, acc), _ = jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)), jax.random.split(key, steps))
            return state, acc

        return run

    def bare(data, model, key):
        step = jax.vmap(lambda d, u: mjx.step(model, d.replace(ctrl=u)))

        def body(data, k):
            return step(data, actions(k)), None

        data, _ = jax.lax.scan(body, data, jax.random.split(key, steps))
        return data

    stack_state, _ = jax.jit(stack.reset)(jax.random.key(0), params)
    task_state, _ = jax.jit(task_only.reset)(jax.random.key(0), params)
    data0 = wrappers.find_state(stack_state, MjxState).data  # the same initial physics state
    return {
        "jaxrl": (env_scan(stack), (stack_state, params, jax.random.key(1))),
        "task_only": (env_scan(task_only), (task_state, params, jax.random.key(1))),
        "bare_mjx": (bare, (data0, params.model, jax.random.key(1))),
    }


def bench_env(batch: int, steps: int, repeats: int, variants: tuple[str, ...]) -> dict:
    programs = _env_programs(batch, steps)
    compiled, compile_s = {}, {}
    for name in variants:
        fn, args = programs[name]
        t = time.perf_counter()
        compiled[name] = jax.jit(fn).lower(*args).compile()
        compile_s[name] = time.perf_counter() - t
    warmup_s = {}
    if batch * steps <= 2_000_000:  # first call: allocations, page faults (negligible in longer runs)
        for name in variants:
            _, warmup_s[name] = _timed(compiled[name], *programs[name][1])
    runs = {name: [] for name in variants}
    for _ in range(repeats):  # interleaved, so background load hits every variant alike
        for name in variants:
            _, dt = _timed(compiled[name], *programs[name][1])
            runs[name].append(dt)
    out = {"batch": batch, "steps": steps, "env_steps": batch * steps, "repeats": repeats, "variants": {}}
    for name in variants:
        med = statistics.median(runs[name])
        out["variants"][name] = {
            "compile_s": compile_s[name],
            "warmup_run_s": warmup_s.get(name),
            "run_s": runs[name],
            "median_run_s": med,
            "steps_per_s": batch * steps / med,
        }
    bare_med = out["variants"]["bare_mjx"]["median_run_s"]
    for name in variants:
        if name != "bare_mjx":
            v = out["variants"][name]
            v["ratio_vs_bare"] = bare_med / v["median_run_s"]  # = steps/s ratio
            v["paired_ratios"] = [b / w for b, w in zip(runs["bare_mjx"], runs[name])]
    return out


def part_envs(quick: bool) -> dict:
    # (batch, scan steps, timed runs, variants). 1000 steps = one full episode: the TimeLimit ends
    # every episode on the last step and AutoReset really resets all envs there, while both loops
    # simulate the same state distribution (steps 1..1000 from the same start states). Do NOT run
    # past 1000: the stack's envs would restart upright after the reset while the bare loop's carts
    # keep hitting the slider limit, whose constraint solve makes an MJX step ~2x dearer, which
    # flatters the stack. task_only (no TimeLimit / AutoReset / EpisodeStats) is a diagnostic.
    full = ("jaxrl", "task_only", "bare_mjx")
    if quick:
        plan = [(128, 100, 3, ("jaxrl", "bare_mjx"))]
    else:
        plan = [(128, 1000, 5, full), (1024, 1000, 3, full), (4096, 1000, 3, ("jaxrl", "bare_mjx"))]
    results = []
    for batch, steps, repeats, variants in plan:
        print(f"[envs] batch {batch}, {steps} steps, {repeats} runs each ...", flush=True)
        r = bench_env(batch, steps, repeats, variants)
        results.append(r)
        for name in variants:
            v = r["variants"][name]
            extra = f", ratio vs bare {v['ratio_vs_bare']:.3f}" if "ratio_vs_bare" in v else ""
            print(
                f"[envs]   {name:9s} compile {v['compile_s']:6.2f} s, median run {v['median_run_s']:7.3f} s "
                f"(runs {', '.join(f'{x:.3f}' for x in v['run_s'])}), {v['steps_per_s']:,.0f} steps/s{extra}",
                flush=True,
            )
    return {
        "env": "cartpole_balance",
        "stack": "TimeLimit -> VecEnv -> AutoReset -> EpisodeStats (jaxrl.wrappers.training_stack)",
        "target_ratio": TARGET_RATIO,
        "results": results,
    }


# ----------------------------------------------------------------------------- B. PPO time to a return


def _parse_overrides(text: str | None) -> dict:
    out = {}
    for item in filter(None, (text or "").split(",")):
        k, _, v = item.partition("=")
        v = v.strip()
        try:
            out[k.strip()] = int(v.replace("_", ""))
        except ValueError:
            try:
                out[k.strip()] = float(v)
            except ValueError:
                out[k.strip()] = {"true": True, "false": False}.get(v.lower(), v)
    return out


def _chunk_size(num_updates: int, target_chunks: int) -> int:
    """A chunk size that divides ``num_updates`` (no second compile), near ``num_updates / target_chunks``."""
    return runner.pick_chunk(num_updates, -(-num_updates // target_chunks))


def train_with_eval(trainer, key, hparams, chunk: int, eval_fn, eval_key, stop_at: float | None = None):
    """:func:`jaxrl.runner.run` with an evaluation of the policy after each chunk.

    The evaluation runs in the progress callback, which the runner calls outside
    its timed run, so ``run_s`` is training time only; returning True from the
    callback stops the run early once ``stop_at`` is reached.
    """
    curve, eval_s, last_train = [], 0.0, [None]

    def on_progress(p: runner.Progress):
        nonlocal eval_s
        t = time.perf_counter()
        rets = np.asarray(jax.device_get(eval_fn(eval_key, p.state)))
        eval_s += time.perf_counter() - t
        tr = p.episode_return
        last_train[0] = tr if tr is not None else last_train[0]
        curve.append({
            "updates": p.updates_done,
            "env_steps": p.env_steps,
            "run_s": p.elapsed_s,
            "train_return": tr,  # mean return of the episodes that ended in this chunk (None: none ended)
            "train_return_last": last_train[0],
            "eval_return": float(rets.mean()),
            "eval_return_min": float(rets.min()),
            "eval_return_max": float(rets.max()),
        })
        return stop_at is not None and rets.mean() >= stop_at

    res = runner.run(trainer, key, hparams, chunk_updates=chunk, on_progress=on_progress)
    stopped = curve[-1]["updates"] < trainer.num_updates
    return {"compile_s": res.compile_s, "run_s": res.run_s, "eval_s": eval_s, "curve": curve, "stopped_early": stopped}


def bench_ppo_task(task: str, config, hparams, seeds, target_chunks: int, stop_at: float | None) -> dict:
    env, env_params = envs.make(task)
    hp = ppo.validate_hparams(hparams)
    chunk = _chunk_size(config.num_updates, target_chunks)
    trainer0 = ppo.make_train(config, env, env_params)

    # The eval program: jitted and compiled ONCE per task; the state is an argument, not a constant.
    def eval_returns(key, state):
        return evaluate.episode_returns(key, env, env_params, trainer0.policy(state), EVAL_EPISODES)

    state_shape = jax.eval_shape(trainer0.init, jax.random.key(0), hp, None)
    t = time.perf_counter()
    eval_fn = jax.jit(eval_returns).lower(jax.random.key(0), state_shape).compile()
    eval_compile_s = time.perf_counter() - t

    print(
        f"[ppo] {task}: {config.num_updates} updates x {config.batch_size} steps, chunk {chunk} updates "
        f"({chunk * config.batch_size} steps), eval compile {eval_compile_s:.1f} s",
        flush=True,
    )
    per_seed = []
    for seed in seeds:
        # A fresh make_train per seed: new closures, so nothing is reused from an earlier compile
        # (what a user's runner.run call in a fresh process pays).
        trainer = ppo.make_train(config, env, env_params)
        r = train_with_eval(trainer, jax.random.key(seed), hp, chunk, eval_fn, jax.random.key(10_000 + seed), stop_at)
        hit = next((p for p in r["curve"] if p["eval_return"] >= TARGET_RETURN), None)
        r.update(
            seed=seed,
            reached_target=hit is not None,
            steps_to_target=hit["env_steps"] if hit else None,
            run_s_to_target=hit["run_s"] if hit else None,
            final_eval_return=r["curve"][-1]["eval_return"],
            best_eval_return=max(p["eval_return"] for p in r["curve"]),
            steps_per_s=r["curve"][-1]["env_steps"] / max(r["run_s"], 1e-9),
        )
        per_seed.append(r)
        hit_txt = (
            f"eval >= {TARGET_RETURN:.0f} at {hit['env_steps']:,} steps / {hit['run_s']:.1f} s"
            if hit else f"eval never >= {TARGET_RETURN:.0f} (best {r['best_eval_return']:.1f})"
        )
        print(
            f"[ppo]   seed {seed}: compile {r['compile_s']:.1f} s, run {r['run_s']:.1f} s "
            f"({r['steps_per_s']:,.0f} steps/s), eval time {r['eval_s']:.1f} s, {hit_txt}, "
            f"final eval {r['final_eval_return']:.1f}",
            flush=True,
        )
        for p in r["curve"]:
            tr = "-" if p["train_return"] is None else f"{p['train_return']:.1f}"
            print(f"[ppo]     {p['env_steps']:>10,} steps {p['run_s']:7.1f} s  train {tr:>7}  eval {p['eval_return']:7.1f}", flush=True)

    def med(key):
        vals = [r[key] for r in per_seed if r[key] is not None]
        return statistics.median(vals) if vals else None

    hits = [r for r in per_seed if r["reached_target"]]
    return {
        "task": task,
        "config": {k: v for k, v in vars(config).items() if k not in ("objective", "optimizer")},
        "hparams": {k: float(v) for k, v in vars(hparams).items()} if not isinstance(hparams, dict) else hparams,
        "chunk_updates": chunk,
        "chunk_env_steps": chunk * config.batch_size,
        "eval_episodes": EVAL_EPISODES,
        "eval_compile_s": eval_compile_s,
        "seeds": per_seed,
        "seeds_reaching_target": f"{len(hits)}/{len(per_seed)}",
        "median": {
            "compile_s": med("compile_s"),
            "run_s": med("run_s"),
            "steps_per_s": med("steps_per_s"),
            # over the seeds that reached the target (see seeds_reaching_target)
            "steps_to_target": statistics.median([r["steps_to_target"] for r in hits]) if hits else None,
            "run_s_to_target": statistics.median([r["run_s_to_target"] for r in hits]) if hits else None,
            "final_eval_return": med("final_eval_return"),
            "best_eval_return": med("best_eval_return"),
        },
    }


def bench_train_compile(config) -> dict:
    env, env_params = envs.make("cartpole_balance")
    train = ppo.make_train(config, env, env_params)
    hp = ppo.as_hparams(ppo.default_hparams())
    t = time.perf_counter()
    lowered = jax.jit(train).lower(jax.random.key(0), hp)
    lower_s = time.perf_counter() - t
    t = time.perf_counter()
    lowered.compile()
    compile_s = time.perf_counter() - t
    out = {"env": "cartpole_balance", "total_timesteps": config.total_timesteps, "num_updates": config.num_updates,
           "lower_s": lower_s, "compile_s": compile_s, "total_s": lower_s + compile_s, "target_s": TARGET_COMPILE_S}
    print(f"[ppo] jax.jit(train) cartpole_balance: lower {lower_s:.1f} s + compile {compile_s:.1f} s "
          f"= {lower_s + compile_s:.1f} s (target < {TARGET_COMPILE_S:.0f} s)", flush=True)
    return out


def part_ppo(args) -> dict:
    quick = args.quick
    seeds = list(range(1 if quick else args.seeds))
    out = {"target_return": TARGET_RETURN, "tasks": {}}
    balance_cfg = ppo.PPOConfig(total_timesteps=20_480 if quick else 1_000_000)
    out["train_compile"] = None if quick else bench_train_compile(balance_cfg)
    swing_cfg = ppo.PPOConfig(
        **{**dict(total_timesteps=3_000_000, num_envs=32, num_steps=64, num_minibatches=4),
           **_parse_overrides(args.swingup_config), **({"total_timesteps": 20_480} if quick else {})}
    )
    swing_hp = ppo.PPOHparams(**{"lr": 1e-3, **_parse_overrides(args.swingup_hparams)})
    plan = {
        "cartpole_balance": (balance_cfg, ppo.PPOHparams(), 2 if quick else 60),
        "cartpole_swingup": (swing_cfg, swing_hp, 2 if quick else args.swingup_chunks),
    }
    tasks = args.tasks or ("cartpole_balance" if quick else "cartpole_balance,cartpole_swingup")
    for task in tasks.split(","):
        cfg, hp, n_chunks = plan[task]
        out["tasks"][task] = bench_ppo_task(task, cfg, hp, seeds, n_chunks, TARGET_RETURN if args.stop_at_target else None)
    return out


# ----------------------------------------------------------------------------- report


def _fmt(x, spec=".1f", none="-"):
    return none if x is None else format(x, spec)


def print_tables(doc: dict) -> None:
    if "envs" in doc:
        print("\nA. Env throughput, cartpole_balance, random actions (run s = median of n runs; "
              "compile = AOT lower+compile)")
        hdr = f"{'batch':>6} {'steps':>6} {'n':>2} {'variant':>10} {'compile s':>10} {'run s':>8} {'steps/s':>12} {'vs bare':>8}"
        print(hdr + "\n" + "-" * len(hdr))
        for r in doc["envs"]["results"]:
            for name, v in r["variants"].items():
                ratio = _fmt(v.get("ratio_vs_bare"), ".3f")
                print(f"{r['batch']:>6} {r['steps']:>6} {r['repeats']:>2} {name:>10} {v['compile_s']:>10.2f} {v['median_run_s']:>8.3f} "
                      f"{v['steps_per_s']:>12,.0f} {ratio:>8}")
        print(f"(target: jaxrl / bare >= {TARGET_RATIO}; task_only = VecEnv(Cartpole) without TimeLimit/AutoReset/EpisodeStats)")
    if "ppo" in doc:
        tc = doc["ppo"]["train_compile"]
        if tc is None:
            print("\nB. PPO. jax.jit(train) compile: skipped (--quick)")
        else:
            print(f"\nB. PPO. jax.jit(train) compile, cartpole_balance default config ({tc['num_updates']} updates): "
                  f"lower {tc['lower_s']:.1f} s + compile {tc['compile_s']:.1f} s = {tc['total_s']:.1f} s "
                  f"(target < {TARGET_COMPILE_S:.0f} s: {'met' if tc['total_s'] < TARGET_COMPILE_S else 'MISSED'})")
        hdr = (f"{'task':>17} {'seed':>5} {'compile s':>10} {'run s':>7} {'steps/s':>9} {'steps to 800':>13} "
               f"{'run s to 800':>13} {'final eval':>11} {'best eval':>10}")
        print(hdr + "\n" + "-" * len(hdr))
        for task, t in doc["ppo"]["tasks"].items():
            for r in t["seeds"]:
                print(f"{task:>17} {r['seed']:>5} {r['compile_s']:>10.1f} {r['run_s']:>7.1f} {r['steps_per_s']:>9,.0f} "
                      f"{_fmt(r['steps_to_target'], ',d', 'not reached'):>13} {_fmt(r['run_s_to_target'], '.1f', 'not reached'):>13} "
                      f"{r['final_eval_return']:>11.1f} {r['best_eval_return']:>10.1f}")
            m = t["median"]
            steps = _fmt(None if m["steps_to_target"] is None else int(m["steps_to_target"]), ",d", "not reached")
            print(f"{task:>17} {'med':>5} {m['compile_s']:>10.1f} {m['run_s']:>7.1f} {m['steps_per_s']:>9,.0f} "
                  f"{steps:>13} {_fmt(m['run_s_to_target'], '.1f', 'not reached'):>13} "
                  f"{m['final_eval_return']:>11.1f} {m['best_eval_return']:>10.1f}   "
                  f"(seeds reaching {TARGET_RETURN:.0f}: {t['seeds_reaching_target']})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny settings for a smoke run (~1-2 min)")
    p.add_argument("--json", metavar="PATH", help="also write the JSON document to PATH")
    p.add_argument("--part", choices=("envs", "ppo", "all"), default="all")
    p.add_argument("--seeds", type=int, default=3, help="PPO seeds (default 3; --quick: 1)")
    p.add_argument("--tasks", default=None, help="comma-separated PPO tasks (default: cartpole_balance,cartpole_swingup; --quick: cartpole_balance)")
    p.add_argument("--swingup-config", default=None, help="PPOConfig overrides for swingup, e.g. num_envs=64,total_timesteps=2000000")
    p.add_argument("--swingup-hparams", default=None, help="PPOHparams overrides for swingup (default lr=1e-3), e.g. lr=5e-4,ent_coef=0.01")
    p.add_argument("--swingup-chunks", type=int, default=60, help="about this many eval points for swingup (default 60)")
    p.add_argument("--stop-at-target", action="store_true", help="stop a PPO run once its eval return reaches 800")
    args = p.parse_args(argv)

    doc = {"machine": machine_info(), "quick": args.quick}
    print(f"[info] {doc['machine']['cpu_model']}, {doc['machine']['cpu_count']} CPUs, "
          f"{doc['machine']['mem_total_gib']} GiB, load {doc['machine']['loadavg_at_start']}, "
          f"jax {doc['machine']['versions']['jax']} on {doc['machine']['jax_backend']}", flush=True)
    t0 = time.perf_counter()
    jax.block_until_ready(jax.jit(lambda x: x + 1)(jnp.ones(3)))  # backend start-up, not billed to the first compile
    if args.part in ("envs", "all"):
        doc["envs"] = part_envs(args.quick)
    if args.part in ("ppo", "all"):
        doc["ppo"] = part_ppo(args)
    doc["wall_s"] = time.perf_counter() - t0
    try:
        doc["loadavg_at_end"] = os.getloadavg()
    except OSError:
        pass
    text = json.dumps(doc, indent=1)
    print("\n" + text)
    print_tables(doc)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
