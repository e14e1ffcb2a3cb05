"""Argument checks shared by the data helpers.

Every check names the bad value and what would be accepted instead: ``TypeError``
for a value of the wrong kind, ``ValueError`` for one out of range.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike

from chainrule._show import kind, plain

__all__ = ["as_1d", "as_2d_float", "as_generator", "check_positive_int", "plain"]

#: What every ``rng`` argument in :mod:`chainrule.data` accepts.
RandomLike = int | np.random.Generator | None


def as_generator(rng: RandomLike) -> np.random.Generator:
    """Turn ``None``, an integer seed or a Generator into a Generator.

    ``None`` means the library's global generator, so ``chainrule.manual_seed``
    makes shuffles and splits reproducible too.
    """
    if rng is None:
        from chainrule.random import get_rng

        return get_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng seed must be a non-negative integer, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        "rng must be None, a non-negative integer seed or a numpy.random.Generator, "
        f"got {rng!r} of type {type(rng).__name__}"
    )


def as_2d_float(X: ArrayLike, name: str = "X") -> np.ndarray:
    """Return ``X`` as a 2-D floating array, keeping float32 and float64 as they are."""
    array = np.asarray(X)
    if array.ndim != 2:
        hint = f"; use {name}.reshape(-1, 1) for a single feature" if array.ndim == 1 else ""
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), "
            f"got shape {array.shape}{hint}"
        )
    if array.dtype.kind == "f":
        return array
    if array.dtype.kind in "biu":
        return array.astype(np.float64)
    raise ValueError(f"{name} must hold numbers, got an array of {kind(array.dtype)}")


def as_1d(y: ArrayLike, name: str = "y") -> np.ndarray:
    """Return ``y`` as a 1-D array; a column of shape (n, 1) is flattened."""
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of shape (n_samples,), got shape {array.shape}"
        )
    return array


def check_same_length(X: np.ndarray, y: np.ndarray, x_name: str = "X", y_name: str = "y") -> None:
    """Raise if ``X`` and ``y`` do not hold the same number of samples."""
    if len(X) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of samples, "
            f"got {len(X)} rows in {x_name} and {len(y)} in {y_name}"
        )


def check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, raising unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {plain(value)!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_non_negative_float(value: object, name: str) -> float:
    """Return ``value`` as a float, raising unless it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number >= 0, got {plain(value)!r}")
    if not math.isfinite(float(value)) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)
