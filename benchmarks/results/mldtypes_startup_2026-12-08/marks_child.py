import sys, time
T0 = time.perf_counter()
def mark(s): print(f"MARK {time.perf_counter()-T0:6.3f} {s}", file=sys.stderr, flush=True)
import jax; mark("jax imported")
from jax._src import compiler
orig = compiler.compile_or_get_cached
def wrapped(backend, computation, *a, **k):
    name = getattr(computation, "operation", None)
    try: name = str(computation.operation.attributes["sym_name"])
    except Exception: name = "?"
    t = time.perf_counter(); out = orig(backend, computation, *a, **k); mark(f"compile_or_get_cached {name} {time.perf_counter()-t:.3f}")
    return out
compiler.compile_or_get_cached = wrapped
from jaxrl import cli, runner, program_cache, experiment; mark("jaxrl imported")
for mod, names in ((runner.Runner, ["_start", "_start_exported", "_run_blocks"]), (experiment, ["build", "train"]), (program_cache, ["lowered", "_load", "environment_digest"])):
    for n in names:
        f = getattr(mod, n)
        def make(f, n):
            def g(*a, **k):
                mark(f"-> {n}"); out = f(*a, **k); mark(f"<- {n}"); return out
            return g
        setattr(mod, n, make(f, n))
class Stop(Exception): pass
def stop(*a, **k): mark("FIRST TRAINING BLOCK"); raise Stop()
runner.Runner._run_blocks = stop
try: cli.main(sys.argv[1:])
except (Stop, SystemExit): pass
