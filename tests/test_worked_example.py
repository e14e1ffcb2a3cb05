"""One training step of a 2-2-2 sigmoid network, worked out by hand.

The network, inputs and targets are the classic textbook example: inputs
i1 = 0.05, i2 = 0.10; targets 0.01, 0.99; one shared bias per layer; squared error
E = 1/2 sum (target - out)^2; learning rate 0.5. Weights (Z = X @ W + b, so column j
of W feeds neuron j):

    hidden: h1 = sigma(0.15 i1 + 0.20 i2 + 0.35)   W1 = [[0.15, 0.25],
            h2 = sigma(0.25 i1 + 0.30 i2 + 0.35)         [0.20, 0.30]],  b1 = 0.35
    output: o1 = sigma(0.40 h1 + 0.45 h2 + 0.60)   W2 = [[0.40, 0.50],
            o2 = sigma(0.50 h1 + 0.55 h2 + 0.60)         [0.45, 0.55]],  b2 = 0.60
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


@pytest.fixture
def step():
    model = nn.Sequential(
        nn.Linear(2, 2, bias="shared", dtype=np.float64),
        nn.Sigmoid(),
        nn.Linear(2, 2, bias="shared", dtype=np.float64),
        nn.Sigmoid(),
    )
    model.load_state_dict(
        {
            "0.weight": np.array([[0.15, 0.25], [0.20, 0.30]]),
            "0.bias": np.array([0.35]),
            "2.weight": np.array([[0.40, 0.50], [0.45, 0.55]]),
            "2.bias": np.array([0.60]),
        }
    )
    x = np.array([[0.05, 0.10]])
    y = np.array([[0.01, 0.99]])
    z1 = model[0](x)
    h = model[1](z1)
    z2 = model[2](h)
    out = model[3](z2)
    loss = nn.MSELoss(reduction="sum", half=True)(out, y)
    loss.backward()
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    cr.optim.SGD(model.parameters(), lr=0.5).step()
    return {"h": h.data, "out": out.data, "loss": loss.item(), "grads": grads, "model": model}


def test_forward_values(step):
    # net_h1 = 0.15*0.05 + 0.20*0.10 + 0.35 = 0.3775  -> h1 = 1/(1+e^-0.3775) = 0.593269992
    # net_h2 = 0.25*0.05 + 0.30*0.10 + 0.35 = 0.3925  -> h2 = 0.596884378
    np.testing.assert_allclose(step["h"], [[0.593269992, 0.596884378]], atol=1e-9)
    # net_o1 = 0.40*0.593269992 + 0.45*0.596884378 + 0.60 = 1.105905967 -> o1 = 0.751365070
    # net_o2 = 0.50*0.593269992 + 0.55*0.596884378 + 0.60 = 1.224921404 -> o2 = 0.772928465
    np.testing.assert_allclose(step["out"], [[0.751365070, 0.772928465]], atol=1e-9)


def test_loss(step):
    # E = 1/2 (0.01 - 0.751365070)^2 + 1/2 (0.99 - 0.772928465)^2
    #   = 0.274811083 + 0.023560026 = 0.298371109
    assert step["loss"] == pytest.approx(0.298371109, abs=1e-9)


def test_output_layer_gradients(step):
    # delta_o = dE/dO * dO/dZ2 = (o - y) * o (1 - o)
    #   delta_o1 = 0.741365070 * 0.186815602 =  0.138498562
    #   delta_o2 = -0.217071535 * 0.175510053 = -0.038098236
    # dE/dW2 = h^T @ delta_o: dE/dw5 = h1 delta_o1 = 0.593269992 * 0.138498562 = 0.082167041
    #   dE/dw6 = h2 delta_o1 = 0.082667628, dE/dw7 = h1 delta_o2 = -0.022602540,
    #   dE/dw8 = h2 delta_o2 = -0.022740242
    np.testing.assert_allclose(
        step["grads"]["2.weight"],
        [[0.082167041, -0.022602540], [0.082667628, -0.022740242]],
        atol=1e-9,
    )
    # the shared bias feeds both outputs: dE/db2 = delta_o1 + delta_o2 = 0.100400326
    np.testing.assert_allclose(step["grads"]["2.bias"], [0.100400326], atol=1e-9)


def test_hidden_layer_gradients(step):
    # delta_h = (delta_o @ W2^T) * h (1 - h); row k of W2 holds hidden unit k's outgoing weights
    #   delta_h1 = (0.138498562*0.40 - 0.038098236*0.50) * 0.241300709 = 0.008771354
    #   delta_h2 = (0.138498562*0.45 - 0.038098236*0.55) * 0.240613417 = 0.009954254
    # dE/dW1 = x^T @ delta_h: dE/dw1 = 0.05 * delta_h1 = 0.000438568, dE/dw2 = 0.10 * delta_h1
    #   = 0.000877135, dE/dw3 = 0.05 * delta_h2 = 0.000497713, dE/dw4 = 0.000995425
    np.testing.assert_allclose(
        step["grads"]["0.weight"],
        [[0.000438568, 0.000497713], [0.000877135, 0.000995425]],
        atol=1e-9,
    )
    # dE/db1 = delta_h1 + delta_h2 = 0.018725608
    np.testing.assert_allclose(step["grads"]["0.bias"], [0.018725608], atol=1e-9)


def test_updated_weights(step):
    # W_new = W - 0.5 dE/dW: w5 = 0.40 - 0.5*0.082167041 = 0.358916480, w6 = 0.408666186,
    # w7 = 0.511301270, w8 = 0.561370121; w1 = 0.149780716, w2 = 0.199561432,
    # w3 = 0.249751144, w4 = 0.299502287; b2 = 0.60 - 0.5*0.100400326 = 0.549799837,
    # b1 = 0.35 - 0.5*0.018725608 = 0.340637196
    state = step["model"].state_dict()
    np.testing.assert_allclose(
        state["2.weight"], [[0.358916480, 0.511301270], [0.408666186, 0.561370121]], atol=1e-9
    )
    np.testing.assert_allclose(
        state["0.weight"], [[0.149780716, 0.249751144], [0.199561432, 0.299502287]], atol=1e-9
    )
    np.testing.assert_allclose(state["2.bias"], [0.549799837], atol=1e-9)
    np.testing.assert_allclose(state["0.bias"], [0.340637196], atol=1e-9)
