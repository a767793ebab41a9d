"""DreamerV3's cost on a 2-core CPU (or any device): compile time, env steps per second and memory,
from states and from pixels, written to JSON. Its learning curves come from ``benchmarks/curve.py``:

    python benchmarks/dreamer.py speed --json out.json                      # default preset, states and pixels
    python benchmarks/dreamer.py speed --cases states --set deter=256 ...  # any config field or hparam
    python benchmarks/dreamer.py speed --preset small --cases states       # a named preset, --set on top
    python benchmarks/curve.py dreamer --env cartpole_swingup --env-opt action_repeat=2 --steps 100000 --seeds 1
    python benchmarks/dreamer.py openloop --env cartpole_balance --preset small --steps 10000   # what the model predicts

``openloop`` trains ONE seed (``key(0)``) from states, then reports the greedy return (16 episodes) and,
on 256 windows replayed from the final buffer, the world model's error per observation entry (raw units,
RMSE): reconstructions of the ``--context`` observed steps, and open-loop predictions (the prior, fed the
window's own actions) 1 .. ``--horizon`` steps on, beside the error of copying the last observed step.

Steps are AGENT steps of the env as made (``action_repeat=2``, DreamerV3's DMC setting: each is two
control steps; with pixels, two frames). The rate is measured once past the random prefill, so it
includes acting (encoder, posterior and actor per env step), the env, and ``replay_ratio`` gradient
steps per agent step (world model, imagination, actor and critic).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import jax
import numpy as np

from common import learner_speed, machine_info, write_json
from jaxrl import configs, envs, evaluate, offpolicy
from jaxrl.algos import dreamer

CASES = {
    "states": ("cartpole_swingup", dict(action_repeat=2)),
    "pixels16": ("cartpole_balance", dict(obs="pixels", image_size=16, action_repeat=2)),
    "pixels32": ("cartpole_balance", dict(obs="pixels", image_size=32, action_repeat=2)),
    "pixels64": ("cartpole_balance", dict(obs="pixels", image_size=64, action_repeat=2)),
}


def param_count(tree) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def preset_config(args, **fields):
    """``(config, hparams, env_options)``: the preset ``args.preset`` with ``fields`` over its config, then
    ``--set`` over both (``--set`` wins)."""
    preset = dreamer.presets()[args.preset]
    base, hp = preset.build(dreamer.Config, dreamer.Hparams)
    config_sets, hp_sets = configs.parse_sets(args.set, dreamer.Config, dreamer.Hparams)
    config = dataclasses.replace(base, **{**fields, **config_sets})
    return config, dreamer.validate_hparams({**dataclasses.asdict(hp), **hp_sets}), dict(preset.env_options)


def speed(args) -> dict:
    machine = machine_info()  # the load average before this run
    config, hp, preset_options = preset_config(args, total_timesteps=10**6, buffer_size=100_000, learning_starts=1_000)
    rows = []
    for case in args.cases.split(","):
        name, case_options = CASES[case]
        options = {**case_options, **preset_options}  # a preset made for pixels brings its image size and action repeat
        env, params = envs.make(name, **options)
        trainer = dreamer.make_train(config, env, params)
        cost = learner_speed(trainer, hp, args.updates, args.repeats)
        agent = jax.eval_shape(trainer.init, jax.random.key(0), hp).agent
        rows.append({"case": case, "env": name, "env_options": options, "compile_s": cost["compile_s"],
                     "agent_steps_per_s": cost["env_steps_per_s"], "grad_steps_per_agent_step": config.replay_ratio,
                     "grad_steps_per_s": cost["env_steps_per_s"] * config.replay_ratio, "runs_s": cost["runs_s"],
                     "model_params": param_count(agent.model), "actor_params": param_count(agent.actor),
                     "critic_params": param_count(agent.critic), "state_bytes": cost["state_bytes"],
                     "replay_bytes": cost["replay_bytes"], "buffer_size": config.buffer_size,
                     "config": {k: v for k, v in dataclasses.asdict(config).items() if k not in ("optimizer", "objective")}})
        print(json.dumps(rows[-1]), flush=True)
    return {"benchmark": "dreamer_speed", "preset": args.preset, "updates": args.updates, "set": args.set, "rows": rows,
            "machine": machine}


def openloop(args) -> dict:
    env_opts = configs.parse_options(args.env_opt, envs.options(args.env), f"env {args.env!r}")
    env, params = envs.make(args.env, **env_opts)
    if len(env.observation_spec.shape) != 1:
        raise SystemExit(f"openloop: vector observations only; {args.env} gives {env.observation_spec.shape}")
    config, hp, _ = preset_config(args, total_timesteps=args.steps, buffer_size=max(args.steps, 1000))
    trainer = dreamer.make_train(config, env, params)
    t0 = time.time()
    state, metrics = jax.block_until_ready(jax.jit(trainer)(jax.random.key(0), hp))
    train_s = time.time() - t0
    learning = np.asarray(metrics["learning"]) > 0
    last = np.flatnonzero(learning)[-max(1, int(learning.sum()) // 10):]  # the last tenth of the learning updates
    final = {k: round(float(np.asarray(metrics[k])[last].mean()), 4)
             for k in ("recon_loss", "reward_loss", "cont_loss", "kl", "dyn_loss", "rep_loss") if k in metrics and last.size}
    ret = evaluate.episode_returns(jax.random.key(1), env, params, trainer.policy(state), 16, None)
    C, H = args.context, args.horizon
    seq = offpolicy.replay_for(config, env).sample_sequences(state.replay, jax.random.key(11), 256, C + H)
    pred = np.asarray(jax.jit(dreamer.world_model(config, env).open_loop, static_argnums=2)(state.agent.model, seq, C,
                                                                                             jax.random.key(2)))
    obs, valid = np.asarray(seq.obs), np.asarray(seq.mask)
    # [H, N]: no restart since the context, and both compared slots written
    same_episode = ~np.cumsum(np.asarray(seq.first)[C:], 0).astype(bool) & valid[C:] & valid[C - 1]
    rmse = lambda err, mask: [round(float(v), 4) for v in np.sqrt((err ** 2)[mask].mean(0))]  # noqa: E731
    ahead = [{"steps_ahead": t + 1, "model": rmse(pred[C + t] - obs[C + t], same_episode[t]),
              "copy_last": rmse(obs[C - 1] - obs[C + t], same_episode[t])} for t in range(H)]
    doc = {"benchmark": "dreamer_openloop", "env": args.env, "env_options": env_opts, "preset": args.preset,
           "set": args.set, "agent_steps": args.steps, "train_s": train_s, "greedy_return": float(np.mean(ret)),
           "final_model_metrics": final,
           "obs_std": [round(float(v), 4) for v in obs.reshape(-1, obs.shape[-1]).std(0)],
           "context_recon": [rmse(pred[t] - obs[t], valid[t]) for t in range(C)], "ahead": ahead,
           "machine": machine_info()}
    print("greedy return", doc["greedy_return"], "obs std", doc["obs_std"])
    print("world model, last tenth of training:", final)
    print("reconstruction (last context step)", doc["context_recon"][-1])
    for row in ahead:
        print(f"{row['steps_ahead']:3d} ahead: model {row['model']}  copy-last {row['copy_last']}")
    return doc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--cases", default="states,pixels32,pixels64", help=f"comma-separated, of {', '.join(CASES)}")
    sp.add_argument("--updates", type=int, default=100)
    sp.add_argument("--repeats", type=int, default=3)
    sp.add_argument("--preset", default="default", choices=list(dreamer.presets()),
                    help="a named preset (`jaxrl algos` lists them) and its env options over each case's; the run length, "
                         "buffer_size (100k) and learning_starts (1k) are the script's, --set changes any field")
    sp.add_argument("--set", action="append", default=[], help="config field or hparam NAME=VALUE")
    sp.add_argument("--json", default=None)
    op = sub.add_parser("openloop")
    op.add_argument("--env", default="cartpole_balance")
    op.add_argument("--env-opt", action="append", default=["action_repeat=2"],
                    help="env option NAME=VALUE; action_repeat=2 (DM Control's setting) unless given again")
    op.add_argument("--preset", default="small", choices=list(dreamer.presets()))
    op.add_argument("--steps", type=int, default=10_000, help="agent steps of training")
    op.add_argument("--context", type=int, default=5)
    op.add_argument("--horizon", type=int, default=15)
    op.add_argument("--set", action="append", default=[], help="config field or hparam NAME=VALUE")
    op.add_argument("--json", default=None)
    args = p.parse_args(argv)
    doc = speed(args) if args.cmd == "speed" else openloop(args)
    write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
