"""Layer fusion: nn.Sequential runs Linear + activation as one `dense` op; the values must be
bit-identical to the unfused graph (which explanations show)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import fusion

ACTIVATIONS = [nn.Sigmoid, nn.Tanh, nn.ReLU, lambda: nn.LeakyReLU(0.1)]
LOSSES = [
    (nn.MSELoss(), None),
    (nn.CrossEntropyLoss(), None),
    (nn.BCELoss(), nn.Sigmoid),
    (nn.CrossEntropyLoss(from_probs=True), nn.Softmax),
]


def _run(model, x, y, loss_fn, fused: bool):
    model.zero_grad()
    with fusion(fused):
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
    return out, loss, {n: p.grad.copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("bias", [True, "shared"], ids=str)
@pytest.mark.parametrize("loss_fn, head", LOSSES, ids=["mse", "ce", "bce", "softmax-ce"])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=["sigmoid", "tanh", "relu", "leaky"])
def test_fused_and_unfused_are_bit_identical(activation, loss_fn, head, bias):
    rng = np.random.default_rng(0)
    layers = [
        nn.Linear(3, 4, bias=bias, rng=rng),
        activation(),
        nn.Linear(4, 2, bias=bias, rng=rng),
    ]
    if head is not None:
        layers.append(head())
    model = nn.Sequential(*layers)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    y = (
        rng.integers(0, 2, 5)
        if isinstance(loss_fn, nn.CrossEntropyLoss)
        else rng.integers(0, 2, (5, 2)).astype(np.float32)
    )
    out_f, loss_f, grads_f = _run(model, x, y, loss_fn, fused=True)
    out_u, loss_u, grads_u = _run(model, x, y, loss_fn, fused=False)
    assert np.array_equal(out_f.data, out_u.data)
    assert loss_f.item() == loss_u.item()
    for name in grads_u:
        assert np.array_equal(grads_f[name], grads_u[name]), name


def test_fused_graph_has_one_node_per_layer_pair_and_unfused_two():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid())
    x = np.ones((1, 2), dtype=np.float32)
    out = model(x)
    assert out.node.op.name == "dense" and out.node.attrs["activation"] == "sigmoid"
    with fusion(False):
        out = model(x)
    assert out.node.op.name == "sigmoid" and out.node.inputs[0].node.op.name == "linear"


def test_bce_after_fused_sigmoid_is_computed_from_logits():
    model = nn.Sequential(nn.Linear(1, 1, dtype=np.float64))
    model[0].weight.data[...] = 1000.0
    model.append(nn.Sigmoid())
    # probabilities round to exactly 1 and 0; the loss is still exact: log(1 + e^-1000) ~ 0 and 1000
    with np.errstate(all="raise"):
        loss = nn.BCELoss(reduction="sum")(
            model(np.array([[1.0], [-1.0]])), np.array([[0.0], [0.0]])
        )
    assert loss.item() == pytest.approx(1000.0 + model[0].bias.item())


def test_appending_a_layer_replans_the_fusion():
    model = nn.Sequential(nn.Linear(2, 2))
    x = np.ones((1, 2), dtype=np.float32)
    assert model(x).node.op.name == "linear"
    model.append(nn.ReLU())
    assert model(x).node.op.name == "dense"
    assert cr.autograd.fusion_enabled()
