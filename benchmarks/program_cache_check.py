"""Exported programs give the numbers of traced ones, for every algorithm (jaxrl.program_cache).

For each registered algorithm's ``tiny`` preset, three fresh processes run the same
:class:`jaxrl.runner.Runner` (seed 0, the preset's chunk and log sizes, then a 2-episode
evaluation as ``jaxrl train`` does it) and print a fingerprint of the final state, the per-update
metrics and the evaluation returns:

  traced    no program folder (what every run did before)
  exported  a fresh program folder: the programs are traced, exported, written, read back
  loaded    the same folder again: nothing is traced but ``init``'s shapes

    python benchmarks/program_cache_check.py [ALGO ...]

Equal fingerprints on a line mean bit-equal arrays; "sources as expected" that the three processes
traced, exported and loaded every program as their names say (a "loaded" process that exported
again would have compared nothing). Each process also prints its compile seconds (init + chunk
programs ready, as the runner times them; the XLA cache off) and its wall time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile


def child(name: str, program_dir: str | None) -> dict:
    import time

    import jax

    from jaxrl import algos, experiment, runner
    from state_hashes import fingerprint

    algo = algos.get(name)
    preset = algo.presets()["tiny"]
    spec = experiment.Spec(algo=name, env=preset.env, env_options=dict(preset.env_options), config=dict(preset.config),
                           hparams=dict(preset.hparams))
    built = experiment.build(spec)
    if program_dir is not None:
        import dataclasses

        built = dataclasses.replace(built, program_dir=program_dir)
    r = runner.Runner(built.trainer, built.chunk, log_every=built.log_every, on_log=lambda row: None,
                      program_dir=built.program_dir, program_key=built.program_key())
    t0 = time.perf_counter()
    result = r.run(jax.random.key(0), built.hparams)
    returns = experiment.evaluate_state(built, result.state, 2, seed=1)
    return {"state": fingerprint(result.state), "metrics": fingerprint(result.metrics), "eval": fingerprint(returns),
            "sources": r.program_sources, "compile_s": round(result.compile_s, 2), "wall_s": round(time.perf_counter() - t0, 2)}


def main(names: list[str]) -> None:
    from jaxrl import algos

    here = os.path.dirname(os.path.abspath(__file__))
    for name in names or algos.names():
        rows = {}
        with tempfile.TemporaryDirectory() as folder:
            for mode, program_dir in (("traced", None), ("exported", folder), ("loaded", folder)):
                out = subprocess.run([sys.executable, __file__, "--child", name, json.dumps(program_dir)], capture_output=True,
                                     text=True, cwd=here, env={**os.environ, "JAXRL_COMPILATION_CACHE": "off"})
                if out.returncode:
                    raise SystemExit(f"{name} {mode} failed:\n{out.stderr[-3000:]}")
                rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        same = all(rows[m][k] == rows["traced"][k] for m in rows for k in ("state", "metrics", "eval"))
        sources = all(set(rows[m]["sources"].values()) == {m} for m in rows)
        print(name, "EQUAL" if same else "DIFFERENT", "sources as expected" if sources else "SOURCES WRONG", json.dumps(rows), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        print(json.dumps(child(sys.argv[2], json.loads(sys.argv[3]))))
    else:
        main(sys.argv[1:])
