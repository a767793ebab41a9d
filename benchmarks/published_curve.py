"""Published learning curves at chosen frame marks, from DreamerV3's score files.

The ``danijar/dreamerv3`` repository ships its DMC runs and its baselines' as ``scores/*.json.gz``
(a list of ``{task, method, seed, xs, ys}``; ``xs`` in FRAMES, one point per training episode in the
vision files). The value at a mark M is, per seed, the mean score of the episodes that end in
``(M - bin, M]``; the row gives the mean over seeds and their min-max:

    python benchmarks/published_curve.py <dreamerv3 clone>/scores/dmc_vision-dreamerv3.json.gz \\
        --task dmc_cartpole_balance --marks 20000,40000,60000,100000

Frames are control steps of the task: at DreamerV3's action repeat 2, twice its agent steps. What the
files hold, and what that means for a mark:
- vision files: one point per training episode; DreamerV3's episodes come 8 at a time every ~8k
  frames (the first at 8,002), so a 10k window holds 8 or 16 episodes, and the 10k mark is ~8k frames;
- proprio files: one point per 10k frames (x = 10,000 ... 490,000), so the default window reads one
  point, and a 500k mark reads nothing. benchmarks/RESULTS.md's 500k columns are ``--marks 500000
  --bin 50000`` in the vision files (episodes in (450k, 500k]) and ``--marks 490000 --bin 50000`` in
  the proprio ones (the 450k-490k points): balance 990 / 991, swing-up 840 / 851.
"""

from __future__ import annotations

import argparse
import gzip
import json

import numpy as np


def at_marks(runs: list[dict], marks: list[int], bin_frames: int) -> list[dict]:
    """``[{frames, mean, min, max, seeds}]``: per seed the mean of the points with ``x`` in
    ``(mark - bin_frames, mark]``, then over the seeds that have such points."""
    rows = []
    for mark in marks:
        per_seed = []
        for run in runs:
            xs, ys = np.asarray(run["xs"], np.float64), np.asarray(run["ys"], np.float64)
            inside = (xs > mark - bin_frames) & (xs <= mark)
            if inside.any():
                per_seed.append(float(ys[inside].mean()))
        rows.append({"frames": mark, "seeds": len(per_seed), "mean": float(np.mean(per_seed)) if per_seed else None,
                     "min": min(per_seed, default=None), "max": max(per_seed, default=None)})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file", help="a scores/*.json.gz file of danijar/dreamerv3")
    p.add_argument("--task", required=True, help="e.g. dmc_cartpole_balance")
    p.add_argument("--marks", default="10000,20000,40000,60000,100000,500000", help="frames, comma-separated")
    p.add_argument("--bin", type=int, default=10_000, help="frames before each mark that count toward it")
    args = p.parse_args(argv)
    with gzip.open(args.file, "rt") as f:
        runs = [r for r in json.load(f) if r["task"] == args.task]
    if not runs:
        raise SystemExit(f"no runs of task {args.task!r} in {args.file}")
    print(f"{args.task}, {runs[0].get('method')}, {len(runs)} runs; frames: mean (min-max over seeds)")
    for row in at_marks(runs, [int(m) for m in args.marks.split(",")], args.bin):
        value = "-" if row["mean"] is None else f"{row['mean']:.0f} ({row['min']:.0f}-{row['max']:.0f}, {row['seeds']} seeds)"
        print(f"  {row['frames']:>9,}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
