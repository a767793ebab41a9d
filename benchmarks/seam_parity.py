"""Fixed-seed numbers of PPO, its evaluation, its video episode and the meta-trainers, to prove that
a change of a seam leaves them bit for bit unchanged.

    python benchmarks/seam_parity.py save  OUT.npz   # before the change
    python benchmarks/seam_parity.py check OUT.npz   # after it: every array must be identical

Each entry is a small run (probe envs, a short MJX cart-pole run, a tiny pixel run, one episode of
the video path, two meta-gradient steps, one ES generation). ``check`` prints, per entry, whether it
is bit-identical and the largest absolute difference otherwise, and exits 1 on any difference.
Run on the same machine and stack for both halves (XLA:CPU code depends on the CPU's features).
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np


def _flat(prefix: str, tree) -> dict:
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out[prefix + jax.tree_util.keystr(path)] = np.asarray(leaf)
    return out


def _policy_fn(trainer, state):
    """The trainer's deterministic policy as a callable ``evaluate.episode_returns`` takes (old or new seam)."""
    return trainer.policy(state)


def ppo_runs() -> dict:
    from jaxrl import envs, evaluate
    from jaxrl.algos import ppo

    out = {}
    small = ppo.PPOConfig(total_timesteps=16 * 8 * 6, num_envs=16, num_steps=8, num_minibatches=2, update_epochs=2,
                          hidden_sizes=(32, 32))
    hp = ppo.PPOHparams(lr=3e-3)
    for name, cfg, opts in (
        ("probe_action", small, {}),
        ("probe_continuous", small, {}),
        ("cartpole_balance", small.replace(total_timesteps=16 * 8 * 4), {}),
        ("cartpole_pixels", ppo.PPOConfig(total_timesteps=4 * 8 * 2, num_envs=4, num_steps=8, num_minibatches=2,
                                          update_epochs=1, hidden_sizes=(16,)),
         dict(obs="pixels", image_size=32, frame_stack=2, episode_length=20)),
    ):
        env_name = "cartpole_balance" if name == "cartpole_pixels" else name
        env, params = envs.make(env_name, **opts)
        trainer = ppo.make_train(cfg, env, params)
        state, metrics = jax.jit(trainer)(jax.random.key(0), hp)
        out.update(_flat(f"{name}/metrics", metrics))
        out.update(_flat(f"{name}/params", state.params))
        out.update(_flat(f"{name}/obs_stats", state.obs_stats))
        out.update(_flat(f"{name}/env_obs", state.rollout.obs))
        if name != "cartpole_pixels":
            horizon = 50 if name == "cartpole_balance" else 2
            ret = jax.jit(lambda k, s: evaluate.episode_returns(k, env, params, _policy_fn(trainer, s), 8, horizon))(
                jax.random.key(5), state)
            out[f"{name}/eval_returns"] = np.asarray(ret)
        if name == "cartpole_balance":
            from jaxrl import video

            ep = jax.jit(video.episode_qpos, static_argnums=(0, 2, 4))(env, params, _policy_fn(trainer, state),
                                                                      jax.random.key(3), 30)
            out.update(_flat("cartpole_balance/video", ep))
    return out


def meta_runs() -> dict:
    from jaxrl import envs
    from jaxrl.algos import meta, ppo
    from jaxrl.algos.meta import rules, metagrad

    out = {}
    env, params = envs.make("probe_action")
    cfg = ppo.PPOConfig(total_timesteps=8 * 4 * 8, num_envs=8, num_steps=4, num_minibatches=2, update_epochs=2,
                        hidden_sizes=(16,))
    for rule_name in ("lpo", "lifetime_lr"):
        rule = rules.get_rule(rule_name)
        init_meta = rule.initial(jax.random.key(0))
        trainer = ppo.make_train(rule.configure(cfg), env, params)
        mg = metagrad.make_metagrad(trainer, ppo.PPOHparams(lr=3e-3), init_meta,
                                    metagrad.MetaGradConfig(steps=2, unroll=2, seeds=2), env=env, env_params=params)
        state, metrics = jax.jit(mg)(jax.random.key(1), metagrad.MetaGradHparams())
        out.update(_flat(f"metagrad_{rule_name}/metrics", metrics))
        out.update(_flat(f"metagrad_{rule_name}/meta", state.params))
    rule = rules.get_rule("lifetime_lr")
    trainer = ppo.make_train(rule.configure(cfg), env, params)
    from jaxrl.algos.meta import fitness

    fit = fitness.ppo_fitness(trainer, ppo.PPOHparams(lr=3e-3), seeds=2)
    es = meta.make_es(fit, rule.initial(jax.random.key(0)), meta.ESConfig(generations=2, population=4, chunk=2))
    state, metrics = jax.jit(es)(jax.random.key(2), meta.ESHparams(sigma=0.2, lr=0.1))
    out.update(_flat("es/metrics", metrics))
    out.update(_flat("es/params", state.params))
    return out


def main(argv) -> int:
    if len(argv) != 3 or argv[1] not in ("save", "check"):
        print(__doc__)
        return 2
    values = {**ppo_runs(), **meta_runs()}
    if argv[1] == "save":
        np.savez(argv[2], **values)
        print(f"saved {len(values)} arrays to {argv[2]}")
        return 0
    ref = dict(np.load(argv[2]))
    bad = 0
    for k in sorted(set(ref) | set(values)):
        if k not in values or k not in ref:
            print(f"MISSING {k}: {'only in the reference' if k in ref else 'only now'}")
            bad += 1
            continue
        a, b = ref[k], values[k]
        if a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(a, b, equal_nan=True):
            diff = np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))) if a.shape == b.shape else "shape"
            print(f"DIFFERENT {k}: max |diff| {diff}")
            bad += 1
    print(f"{len(ref)} arrays compared, {bad} differ" + ("" if bad else ": all bit-identical"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
