"""Tensor and engine behaviour: operators, broadcasting, depth, grad modes, dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_operators_and_gradients_match_hand_derivatives():
    # f(a, b) = (a * b + a / b - b) ** 2, at a = 3, b = 2:
    #   u = 6 + 1.5 - 2 = 5.5, f = 30.25
    #   df/da = 2u * (b + 1/b)       = 11 * 2.5      = 27.5
    #   df/db = 2u * (a - a/b^2 - 1) = 11 * (3 - 0.75 - 1) = 13.75
    a = cr.tensor(3.0, requires_grad=True, dtype=np.float64)
    b = cr.tensor(2.0, requires_grad=True, dtype=np.float64)
    f = (a * b + a / b - b) ** 2
    f.backward()
    assert f.item() == 30.25
    assert a.grad == 27.5
    assert b.grad == 13.75


def test_reflected_operators_with_numbers():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (2 - x) * 3 + 1 / x - (-x)
    y.sum().backward()
    # d/dx [(2 - x) 3 + 1/x + x] = -3 - 1/x^2 + 1
    np.testing.assert_allclose(x.grad, [-3.0, -2.25])
    assert y.dtype == np.float32


def test_broadcast_gradients_are_summed_back_to_the_input_shape():
    X = cr.tensor(np.arange(6.0, dtype=np.float32).reshape(3, 2), requires_grad=True)
    row = cr.tensor([10.0, 20.0], requires_grad=True)
    scalar = cr.tensor(2.0, requires_grad=True)
    (X * row + scalar).sum().backward()
    np.testing.assert_array_equal(row.grad, X.data.sum(axis=0))  # each entry used 3 times
    assert scalar.grad == 6.0
    np.testing.assert_array_equal(X.grad, np.tile([10.0, 20.0], (3, 1)))


def test_ten_thousand_ops_deep_graph_backpropagates():
    x = cr.tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**10_000, rel=1e-9)


def test_shared_subexpression_gets_both_contributions():
    x = cr.tensor(3.0, requires_grad=True, dtype=np.float64)
    y = x * x  # used twice below
    z = y + y * y
    z.backward()
    # z = x^2 + x^4, dz/dx = 2x + 4x^3 = 6 + 108
    assert x.grad == 114.0


def test_no_grad_records_nothing_and_restores_mode():
    w = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        y = w * 2
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf

    @cr.no_grad()
    def predict(v):
        return v * 3

    assert not predict(w).requires_grad
    assert cr.is_grad_enabled()
    with pytest.raises(ValueError, match="does not require grad"):
        y.sum().backward()


def test_retain_grad_keeps_an_intermediate_gradient():
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    h = (x * 2).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, 2 * h.data)
    np.testing.assert_array_equal(x.grad, 4 * h.data)


def test_data_is_the_array_and_assignable_in_place():
    arr = np.array([1.0, 2.0], dtype=np.float32)
    t = cr.tensor(arr)
    t.data[0] = 5.0
    assert t.data[0] == 5.0
    t.data = np.zeros(2, dtype=np.float32)
    assert t.shape == (2,)


def test_dtypes_are_kept_and_never_mixed_silently():
    assert cr.tensor([1, 2]).dtype == np.float32
    assert cr.tensor(np.array([1.0])).dtype == np.float64
    assert cr.tensor(np.array([1.0], dtype=np.float32)).dtype == np.float32
    x32 = cr.tensor([1.0])
    x64 = cr.tensor(np.array([1.0]))
    assert (x64 * 2.5).dtype == np.float64
    assert (x32 * np.float64(2.5)).dtype == np.float32
    with pytest.raises(TypeError, match="float32 tensor with a float64"):
        x32 + x64


@pytest.mark.parametrize("bad", [np.array(["a"]), np.array([1 + 2j]), np.array([object()])])
def test_non_real_data_is_refused(bad):
    with pytest.raises(TypeError, match="real numbers"):
        cr.tensor(bad)


def test_backward_needs_a_gradient_for_non_scalar_outputs():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="single-element"):
        (x * 2).backward()
    with pytest.raises(ValueError, match="expected"):
        (x * 2).backward(np.ones(3))


def test_matmul_with_vectors():
    A = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = cr.tensor(np.array([1.0, -1.0, 2.0]), requires_grad=True)
    assert cr.gradcheck(lambda a, b: a @ b, [A, v])
    w = cr.tensor(np.array([0.5, 2.0]), requires_grad=True)
    assert cr.gradcheck(lambda a, b: a @ b, [w, A])
    assert cr.gradcheck(
        lambda a, b: a @ b, [v, cr.tensor(np.array([3.0, 1.0, 0.5]), requires_grad=True)]
    )


def test_tensor_methods_build_the_same_graph_as_functional():
    x = cr.tensor(np.random.default_rng(0).normal(size=(3, 4)), requires_grad=True)
    assert cr.gradcheck(lambda t: t.T.reshape(2, 6).sum(axis=0).max(), [x])
    assert cr.gradcheck(lambda t: cr.functional.log_softmax(t).mean(), [x])
    assert cr.gradcheck(lambda t: (t.sigmoid() + t.exp()).log().sum() + t.tanh().sum(), [x])
    y = cr.tensor(np.array([[0.5, -1.5, 2.0]]), requires_grad=True)
    assert cr.gradcheck(lambda t: t.relu().sum(), [y])


def test_repr_mentions_grad_and_dtype():
    t = cr.tensor(np.zeros(2), requires_grad=True, name="w")
    text = repr(t)
    assert "requires_grad=True" in text and "float64" in text and "'w'" in text


def test_gradcheck_reports_a_wrong_gradient():
    # A deliberately wrong op, registered privately: its VJP misses the factor 2.
    from chainrule.ops.registry import Formula, Op, Sample
    from chainrule.tensor import apply

    wrong = Op(
        name="square_wrong",
        arg_names=("x",),
        forward=np.square,
        vjps=(lambda grad, out, x: grad * x,),
        formulas=(Formula("{x}", "{x}"),),
        sample=lambda rng, hint: Sample((rng.normal(size=hint),)),
    )
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    with pytest.raises(cr.GradcheckError, match=r"x\[1\]"):
        cr.gradcheck(lambda t: apply(wrong, t), [x])
    nan_x = cr.tensor(np.array([-1.0]), requires_grad=True)
    with pytest.raises(cr.GradcheckError), np.errstate(invalid="ignore"):
        cr.gradcheck(lambda t: t.log(), [nan_x])  # NaN gradients must not pass
    with pytest.raises(TypeError, match="float64"):
        cr.gradcheck(lambda t: t * 2, [cr.tensor([1.0], requires_grad=True)])


def test_backward_frees_the_graph_unless_retained():
    import gc
    import weakref

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    watch = weakref.ref(y)
    z = (y * y).sum()
    del y
    gc.collect()
    assert watch() is not None  # the graph holds the intermediate result
    z.backward(retain_graph=True)
    z.backward()  # the graph was retained: a second pass works, and accumulates
    np.testing.assert_array_equal(x.grad, 2 * 18 * x.data)
    gc.collect()
    assert watch() is None  # freed by the pass that did not retain the graph
    with pytest.raises(ValueError, match="a second time.*retain_graph=True"):
        z.backward()


def test_a_chain_that_branches_further_down_gets_every_contribution():
    # root -> chain of 3 ops -> a diamond (y used twice) -> a deep chain -> x
    x = cr.tensor(0.5, requires_grad=True, dtype=np.float64)
    h = x
    for _ in range(2_000):  # deep below the diamond: the sorted walk must be iterative
        h = h * 1.0
    y = h * 2.0
    d = y * y + y  # the diamond: both inputs of the add are results
    z = ((d * 3.0) + 1.0) * 2.0  # a chain from the root down to the diamond
    z.backward()
    # z = 2 (3 (4x^2 + 2x) + 1), dz/dx = 6 (8x + 2) = 6 * 6 = 36 at x = 0.5
    assert x.grad == pytest.approx(36.0, rel=1e-12)


def test_a_freed_result_inside_a_chain_is_named():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    (y * 2).sum().backward()  # frees y's node
    z = (y * 5).sum()
    with pytest.raises(ValueError, match="result of mul a second time.*retain_graph=True"):
        z.backward()
