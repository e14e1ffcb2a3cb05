"""Checks and conversions of :func:`chainrule.fit`'s arguments, with errors that say what to fix."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from chainrule.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from chainrule.nn.module import Module
from chainrule.optim import SGD, Adam
from chainrule.optim.optimizer import Optimizer

_LOSSES: dict[str, Callable[[], Module]] = {
    "mse": MSELoss,
    "cross-entropy": CrossEntropyLoss,
    "bce": BCELoss,
    "bce-with-logits": BCEWithLogitsLoss,
}


def count(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int, or a ValueError naming ``name`` and the minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def features(X: ArrayLike, dtype: Any, name: str) -> np.ndarray:
    """A 2-D, finite feature array cast to ``dtype`` (the model's)."""
    array = np.asarray(X)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got an array of dtype {array.dtype}")
    if array.ndim != 2:
        hint = f"; for a single feature use {name}.reshape(-1, 1)" if array.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {array.shape}{hint}")
    if len(array) == 0:
        raise ValueError(f"{name} has no samples (shape {array.shape})")
    check_finite(array, name)
    return array.astype(dtype, copy=False)


def targets(
    y: ArrayLike, dtype: Any, n_samples: int, name: str, *, labels: bool = False
) -> np.ndarray:
    """Finite numeric targets, one per sample, cast to ``dtype``; with ``labels`` (class
    indices for the cross-entropy loss) a 1-D float array must hold whole numbers, checked
    before the cast could round a label such as 1.0000001 to 1."""
    array = np.asarray(y)
    if array.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} holds {array.dtype} values; encode text class labels as integers first: "
            "codes, classes = chainrule.data.encode_labels(y)"
        )
    if array.ndim == 0 or len(array) != n_samples:
        raise ValueError(
            f"{name} has shape {array.shape} but the features have {n_samples} samples; "
            "give one target per sample"
        )
    check_finite(array, name)
    if labels and array.ndim == 1 and array.dtype.kind == "f":
        fractional = array != np.round(array)
        if fractional.any():
            i = int(np.argmax(fractional))
            raise ValueError(
                f"{name} holds class labels for the cross-entropy loss, which must be whole "
                f"numbers; sample {i} has label {float(array[i])!r}"
            )
    return array.astype(dtype, copy=False)


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise, naming the row and column, if ``array`` holds NaN or infinity."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        where = np.argwhere(~np.isfinite(array))[0]
        position = f"row {where[0]}" + (f", column {where[1]}" if len(where) > 1 else "")
        raise ValueError(
            f"{name} has a non-finite value ({array[tuple(where)]}) at {position}; remove or "
            "impute NaN and infinite values before training"
        )


def split(
    X: np.ndarray,
    y: np.ndarray,
    validation_split: float,
    validation_data: tuple[ArrayLike, ArrayLike] | None,
    dtype: Any,
    labels: bool = False,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """(X_train, y_train, validation pair or None); a split takes the last samples."""
    if validation_data is not None:
        if validation_split:
            raise ValueError("pass validation_split or validation_data, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        X_val = features(validation_data[0], dtype, "X_val")
        y_val = targets(validation_data[1], dtype, len(X_val), "y_val", labels=labels)
        return X, y, (X_val, y_val)
    if not validation_split:
        return X, y, None
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}")
    n_train = int(len(X) * (1 - validation_split))
    if not 0 < n_train < len(X):
        raise ValueError(
            f"validation_split={validation_split} leaves no samples for training or validation "
            f"out of {len(X)}; use a fraction that keeps at least one sample in each"
        )
    return X[:n_train], y[:n_train], (X[n_train:], y[n_train:])


def loss_function(loss: Module | str | Callable[..., Any]) -> Callable[..., Any]:
    """The loss module for a name, or ``loss`` itself."""
    if isinstance(loss, str):
        key = loss.lower().replace("_", "-")
        key = {"crossentropy": "cross-entropy", "bce-logits": "bce-with-logits"}.get(key, key)
        if key not in _LOSSES:
            raise ValueError(
                f"unknown loss {loss!r}; use one of {', '.join(_LOSSES)} or a loss module"
            )
        return _LOSSES[key]()
    if not callable(loss):
        raise TypeError(f"loss must be a loss module or a name, got {loss!r}")
    return loss


def optimizer_for(optimizer: Optimizer | str, model: Module) -> Optimizer:
    """``optimizer`` itself, or a default Adam or SGD over the model's parameters."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if optimizer == "adam":
        return Adam(model.parameters())
    if optimizer == "sgd":
        return SGD(model.parameters(), lr=0.01)
    raise ValueError(f'optimizer must be an Optimizer, "adam" or "sgd", got {optimizer!r}')


def digest(X: np.ndarray, y: np.ndarray) -> str:
    """A fingerprint of the training data, so a checkpoint is resumed on the same data."""
    hasher = hashlib.sha256()
    for array in (X, y):
        hasher.update(str(array.shape).encode())
        hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()
