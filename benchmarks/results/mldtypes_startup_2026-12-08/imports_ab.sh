for i in 1 2 3 4 5 6 7; do for V in /tmp/venv07 /work/main/.venv; do $V/bin/python -c "
import time; t=time.perf_counter(); import jax; a=time.perf_counter()-t; from jaxrl import cli, runner, experiment; import jaxrl.envs, mujoco.mjx; b=time.perf_counter()-t; import ml_dtypes; print(ml_dtypes.__version__, 'import jax', round(a,3), 'jax+jaxrl+mjx', round(b,3))"; done; done
