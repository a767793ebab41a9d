"""Compile time of two programs (PPO's default `jaxrl train` program, TD-MPC2's tiny trainer) with the old
(c882d39) or the current compute_if + AutoReset, in a fresh process each (alternate them):
    python compile_ab.py old|new      (from the repository root; "old" reads c882d39's files with git)"""
import subprocess
import sys
import time

if sys.argv[1] == "old":
    def old(path):
        return subprocess.run(["git", "show", f"c882d39:{path}"], capture_output=True, text=True, check=True).stdout

    import jaxrl.control_flow as cf
    exec(compile(old("jaxrl/control_flow.py"), cf.__file__, "exec"), cf.__dict__)
    import jaxrl.wrappers as w
    exec(compile(old("jaxrl/wrappers.py"), w.__file__, "exec"), w.__dict__)
import jax
from jaxrl import algos, envs
import jaxrl.wrappers as w
out = []
for name, preset, env_name, opts in (("ppo", "default", "cartpole_balance", dict(physics="fast")), ("tdmpc", "tiny", None, {})):
    algo = algos.get(name); p = algo.presets()[preset]
    config, hp = p.build(algo.Config, algo.Hparams)
    env, params = envs.make(env_name or p.env, **(opts if env_name else p.env_options))
    trainer = algo.make_train(config, env, params)
    hp = algo.validate_hparams(hp)
    t = time.perf_counter(); lowered = jax.jit(trainer).lower(jax.random.key(0), hp); t1 = time.perf_counter()
    lowered.compile(); t2 = time.perf_counter()
    out.append(f"{name} trace+lower {t1 - t:.2f} xla {t2 - t1:.2f}")
print(sys.argv[1], " | ".join(out), "| AutoReset uses compute_if:", "compute_if" in w.AutoReset.step.__code__.co_names)
