"""jaxrl.envs: the env registry, MJX tasks and probe envs.

    from jaxrl.envs import make, names
    env, params = make("cartpole_balance")
"""

from jaxrl.envs.registry import UnknownEnvError, make, names, options, register
# The function `randomize` shadows its module here; import the module's other names from jaxrl.envs.randomize.
from jaxrl.envs.randomize import DomainRandomization, Range, randomize

# Importing the task modules registers them.
from jaxrl.envs import acrobot, cartpole, cheetah, finger, hopper, pendulum, point_mass, probes, reacher, walker  # noqa: E402,F401

__all__ = ["make", "names", "options", "register", "UnknownEnvError", "randomize", "Range", "DomainRandomization",
           "from_brax", "to_brax"]


def __getattr__(name):
    # The Brax adapters import brax (~0.5 s): only when asked for.
    if name in ("from_brax", "to_brax"):
        from jaxrl.envs import brax_env

        return getattr(brax_env, name)
    raise AttributeError(f"module 'jaxrl.envs' has no attribute {name!r}")
