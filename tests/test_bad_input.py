"""Bad input gives a ValueError/TypeError that names the layer, the expectation and the value."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


@pytest.fixture
def model():
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))


def test_wrong_feature_count_names_layer_and_shapes(model):
    with pytest.raises(
        ValueError, match=r"Linear\(4, 5\) expects 4 input features .* shape \(6, 3\)"
    ):
        model(np.zeros((6, 3), dtype=np.float32))


def test_one_dimensional_input_suggests_reshape(model):
    with pytest.raises(ValueError, match=r"shape \(4,\).*reshape\(1, -1\)"):
        model(np.zeros(4, dtype=np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected_at_the_entry(model, bad):
    x = np.zeros((3, 4), dtype=np.float32)
    x[2, 1] = bad
    with pytest.raises(
        ValueError, match=r"Linear\(4, 5\) got a non-finite input .* row 2, column 1"
    ):
        model(x)


def test_wrong_float_dtype_names_both_dtypes_and_the_fix(model):
    with pytest.raises(TypeError, match=r"float32 weights but got float64 input.*astype"):
        model(np.zeros((2, 4)))


@pytest.mark.parametrize("bad", [np.array([["a"] * 4]), np.zeros((1, 4), dtype=complex)])
def test_non_numeric_dtype_names_the_layer(model, bad):
    with pytest.raises(TypeError, match=r"Linear\(4, 5\).*real numbers"):
        model(bad)


def test_class_label_out_of_range(model):
    logits = model(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(
        ValueError, match=r"integers in \[0, 2\] for 3 classes; sample 1 has label 3"
    ):
        nn.CrossEntropyLoss()(logits, [0, 3, 1])
    with pytest.raises(ValueError, match=r"sample 2 has label 0.5"):
        nn.CrossEntropyLoss()(logits, [0, 1, 0.5])
    with pytest.raises(ValueError, match=r"sample 0 has label -1"):
        nn.CrossEntropyLoss()(logits, [-1, 1, 1])


def test_target_shape_mismatch(model):
    out = model(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(
        ValueError, match=r"prediction has shape \(3, 3\) but target has shape \(3, 2\)"
    ):
        nn.MSELoss()(out, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"class labels of shape \(3,\)"):
        nn.CrossEntropyLoss()(out, np.zeros((4,)))


def test_nan_target_and_binary_target_range():
    pred = np.zeros((2, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="NaN or infinite"):
        nn.MSELoss()(pred, [np.nan, 1.0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.BCEWithLogitsLoss()(pred, [2.0, 0.0])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: nn.Linear(0, 3), "in_features must be a positive integer, got 0"),
        (lambda: nn.Linear(3, 2.5), "out_features must be a positive integer, got 2.5"),
        (lambda: nn.Linear(3, 2, bias="yes"), 'bias must be True, False or "shared"'),
        (lambda: nn.LeakyReLU(-1), "negative_slope must be a finite number >= 0"),
        (lambda: nn.MSELoss(reduction="avg"), 'reduction must be "mean" or "sum"'),
        (lambda: nn.Linear(3, 2, init="glorot_magic"), "unknown initializer 'glorot_magic'"),
    ],
)
def test_invalid_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_functional_linear_takes_rows_of_samples():
    w = cr.tensor(np.ones((3, 2)), requires_grad=True)
    out = cr.functional.linear(np.ones((4, 3)), w, cr.tensor(np.zeros(2), requires_grad=True))
    out.sum().backward()
    assert np.array_equal(w.grad, np.full((3, 2), 4.0))
    with pytest.raises(ValueError, match=r"2-D array.*got shape \(3,\).*reshape\(1, -1\)"):
        cr.functional.linear(np.ones(3), w)
