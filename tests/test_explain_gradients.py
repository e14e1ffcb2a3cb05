"""Every gradient an explanation shows is the gradient a real backward() computes.

Random networks of depth 1 to 4, with every activation, every loss and vector,
shared or no bias: the explanation's gradients and updates must equal, bit for
bit (np.array_equal), those of a separate forward/backward/SGD step on the
same model, and every chain must end in exactly that gradient.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.explain import explain

ACTIVATIONS = [cls.op_name for cls in nn.activation_layers(elementwise=True)]
LOSSES = ["mse", "mse-sum-half", "ce-logits", "ce-softmax", "bce-sigmoid", "bce-logits"]
BIASES = [True, "shared", False]
_LAYER = nn.ACTIVATION_LAYERS


def build(depth: int, activation: str, loss: str, bias: object, seed: int):
    """A random network, data and loss of the given kind (float64)."""
    rng = np.random.default_rng(seed)
    sizes = [int(n) for n in rng.integers(1, 5, size=depth + 1)]
    sizes[0] = max(sizes[0], 2)
    classes = max(sizes[-1], 2)
    if loss.startswith("ce"):
        sizes[-1] = classes
    if loss.startswith("bce"):
        sizes[-1] = 1
    layers: list[nn.Module] = []
    for i in range(depth):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=bias, dtype=np.float64, rng=rng))
        if i < depth - 1:
            layers.append(_LAYER[activation]())
    if loss == "ce-softmax":
        layers.append(nn.Softmax())
    elif loss == "bce-sigmoid" or loss.startswith("mse"):
        layers.append(_LAYER[activation]() if loss.startswith("mse") else nn.Sigmoid())
    model = nn.Sequential(*layers)
    samples = int(rng.integers(1, 5))
    X = rng.normal(size=(samples, sizes[0]))
    if loss.startswith("ce"):
        y = rng.integers(0, classes, size=samples)
        loss_fn: nn.Module = nn.CrossEntropyLoss(from_probs=loss == "ce-softmax")
    elif loss.startswith("bce"):
        y = rng.integers(0, 2, size=(samples, 1)).astype(np.float64)
        loss_fn = nn.BCELoss() if loss == "bce-sigmoid" else nn.BCEWithLogitsLoss()
    else:
        y = rng.normal(size=(samples, sizes[-1]))
        loss_fn = nn.MSELoss(reduction="sum", half=True) if loss == "mse-sum-half" else nn.MSELoss()
    return model, X, y, loss_fn


CASES = list(itertools.product([1, 2, 3, 4], ACTIVATIONS, LOSSES))


@pytest.mark.parametrize(("depth", "activation", "loss"), CASES)
def test_gradients_and_updates_equal_a_real_backward(depth, activation, loss):
    for k, bias in enumerate(BIASES):
        seed = 1000 * depth + 100 * ACTIVATIONS.index(activation) + 10 * LOSSES.index(loss) + k
        model, X, y, loss_fn = build(depth, activation, loss, bias, seed)
        before = copy.deepcopy(model.state_dict())
        lr = 0.05
        step = explain(model, X, y, loss_fn, lr=lr)

        # explain() observes: the model is untouched and has no gradients.
        for key, value in model.state_dict().items():
            assert np.array_equal(value, before[key])
        assert all(p.grad is None for p in model.parameters())

        reference = copy.deepcopy(model)
        loss_fn(reference(X), y).backward()
        params = dict(reference.named_parameters())
        assert set(step.gradients) == set(params)
        for key, param in params.items():
            assert np.array_equal(step.gradients[key], param.grad), key
        cr.optim.SGD(reference.parameters(), lr=lr).step()
        for key, param in params.items():
            assert np.array_equal(step.updated[key], param.data), key

        # Each chain ends in the very gradient of its parameter.
        for chain in step.derivation.chains:
            key = chain.param.param_key
            assert np.array_equal(chain.gradient, step.gradients[key])
            if not chain.branches:
                assert np.array_equal(chain.stages[-1].result, step.gradients[key])


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_renders_in_every_format(loss):
    model, X, y, loss_fn = build(2, "tanh", loss, "shared", seed=7)
    step = explain(model, X, y, loss_fn, lr=0.1)
    text = step.to_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "Backward pass" in text and "Update" in text
    assert "$$" in step.to_markdown()
    assert "<math" in step.to_html()


def test_float32_step_matches_float32_backward():
    model, X, y, loss_fn = build(3, "relu", "mse", True, seed=3)
    model.float()
    X32 = X.astype(np.float32)
    step = explain(model, X32, y, loss_fn, lr=0.1, dtype=None)
    reference = copy.deepcopy(model)
    loss_fn(reference(X32), y).backward()
    for key, param in reference.named_parameters():
        assert step.gradients[key].dtype == np.float32
        assert np.array_equal(step.gradients[key], param.grad)


def test_local_derivatives_come_from_the_registry():
    model, X, y, loss_fn = build(2, "sigmoid", "mse-sum-half", True, seed=11)
    step = explain(model, X, y, loss_fn)
    for stage in step.derivation.stages:
        if stage.kind == "pointwise" and stage.op.name == "sigmoid":
            out = stage.out.data
            # The registry's sigmoid VJP with an upstream of ones: out * (1 - out).
            assert np.array_equal(stage.local, np.ones_like(out) * out * (1.0 - out))
            assert np.array_equal(stage.result, stage.upstream * out * (1.0 - out))


def test_fused_softmax_cross_entropy_shows_both_routes():
    model, X, y, loss_fn = build(2, "sigmoid", "ce-softmax", True, seed=5)
    step = explain(model, X, y, loss_fn)
    fused = step.derivation.fused
    assert fused is not None
    probs = fused.probs.data
    rows = np.eye(probs.shape[1])[y]
    # Textbook route: dE/dO = -Y / (N O), times the softmax Jacobian diag(O) - O O^T.
    np.testing.assert_allclose(fused.grad_probs, -rows / probs / len(y), rtol=1e-12)
    for n in range(len(y)):
        jacobian = np.diag(probs[n]) - np.outer(probs[n], probs[n])
        np.testing.assert_allclose(fused.local[n], jacobian, rtol=1e-12, atol=1e-15)
    # The combined route (O - Y) / N is the one the backward pass used.
    np.testing.assert_allclose(fused.combined_stage.result, (probs - rows) / len(y), atol=1e-15)
    np.testing.assert_allclose(fused.textbook, fused.combined_stage.result, atol=1e-12)
    assert "two ways" in step.to_text()


def test_names_can_be_changed():
    model, X, y, loss_fn = build(2, "tanh", "mse", True, seed=2)
    step = explain(model, X, y, loss_fn, names={"h1": "a1", "0.weight": "W1"})
    text = step.to_text()
    assert "a1 = tanh(Z1)" in text
    assert "Z1 = X @ W1 + bih" in text
    with pytest.raises(ValueError, match="not a value of this step"):
        explain(model, X, y, loss_fn, names={"h7": "x"})
    with pytest.raises(ValueError, match="both be called"):
        explain(model, X, y, loss_fn, names={"h1": "Z1"})


def test_bad_input_is_refused_with_a_clear_message():
    model, X, y, loss_fn = build(1, "tanh", "mse", True, seed=2)
    with pytest.raises(TypeError, match="chainrule Module"):
        explain("not a model", X, y, loss_fn)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        explain(model, np.zeros((2, 2, 2)), y, loss_fn)
    with pytest.raises(ValueError, match="NAME"):
        explain(model, X, y, loss_fn, weights=["W[1"])
