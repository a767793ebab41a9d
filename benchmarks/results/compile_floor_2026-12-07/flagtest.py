import sys, time, os, json, hashlib
sys.path.insert(0, "/work/main/benchmarks")
os.environ["JAXRL_COMPILATION_CACHE"] = "off"
import compile_breakdown as cb
from jaxrl.cli import DEFAULT_ENV, DEFAULT_ENV_OPTIONS
from jaxrl import runner
import jax, jax.numpy as jnp, numpy as np
built = cb._build(DEFAULT_ENV, dict(DEFAULT_ENV_OPTIONS))
trainer = built.trainer
state0 = jax.jit(trainer.init)(jax.random.key(0), built.hparams)
fn, _ = runner._make_chunk(trainer, check_finite=True)
f = lambda s: fn(s, built.log_every)
t = time.perf_counter(); lo = jax.jit(f).trace(state0).lower(); tl = time.perf_counter() - t
c0 = time.process_time(); t = time.perf_counter(); c = lo.compile(); tc = time.perf_counter() - t; cpu = time.process_time() - c0
out = c(state0); out = c(out[0]) if isinstance(out, tuple) else out
h = hashlib.sha1()
for x in jax.tree.leaves(out):
    if jnp.issubdtype(x.dtype, jax.dtypes.prng_key): x = jax.random.key_data(x)
    h.update(np.asarray(x).tobytes())
print(json.dumps({"flags": os.environ.get("XLA_FLAGS", ""), "trace_lower": round(tl, 2), "compile": round(tc, 2), "compile_cpu": round(cpu, 2), "hash": h.hexdigest()[:12]}))
