"""Metrics agree with scikit-learn's and name bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from chainrule.train import metrics


@pytest.fixture
def regression():
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=50)
    return y_true, y_true + rng.normal(scale=0.3, size=50)


def test_regression_metrics_match_scikit_learn(regression):
    y_true, y_pred = regression
    assert metrics.mean_squared_error(y_true, y_pred) == pytest.approx(
        sk.mean_squared_error(y_true, y_pred)
    )
    assert metrics.mean_absolute_error(y_true, y_pred) == pytest.approx(
        sk.mean_absolute_error(y_true, y_pred)
    )
    assert metrics.r2_score(y_true, y_pred) == pytest.approx(sk.r2_score(y_true, y_pred))
    two = np.column_stack([y_true, 2 * y_true])
    guess = np.column_stack([y_pred, 2 * y_pred + 1])
    assert metrics.r2_score(two, guess) == pytest.approx(sk.r2_score(two, guess))


def test_r2_of_a_constant_target():
    assert metrics.r2_score([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert metrics.r2_score([1.0, 1.0], [1.0, 2.0]) == 0.0


def test_accuracy_and_confusion_matrix_match_scikit_learn():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 3, 40), rng.integers(0, 3, 40)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, y_pred))
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred), sk.confusion_matrix(y_true, y_pred)
    )
    assert metrics.confusion_matrix([0, 1], [1, 1], num_classes=3).shape == (3, 3)


def test_predicted_and_true_labels():
    assert metrics.predicted_labels(np.array([[0.2, 0.9], [3.0, -1.0]])).tolist() == [1, 0]
    assert metrics.predicted_labels(np.array([[0.7], [0.2]]), threshold=0.5).tolist() == [1, 0]
    assert metrics.predicted_labels(np.array([[-0.1], [0.3]]), threshold=0.0).tolist() == [0, 1]
    assert metrics.true_labels(np.array([[0.0, 1.0], [1.0, 0.0]])).tolist() == [1, 0]


def test_metric_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"y_true has shape \(2,\) but y_pred has shape \(3,\)"):
        metrics.accuracy([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="integer class labels"):
        metrics.confusion_matrix([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        metrics.resolve_metric("auc")
    assert metrics.resolve_metric("acc")[0] == "accuracy"
