"""Meta-training into a run directory (what ``jaxrl meta`` does)::

    runs/<name>/
      meta.json          the spec (method, rule, env, PPO config and hparams, meta settings), versions, device
      metrics.jsonl      one row per generation (ES) or meta step (meta-gradient)
      checkpoints/<n>/   the FULL meta state after n generations (orbax, verified; the newest `keep`)
      rule/              the learned rule so far (rule.json + meta_params.npz), rewritten at every checkpoint
      result.json        status, counters, timings, best fitness

The meta-trainer is a :class:`jaxrl.trainer.Trainer`, so this is the training runner and
checkpointer of ordinary runs: compiled chunks of ``checkpoint_every`` generations, the state
saved between chunks, ``resume=True`` continues bit for bit. Every input error is raised
before anything compiles.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sys
from typing import Any

import jax
import numpy as np

from jaxrl import checkpoint as ckpt
from jaxrl import configs, experiment, rundir, runner, sinks
from jaxrl.configs import ConfigError
from jaxrl.algos.meta import es as es_lib
from jaxrl.algos.meta import fitness as fitness_lib
from jaxrl.algos.meta import metagrad, rules

SPEC_FILE, METRICS_FILE, RESULT_FILE, RULE_DIR = "meta.json", "metrics.jsonl", "result.json", "rule"
METHODS = ("es", "grad")


@dataclasses.dataclass(frozen=True)
class MetaSpec:
    """Everything that defines a meta-training run (saved as ``meta.json``).

    Attributes:
      method: ``"es"`` (evolution strategies) or ``"grad"`` (meta-gradients).
      rule: a rule name (:func:`jaxrl.algos.meta.rules.names`); ``rule_options`` its sizes.
      env, env_options: the task the inner PPO agents train on.
      seed: PRNG seed of the meta-training.
      config, hparams: PPO static config / traced hyperparameters that differ from the defaults.
      meta_config: :class:`ESConfig` (es) or :class:`MetaGradConfig` (grad) fields.
      meta_hparams: :class:`ESHparams` (es) or :class:`MetaGradHparams` (grad) fields.
      seeds: inner PPO runs per ES member (es; for grad use ``meta_config["seeds"]``).
      fitness, last, baseline: how a member is scored (:mod:`jaxrl.algos.meta.fitness`; es).
      checkpoint_every: generations per compiled chunk = per checkpoint (default: about 10 per run).
      keep: checkpoints kept.
    """

    method: str = "es"
    rule: str = "lifetime_lr"
    rule_options: dict = dataclasses.field(default_factory=dict)
    env: str = "probe_action"
    env_options: dict = dataclasses.field(default_factory=dict)
    seed: int = 0
    config: dict = dataclasses.field(default_factory=dict)
    hparams: dict = dataclasses.field(default_factory=dict)
    meta_config: dict = dataclasses.field(default_factory=dict)
    meta_hparams: dict = dataclasses.field(default_factory=dict)
    seeds: int = 2
    fitness: str = "final"
    last: float = 0.25
    baseline: float | None = None
    checkpoint_every: int | None = None
    keep: int = 3

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "MetaSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known - {"versions", "device", "created", "command", "name", "resolved"})
        if unknown:
            raise ConfigError(f"unknown meta spec field(s) {unknown}; the fields are: {', '.join(sorted(known))}")
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclasses.dataclass
class MetaBuilt:
    """A spec made concrete (nothing compiled): the rule, the PPO trainer, the meta-trainer."""

    spec: MetaSpec
    rule: rules.Rule
    env: Any
    env_params: Any
    ppo_config: Any
    ppo_hparams: Any
    init_meta: Any
    trainer: Any  # the meta-trainer (a jaxrl.trainer.Trainer)
    meta_config: Any
    meta_hparams: Any
    chunk: int

    def identity(self) -> dict:
        s = self.spec
        return {"method": s.method, "rule": s.rule, "rule_options": s.rule_options, "env": s.env,
                "env_options": {**experiment.env_defaults(s.env), **s.env_options},
                "config": configs.to_dict(self.ppo_config), "meta_config": configs.to_dict(self.meta_config),
                "seeds": s.seeds, "fitness": s.fitness, "last": s.last, "baseline": s.baseline, "seed": s.seed,
                "hparams": configs.to_dict(self.ppo_hparams), "meta_hparams": configs.to_dict(self.meta_hparams)}

    def abstract_state(self):
        return jax.eval_shape(self.trainer.init, jax.random.key(0), self.meta_hparams)

    def rule_info(self, generation: int, extra: dict | None = None) -> dict:
        return {"method": self.spec.method, "env": self.spec.env, "env_options": self.spec.env_options,
                "generation": generation, **(extra or {})}


def build(spec: MetaSpec, devices=None) -> MetaBuilt:
    """Validate ``spec`` and build the meta-trainer (nothing is compiled)."""
    from jaxrl import envs
    from jaxrl.algos import ppo

    if spec.method not in METHODS:
        raise ConfigError(f"unknown meta-training method {spec.method!r}; choose one of: {', '.join(METHODS)}")
    experiment.check_seed(spec.seed)
    rule = rules.get_rule(spec.rule)
    init_meta = rule.initial(jax.random.key(spec.seed), **spec.rule_options)
    if spec.env_options.get("debug"):
        raise ConfigError("the env's debug mode checks actions in `jaxrl train` (and runner.run(debug=True)); meta-training "
                          "does not run its checks: debug one PPO run first")
    configs.check_positive_ints(spec, ("seeds",))
    env, env_params = envs.make(spec.env, **spec.env_options)
    for slot in ("objective", "optimizer"):
        if slot in spec.config:
            raise ConfigError(f"the {slot} slot is set by the rule ({spec.rule!r} fills the {rule.slot} slot); do not set it in config")
    ppo_config = rule.configure(configs.from_dict(ppo.PPOConfig, spec.config))
    ppo_hparams = ppo.validate_hparams(configs.from_dict(ppo.PPOHparams, spec.hparams))
    trainer = ppo.make_train(ppo_config, env, env_params)
    if spec.method == "es":
        meta_config = configs.from_dict(es_lib.ESConfig, spec.meta_config)
        meta_hparams = es_lib.as_es_hparams(configs.from_dict(es_lib.ESHparams, spec.meta_hparams))
        if not float(meta_hparams.sigma) > 0 or not float(meta_hparams.lr) > 0:
            raise ConfigError(f"ES sigma and lr must be > 0, got sigma={float(meta_hparams.sigma)}, lr={float(meta_hparams.lr)}")
        fit = fitness_lib.ppo_fitness(trainer, ppo_hparams, seeds=spec.seeds, kind=spec.fitness, last=spec.last, baseline=spec.baseline)
        meta_trainer = es_lib.make_es(fit, init_meta, meta_config, steps_per_member=fitness_lib.steps_per_member(trainer, spec.seeds),
                                      devices=devices)
    else:
        meta_config = configs.from_dict(metagrad.MetaGradConfig, spec.meta_config)
        meta_hparams = jax.tree.map(lambda x: np.float32(x), configs.from_dict(metagrad.MetaGradHparams, spec.meta_hparams))
        meta_trainer = metagrad.make_metagrad(trainer, ppo_hparams, init_meta, meta_config, env=env, env_params=env_params)
    _check_inner_runs_fit(trainer, ppo_hparams, spec, meta_config)
    n = meta_trainer.num_updates
    every = spec.checkpoint_every
    if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
        raise ConfigError(f"checkpoint_every must be a positive integer, got {every!r}")
    if not isinstance(spec.keep, int) or spec.keep < 1:
        raise ConfigError(f"keep must be a positive integer, got {spec.keep!r}")
    chunk = min(every or runner.pick_chunk(n, -(-n // 10)), n)
    return MetaBuilt(spec, rule, env, env_params, ppo_config, ppo_hparams, init_meta, meta_trainer, meta_config, meta_hparams, chunk)


def _check_inner_runs_fit(trainer, ppo_hparams, spec: MetaSpec, meta_config) -> None:
    """The inner PPO runs trained at once (ES: ``chunk`` members x ``seeds``; grad: ``seeds``) must
    fit the device: a clear error before anything compiles (XLA aborts on an impossible size)."""
    from jaxrl import memory

    at_once = (meta_config.chunk or meta_config.population) * spec.seeds if spec.method == "es" else meta_config.seeds
    if at_once > configs.MAX_COUNT:
        raise ConfigError(f"{at_once:,} inner PPO runs at once is more than {configs.MAX_COUNT:,}")
    memory.check_fits(jax.eval_shape(trainer.init, jax.random.key(0), ppo_hparams), runs=at_once,
                      what=f"{at_once} inner PPO runs at once")


def parse_inner_sets(sets: list[str]) -> tuple[dict, dict]:
    """``--set name=value`` items for the inner agent (PPO, whose slots the rules fill) -> its
    ``(config_changes, hparam_changes)``; unknown fields are a one-line :class:`ConfigError`."""
    from jaxrl.algos import ppo

    return configs.parse_sets(sets, ppo.PPOConfig, ppo.PPOHparams)


def read_spec(run_dir: str) -> MetaSpec:
    path = os.path.join(run_dir, SPEC_FILE)
    if not os.path.exists(path):
        raise experiment.RunDirError(f"meta run directory {run_dir} does not exist" if not os.path.exists(run_dir)
                                     else f"{run_dir} has no {SPEC_FILE} (not a jaxrl meta run directory)")
    with open(path) as f:
        return MetaSpec.from_json(json.load(f))


def format_row(row: dict, total: int, method: str) -> str:
    """One progress line per generation / meta step."""
    n = row["update"]
    if method == "es":
        text = (f"gen {n:>4}/{total}  best {row['fitness_best']:>9.4g}  mean {row['fitness_mean']:>9.4g} "
                f"+/- {row['fitness_std']:<8.3g} best so far {row['best_so_far']:>9.4g}")
        if row.get("nonfinite_members"):
            text += f"  non-finite {int(row['nonfinite_members'])}"
    else:
        text = f"step {n:>4}/{total}  meta-loss {row['meta_loss']:>10.4g}  |grad| {row['grad_norm']:>9.3g}  return {row['episode_return']:>9.4g}"
    return f"{text}  {row['steps_per_s']:>12,.0f} env steps/s"


@dataclasses.dataclass
class MetaOutcome:
    run_dir: str
    status: str
    result: runner.RunResult
    rule_dir: str
    built: MetaBuilt


def meta_to_dir(spec: MetaSpec | None = None, *, run_dir: str | None = None, runs_root: str = "runs", resume: bool = False,
                stream=None, command: list[str] | None = None, devices=None, restart: bool = False,
                allow_other_stack: bool = False) -> MetaOutcome:
    """Meta-train ``spec`` into a run directory (or resume the one in ``run_dir``); prints a line per generation.

    The process holds the run directory's lock (:mod:`jaxrl.rundir`) while it runs. ``restart``:
    resuming a meta run with no intact checkpoint starts it again instead of refusing;
    ``allow_other_stack``: resume from a checkpoint written with other package versions or hardware.
    """
    stream = stream or sys.stdout
    if resume:
        if run_dir is None:
            raise experiment.RunDirError("resume needs the meta run directory")
        spec = read_spec(run_dir)
    spec = spec or MetaSpec()
    built = build(spec, devices)
    like = built.abstract_state()
    if resume:
        lock = rundir.acquire(run_dir, command)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = f"meta-{spec.method}-{spec.rule}-{spec.env.replace('/', '_')}-s{spec.seed}-{stamp}"
        hint = f"resume it with --resume {run_dir} or choose another name"
        run_dir, lock = ((run_dir, rundir.lock_new(run_dir, command, hint)) if run_dir is not None else
                         rundir.lock_fresh_name(runs_root, name, command))
    with lock:
        experiment.preflight(run_dir, (spec.keep + 1) * ckpt.state_bytes(like) + (16 << 20))
        ck = ckpt.Checkpointer(os.path.join(run_dir, "checkpoints"), keep=spec.keep, identity=built.identity(),
                               stack=experiment.stack(), allow_other_stack=allow_other_stack,
                               warn=lambda m: print(m, file=stream, flush=True),
                               identity_defaults={"env_options": experiment.env_defaults(spec.env)})
        state, start = _restore_or_record(spec, built, run_dir, ck, resume, restart, command)
        return _meta_locked(spec, built, run_dir, ck, state, start, stream)


def _restore_or_record(spec: MetaSpec, built: MetaBuilt, run_dir: str, ck, resume: bool, restart: bool, command):
    """Resuming: ``(state, start)`` from the newest intact checkpoint (a refusal when there is none,
    unless ``restart``). New: writes meta.json and returns ``(None, 0)``."""
    if resume:
        state, _, start = ck.resume_point(built.abstract_state(), restart)
        sinks.truncate_jsonl(os.path.join(run_dir, METRICS_FILE), start)
        return state, start
    experiment.write_json_atomic(os.path.join(run_dir, SPEC_FILE), {
        "name": os.path.basename(os.path.normpath(run_dir)), **spec.to_json(),
        "resolved": {"ppo_config": configs.to_dict(built.ppo_config), "ppo_hparams": configs.to_dict(built.ppo_hparams),
                     "meta_config": configs.to_dict(built.meta_config), "meta_hparams": configs.to_dict(built.meta_hparams)},
        "versions": experiment.versions(), "device": experiment.device_info(),
        "created": datetime.datetime.now().isoformat(timespec="seconds"), "command": command,
    })
    return None, 0


def _meta_locked(spec: MetaSpec, built: MetaBuilt, run_dir: str, ck, state, start: int, stream) -> MetaOutcome:
    """Run the meta-training from ``start`` with its rows, checkpoints and learned rule going to ``run_dir``."""
    trainer, n = built.trainer, built.trainer.num_updates
    rule_dir = os.path.join(run_dir, RULE_DIR)
    jsonl = sinks.JsonlSink(os.path.join(run_dir, METRICS_FILE))
    last: dict = {}

    def on_log(row):
        jsonl.write(row)
        last.update(row)
        print(format_row(row, n, spec.method), file=stream, flush=True)

    def on_progress(p: runner.Progress):
        ck.save(p.updates_done, p.state, {"update": p.updates_done, "env_steps": p.env_steps, "time_s": p.elapsed_s})
        extra = {"best_fitness": float(p.state.best_fitness)} if spec.method == "es" else {}
        rules.save_rule(rule_dir, built.rule, p.state.params, spec.rule_options, built.rule_info(p.updates_done, extra))

    unit = "generations" if spec.method == "es" else "meta steps"
    print(f"meta run directory: {run_dir}", file=stream, flush=True)
    print(f"compiling {spec.method} meta-training of rule {spec.rule!r} on {spec.env}: {n} {unit} in chunks of {built.chunk}, "
          f"{trainer.steps_per_update:,} env steps each ...", file=stream, flush=True)
    status = "complete"
    try:
        result = runner.run(trainer, jax.random.key(spec.seed), built.meta_hparams, chunk_updates=built.chunk,
                            on_progress=on_progress, log_every=1, on_log=on_log, state=state, start_update=start)
    except BaseException as e:
        jsonl.close()
        experiment.write_json_atomic(os.path.join(run_dir, RESULT_FILE), {
            "status": "failed", "error": f"{type(e).__name__}: {e}", "checkpoints": ck.steps()})
        raise
    jsonl.close()
    steps = (result.updates_done - start) * trainer.steps_per_update
    summary = {"status": status, "updates_done": result.updates_done, "num_updates": n, "compile_s": result.compile_s,
               "run_s": result.run_s, "env_steps_per_s": steps / max(result.run_s, 1e-9), "checkpoints": ck.steps(),
               "rule": rule_dir, "last_row": {k: v for k, v in last.items() if isinstance(v, (int, float))}}
    if spec.method == "es":
        summary["best_fitness"] = float(result.state.best_fitness)
    experiment.write_json_atomic(os.path.join(run_dir, RESULT_FILE), summary)
    print(f"{status}: {result.updates_done} {unit} in {result.run_s:.1f} s ({summary['env_steps_per_s']:,.0f} env steps/s), "
          f"compile {result.compile_s:.1f} s", file=stream, flush=True)
    print(f"learned rule: {rule_dir}  (train with it: jaxrl train ppo --env {spec.env} --{built.rule.slot} {rule_dir})",
          file=stream, flush=True)
    return MetaOutcome(run_dir, status, result, rule_dir, built)
