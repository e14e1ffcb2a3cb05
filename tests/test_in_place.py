"""In-place kernels: activations computed over Z and gradients written over the arrays a
fused layer made give the very bits of the ordinary forward and VJP, and no array a user
or a retained graph holds is ever written."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import nn
from chainrule.ops import REGISTRY

IN_PLACE = sorted(name for name, op in REGISTRY.items() if op.forward_in_place is not None)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def value_and_gradient(draw):
    """Two arrays of one float dtype and shape, with any values: NaN, infinities, signed
    zeros and subnormal numbers included."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=6))
    width = 32 if dtype == np.float32 else 64
    elements = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=width)
    return tuple(draw(hnp.arrays(dtype, shape, elements=elements)) for _ in range(2))


def _bits(array: np.ndarray) -> np.ndarray:
    return array.view(np.uint32 if array.dtype == np.float32 else np.uint64)


def test_the_activations_of_the_usual_networks_run_in_place():
    assert {"relu", "sigmoid", "tanh"} <= set(IN_PLACE)


@pytest.mark.parametrize("name", IN_PLACE)
@SETTINGS
@given(arrays=value_and_gradient())
def test_in_place_forms_give_the_bits_of_the_ordinary_ones(name, arrays):
    op = REGISTRY[name]
    x, grad = arrays
    with np.errstate(all="ignore"):
        out = op.forward(x)
        over_x = x.copy()
        assert op.forward_in_place(over_x) is over_x
        assert np.array_equal(_bits(over_x), _bits(out))
        expected = op.vjps[0](grad, out, x)
        # from the output alone, as a fused layer calls it after an in-place forward
        assert np.array_equal(_bits(op.vjps[0](grad, out, out)), _bits(expected))
        over_grad = grad.copy()
        assert op.vjp_in_place(over_grad, out) is over_grad
        assert np.array_equal(_bits(over_grad), _bits(expected))


def test_an_op_that_is_not_elementwise_cannot_declare_in_place_forms():
    with pytest.raises(ValueError, match="only an elementwise op of one input"):
        dataclasses.replace(REGISTRY["softmax"], forward_in_place=lambda x: x)
    with pytest.raises(ValueError, match="declare both"):
        dataclasses.replace(REGISTRY["relu"], forward_in_place=None)


def _mlp(activation: type[nn.Module]) -> nn.Sequential:
    cr.manual_seed(3)
    return nn.Sequential(
        nn.Linear(5, 7), activation(), nn.Linear(7, 6), activation(), nn.Linear(6, 3)
    )


@pytest.mark.parametrize("activation", [nn.ReLU, nn.Sigmoid, nn.Tanh])
def test_what_a_user_keeps_across_training_steps_is_never_written_again(activation):
    model = _mlp(activation)
    assert model(np.zeros((1, 5), np.float32)).node.op.name == "dense_stack3"
    loss_fn = nn.CrossEntropyLoss()
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    kept: list[tuple[np.ndarray, np.ndarray]] = []  # (an array a user holds, a copy of it)
    for _ in range(4):  # the same shapes every step, as in a training loop
        x = rng.normal(size=(8, 5)).astype(np.float32)
        optimizer.zero_grad()
        prediction = model(x)
        loss = loss_fn(prediction, rng.integers(0, 3, 8))
        loss.backward()
        kept += [(prediction.data, prediction.data.copy()), (loss.data, loss.data.copy())]
        kept += [(p.grad, p.grad.copy()) for p in model.parameters()]
        optimizer.step()
    for array, copy in kept:
        assert np.array_equal(array, copy)


@pytest.mark.parametrize("activation", [nn.ReLU, nn.Sigmoid, nn.Tanh])
def test_a_retained_graph_backpropagates_again_to_the_same_gradients(activation):
    model = _mlp(activation)
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    loss = nn.CrossEntropyLoss()(model(x), np.array([0, 2, 1, 2]))
    probs = loss.node.saved["probs"].copy()
    saved = [a.copy() for a in loss.node.inputs[0].node.saved["zs"]]
    loss.backward(retain_graph=True)
    first = [p.grad.copy() for p in model.parameters()]
    # what the explanations read after backward is still the forward's values
    assert np.array_equal(loss.node.saved["probs"], probs)
    for array, copy in zip(loss.node.inputs[0].node.saved["zs"], saved):
        assert np.array_equal(array, copy)
    model.zero_grad()
    loss.backward()
    for p, grad in zip(model.parameters(), first):
        assert np.array_equal(p.grad, grad)


def test_a_fused_relu_network_keeps_one_array_per_hidden_layer():
    model = _mlp(nn.ReLU)
    out = model(np.ones((2, 5), np.float32))
    saved = out.node.saved
    # each hidden layer's Z became its activation: the next layer's input, not a second array
    assert saved["zs"][0] is saved["inputs"][0] and saved["zs"][1] is saved["inputs"][1]
    assert (saved["inputs"][0] >= 0).all()
