"""Tests generated from the op registry: every primitive, several seeds and shapes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import REGISTRY, get_op
from chainrule.tensor import apply

SHAPES = [(1, 1), (1, 4), (3, 1), (4, 5)]  # batch 1 and width 1 included
SEEDS = [0, 1, 2]
OP_NAMES = sorted(REGISTRY)

REQUIRED = {
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "pow",
    "exp",
    "log",
    "matmul",
    "transpose",
    "reshape",
    "sum",
    "mean",
    "max",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "softmax",
    "log_softmax",
    "linear",
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "mse",
}


def _tensors(op_name: str, seed: int, shape: tuple[int, int]) -> tuple[list[cr.Tensor], dict]:
    op = get_op(op_name)
    sample = op.sample(np.random.default_rng(seed), shape)
    tensors = [
        cr.tensor(a.copy(), requires_grad=diff, name=f"{op.arg_names[i]}")
        for i, (a, diff) in enumerate(zip(sample.inputs, op.differentiable))
    ]
    return tensors, sample.attrs


def test_registry_has_every_required_primitive():
    assert set(REGISTRY) >= REQUIRED


@pytest.mark.parametrize("name", OP_NAMES)
def test_every_op_is_fully_declared(name):
    op = REGISTRY[name]
    assert op.name == name
    assert len(op.vjps) == len(op.formulas) == len(op.arg_names)
    assert any(op.differentiable)
    sample = op.sample(np.random.default_rng(0), (2, 3))
    assert len(sample.inputs) == len(op.arg_names)
    attrs = op.formula_names(**sample.attrs) if op.formula_names else {}
    names = {"out": "out", **{a: a for a in op.arg_names}, **attrs}
    for formula in op.formulas:
        if formula is not None:
            assert formula.render(names)  # every placeholder has a name
            assert formula.render(names, latex=True)


@pytest.mark.parametrize("name", OP_NAMES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_gradcheck_float64(name, seed, shape):
    tensors, attrs = _tensors(name, seed, shape)
    op = get_op(name)
    assert cr.gradcheck(lambda *ts: apply(op, *ts, **attrs), tensors)


@pytest.mark.parametrize("name", OP_NAMES)
def test_zero_upstream_gradient_gives_exactly_zero(name):
    tensors, attrs = _tensors(name, 3, (3, 4))
    out = apply(get_op(name), *tensors, **attrs)
    out.backward(np.zeros_like(out.data))
    for t in tensors:
        if t.requires_grad:
            assert t.grad is not None
            assert np.array_equal(t.grad, np.zeros_like(t.data))


@pytest.mark.parametrize("name", OP_NAMES)
def test_backward_twice_gives_identical_gradients(name):
    tensors, attrs = _tensors(name, 4, (3, 4))
    op = get_op(name)
    rng = np.random.default_rng(9)
    out = apply(op, *tensors, **attrs)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream, retain_graph=True)
    first = [None if t.grad is None else t.grad.copy() for t in tensors]
    for t in tensors:
        t.grad = None
    out.backward(upstream)
    for t, g in zip(tensors, first):
        if g is not None:
            assert np.array_equal(t.grad, g)


@pytest.mark.parametrize("name", OP_NAMES)
def test_gradients_accumulate_until_zeroed(name):
    tensors, attrs = _tensors(name, 5, (2, 3))
    out = apply(get_op(name), *tensors, **attrs)
    upstream = np.ones_like(out.data)
    out.backward(upstream, retain_graph=True)
    once = [None if t.grad is None else t.grad.copy() for t in tensors]
    out.backward(upstream)
    for t, g in zip(tensors, once):
        if g is not None:
            np.testing.assert_allclose(t.grad, 2 * g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", OP_NAMES)
def test_float32_stays_float32(name):
    op = get_op(name)
    sample = op.sample(np.random.default_rng(6), (3, 4))
    tensors = [
        cr.tensor(a.astype(np.float32), requires_grad=diff)
        for a, diff in zip(sample.inputs, op.differentiable)
    ]
    out = apply(op, *tensors, **sample.attrs)
    assert out.dtype == np.float32
    out.backward(np.ones_like(out.data))
    for t in tensors:
        if t.requires_grad:
            assert t.grad.dtype == np.float32


@pytest.mark.parametrize("name", OP_NAMES)
def test_float32_matches_float64(name):
    op = get_op(name)
    sample = op.sample(np.random.default_rng(7), (3, 4))
    outs = [
        apply(op, *[cr.tensor(a.astype(dt)) for a in sample.inputs], **sample.attrs)
        for dt in (np.float32, np.float64)
    ]
    np.testing.assert_allclose(outs[0].data, outs[1].data, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", [n for n in OP_NAMES if REGISTRY[n].elementwise])
def test_elementwise_local_derivative_is_vjp_of_ones(name):
    # The explanation reads an elementwise op's local derivative as vjp(ones); check it
    # against the central difference of the forward function entry by entry.
    tensors, attrs = _tensors(name, 8, (2, 3))
    op = get_op(name)
    x = tensors[0].data
    out = op.forward(x, **attrs)
    local = op.vjps[0](np.ones_like(out), out, x, **attrs)
    eps = 1e-6
    numeric = (op.forward(x + eps, **attrs) - op.forward(x - eps, **attrs)) / (2 * eps)
    np.testing.assert_allclose(local, numeric, rtol=1e-5, atol=1e-7)
