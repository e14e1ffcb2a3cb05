"""Per-sample weights in every loss: the weighted mean (or sum) of the samples' own losses,
with gradients that pass the gradient check. (tests/test_ops.py checks each loss op's
weighted VJP too: the ops' samplers draw weights for half the cases.)"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn


def _cross_entropy(reduction: str) -> nn.CrossEntropyLoss:
    return nn.CrossEntropyLoss(reduction=reduction)


def _case(kind: str, rng: np.random.Generator, n: int, k: int):
    """(loss module factory, prediction, target, elements per sample) for one kind."""
    if kind == "mse":
        return (lambda r: nn.MSELoss(r, half=True)), rng.normal(size=(n, k)), rng.normal(
            size=(n, k)
        ), k
    if kind == "cross-entropy":
        labels = rng.integers(0, k + 1, size=n)
        return _cross_entropy, rng.normal(size=(n, k + 1)), labels, 1
    if kind == "cross-entropy-rows":
        rows = rng.dirichlet(np.ones(k + 1), size=n)
        return _cross_entropy, rng.normal(size=(n, k + 1)), rows, 1
    if kind == "bce-with-logits":
        return nn.BCEWithLogitsLoss, rng.normal(size=(n, k)), rng.uniform(size=(n, k)), k
    return nn.BCELoss, rng.uniform(0.05, 0.95, size=(n, k)), rng.uniform(size=(n, k)), k


KINDS = ["mse", "cross-entropy", "cross-entropy-rows", "bce-with-logits", "bce"]


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    reduction=st.sampled_from(["mean", "sum"]),
    n=st.integers(1, 6),
    k=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_a_weighted_loss_is_the_weighted_mean_or_sum_of_the_samples_losses(
    kind, reduction, n, k, seed
):
    rng = np.random.default_rng(seed)
    make, prediction, target, per_sample = _case(kind, rng, n, k)
    weights = rng.uniform(0.0, 3.0, size=n)
    weights[rng.integers(n)] += 0.5  # at least one positive weight
    loss = make(reduction)
    weighted = loss(cr.tensor(prediction), target, sample_weight=weights).item()
    each = [make("sum")(cr.tensor(prediction[i : i + 1]), target[i : i + 1]) for i in range(n)]
    expected = float(np.dot(weights, [value.item() for value in each]))
    if reduction == "mean":
        expected /= weights.sum() * per_sample
    assert weighted == pytest.approx(expected, rel=1e-12, abs=1e-300)
    unweighted = loss(cr.tensor(prediction), target).item()
    ones = loss(cr.tensor(prediction), target, sample_weight=np.ones(n)).item()
    assert ones == pytest.approx(unweighted, rel=1e-12)
    # the gradient of the weighted loss, against central differences
    assert cr.gradcheck(
        lambda p: loss(p, target, sample_weight=weights),
        [cr.tensor(prediction, requires_grad=True)],
    )


def test_an_unweighted_loss_records_no_weight():
    output = nn.MSELoss()(cr.tensor(np.ones((2, 1)), requires_grad=True), np.zeros((2, 1)))
    assert "weight" not in output.node.attrs


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0], r"one weight per sample, shape \(2,\); got shape \(1,\)"),
        ([1.0, -2.0], "finite and non-negative"),
        ([np.inf, 1.0], "finite and non-negative"),
        ([0.0, 0.0], "every sample weight is zero, so the weighted mean is undefined"),
    ],
)
def test_bad_weights_are_named_by_the_loss(weights, message):
    with pytest.raises(ValueError, match=message):
        nn.MSELoss()(cr.tensor(np.ones((2, 1))), np.zeros((2, 1)), sample_weight=weights)


def test_zero_weights_sum_to_zero_with_the_sum_reduction():
    loss = nn.BCEWithLogitsLoss(reduction="sum")
    value = loss(cr.tensor(np.ones((2, 1))), np.zeros((2, 1)), sample_weight=[0.0, 0.0])
    assert value.item() == 0.0
