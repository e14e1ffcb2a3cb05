"""Checks and conversions of :func:`chainrule.fit`'s arguments, with errors that say what to fix."""

from __future__ import annotations

import hashlib
import inspect
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from chainrule._show import kind, plain, shown
from chainrule.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from chainrule.nn.module import Module
from chainrule.optim import SGD, Adam
from chainrule.optim.optimizer import Optimizer
from chainrule.tensor import Tensor, all_finite
from chainrule.train._tables import as_array
from chainrule.train.callbacks import Callback

_LOSSES: dict[str, Callable[[], Module]] = {
    "mse": MSELoss,
    "cross-entropy": CrossEntropyLoss,
    "bce": BCELoss,
    "bce-with-logits": BCEWithLogitsLoss,
}


def count(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int, or a ValueError naming ``name`` and the minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {shown(value)}")
    return int(value)


def flag(name: str, value: Any, *, also: str = "") -> bool:
    """``value`` as a bool, or a TypeError naming ``name``: a string such as "no" is refused.

    ``also`` names further accepted values (checked by the caller) for the message.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    allowed = f"True, False or {also}" if also else "True or False"
    raise TypeError(f"{name} must be {allowed}, got {shown(value)}")


def model(value: Any) -> Module:
    """``value`` if it is a chainrule Module, else a TypeError naming ``model``."""
    if not isinstance(value, Module):
        raise TypeError(
            f"model must be a chainrule Module such as nn.Sequential(nn.Linear(2, 1)), "
            f"got {type(value).__name__} {shown(value)}"
        )
    return value


def callbacks(value: Any) -> list[Callback]:
    """``value`` as a list of Callback objects; a single one is accepted as it is."""
    if isinstance(value, Callback):
        return [value]
    if value is None or isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            f"callbacks must be a list of Callback objects such as [EarlyStopping()], "
            f"got {shown(value)}"
        )
    for index, item in enumerate(value):
        if not isinstance(item, Callback):
            raise TypeError(
                f"callbacks[{index}] must be a Callback (a subclass of "
                f"chainrule.train.Callback), got {type(item).__name__} {shown(item)}"
            )
    return list(value)


def metric_list(value: Any) -> list[Any]:
    """``metrics`` as a list: one name or function, or a sequence of them."""
    if isinstance(value, str) or callable(value):
        return [value]
    if value is None or not isinstance(value, Sequence):
        raise TypeError(
            f'metrics must be a list of names such as ["accuracy"] or functions, got {shown(value)}'
        )
    for index, item in enumerate(value):
        if not (isinstance(item, str) or callable(item)):
            raise TypeError(
                f"metrics[{index}] must be a metric name or a function f(y_true, y_pred), "
                f"got {shown(item)}"
            )
    return list(value)


def folder(name: str, value: Any) -> str | os.PathLike[str] | None:
    """``value`` if it is None or a path, else a TypeError naming ``name``."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return value
    raise TypeError(
        f"{name} must be a folder path (str or pathlib.Path) or None, got {shown(value)}"
    )


def features(X: ArrayLike, dtype: Any, name: str) -> np.ndarray:
    """A 2-D, finite feature array cast to ``dtype`` (the model's), in row-major order.

    Batches are gathered row by row, which from a column-major array (what pandas and
    some scikit-learn datasets hand over) costs a strided read per value; one copy
    here makes every later gather a contiguous one."""
    array = as_array(X, name)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got an array of {kind(array.dtype)}")
    if array.ndim != 2:
        hint = f"; for a single feature use {name}.reshape(-1, 1)" if array.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {array.shape}{hint}")
    if len(array) == 0:
        raise ValueError(f"{name} has no samples (shape {array.shape})")
    if array.dtype == dtype:
        # Training reads it in C order: a strided view (a slice of a larger array) or a
        # column-major array is copied once, here, and checked in order, not copied again.
        array = np.ascontiguousarray(array)
    check_finite(array, name)
    check_fits(array, dtype, name)
    return np.asarray(array, dtype=dtype, order="C")


def targets(
    y: ArrayLike, dtype: Any, n_samples: int, name: str, *, labels: bool = False
) -> np.ndarray:
    """Finite numeric targets, one per sample, cast to ``dtype``; with ``labels`` (class
    indices for the cross-entropy loss) a 1-D float array must hold whole numbers, checked
    before the cast could round a label such as 1.0000001 to 1, and a 1-D integer array
    is kept as it is (the loss checks their range: once for the whole training set on
    fit's lean path, else at each batch)."""
    array = as_array(y, name)
    if array.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} holds {kind(array.dtype)}; encode text class labels as integers first: "
            "codes, classes = chainrule.data.encode_labels(y)"
        )
    if array.ndim == 0 or len(array) != n_samples:
        raise ValueError(
            f"{name} has shape {array.shape} but the features have {n_samples} samples; "
            "give one target per sample"
        )
    check_finite(array, name)
    check_fits(array, dtype, name)
    if labels and array.ndim == 1 and array.dtype.kind == "f":
        fractional = array != np.round(array)
        if fractional.any():
            i = int(np.argmax(fractional))
            raise ValueError(
                f"{name} holds class labels for the cross-entropy loss, which must be whole "
                f"numbers; sample {i} has label {float(array[i])!r}"
            )
    if labels and array.ndim == 1 and array.dtype.kind in "iu":
        return array  # class indices: the loss takes them as they are, with no cast per batch
    return array.astype(dtype, copy=False)


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise, naming the row and column, if ``array`` holds NaN or infinity."""
    # ravel("K") is a view of a column-major array too, so the dot products read the
    # values in place instead of a row-major copy; in pieces, on one thread (fit has not
    # chosen its threads yet: see all_finite).
    if array.dtype.kind == "f" and not all_finite(array.ravel(order="K"), pieces=True):
        where = np.argwhere(~np.isfinite(array))[0]
        position = f"row {where[0]}" + (f", column {where[1]}" if len(where) > 1 else "")
        raise ValueError(
            f"{name} has a non-finite value ({plain(array[tuple(where)])}) at {position}; "
            "remove or impute NaN and infinite values first"
        )


def check_fits(array: np.ndarray, dtype: Any, name: str) -> None:
    """Raise, naming the row and column, if a finite value overflows when cast to ``dtype``."""
    target = np.dtype(dtype)
    if target.kind != "f" or array.dtype.kind not in "fiu" or array.size == 0:
        return
    if array.dtype.kind == "f" and np.finfo(array.dtype).max <= np.finfo(target).max:
        return
    limit = float(np.finfo(target).max)
    too_large = np.abs(array.astype(np.float64)) > limit
    if too_large.any():
        where = np.argwhere(too_large)[0]
        position = f"row {where[0]}" + (f", column {where[1]}" if len(where) > 1 else "")
        raise ValueError(
            f"{name} value {plain(array[tuple(where)]):g} at {position} is too large for the "
            f"model's {target.name} (at most {limit:.3g}); scale the values down, or train "
            "in float64: model.double()"
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
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real):
        raise TypeError(
            f"validation_split must be a number in [0, 1), got {shown(validation_split)}"
        )
    if not validation_split:
        return X, y, None
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {shown(validation_split)}")
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
                f"unknown loss {shown(loss)}; use one of {', '.join(_LOSSES)} or a loss module"
            )
        return _LOSSES[key]()
    if not callable(loss):
        raise TypeError(f"loss must be a loss module or a name, got {shown(loss)}")
    return loss


def inner_loss(loss: Callable[..., Any]) -> Callable[..., Any]:
    """The loss module that decides what targets mean: ``loss`` itself, or, for a wrapper
    that adds a term to a module it holds as ``loss`` (a penalty), that module."""
    if isinstance(loss, Module):
        return loss
    inner = getattr(loss, "loss", None)
    return inner if isinstance(inner, Module) else loss


def penalty_of(loss: Callable[..., Any]) -> Any | None:
    """``loss`` if it is a penalized loss, else None.

    A penalized loss (the estimators' L2 penalty) adds to the loss of a module it holds
    as ``loss`` a term whose gradient it computes itself. It offers
    ``penalty(share) -> float``, the term's value for a batch of ``share`` samples (or of
    that total sample weight), and ``add_gradients()``, which adds the gradient of the
    last value to the parameters' ``.grad``. The training loop backpropagates the data
    term alone, adds the two values as numbers and calls ``add_gradients()`` right after
    every ``backward()``: the term's value and its gradient are taken in one place.
    """
    if (
        isinstance(getattr(loss, "loss", None), Module)
        and callable(getattr(loss, "penalty", None))
        and callable(getattr(loss, "add_gradients", None))
    ):
        return loss
    return None


def sample_weights(sample_weight: ArrayLike | None, n_samples: int) -> np.ndarray | None:
    """``sample_weight`` as a float64 array of one finite, non-negative weight per sample."""
    if sample_weight is None:
        return None
    array = as_array(sample_weight, "sample_weight")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must be numbers, one per sample; got {kind(array.dtype)}")
    weights = array.astype(np.float64)
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must hold one weight per sample, shape ({n_samples},); "
            f"got shape {weights.shape}"
        )
    check_finite(weights, "sample_weight")
    if (weights < 0).any():
        i = int(np.argmax(weights < 0))
        raise ValueError(
            f"sample_weight must be non-negative; sample {i} has weight {plain(weights[i]):g}"
        )
    return weights


def training_weights(weights: np.ndarray, n_train: int, loss: Callable[..., Any]) -> np.ndarray:
    """The training samples' weights, once the loss is known to take them."""
    if not _takes_sample_weight(loss):
        raise TypeError(
            "sample_weight needs a loss that takes it, as loss(output, target, "
            "sample_weight=...) does for chainrule's losses; add that parameter to your loss"
        )
    weights = weights[:n_train]
    if not weights.any():
        raise ValueError(
            "sample_weight: every training sample's weight is zero, so there is nothing to "
            "learn from; give at least one sample a positive weight"
        )
    return weights


def _takes_sample_weight(loss: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(loss).parameters.values()
    except (TypeError, ValueError):
        return True  # a builtin we cannot inspect: let the call itself say
    return any(
        p.name == "sample_weight" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )


def loss_tensor(value: Any) -> Tensor:
    """What the loss returned, if it is a one-element Tensor; else a TypeError naming ``loss``."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f"loss must return a Tensor computed from the prediction (so that it can be "
            f"differentiated), got {type(value).__name__} {shown(value)}; build it with "
            "chainrule operations, e.g. ((pred - target) ** 2).mean()"
        )
    if value.data.size != 1:
        raise ValueError(
            f"loss must return a single number, got a Tensor of shape {value.shape}; "
            "reduce it, e.g. with .mean()"
        )
    return value


def optimizer_for(optimizer: Optimizer | str, model: Module) -> Optimizer:
    """``optimizer`` itself, or a default Adam or SGD over the model's parameters."""
    if isinstance(optimizer, Optimizer):
        own = {id(param) for param in model.parameters()}
        held = [param for group in optimizer.param_groups for param in group["params"]]
        if not any(id(param) in own for param in held):
            raise ValueError(
                "optimizer holds none of the model's parameters, so training would change "
                "nothing; build it over this model: optimizer=Adam(model.parameters())"
            )
        return optimizer
    if isinstance(optimizer, str) and optimizer == "adam":
        return Adam(model.parameters())
    if isinstance(optimizer, str) and optimizer == "sgd":
        return SGD(model.parameters(), lr=0.01)
    raise ValueError(f'optimizer must be an Optimizer, "adam" or "sgd", got {shown(optimizer)}')


def digest(*arrays: np.ndarray) -> str:
    """A fingerprint of the training data, so a checkpoint is resumed on the same data."""
    hasher = hashlib.sha256()
    for array in arrays:
        hasher.update(str(array.shape).encode())
        hasher.update(np.ascontiguousarray(array).data)
    return hasher.hexdigest()
