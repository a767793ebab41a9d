"""jaxrl.envs: the env registry, MJX tasks and probe envs.

    from jaxrl.envs import make, names
    env, params = make("cartpole_balance")
"""

from jaxrl.envs.registry import UnknownEnvError, make, names, options, register

# Importing the task modules registers them.
from jaxrl.envs import cartpole, pendulum, probes  # noqa: E402,F401

__all__ = ["make", "names", "options", "register", "UnknownEnvError"]
