"""cr.explain for PyTorch models: translated, explained, checked against torch.autograd.

For generated networks and every PyTorch loss chainrule has (with both reductions), the
explained gradients equal those of PyTorch's own autograd, computed here independently
on a float64 copy, and the step's update equals ``torch.optim.SGD``'s; every rendering
says that the gradients agree and to what precision; the PyTorch model is unchanged.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from bridge_networks import networks

torch = pytest.importorskip("torch")
tnn = torch.nn

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LOSSES = ["MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss"]
AGREEMENT = re.compile(
    r"the gradients of all (\d+) parameters agree with torch\.autograd's on the original model "
    r"to (\S+) relative \(largest difference (\S+), in float64\)"
)


def _problem(model, loss_name, reduction, rng):
    """A PyTorch model, inputs, targets and loss fitting ``loss_name``."""
    module = cr.to_torch(model)
    width = module[-1].out_features if isinstance(module[-1], tnn.Linear) else None
    if width is None:
        width = next(m.out_features for m in reversed(module) if isinstance(m, tnn.Linear))
    if loss_name == "BCELoss":
        module.append(tnn.Sigmoid())
    first = next(m for m in module if isinstance(m, tnn.Linear))
    x = rng.normal(size=(5, first.in_features))
    if loss_name == "CrossEntropyLoss":
        y = rng.integers(0, width, size=5)
    elif loss_name == "MSELoss":
        y = rng.normal(size=(5, width))
    else:
        y = rng.integers(0, 2, size=(5, width)).astype(np.float64)
    return module, x, y, getattr(tnn, loss_name)(reduction=reduction)


def _autograd_step(module, x, y, loss, lr):
    """PyTorch's own gradients and SGD step, on a float64 copy of ``module``."""
    twin = copy.deepcopy(module).double()
    target = torch.from_numpy(y)
    value = loss(twin(torch.from_numpy(x)), target)
    value.backward()
    grads = {name: p.grad.numpy().copy() for name, p in twin.named_parameters()}
    torch.optim.SGD(twin.parameters(), lr=lr).step()
    updated = {name: p.detach().numpy().copy() for name, p in twin.named_parameters()}
    return float(value.detach()), grads, updated


def _in_chainrule_layout(values, translation_sources):
    return {
        key: values[name].T if transposed else values[name]
        for key, (name, transposed) in translation_sources.items()
    }


@SETTINGS
@given(
    networks(),
    st.sampled_from(LOSSES),
    st.sampled_from(["mean", "sum"]),
    st.integers(0, 2**16),
)
def test_the_explained_step_is_pytorchs_step(model, loss_name, reduction, seed):
    from chainrule.bridges.pytorch import translate

    module, x, y, loss = _problem(model, loss_name, reduction, np.random.default_rng(seed))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    explanation = cr.explain(module, x, y, loss, lr=0.3)

    value, grads, updated = _autograd_step(module, x, y, loss, lr=0.3)
    sources = translate(module).sources
    assert explanation.loss == pytest.approx(value, rel=1e-12, abs=1e-300)
    scale = max(np.abs(g).max(initial=0.0) for g in grads.values()) or 1.0
    theirs = _in_chainrule_layout(grads, sources)
    assert set(explanation.gradients) == set(theirs)
    for key, grad in explanation.gradients.items():
        assert np.abs(grad - theirs[key]).max(initial=0.0) <= 1e-10 * scale, key
    for key, values in _in_chainrule_layout(updated, sources).items():
        np.testing.assert_allclose(explanation.updated[key], values, rtol=1e-10, atol=1e-12)

    # The PyTorch model itself is untouched: same values, same dtype, no gradients.
    after = module.state_dict()
    assert all(torch.equal(after[k], v) and after[k].dtype == v.dtype for k, v in before.items())
    assert all(p.grad is None for p in module.parameters())

    stated = AGREEMENT.search(explanation.description)
    assert stated is not None, explanation.description
    assert int(stated.group(1)) == len(sources)
    assert float(stated.group(2)) <= 1e-10


def test_every_rendering_says_the_gradients_agree_with_pytorch():
    module = tnn.Sequential(tnn.Linear(2, 3), tnn.Sigmoid(), tnn.Linear(3, 2))
    x, y = np.array([[0.5, -1.0], [1.5, 0.25]]), np.array([1, 0])
    explanation = cr.explain(module, x, y, tnn.CrossEntropyLoss(), lr=0.1, description="Mine.")
    assert explanation.description.startswith("Mine. Translated from a PyTorch model")
    for text in (explanation.to_text(), explanation.to_markdown(), explanation.to_html()):
        assert "agree with torch.autograd" in re.sub(r"\s+", " ", text)


def test_a_step_kept_in_float32_is_checked_in_float32():
    module = tnn.Sequential(tnn.Linear(3, 4), tnn.ReLU(), tnn.Linear(4, 1))
    x, y = np.random.default_rng(0).normal(size=(4, 3)), np.ones((4, 1))
    explanation = cr.explain(module, x, y, tnn.MSELoss(reduction="sum"), dtype=None)
    assert explanation.gradients["0.weight"].dtype == np.float32
    stated = r"to \S+ relative \(largest difference \S+, in float32\)"
    assert re.search(stated, explanation.description)


def test_torch_tensors_and_torch_parameter_names_are_accepted():
    module = tnn.Sequential(
        tnn.Linear(2, 2, bias=False), cr.bridges.SharedBias(0.1), tnn.Tanh(), tnn.Linear(2, 1)
    )
    x, y = torch.tensor([[0.5, -1.0]]), torch.tensor([[2.0]])
    explanation = cr.explain(
        module, x, y, tnn.MSELoss(), lr=0.1, names={"1.bias": "b_shared", "3.weight": "Who"}
    )
    assert explanation.names["0.bias"] == "b_shared"
    assert explanation.names["2.weight"] == "Who"
    assert "agree with torch.autograd" in explanation.description


@pytest.mark.parametrize(
    ("loss", "error", "message"),
    [
        (tnn.L1Loss(), TypeError, "L1Loss is not supported: chainrule has the PyTorch losses"),
        (tnn.MSELoss(reduction="none"), ValueError, "reduction='none'"),
        (tnn.CrossEntropyLoss(label_smoothing=0.1), ValueError, "label_smoothing"),
        (tnn.CrossEntropyLoss(weight=torch.ones(2)), ValueError, "CrossEntropyLoss with weight"),
        (tnn.BCEWithLogitsLoss(pos_weight=torch.ones(2)), ValueError, "pos_weight"),
    ],
)
def test_losses_chainrule_cannot_compute_are_refused_by_name(loss, error, message):
    module = tnn.Sequential(tnn.Linear(2, 2))
    with pytest.raises(error, match=re.escape(message)):
        cr.explain(module, np.ones((1, 2)), np.array([[0.0, 1.0]]), loss)


def test_an_unsupported_layer_is_refused_before_anything_is_explained():
    module = tnn.Sequential(tnn.Linear(2, 2), tnn.BatchNorm1d(2))
    with pytest.raises(TypeError, match="BatchNorm1d at position 1 is not supported"):
        cr.explain(module, np.ones((2, 2)), np.ones((2, 2)), tnn.MSELoss())
