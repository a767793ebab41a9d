import sys, time, os, json
sys.path.insert(0, "/work/main/benchmarks")
os.environ.setdefault("JAXRL_COMPILATION_CACHE", "off")
import compile_breakdown as cb
from jaxrl.cli import DEFAULT_ENV, DEFAULT_ENV_OPTIONS
import jax
comp = sys.argv[1] if len(sys.argv) > 1 else "chunk"
built = cb._build(DEFAULT_ENV, dict(DEFAULT_ENV_OPTIONS))
fn, args, static = cb._program(comp, built)
t = time.perf_counter(); lo = jax.jit(fn).trace(*args).lower(); tl = time.perf_counter() - t
print("MARK_COMPILE_START", flush=True); sys.stderr.write("MARK_COMPILE_START\n"); sys.stderr.flush()
t = time.perf_counter(); c = lo.compile(); tc = time.perf_counter() - t
sys.stderr.write("MARK_COMPILE_END\n")
import hashlib, numpy as np
print(json.dumps({"trace_lower": tl, "compile": tc}))
if len(sys.argv) > 2:
    out = c(*args) if comp != "chunk" else None
