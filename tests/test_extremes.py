"""Extreme values: exact saturation, no floating-point warnings, finite stable losses."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule import nn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_exactly_without_warnings(dtype):
    x = cr.tensor(np.array([710.0, -710.0, 1e20, -1e20], dtype=dtype), requires_grad=True)
    with np.errstate(all="raise"):
        out = F.sigmoid(x)
        out.sum().backward()
    assert out.data[0] == 1.0 and out.data[2] == 1.0
    assert out.data[1] == 0.0 and out.data[3] == 0.0
    np.testing.assert_array_equal(x.grad, np.zeros(4))


def test_sigmoid_matches_the_textbook_formula():
    x = np.linspace(-30, 30, 601)
    out = F.sigmoid(x).data
    expected = 1.0 / (1.0 + np.exp(-x))
    # the tail is exact to an absolute error of half an ulp of 1
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1.2e-16)
    assert F.sigmoid(np.array([0.0])).data[0] == 0.5


@pytest.mark.parametrize("scale", [1.0, 1e8])
def test_cross_entropy_on_huge_logits_is_finite_and_correct(scale):
    logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, -3.0]]) * scale
    labels = np.array([0, 2])
    z = cr.tensor(logits, requires_grad=True)
    with np.errstate(all="raise"):
        loss = nn.CrossEntropyLoss()(z, labels)
        loss.backward()
    # reference: log-sum-exp in plain arithmetic, shifted by the row maximum
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = -(logp[0, 0] + logp[1, 2]) / 2
    assert np.isfinite(loss.item()) and np.isfinite(z.grad).all()
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    if scale == 1e8:  # row 2's true class is far below the maximum: loss ~ 3.2e8 / 2
        assert loss.item() == pytest.approx(3.2e8 / 2, rel=1e-12)


def test_cross_entropy_from_explicit_softmax_is_as_stable_as_from_logits():
    logits = np.array([[1000.0, -1000.0], [-500.0, 500.0]])
    labels = np.array([1, 0])  # both confidently wrong: probabilities of the truth underflow
    with np.errstate(all="raise"):
        fused = nn.CrossEntropyLoss(from_probs=True)(nn.Softmax()(logits), labels)
        direct = nn.CrossEntropyLoss()(logits, labels)
    assert fused.item() == direct.item() == pytest.approx(1500.0)


def test_logistic_cross_entropy_at_extreme_logits():
    z = cr.tensor(np.array([0.0, -120.0]), requires_grad=True)
    with np.errstate(all="raise"):
        loss = nn.BCEWithLogitsLoss(reduction="sum")(z, np.array([0.0, 1.0]))
        loss.backward()
    # log(2) + (120 + log(1 + e^-120)) = 0.693147... + 120
    assert loss.item() == pytest.approx(np.log(2.0) + 120.0, rel=1e-12)
    np.testing.assert_allclose(z.grad, [0.5, -1.0], rtol=1e-12)


@pytest.mark.parametrize("value", [501.0, -501.0, 1001.2, -1001.2, 13437.7, -13437.7, 1e20, -1e20])
def test_activations_and_losses_raise_no_floating_point_warning(value):
    x = np.array([[value, 0.0, -value]])
    with np.errstate(all="raise"):
        for fn in (F.sigmoid, F.tanh, F.relu, F.softmax, F.log_softmax):
            t = cr.tensor(x, requires_grad=True)
            fn(t).sum().backward()
            assert np.isfinite(t.grad).all()
        t = cr.tensor(x, requires_grad=True)
        nn.BCEWithLogitsLoss()(t, np.array([[1.0, 0.0, 1.0]])).backward()
        assert np.isfinite(t.grad).all()
