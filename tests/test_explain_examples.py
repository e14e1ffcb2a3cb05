"""Golden-text tests of the two worked examples, with the arithmetic redone by hand.

Each test takes the example's initial parameters and data, works the training
step out again with plain NumPy (every formula written out below), and checks
that the explanation's text says exactly those numbers, formatted with four
significant digits, in the places a reader looks for them.
"""

# ruff: noqa: E741  (O is the textbook's name for the network output)
from __future__ import annotations

import re

import numpy as np
import pytest

from chainrule.explain.examples import (
    example,
    house_prices,
    house_prices_setup,
    softmax_classifier,
    softmax_classifier_setup,
)


def g(value: float) -> str:
    """Four significant digits, the way the explanation prints numbers."""
    text = f"{float(value):.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent):+03d}"
    return "0" if float(value) == 0 else text


def tokens(text: str) -> set[str]:
    return set(re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?", text))


def assert_all_shown(array: np.ndarray, text: str) -> None:
    shown = tokens(text)
    missing = [g(v) for v in np.asarray(array).reshape(-1) if g(v) not in shown]
    assert not missing, f"numbers not in the explanation: {missing}"


@pytest.fixture(scope="module")
def houses():
    step = house_prices()
    return step, step.to_text()


def test_house_prices_step_worked_by_hand(houses):
    step, text = houses
    model, X, Y, _ = house_prices_setup()
    state = model.state_dict()
    W1, b1, W2, b2 = state["0.weight"], state["0.bias"], state["2.weight"], state["2.bias"]
    lr = step.lr
    assert lr == 0.5

    # Forward: Z1 = X W1 + b1 (b1 one shared scalar), h = sigmoid(Z1),
    #          Z2 = h W2 + b2, O = sigmoid(Z2).
    Z1 = X @ W1 + b1[0]
    h = 1.0 / (1.0 + np.exp(-Z1))
    Z2 = h @ W2 + b2[0]
    O = 1.0 / (1.0 + np.exp(-Z2))
    # Loss: E = 1/2 * sum over the six houses of (O - Y)^2.
    E = 0.5 * np.sum((O - Y) ** 2)
    # Backward, output layer: dE/dO = O - Y, dO/dZ2 = O (1 - O), delta2 = their product.
    dE_dO = O - Y
    dO_dZ2 = O * (1 - O)
    delta2 = dE_dO * dO_dZ2
    grad_W2 = h.T @ delta2  # (5, 6) @ (6, 1): sums over the samples
    grad_b2 = np.array([delta2.sum()])  # the shared bias was added to every entry
    # Hidden layer: dE/dh = delta2 W2^T, dh/dZ1 = h (1 - h), delta1 = their product.
    dE_dh = delta2 @ W2.T
    delta1 = dE_dh * h * (1 - h)
    grad_W1 = X.T @ delta1
    grad_b1 = np.array([delta1.sum()])
    # Update: W_new = W - lr * dE/dW.
    new = {
        "0.weight": W1 - lr * grad_W1,
        "0.bias": b1 - lr * grad_b1,
        "2.weight": W2 - lr * grad_W2,
        "2.bias": b2 - lr * grad_b2,
    }

    expected = {"0.weight": grad_W1, "0.bias": grad_b1, "2.weight": grad_W2, "2.bias": grad_b2}
    for key, grad in expected.items():
        np.testing.assert_allclose(step.gradients[key], grad, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(step.updated[key], new[key], rtol=1e-12, atol=1e-15)
    assert step.loss == pytest.approx(E, rel=1e-12)

    # The text: the loss written out, then its value.
    assert "  E = 1/2 * sum((O - Y)^2)" in text
    assert f"    = 1/2 * (({g(O[0, 0])} - {g(Y[0, 0])})^2 + ({g(O[1, 0])} - {g(Y[1, 0])})^2" in text
    assert f"\n    = {g(E)}\n" in text
    # The chain for the output weights and the reused error signal for the hidden ones.
    assert "  dE/dWho = dE/dO * dO/dZ2 * dZ2/dWho" in text
    assert "  dE/dWih = dE/dO * dO/dZ2 * dZ2/dh1 * dh1/dZ1 * dZ1/dWih" in text
    assert "dE/dZ2 (delta2, the error signal of layer 2) was already computed for dE/dWho" in text
    assert f"  dE/dbho = sum over all entries of dE/dZ2 = [{g(grad_b2[0])}]" in text
    assert f"  dE/dbih = sum over all entries of dE/dZ1 = [{g(grad_b1[0])}]" in text
    assert (
        f"  bho_new = bho - lr * dE/dbho = [{g(b2[0])}] - 0.5 * [{g(grad_b2[0])}] "
        f"= [{g(new['2.bias'][0])}]" in text
    )
    # Shapes in the matrix view.
    assert "h1^T @ delta2" in text and "(5, 6) @ (6, 1) -> (5, 1)" in text
    assert "X^T @ delta1" in text and "(4, 6) @ (6, 5) -> (4, 5)" in text
    # Every number of the step appears: forward values, stages, gradients, updates.
    for array in (
        Z1,
        h,
        Z2,
        O,
        dE_dO,
        dO_dZ2,
        delta2,
        dE_dh,
        delta1,
        *expected.values(),
        *new.values(),
    ):
        assert_all_shown(array, text)


def test_house_prices_scalar_view(houses):
    step, text = houses
    model, X, Y, _ = house_prices_setup()
    state = model.state_dict()
    W1, b1, W2, b2 = state["0.weight"], state["0.bias"], state["2.weight"], state["2.bias"]
    h = 1.0 / (1.0 + np.exp(-(X @ W1 + b1[0])))
    O = 1.0 / (1.0 + np.exp(-(h @ W2 + b2[0])))
    # The weight from hidden unit 2 to the output:
    #   dE/dWho[2,0] = sum_n h[n,2] * (O - Y)[n] * O[n] (1 - O[n]).
    delta2 = (O - Y) * O * (1 - O)
    terms = h[:, 2] * delta2[:, 0]
    section = text[text.index("One weight: Who[2, 0]") :]
    section = section[: section.index("The sum")]
    for n in range(6):
        row = next(line for line in section.splitlines() if line.startswith(f"  {n}  "))
        cells = row.split()
        assert cells[-1] == g(terms[n]), (n, row)
        assert cells[-2] == g(h[n, 2])
        assert cells[1] == g((O - Y)[n, 0])
    total = next(line for line in section.splitlines() if line.startswith("  sum"))
    assert total.split()[-1] == g(terms.sum())
    assert f"sample 0: {g(O[0, 0])} * (1 - {g(O[0, 0])}) = {g((O * (1 - O))[0, 0])}" in section


def test_house_prices_training_lowers_the_loss(houses):
    step, text = houses
    losses = step.training.losses
    assert losses[-1] < losses[0] / 10
    assert "Training over epochs" in text
    assert f"the loss goes from {g(losses[0])} to {g(losses[-1])}" in " ".join(text.split())


def test_softmax_classifier_step_worked_by_hand():
    step = softmax_classifier()
    text = step.to_text()
    model, X, y, _ = softmax_classifier_setup()
    state = model.state_dict()
    W1, b1, W2, b2 = state["0.weight"], state["0.bias"], state["2.weight"], state["2.bias"]
    lr = 0.02
    Y = np.array([[0.0, 1.0]])  # class 1, one-hot
    # Forward: Z1 = X W1 + b1, h = sigmoid(Z1), Z2 = h W2 + b2, O = softmax(Z2).
    Z1 = X @ W1 + b1
    h = 1.0 / (1.0 + np.exp(-Z1))
    Z2 = h @ W2 + b2
    O = np.exp(Z2) / np.exp(Z2).sum()
    # Cross-entropy of one sample: E = -log O[class].
    E = -np.log(O[0, 1])
    # Textbook route: dE/dO = -Y / O, softmax Jacobian J = diag(O) - O O^T, dE/dZ2 = dE/dO J.
    dE_dO = -Y / O
    J = np.diag(O[0]) - np.outer(O[0], O[0])
    textbook = dE_dO @ J
    # Combined: dE/dZ2 = O - Y.
    delta2 = O - Y
    grad_W2 = h.T @ delta2
    grad_b2 = delta2.sum(axis=0)
    delta1 = (delta2 @ W2.T) * h * (1 - h)
    grad_W1 = X.T @ delta1
    grad_b1 = delta1.sum(axis=0)
    expected = {"0.weight": grad_W1, "0.bias": grad_b1, "2.weight": grad_W2, "2.bias": grad_b2}
    for key, grad in expected.items():
        np.testing.assert_allclose(step.gradients[key], grad, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(
            step.updated[key], state[key] - lr * grad, rtol=1e-12, atol=1e-15
        )
    np.testing.assert_allclose(textbook, delta2, atol=1e-15)

    assert "  E = -1/N * sum(Y * log(O))" in text
    assert f"    = -1/1 * log({g(O[0, 1])})" in text
    assert f"\n    = {g(E)}\n" in text
    assert f"  dE/dO = [[0 {g(dE_dO[0, 1])}]]" in text
    assert f"  dO/dZ2 (sample 0) = [[ {g(J[0, 0])} {g(J[0, 1])}]" in text
    assert f"  dE/dZ2 = dE/dO · dO/dZ2 = [[{g(textbook[0, 0])} {g(textbook[0, 1])}]]" in text
    assert f"  dE/dZ2 = [[{g(delta2[0, 0])} {g(delta2[0, 1])}]]" in text
    assert "(= O - Y, divided by N)" in text
    assert "  dE/dWih = dE/dO * dO/dZ2 * dZ2/dh1 * dh1/dZ1 * dZ1/dWih" in text
    assert (
        f"  dE/dbho = sum over the samples (rows) of dE/dZ2 = [{g(grad_b2[0])} {g(grad_b2[1])}]"
        in text
    )
    for array in (Z1, h, Z2, O, delta2, delta1, *expected.values()):
        assert_all_shown(array, text)
    for key, grad in expected.items():
        assert_all_shown(state[key] - lr * grad, text)


def test_examples_by_name():
    assert example("house_prices", epochs=0).training is None
    with pytest.raises(ValueError, match="unknown example"):
        example("xor")
