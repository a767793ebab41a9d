#!/usr/bin/env python
"""Brax's SAC (``brax.training.agents.sac.train``) on a jaxrl task through the Brax view (a peer).

    python benchmarks/peers/brax_sac.py [--task cartpole_swingup] [--seed 0] [--steps 200000]
                                        [--evals 6] [--set key=value ...] [--json out.json]

    from brax_sac import run_brax_sac        # with benchmarks/peers on sys.path
    result = run_brax_sac("cartpole_swingup", seed=0, num_timesteps=200_000, num_evals=6)

The env is jaxrl's own MJX task (``jaxrl.envs.make(task)``) seen as a ``brax.envs.Env``
(:func:`jaxrl.envs.brax_env.to_brax`); Brax wraps it as for its own envs (``VmapWrapper``,
``EpisodeWrapper(episode_length)``, ``AutoResetWrapper``) and trains it unchanged.

Hyperparameters (:data:`DEFAULTS`; each can be overridden, ``--set key=value`` on the CLI).
A standard SAC (Haarnoja et al. 2018, the DM-Control setting of the SAC/DrQ/TD-MPC papers)
as far as Brax's ``sac.train`` lets one set it:

=======================  ===========  ===================================================
key                      value        why
=======================  ===========  ===================================================
learning_rate            3e-4         standard SAC; Brax uses it for actor AND critic
                                      (Adam). The temperature's Adam lr is hard-wired to
                                      3e-4 in Brax (also standard).
discounting              0.99         standard (Brax's default is 0.9: do not keep it).
batch_size               256          standard SAC minibatch (per gradient step).
tau                      0.005        standard Polyak rate (target critics every step).
reward_scaling           1.0          rewards already in [0, 1]; no scaling.
num_envs                 16           envs stepped in parallel per training step (small:
                                      SAC is update-bound; Brax's default is 1).
grad_updates_per_step    16           = num_envs: ONE gradient step per env step (1:1
                                      update-to-data ratio, as in standard SAC).
min_replay_size          8192         ~5-10k seed steps before learning (Brax acts
                                      with the untrained policy; a multiple of num_envs:
                                      ceil(min_replay_size / num_envs) actor steps).
max_replay_size          1_000_000    standard 1M buffer (Brax's default would be
                                      num_timesteps). Preallocated; see buffer below.
hidden_layer_sizes       (256, 256)   standard; ReLU; actor and both critics (Brax's
                                      ``make_sac_networks`` default, set explicitly).
action_repeat            1            DM Control's control step = the task's env step.
normalize_observations   False        standard SAC has none.
episode_length           1000         DM Control's 1000-step episodes (Brax's time limit).
num_eval_envs            16           eval return = mean over 16 episodes (as brax_compare.py).
deterministic_eval       True         eval with the tanh of the Gaussian mean.
=======================  ===========  ===================================================

Fixed by Brax (not settable through ``train``): initial temperature alpha = 1
(log_alpha = 0), learned; target entropy = -0.5 * action_size (standard SAC uses
-action_size); 2 critics, min over them in the target and the actor loss; tanh-squashed
Gaussian policy, std = softplus(.) + 0.001; lecun_uniform kernels; the prefill acts with
the (untrained) stochastic policy, not uniform random actions.

What Brax does per training step (one ``training_step`` inside the jitted epoch scan):
``num_envs`` envs take one (vmapped) step each, i.e. ``num_envs * action_repeat`` env steps
are counted and ``num_envs`` transitions are inserted; then ONE sample of
``batch_size * grad_updates_per_step`` transitions is drawn (uniform, with replacement) and
split into ``grad_updates_per_step`` minibatches of ``batch_size`` for that many sequential
gradient steps (alpha, critic, actor, Polyak). So gradient steps per env step =
``grad_updates_per_step / (num_envs * action_repeat)``: 16 / 16 = 1 here. The prefill
(``ceil(min_replay_size / num_envs)`` actor steps, no gradient steps) IS counted in the
env steps that Brax reports (and in ``num_timesteps``). Training is
``num_evals - 1`` epochs of ``ceil((num_timesteps - prefill) / ((num_evals - 1) * num_envs *
action_repeat))`` training steps, so the final step count is rounded UP past
``num_timesteps``; the result gives the exact counts.

Time limits and truncation. Brax's SAC neither bootstraps on a time-limit truncation nor
treats it as a termination: the critic loss multiplies the TD error of every transition with
``info['truncation'] == 1`` by 0 (the transition is dropped from the critic loss; its
``next_observation`` is already the auto-reset observation). Brax only marks a step as truncated when
ITS ``EpisodeWrapper`` hits the limit while the inner env is not done. jaxrl's tasks carry
their own ``TimeLimit`` (default 1000 steps); with equal limits the jaxrl env reports
``done`` at step 1000 and Brax's wrapper then sets ``truncation = 1 - done = 0``: Brax would
see a TERMINATION at every 1000th step (checked: with jaxrl's limit 1000 ``truncation`` is
never 1). So this script makes the jaxrl task with ``episode_length = Brax's + 1`` (never
reached: Brax auto-resets at its own limit), and Brax's limit is the only one.
(``benchmarks/brax_compare.py`` passes equal limits to Brax's PPO, so its PPO sees a
termination at step 1000 too, not the masked truncation of ``bootstrap_on_timeout=False``.)
Brax's ``AutoResetWrapper`` resets each env slot to the SAME first state every episode
(``info['first_pipeline_state']``): training sees ``num_envs`` distinct initial states.

Replay buffer memory: Brax's ``UniformSamplingQueue`` preallocates ``max_replay_size`` rows of
``2 * obs + action + 3`` float32 (obs, next_obs, action, reward, discount, truncation):
14 floats = 56 bytes for cartpole, 56 MB for 1M rows (carried through the scan, donated).
Once full, every insert ``jnp.roll``s the WHOLE buffer (O(buffer) per training step); with
``max_replay_size >= num_timesteps`` it never fills.

Timing. Brax's ``training/walltime`` sums the prefill (compile + run) and each training
epoch (``block_until_ready``), evaluations excluded; it includes compiling, which is timed
here directly: a ``jax.monitoring`` time-span listener records every trace / lower / XLA
compile span (``/jax/core/compile/*``); the union of those spans that fall inside the
timed training windows (between two progress callbacks, minus that eval's
``eval/epoch_eval_time``) is ``compile_s``, and ``run_s = walltime - compile_s``
(``compile_s_per_epoch`` shows where it fell). Measured under jax 0.9.2 on CPU: everything
compiles in the first window (the prefill and the training epoch: 23-49 s on the shared 2 cores); unlike
PPO in brax_compare.py, SAC's epoch does NOT compile again in epoch 2. Brax's evaluator does
compile twice (at the step-0 eval and again at the first trained eval, 8-27 s each), but
evaluations are outside ``training/walltime`` (in ``total_s`` only). For comparison the
result also has brax_compare.py's rule (``compile_s_excess``: the excess over the median of
the epochs longer than 3x the median; 0 here, as a 23-49 s compile is < 3x a ~80 s epoch) and
the plain ``first_epoch_excess_s`` (epoch 1 minus the median later epoch: also holds the
prefill run and any load change), both load-sensitive. ``steps_per_s`` = final env steps /
``run_s`` (the cheap prefill steps included); ``grad_steps_per_s`` = gradient steps /
``run_s``; ``*_to_target``: the first eval point with mean return >= 800.

Runs on the default JAX backend (CPU or one GPU); ``jax.device_put_replicated``, which Brax's
SAC uses, still works under jax 0.9.2 (no warning seen); nothing needed a workaround.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import inspect
import os
import sys
import threading
import time

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_HERE))  # benchmarks/common.py

TARGET = 800.0
DEFAULTS = dict(
    learning_rate=3e-4,
    discounting=0.99,
    batch_size=256,
    tau=0.005,
    reward_scaling=1.0,
    num_envs=16,
    grad_updates_per_step=16,
    min_replay_size=8192,
    max_replay_size=1_000_000,
    hidden_layer_sizes=(256, 256),
    action_repeat=1,
    normalize_observations=False,
    episode_length=1000,
    num_eval_envs=16,
    deterministic_eval=True,
)
_NETWORK_KEYS = ("hidden_layer_sizes", "activation", "policy_network_layer_norm", "q_network_layer_norm")
_COMPILE_EVENTS = ("/jax/core/compile/",)


class _CompileSpans:
    """Collects (start, end, event, fun_name) of JAX's trace / lower / compile spans while active."""

    def __init__(self):
        self.spans: list[tuple[float, float, str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, event, start, end, **kwargs):
        if event.startswith(_COMPILE_EVENTS):
            with self._lock:
                self.spans.append((start, end, event, str(kwargs.get("fun_name", ""))))

    @contextlib.contextmanager
    def active(self):
        import jax.monitoring

        jax.monitoring.register_event_time_span_listener(self)
        try:
            yield self
        finally:
            jax.monitoring.unregister_event_time_span_listener(self)

    def seconds_within(self, lo: float, hi: float) -> float:
        """Length of the union of the spans clipped to ``[lo, hi]`` (spans nest: no double count)."""
        ivs = sorted((max(s, lo), min(e, hi)) for s, e, _, _ in self.spans if e > lo and s < hi)
        total, cur_s, cur_e = 0.0, None, None
        for s, e in ivs:
            if cur_e is None or s > cur_e:
                if cur_e is not None:
                    total += cur_e - cur_s
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        if cur_e is not None:
            total += cur_e - cur_s
        return total


def hyperparameters(**overrides) -> dict:
    """:data:`DEFAULTS` with ``overrides`` (unknown keys must be ``brax...sac.train`` or network kwargs)."""
    from brax.training.agents.sac import networks as sac_networks
    from brax.training.agents.sac import train as brax_sac

    allowed = set(inspect.signature(brax_sac.train).parameters) | set(
        inspect.signature(sac_networks.make_sac_networks).parameters)
    allowed -= {"environment", "num_timesteps", "num_evals", "seed", "progress_fn", "network_factory",
                "observation_size", "action_size", "preprocess_observations_fn"}
    bad = sorted(set(overrides) - allowed)
    if bad:
        raise ValueError(f"unknown hyperparameter(s) {bad}; settable: {sorted(allowed)}")
    return {**DEFAULTS, **overrides}


def run_brax_sac(task: str = "cartpole_swingup", seed: int = 0, num_timesteps: int = 200_000,
                 num_evals: int = 6, verbose: bool = True, **overrides) -> dict:
    """Train Brax's SAC on jaxrl's ``task``; the eval curve, timings and the hyperparameters used.

    Args:
      task: a jaxrl env name (``jaxrl.envs.make``) with a flat Box action space.
      seed: Brax's ``seed``.
      num_timesteps: env steps (Brax's ``num_timesteps``: prefill included, rounded up).
      num_evals: Brax's ``num_evals``: eval points INCLUDING the one before training at step 0;
        training runs in ``max(num_evals - 1, 1)`` epochs, each followed by an eval.
      verbose: print one line per eval point.
      **overrides: any key of :data:`DEFAULTS`, another ``sac.train`` kwarg, or a
        ``make_sac_networks`` kwarg (``activation``, ...).

    Returns:
      a dict: ``curve`` (one dict per eval point: ``env_steps``, ``eval_return``,
      ``eval_return_std``, ``walltime`` (Brax's, compile included), ``run_s`` (compile
      excluded), ``gradient_steps``), ``compile_s``, ``compile_s_excess`` (brax_compare.py's
      estimate), ``run_s``, ``walltime_s``, ``total_s`` (whole ``train`` call incl. evals),
      ``eval_s``, ``steps_per_s``, ``grad_steps_per_s``, ``steps_to_target`` /
      ``run_s_to_target`` (first eval >= 800, else None), ``final_eval_return``, ``hparams``
      (every value passed to Brax), ``counts`` (prefill, epochs, steps per epoch, ratios),
      ``compile_spans`` (the top 10 by length, for inspection).
    """
    import jax
    from brax.training.agents.sac import networks as sac_networks
    from brax.training.agents.sac import train as brax_sac

    from jaxrl import envs
    from jaxrl.envs.brax_env import to_brax

    if num_evals < 2:
        raise ValueError("num_evals must be >= 2 (the eval at step 0 plus at least one after training)")
    hp = hyperparameters(**overrides)
    net_kw = {k: hp[k] for k in hp if k in inspect.signature(sac_networks.make_sac_networks).parameters
              and k not in ("observation_size", "action_size")}
    train_kw = {k: v for k, v in hp.items() if k not in net_kw}
    if isinstance(net_kw.get("activation"), str):
        net_kw["activation"] = getattr(jax.nn, net_kw["activation"])
    net_kw["hidden_layer_sizes"] = tuple(net_kw["hidden_layer_sizes"])

    # jaxrl's own time limit one step beyond Brax's: Brax's EpisodeWrapper is the only one and marks
    # its limit as truncation (with equal limits Brax would see a termination: see the docstring).
    env, params = envs.make(task, episode_length=int(hp["episode_length"]) + 1)
    view = to_brax(env, params)

    num_envs, repeat = int(hp["num_envs"]), int(hp["action_repeat"])
    prefill_actor_steps = -(-int(hp["min_replay_size"]) // num_envs)
    epochs = max(num_evals - 1, 1)
    steps_per_epoch = -(-(num_timesteps - prefill_actor_steps * num_envs * repeat) // (epochs * num_envs * repeat))
    counts = {
        "env_steps_per_training_step": num_envs * repeat,
        "grad_steps_per_training_step": int(hp["grad_updates_per_step"]),
        "grad_steps_per_env_step": int(hp["grad_updates_per_step"]) / (num_envs * repeat),
        "transitions_sampled_per_training_step": int(hp["batch_size"]) * int(hp["grad_updates_per_step"]),
        "prefill_env_steps": prefill_actor_steps * num_envs * repeat,
        "epochs": epochs,
        "training_steps_per_epoch": steps_per_epoch,
        "env_steps_per_epoch": steps_per_epoch * num_envs * repeat,
        "final_env_steps": prefill_actor_steps * num_envs * repeat + epochs * steps_per_epoch * num_envs * repeat,
        "total_grad_steps": epochs * steps_per_epoch * int(hp["grad_updates_per_step"]),
        "buffer_bytes": int(hp["max_replay_size"]) * 4 * (2 * view.observation_size + view.action_size + 3),
    }

    points, marks = [], []

    def progress(step, metrics):
        now = time.time()
        if "eval/episode_reward" not in metrics:
            return
        marks.append((now, float(metrics.get("eval/epoch_eval_time", 0.0))))
        p = {"env_steps": int(step), "walltime": float(metrics.get("training/walltime", 0.0)),
             "eval_return": float(metrics["eval/episode_reward"]),
             "eval_return_std": float(metrics.get("eval/episode_reward_std", float("nan"))),
             "eval_s": float(metrics.get("eval/epoch_eval_time", 0.0))}
        for k in ("training/sps", "training/critic_loss", "training/actor_loss", "training/alpha",
                  "training/buffer_current_size"):
            if k in metrics:
                p[k.split("/")[1]] = float(metrics[k])
        points.append(p)
        if verbose:
            print(f"[brax-sac] {p['env_steps']:>9,} env steps  walltime {p['walltime']:7.1f} s (incl. compile)  "
                  f"eval {p['eval_return']:7.1f} +- {p['eval_return_std']:5.1f}"
                  + (f"  alpha {p['alpha']:.4f}" if "alpha" in p else ""), flush=True)

    spans = _CompileSpans()
    factory = functools.partial(sac_networks.make_sac_networks, **net_kw)
    t0 = time.time()
    with spans.active():
        brax_sac.train(view, num_timesteps=num_timesteps, num_evals=num_evals, seed=seed,
                       network_factory=factory, progress_fn=progress, **train_kw)
    total_s = time.time() - t0

    # Compile inside Brax's timed windows: between progress call k-1 and the start of eval k.
    train_points = points[1:] if num_evals > 1 else points
    compile_per_epoch = []
    for k in range(1, len(marks)):
        lo, hi = marks[k - 1][0], marks[k][0] - marks[k][1]
        compile_per_epoch.append(spans.seconds_within(lo, hi))
    cum = np.cumsum(compile_per_epoch) if compile_per_epoch else np.zeros(len(train_points))
    for p, c in zip(train_points, cum):
        p["compile_s"] = float(c)
        p["run_s"] = p["walltime"] - float(c)
        p["gradient_steps"] = int(round((p["env_steps"] - counts["prefill_env_steps"]) * counts["grad_steps_per_env_step"]))
    compile_s = float(cum[-1]) if len(cum) else 0.0

    # brax_compare.py's estimate, for comparison (the first epoch includes the prefill).
    ep = np.diff([0.0] + [p["walltime"] for p in train_points])
    typical = float(np.median(ep[2:] if len(ep) > 3 else ep))
    compiling = ep > 3 * typical
    compile_excess = float(np.sum(ep[compiling] - typical))
    # The plain first-epoch excess (no threshold): epoch 1 (prefill + compile + run) minus the median
    # later epoch; load changes between epochs go into it too.
    first_excess = float(ep[0] - np.median(ep[1:])) if len(ep) > 1 else None

    last = train_points[-1]
    hit = next((p for p in train_points if p["eval_return"] >= TARGET), None)
    top = sorted(spans.spans, key=lambda s: s[0] - s[1])[:10]
    return {
        "task": task, "seed": seed, "num_timesteps": num_timesteps, "num_evals": num_evals,
        "hparams": {**hp, "hidden_layer_sizes": list(net_kw["hidden_layer_sizes"])},
        "fixed_by_brax": {"initial_alpha": 1.0, "alpha_learning_rate": 3e-4,
                          "target_entropy": -0.5 * view.action_size, "n_critics": 2,
                          "policy": "tanh(Normal), std = softplus + 0.001",
                          "truncation": "masked out of the critic loss (no bootstrap, no termination)",
                          "jaxrl_episode_length": int(hp["episode_length"]) + 1},
        "counts": counts,
        "curve": points,
        "compile_s": compile_s,
        "compile_s_per_epoch": compile_per_epoch,
        "compile_s_excess": compile_excess,
        "compiling_epochs_excess": int(compiling.sum()),
        "first_epoch_excess_s": first_excess,
        "epoch_walltimes_s": [float(x) for x in ep],
        "walltime_s": last["walltime"],
        "run_s": last["run_s"],
        "eval_s": float(sum(p["eval_s"] for p in points)),
        "total_s": total_s,
        "steps_per_s": last["env_steps"] / last["run_s"],
        "grad_steps_per_s": last["gradient_steps"] / last["run_s"],
        "steps_to_target": hit["env_steps"] if hit else None,
        "run_s_to_target": hit["run_s"] if hit else None,
        "final_eval_return": last["eval_return"],
        "compile_spans": [{"s": round(e - s, 3), "event": ev.rsplit("/", 1)[-1], "fun": f} for s, e, ev, f in top],
    }


def _parse_set(items):
    out = {}
    for item in items or ():
        key, _, value = item.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="cartpole_swingup")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=200_000, help="num_timesteps (env steps, prefill included)")
    p.add_argument("--evals", type=int, default=6, help="Brax num_evals (eval points incl. step 0)")
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="override a hyperparameter (Python literal)")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)

    from common import loadavg, machine_info, write_json  # benchmarks/common.py

    doc = {"machine": machine_info(), "load_start": loadavg()}
    r = run_brax_sac(args.task, args.seed, args.steps, args.evals, **_parse_set(args.set))
    doc.update(r)
    doc["load_end"] = loadavg()
    c = r["counts"]
    print(f"\n{args.task} seed {args.seed}: {c['final_env_steps']:,} env steps ({c['prefill_env_steps']:,} prefill), "
          f"{c['total_grad_steps']:,} gradient steps ({c['grad_steps_per_env_step']:g} per env step)")
    fe = r["first_epoch_excess_s"]
    print(f"compile {r['compile_s']:.1f} s (brax_compare's excess-epoch rule {r['compile_s_excess']:.1f} s, "
          f"first epoch - median epoch {'-' if fe is None else f'{fe:.1f}'} s), "
          f"run {r['run_s']:.1f} s, evals {r['eval_s']:.1f} s, train() total {r['total_s']:.1f} s")
    print(f"{r['steps_per_s']:,.0f} env steps/s, {r['grad_steps_per_s']:,.0f} gradient steps/s (compile excluded)")
    print("| env steps | eval return | run s |")
    print("|---:|---:|---:|")
    for q in r["curve"]:
        print(f"| {q['env_steps']:,} | {q['eval_return']:.1f} | {q.get('run_s', 0.0):.1f} |")
    print(f"to {TARGET:.0f}: " + (f"{r['steps_to_target']:,} env steps, {r['run_s_to_target']:.1f} run s"
                                  if r["steps_to_target"] else "not reached"))
    write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
