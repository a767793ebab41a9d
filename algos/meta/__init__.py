"""Meta-learning PPO's update rule: learned objectives and optimisers, meta-trained in ONE program.

    from jaxrl.algos import meta, ppo
    rule = meta.get_rule("lifetime_lr")                       # or "lpo", "open", "dpo"
    config = rule.configure(ppo.PPOConfig(total_timesteps=...))
    trainer = ppo.make_train(config, env, env_params)
    fitness = meta.ppo_fitness(trainer, ppo.default_hparams(), seeds=4)
    es = meta.make_es(fitness, rule.initial(), meta.ESConfig(generations=32, population=16, chunk=8))
    state, metrics = jax.jit(es)(jax.random.key(0), meta.ESHparams())   # all generations, one program
    meta.save_rule("runs/my-rule", rule, state.params)        # jaxrl train ppo --optimizer runs/my-rule

Pieces: :mod:`.objectives` (DPO, LPO), :mod:`.optimizers` (lifetime step size, OPEN-style),
:mod:`.rules` (registry, save/load), :mod:`.es` (OpenES, evosax adapter), :mod:`.fitness`,
:mod:`.metagrad` (meta-gradients through truncated unrolls), :mod:`.run` (run directories).
"""

from jaxrl.algos.meta.es import ESConfig, ESError, ESHparams, ESState, OpenES, centered_ranks, make_es
from jaxrl.algos.meta.fitness import ppo_fitness, run_fitness, steps_per_member
from jaxrl.algos.meta.metagrad import MetaGradConfig, MetaGradHparams, MetaGradState, make_metagrad
from jaxrl.algos.meta.objectives import dpo_drift, dpo_objective, init_dpo, init_lpo, lpo_objective
from jaxrl.algos.meta.optimizers import (
    init_lifetime_lr,
    init_open,
    lifetime_lr_optimizer,
    lr_multiplier,
    make_lifetime_lr,
    make_open,
    open_optimizer,
)
from jaxrl.algos.meta.rules import (
    RULES,
    Rule,
    RuleError,
    check_meta_params,
    get_rule,
    load_rule,
    names,
    resolve_slot,
    save_rule,
    slot_reference,
)

__all__ = [
    "ESConfig", "ESError", "ESHparams", "ESState", "MetaGradConfig", "MetaGradHparams", "MetaGradState", "OpenES",
    "RULES", "Rule", "RuleError", "centered_ranks", "check_meta_params", "dpo_drift", "dpo_objective", "get_rule",
    "init_dpo", "init_lifetime_lr", "init_lpo", "init_open", "lifetime_lr_optimizer", "load_rule", "lpo_objective",
    "lr_multiplier", "make_es", "make_lifetime_lr", "make_metagrad", "make_open", "names", "open_optimizer",
    "ppo_fitness", "resolve_slot", "run_fitness", "save_rule", "slot_reference", "steps_per_member",
]
