"""Cold and warm `jaxrl train --steps 20000` of two trees, interleaved: seconds from launch to the
first training block, the runner's compile figure, the process wall time."""
import json, os, re, shutil, statistics, subprocess, sys, tempfile, time
PY = "/work/main/.venv/bin/python"
TREES = {"before": "/tmp/s46/head", "after": "/work/main"}
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
rows = []
for rnd in range(ROUNDS):
    for name, root in TREES.items():
        cache = tempfile.mkdtemp(prefix="su-cache-")
        runs = tempfile.mkdtemp(prefix="su-runs-")
        for phase in ("cold", "warm1", "warm2"):
            env = {**os.environ, "JAXRL_COMPILATION_CACHE": cache}
            t0 = time.time()
            out = subprocess.run([PY, "/tmp/s46/startup_child.py", root, "train", "--steps", "20000", "--runs-dir", runs,
                                  "--eval-episodes", "2", "--no-tensorboard"], capture_output=True, text=True, env=env)
            wall = time.time() - t0
            text = out.stdout
            first = float(re.search(r"FIRST_TRAIN (\S+)", text).group(1)) - t0
            comp = float(re.search(r"compile ([\d.]+) s", text).group(1))
            ret = re.search(r"eval: .* return (\S+)", text).group(1)
            row = dict(round=rnd, tree=name, phase=phase, start_training_s=round(first, 2), compile_s=comp, wall_s=round(wall, 2), eval_return=ret)
            rows.append(row); print(json.dumps(row), flush=True)
        shutil.rmtree(cache); shutil.rmtree(runs)
print("summary (median over rounds)")
for name in TREES:
    for phase in ("cold", "warm1", "warm2"):
        sel = [r for r in rows if r["tree"] == name and r["phase"] == phase]
        med = {k: statistics.median(r[k] for r in sel) for k in ("start_training_s", "compile_s", "wall_s")}
        rng = {k: (min(r[k] for r in sel), max(r[k] for r in sel)) for k in med}
        print(name, phase, json.dumps(med), json.dumps(rng))
