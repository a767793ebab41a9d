"""Prove the jax pin: batched LAPACK (orthogonal init = QR) inside jit(vmap) does not hang.

jaxlib 0.10.0 - 0.11.0 deadlock on a 2-core CPU when two batched QRs run in
one compiled function (DESIGN.md section 7). pytest-timeout turns a hang into
a failure instead of a stalled CI.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

import jaxrl.networks


@pytest.mark.timeout(120)
def test_vmapped_orthogonal_init_repeated_does_not_hang():
    def init(key):
        k1, k2 = jax.random.split(key)
        a = nn.initializers.orthogonal()(k1, (64, 64))
        b = nn.initializers.orthogonal()(k2, (64, 64))
        return a.sum() + b.sum()

    f = jax.jit(jax.vmap(init))
    for i in range(20):
        out = f(jax.random.split(jax.random.key(i), 64))
        assert jnp.all(jnp.isfinite(out))


@pytest.mark.timeout(120)
def test_vmapped_network_init_repeated_does_not_hang():
    net = jaxrl.networks.MLP((32, 32), 4)
    f = jax.jit(jax.vmap(lambda k: net.init(k, jnp.zeros(3))))
    for i in range(10):
        jax.block_until_ready(f(jax.random.split(jax.random.key(i), 16)))


def test_pinned_versions():
    import importlib.metadata as md

    assert jax.__version__ == "0.9.2"
    assert md.version("jaxlib") == "0.9.2"
