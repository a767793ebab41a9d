"""Fixed-seed fingerprints of every algorithm's ``tiny`` trainer, to show a change keeps the numbers.

For each registered algorithm: a hash of every leaf of ``jit(train)(key(0), hparams)`` (final state and
per-update metrics), of ``jit(vmap(train))`` over 2 runs (keys split from ``key(5)``, the second run
at half the hparams), and with ``--sweep`` a third: the same 2 runs as a sweep runs them
(:func:`jaxrl.trainer.vmapped`, update by update, so the whole state, its update index too, is
batched; inside one ``jit(vmap(train))`` the update index stays unbatched). Run it on the old code
and on the new one and compare the lines::

    git stash; python benchmarks/state_hashes.py [--sweep] [ALGO ...] > old.txt; git stash pop
    python benchmarks/state_hashes.py > new.txt; diff old.txt new.txt    # no output: bit-equal

An older script has no ``--sweep``: copy this one out of the tree first and run the copy on both
trees for that mode (and for the modes below). ``--pixels`` runs the algorithms that take images on
``cartpole_balance`` from pixels (32x32; TD-MPC2's CNN needs 64x64) instead of the tiny preset's env
(the CNN paths, about 5 minutes more). ``--set NAME=VALUE`` sets a config field of the algorithms that
have it (``--set conv_style=torso`` gives DreamerV3 the encoder it had before the field existed).
About 5 minutes on a 2-core CPU (10 with ``--sweep``). Equal hashes mean bit-equal arrays; a difference
says which algorithm to compare leaf by leaf.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import algos, configs, envs


def fingerprint(tree) -> str:
    """The first 12 hex digits of a SHA-1 over every leaf's bytes (PRNG keys by their key data)."""
    digest = hashlib.sha1()
    for x in jax.tree.leaves(tree):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        digest.update(np.asarray(x).tobytes())
    return digest.hexdigest()[:12]


def swept(trainer, keys, hparams):
    """The final state and stacked metrics of ``vmapped(trainer)`` run update by update (a sweep's chunks)."""
    from jaxrl.trainer import vmapped

    runs = vmapped(trainer, len(keys))
    state, update, rows = jax.jit(runs.init)(keys, hparams), jax.jit(runs.update), []
    for _ in range(trainer.num_updates):
        state, metrics = update(state)
        rows.append(metrics)
    return state, jax.tree.map(lambda *m: jnp.stack(m), *rows)


PIXEL_SIZES = {"dreamer": 32, "drq": 32, "ppo": 32, "tdmpc": 64}  # image side per algorithm that takes images


def main(names: list[str], sweep: bool = False, pixels: bool = False, sets: list[str] = ()) -> None:
    for name in names or (list(PIXEL_SIZES) if pixels else algos.names()):
        algo = algos.get(name)
        preset = algo.presets()["tiny"]
        config, hparams = preset.build(algo.Config, algo.Hparams)
        own = [s for s in sets if hasattr(config, s.partition("=")[0])]  # parsed as the CLI's --set parses them
        config = dataclasses.replace(config, **configs.parse_sets(own, algo.Config, algo.Hparams)[0])
        if pixels:
            env, env_params = envs.make("cartpole_balance", obs="pixels", image_size=PIXEL_SIZES[name])
        else:
            env, env_params = envs.make(preset.env, **preset.env_options)
        trainer = algo.make_train(config, env, env_params)
        hp = algo.validate_hparams(hparams)
        start = time.perf_counter()
        single = jax.jit(trainer)(jax.random.key(0), hp)
        hp2, keys = jax.tree.map(lambda x: jnp.stack([x, x * 0.5]), hp), jax.random.split(jax.random.key(5), 2)
        batched = jax.jit(jax.vmap(trainer))(keys, hp2)
        extra = [fingerprint(swept(trainer, keys, hp2))] if sweep else []
        print(name, fingerprint(single), fingerprint(batched), *extra, flush=True)
        print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    args, sets = sys.argv[1:], []
    while "--set" in args:
        i = args.index("--set")
        sets.append(args[i + 1])
        del args[i:i + 2]
    main([a for a in args if a not in ("--sweep", "--pixels")], sweep="--sweep" in args, pixels="--pixels" in args,
         sets=sets)
