"""jaxrl: JAX-native, end-to-end accelerated reinforcement learning.

Core (this package) knows no concrete env or algorithm:

- :mod:`jaxrl.env`, :mod:`jaxrl.spaces`, :mod:`jaxrl.wrappers`: the env seam.
- :mod:`jaxrl.policy`: the acting seam (``init_carry`` + ``step(key, carry, obs, first)``).
- :mod:`jaxrl.returns`: GAE, TD(lambda) and n-step returns with truncation handled.
- :mod:`jaxrl.rollout`: a rollout as one ``lax.scan``; :mod:`jaxrl.evaluate`: the episode loop.
- :mod:`jaxrl.minibatch`: minibatch SGD epochs; :mod:`jaxrl.replay`: the replay buffer.
- :mod:`jaxrl.networks`, :mod:`jaxrl.distributions`, :mod:`jaxrl.losses`, :mod:`jaxrl.optim`:
  MLPs (LayerNorm), ensembles of Q heads, a CNN torso, action distributions, TD targets and
  losses, update rules and target-network updates.
- :mod:`jaxrl.trainer`: the ``make_train -> train(key, hparams)`` seam; :mod:`jaxrl.offpolicy`:
  the replay learners' shared loop; :mod:`jaxrl.memory`: will a run fit the device.

Envs live in :mod:`jaxrl.envs`, algorithms in :mod:`jaxrl.algos`.
"""

__version__ = "0.1.0"
