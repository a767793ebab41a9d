import sys, time, os, json
sys.path.insert(0, "/work/main/benchmarks"); sys.path.insert(0, "/tmp/cp")
os.environ["JAXRL_COMPILATION_CACHE"] = "off"
import compile_breakdown as cb, jax, variants
from jaxrl import runner
env, opts, var = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
runner.first_nonfinite = getattr(variants, var)  # the tried tree had runner.first_nonfinite; on main, old is what _guarded inlines
built = cb._build(env, opts)
state0 = jax.eval_shape(built.trainer.init, jax.random.key(0), built.hparams)
fn, _ = runner._make_chunk(built.trainer, check_finite=True)
t = time.perf_counter(); lo = jax.jit(lambda s: fn(s, built.log_every)).trace(state0).lower(); tl = time.perf_counter() - t
c0 = time.process_time(); t = time.perf_counter(); c = lo.compile(); tc = time.perf_counter() - t; cpu = time.process_time() - c0
print(json.dumps({"var": var, "env": env, "tl": round(tl,2), "xla": round(tc,2), "cpu": round(cpu,2), "fus": c.as_text().count(" fusion("), "hlo": c.as_text().count(" = ")}))
