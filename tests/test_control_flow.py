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


def test_compute_if_differentiates_as_its_cond_in_every_order_with_vmap():
    """Reverse and forward mode through both forms of ``otherwise`` (a value, a branch), alone, ``vmap``
    of ``grad`` and ``grad`` of ``vmap``, and with ``fn`` closing over the differentiated value: the
    derivatives of ``lax.cond``."""
    def forms(pred, x, w):
        taken = lambda x: jnp.sin(x) * x * w  # noqa: E731  (closes over w)
        return (compute_if(pred, taken, (x,), lambda x: 2.0 * x).sum(), compute_if(pred, taken, (x,), 2.0 * x).sum())

    def plain(pred, x, w):
        return jax.lax.cond(pred, lambda x: jnp.sin(x) * x * w, lambda x: 2.0 * x, x).sum()

    x = jnp.array([[0.3, 1.2], [0.7, -0.4], [2.0, 0.1]])
    pred = jnp.array([True, False, True])
    for i in range(2):
        f = lambda p, x, w: forms(p, x, w)[i]  # noqa: E731
        for argnums in (1, 2):
            want = jax.vmap(jax.grad(plain, argnums=argnums), in_axes=(0, 0, None))(pred, x, 1.5)
            got = jax.jit(jax.vmap(jax.grad(f, argnums=argnums), in_axes=(0, 0, None)))(pred, x, 1.5)
            np.testing.assert_allclose(got, want, rtol=1e-6)
            np.testing.assert_allclose(jax.grad(f, argnums=argnums)(pred[0], x[0], 1.5), want[0], rtol=1e-6)
        of_vmap = lambda g: jax.grad(lambda x, w: jax.vmap(g, in_axes=(0, 0, None))(pred, x, w).sum(), argnums=(0, 1))  # noqa: E731
        for a, b in zip(jax.jit(of_vmap(f))(x, 1.5), of_vmap(plain)(x, 1.5)):
            np.testing.assert_allclose(a, b, rtol=1e-6)
        for p in (pred[0], pred[1]):  # forward mode through each branch
            got = jax.jvp(lambda x: f(p, x, 1.5), (x[0],), (jnp.ones(2),))
            want = jax.jvp(lambda x: plain(p, x, 1.5), (x[0],), (jnp.ones(2),))
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_compute_if_reports_checkify_checks_inside_its_branch():
    """``checkify.check`` inside ``fn`` is reported (the old ``custom_vmap`` around ``fn`` refused it)."""
    from jax.experimental import checkify

    def f(pred, x):
        def fn(x):
            checkify.check(jnp.all(x < 1.0), "x too big")
            return x + 1.0
        return compute_if(pred, fn, (x,), lambda x: x)

    checked = jax.jit(checkify.checkify(jax.vmap(f)))
    err, _ = checked(jnp.array([False, False]), jnp.array([[0.5], [2.0]]))  # no element takes it: not computed
    err.throw()
    err, _ = checked(jnp.array([True, False]), jnp.array([[2.0], [0.5]]))
    assert "x too big" in str(err.get())
    err, _ = jax.jit(checkify.checkify(f))(True, jnp.array([2.0]))  # unbatched
    assert "x too big" in str(err.get())
    # As vmap of a lax.cond does, a batch that computes the branch checks every element's operands.
    err, _ = checked(jnp.array([True, False]), jnp.array([[0.5], [2.0]]))
    assert "x too big" in str(err.get())


def test_a_branch_a_batch_computes_but_discards_sends_no_nan_back():
    """sqrt at 0 has an infinite derivative: where that element does not take the branch, its gradient is
    the other branch's (JAX's guard in a batched cond), not NaN."""
    x, pred = jnp.array([0.0, 4.0]), jnp.array([False, True])
    grad = jax.grad(lambda x: jax.vmap(lambda p, x: compute_if(p, jnp.sqrt, (x,), lambda x: 2.0 * x))(pred, x).sum())
    np.testing.assert_array_equal(grad(x), [2.0, 0.25])
