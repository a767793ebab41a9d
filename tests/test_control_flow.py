"""jaxrl.control_flow.compute_if: a cond that still skips under vmap when the batch agrees."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.control_flow import compute_if


def test_compute_if_equals_a_where_and_runs_its_body_only_when_some_element_needs_it():
    calls = []

    def fn(x):
        jax.debug.callback(lambda: calls.append(1))
        return x * 2.0 + 1.0, {"n": jnp.sum(x)}

    def f(pred, x):
        return compute_if(pred, fn, (x,), (x, {"n": jnp.zeros((), x.dtype)}))

    x = jnp.arange(6.0).reshape(3, 2)
    pred = jnp.array([True, False, True])
    got = jax.jit(jax.vmap(f))(pred, x)
    np.testing.assert_array_equal(got[0], np.where(np.asarray(pred)[:, None], 2 * np.asarray(x) + 1, x))
    np.testing.assert_array_equal(got[1]["n"], [1.0, 0.0, 9.0])
    for p, xi, out0, n in zip(pred, x, got[0], got[1]["n"]):  # unbatched, jitted or not: the same values
        for run in (jax.jit(f), f):
            alone = run(p, xi)
            np.testing.assert_array_equal(alone[0], out0)
            np.testing.assert_array_equal(alone[1]["n"], n)
    jax.effects_barrier()
    calls.clear()
    jax.block_until_ready(jax.jit(jax.vmap(f))(jnp.zeros(3, bool), x))  # no element needs it: no trip
    jax.block_until_ready(jax.jit(jax.vmap(f))(jnp.ones(3, bool), x))  # all do: computed once for the batch
    jax.effects_barrier()
    assert len(calls) == 1, calls


def test_compute_if_differentiates_as_its_cond_also_under_vmap():
    """Reverse and forward mode through both forms of ``otherwise`` (a value, a branch): the
    derivatives of ``lax.cond``; ``custom_vmap`` alone would refuse ``grad``."""
    def branch_form(pred, x):
        return compute_if(pred, lambda x: jnp.sin(x) * x, (x,), lambda x: 2.0 * x).sum()

    def value_form(pred, x):
        return compute_if(pred, lambda x: jnp.sin(x) * x, (x,), 2.0 * x).sum()

    def plain(pred, x):
        return jax.lax.cond(pred, lambda x: jnp.sin(x) * x, lambda x: 2.0 * x, x).sum()

    x = jnp.array([[0.3, 1.2], [0.7, -0.4], [2.0, 0.1]])
    pred = jnp.array([True, False, True])
    want = jax.vmap(jax.grad(plain, argnums=1))(pred, x)
    for f in (branch_form, value_form):
        np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(f, argnums=1)))(pred, x), want, rtol=1e-6)
        np.testing.assert_allclose(jax.grad(f, argnums=1)(pred[0], x[0]), want[0], rtol=1e-6)
        tangent = jax.jvp(lambda x: f(pred[1], x), (x[1],), (jnp.ones(2),))[1]
        np.testing.assert_allclose(tangent, want[1].sum(), rtol=1e-6)
