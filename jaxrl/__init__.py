"""jaxrl: JAX-native, end-to-end accelerated reinforcement learning.

Core (this package) knows no concrete env or algorithm:

- :mod:`jaxrl.env`, :mod:`jaxrl.spaces`, :mod:`jaxrl.wrappers`: the env seam.
- :mod:`jaxrl.returns`: GAE / lambda returns with truncation handled.
- :mod:`jaxrl.rollout`: a rollout as one ``lax.scan``.
- :mod:`jaxrl.minibatch`: minibatch SGD epochs.
- :mod:`jaxrl.trainer`: the ``make_train -> train(key, hparams)`` seam.

Envs live in :mod:`jaxrl.envs`, algorithms in :mod:`jaxrl.algos`.
"""

__version__ = "0.1.0"
