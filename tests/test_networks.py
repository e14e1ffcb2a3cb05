"""Whole networks pass gradcheck on all parameters: depth 1-4, every activation,
every loss, vector / shared / no bias."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.check import gradcheck_module

ACTIVATIONS = {
    **{cls.op_name: cls for cls in nn.activation_layers(elementwise=True)},
    "leaky_relu": lambda: nn.LeakyReLU(0.1),  # a slope other than the default
    "identity": nn.Identity,
}
# loss name -> (output activation appended or None, loss, target maker(rng, n, width))
LOSSES = {
    "mse": (None, nn.MSELoss(), lambda rng, n, k: rng.normal(size=(n, k))),
    "mse_half_sum": (
        nn.Sigmoid,
        nn.MSELoss("sum", half=True),
        lambda rng, n, k: rng.uniform(size=(n, k)),
    ),
    "cross_entropy_labels": (None, nn.CrossEntropyLoss(), lambda rng, n, k: rng.integers(0, k, n)),
    "cross_entropy_probs_target": (
        None,
        nn.CrossEntropyLoss(reduction="sum"),
        lambda rng, n, k: rng.dirichlet(np.ones(k), n),
    ),
    "softmax_then_cross_entropy": (
        nn.Softmax,
        nn.CrossEntropyLoss(from_probs=True),
        lambda rng, n, k: rng.integers(0, k, n),
    ),
    "bce_with_logits": (
        None,
        nn.BCEWithLogitsLoss(),
        lambda rng, n, k: rng.integers(0, 2, (n, k)).astype(float),
    ),
    "sigmoid_then_bce": (
        nn.Sigmoid,
        nn.BCELoss(),
        lambda rng, n, k: rng.integers(0, 2, (n, k)).astype(float),
    ),
}
BIASES = [True, "shared", False]


def build(depth: int, activation: str, bias, out_act, rng, widths=(3, 4, 3, 5, 2)) -> nn.Sequential:
    layers: list[nn.Module] = []
    sizes = list(widths[: depth + 1])
    for i in range(depth):
        layers.append(
            nn.Linear(
                sizes[i],
                sizes[i + 1],
                bias=bias,
                dtype=np.float64,
                rng=rng,
                init=cr.init.normal(0, 0.8),
                bias_init=cr.init.normal(0, 0.5),
            )
        )
        if i < depth - 1:
            layers.append(ACTIVATIONS[activation]())
    if out_act is not None:
        layers.append(out_act())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("bias", BIASES, ids=str)
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_network_gradients_match_central_differences(depth, activation, loss_name, bias):
    rng = np.random.default_rng(depth * 100 + len(activation) * 7 + len(loss_name))
    out_act, loss, make_target = LOSSES[loss_name]
    model = build(depth, activation, bias, out_act, rng)
    width_out = (
        model[-1].out_features if isinstance(model[-1], nn.Linear) else model[-2].out_features
    )
    if loss_name.startswith(("cross", "softmax")) and width_out < 2:
        pytest.skip("classification needs at least two outputs")
    x = rng.normal(size=(4, 3))
    target = make_target(rng, 4, width_out)
    assert gradcheck_module(model, x, target, loss)


def test_frozen_parameter_gets_no_gradient_and_no_update():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.ReLU(), nn.Linear(4, 2, rng=rng))
    model[0].weight.requires_grad = False
    frozen = model[0].weight.data.copy()
    others = {n: p.data.copy() for n, p in model.named_parameters() if n != "0.weight"}
    for optimizer in (
        cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1),
        cr.optim.Adam(model.parameters(), lr=0.1, weight_decay=0.1),
    ):
        optimizer.zero_grad()
        loss = nn.CrossEntropyLoss()(
            model(rng.normal(size=(5, 3)).astype(np.float32)), [0, 1, 1, 0, 1]
        )
        loss.backward()
        assert model[0].weight.grad is None
        optimizer.step()
        np.testing.assert_array_equal(model[0].weight.data, frozen)
    for name, p in model.named_parameters():
        if name != "0.weight":
            assert not np.array_equal(p.data, others[name]), name
