"""The declared version ranges, and the reason for their hole: batched LAPACK (orthogonal
init = QR) inside jit(vmap) must not hang.

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


# What was tested end to end (README "Install"): the floor stack and the newest stack.
TESTED = {"jax": ("0.9.2", "0.12.0.1"), "jaxlib": ("0.9.2", "0.12.0.1"), "flax": ("0.12.6", "0.12.12"),
          "mujoco": ("4.0.0",), "mujoco-mjx": ("3.17.0",), "optax": ("0.2.8",), "orbax-checkpoint": ("0.12.8",),
          "flatbuffers": ("25.12.19",)}
DEADLOCKING = ("0.10.0", "0.10.1", "0.10.2", "0.11.0")  # jaxlib's CPU LAPACK deadlock (DESIGN.md section 7)


def _declared():
    """``{name: SpecifierSet}`` of pyproject.toml's runtime dependencies (the source of the wheel's metadata)."""
    import pathlib
    import tomllib

    from packaging.requirements import Requirement

    data = tomllib.loads((pathlib.Path(__file__).parents[1] / "pyproject.toml").read_text())
    return {Requirement(r).name.lower(): Requirement(r).specifier for r in data["project"]["dependencies"]}


def test_declared_ranges_admit_the_tested_stacks_and_exclude_the_deadlock():
    """Network-free: the ranges a user's pip sees admit both tested stacks and refuse 0.10.0 - 0.11.0."""
    declared = _declared()
    for name, versions in TESTED.items():
        for v in versions:
            assert declared[name].contains(v), (name, v, str(declared[name]))
    for name in ("jax", "jaxlib"):
        for v in DEADLOCKING:
            assert not declared[name].contains(v), (name, v)
        assert not declared[name].contains("0.13.0")  # untested releases are not admitted
    assert not any("==" in str(spec) for spec in declared.values()), "runtime dependencies are ranges, never exact pins"


def test_the_running_stack_is_inside_the_declared_ranges():
    import importlib.metadata as md

    for name, spec in _declared().items():
        assert spec.contains(md.version(name), prereleases=True), (name, md.version(name), str(spec))
