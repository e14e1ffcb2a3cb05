"""Metrics: accuracy, mean squared and absolute error, R^2 and the confusion matrix.

Each metric takes NumPy arrays ``(y_true, y_pred)`` and returns a float. Inside
:func:`chainrule.fit` they are named by string (``metrics=["accuracy"]``) and receive
the model's raw outputs; :func:`predicted_labels` turns those into class labels
the same way the loss reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "METRICS",
    "accuracy",
    "confusion_matrix",
    "mean_absolute_error",
    "mean_squared_error",
    "predicted_labels",
    "r2_score",
    "resolve_metric",
]

Metric = Callable[[np.ndarray, np.ndarray], float]


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    if true.ndim == 2 and true.shape[1] == 1:
        true = true[:, 0]
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if true.shape != pred.shape:
        raise ValueError(
            f"y_true has shape {true.shape} but y_pred has shape {pred.shape}; they must match"
        )
    if true.size == 0:
        raise ValueError("metrics need at least one sample, got empty arrays")
    return true, pred


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of samples whose predicted label equals the true label.

    Examples
    --------
    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(true == pred))


def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of ``(y_true - y_pred)^2`` over every element."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean((true.astype(np.float64) - pred) ** 2))


def mean_absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of ``|y_true - y_pred|`` over every element."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(true.astype(np.float64) - pred)))


def r2_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``, averaged over outputs.

    1 is a perfect fit and 0 is no better than predicting the mean. A constant
    target gives 1 for a perfect prediction and 0 otherwise (scikit-learn's rule).
    """
    true, pred = _pair(y_true, y_pred)
    true = true.astype(np.float64).reshape(len(true), -1)
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    residual = ((true - pred) ** 2).sum(axis=0)
    total = ((true - true.mean(axis=0)) ** 2).sum(axis=0)
    scores = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), 0.0)
    scores = np.where((total == 0) & (residual == 0), 1.0, scores)
    return float(scores.mean())


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
) -> np.ndarray:
    """Counts of (true class, predicted class) pairs for integer labels.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Integer class labels in ``[0, num_classes)``.
    num_classes : int, optional
        Default: one more than the largest label seen.

    Returns
    -------
    ndarray of shape (num_classes, num_classes), int64
        Row ``i``, column ``j``: samples of class ``i`` predicted as ``j``.

    Examples
    --------
    >>> confusion_matrix([0, 1, 1], [0, 0, 1])
    array([[1, 0],
           [1, 1]])
    """
    true, pred = _pair(y_true, y_pred)
    for label, values in (("y_true", true), ("y_pred", pred)):
        if values.dtype.kind not in "iub" and not np.array_equal(values, np.round(values)):
            raise ValueError(f"{label} must hold integer class labels, got dtype {values.dtype}")
        if values.min() < 0:
            raise ValueError(f"{label} holds a negative class label {values.min()}")
    true, pred = true.astype(np.int64), pred.astype(np.int64)
    count = int(max(true.max(), pred.max())) + 1 if num_classes is None else int(num_classes)
    if max(true.max(), pred.max()) >= count:
        raise ValueError(f"labels must be below num_classes={count}")
    matrix = np.zeros((count, count), dtype=np.int64)
    np.add.at(matrix, (true, pred), 1)
    return matrix


METRICS: dict[str, Metric] = {
    "accuracy": accuracy,
    "mse": mean_squared_error,
    "mae": mean_absolute_error,
    "r2": r2_score,
}
_ALIASES = {
    "acc": "accuracy",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "r2_score": "r2",
}
#: Metrics that compare class labels (the others compare raw values).
LABEL_METRICS = frozenset({"accuracy"})


def resolve_metric(metric: str | Callable[..., Any]) -> tuple[str, Metric]:
    """(name, function) for a metric given by name or as a function ``f(y_true, y_pred)``."""
    if callable(metric):
        return getattr(metric, "__name__", type(metric).__name__), metric
    key = _ALIASES.get(str(metric).lower(), str(metric).lower())
    if key not in METRICS:
        raise ValueError(
            f"unknown metric {metric!r}; use one of {', '.join(METRICS)} or a function "
            "f(y_true, y_pred) -> float"
        )
    return key, METRICS[key]


def predicted_labels(outputs: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Class labels from raw outputs: argmax over columns, or ``output > threshold``
    for a single column (``threshold`` 0 for logits, 0.5 for probabilities)."""
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        return outputs.argmax(axis=1)
    return (outputs.reshape(len(outputs)) > threshold).astype(np.int64)


def true_labels(targets: np.ndarray) -> np.ndarray:
    """Class labels from targets given as labels or as one-hot / probability rows."""
    if targets.ndim == 2 and targets.shape[1] > 1:
        return targets.argmax(axis=1)
    return targets.reshape(len(targets)).astype(np.int64)
