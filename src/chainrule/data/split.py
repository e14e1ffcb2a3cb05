"""Train/test splits and mini-batches."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike

from ._checks import (
    RandomLike,
    as_1d,
    as_generator,
    check_positive_int,
    check_same_length,
    plain,
)

__all__ = ["iter_batches", "train_test_split"]


def train_test_split(
    X: ArrayLike,
    y: ArrayLike,
    test_size: float = 0.2,
    *,
    shuffle: bool = True,
    rng: RandomLike = None,
    stratify: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split samples into a training and a test part.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    test_size : float in (0, 1) or int in [1, n_samples - 1], default 0.2
        Fraction of samples (rounded up) or number of samples for the test part.
    shuffle : bool, default True
        Shuffle before splitting; ``False`` keeps the last samples for testing.
    rng : None, int or numpy.random.Generator
        Seed or generator, for a reproducible split.
    stratify : array-like of shape (n_samples,), optional
        Class labels (usually ``y``); each class then keeps its share of samples in
        both parts, to within one sample.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
    """
    features, targets = np.asarray(X), np.asarray(y)
    check_same_length(features, targets)
    n_samples = len(features)
    n_test = _test_count(test_size, n_samples)
    generator = as_generator(rng)
    if stratify is not None:
        if not shuffle:
            raise ValueError("stratify needs shuffle=True: a stratified split is random")
        labels = as_1d(stratify, "stratify")
        check_same_length(features, labels, y_name="stratify")
        test = _stratified_test_indices(labels, n_test, generator)
        train = np.setdiff1d(np.arange(n_samples), test)
        train, test = generator.permutation(train), generator.permutation(test)
    else:
        order = generator.permutation(n_samples) if shuffle else np.arange(n_samples)
        train, test = order[: n_samples - n_test], order[n_samples - n_test :]
    return features[train], features[test], targets[train], targets[test]


def _test_count(test_size: float, n_samples: int) -> int:
    if n_samples < 2:
        raise ValueError(f"train_test_split needs at least 2 samples, got {n_samples}")
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        count = int(test_size)
    elif isinstance(test_size, numbers.Real) and 0 < test_size < 1:
        count = math.ceil(float(test_size) * n_samples)
    else:
        raise ValueError(
            f"test_size must be a float in (0, 1) or an int in [1, {n_samples - 1}], "
            f"got {plain(test_size)!r}"
        )
    if not 1 <= count <= n_samples - 1:
        raise ValueError(
            f"test_size={plain(test_size)!r} gives {count} test samples out of {n_samples}; "
            f"both parts need at least one sample: use a float in (0, 1) or an int in "
            f"[1, {n_samples - 1}]"
        )
    return count


def _stratified_test_indices(
    labels: np.ndarray, n_test: int, generator: np.random.Generator
) -> np.ndarray:
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        lonely = classes[np.argmin(counts)]
        raise ValueError(
            f"class {plain(lonely)!r} has only 1 sample; a stratified split needs at least 2 "
            "per class: drop that class or split without stratify"
        )
    # Largest-remainder rounding: every class gets floor(its share), and the samples
    # still missing go to the classes with the largest fractional parts.
    ideal = counts * n_test / len(labels)
    per_class = np.floor(ideal).astype(np.int64)
    remainder = ideal - per_class + generator.uniform(0, 1e-9, len(counts))
    per_class[np.argsort(-remainder)[: n_test - per_class.sum()]] += 1
    chosen = [
        generator.choice(np.flatnonzero(codes == k), size=int(per_class[k]), replace=False)
        for k in range(len(classes))
    ]
    return np.sort(np.concatenate(chosen))


def iter_batches(
    X: ArrayLike,
    y: ArrayLike | None = None,
    batch_size: int = 32,
    *,
    shuffle: bool = True,
    rng: RandomLike = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yield mini-batches ``(X_batch, y_batch)`` covering every sample once.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples, ...), optional
        ``y_batch`` is ``None`` when ``y`` is ``None``.
    batch_size : int >= 1, default 32
        The last batch is smaller when ``batch_size`` does not divide ``n_samples``.
    shuffle : bool, default True
        Visit the samples in a new random order (batches are then copies); ``False``
        keeps the order (batches are then views, without copying).
    rng : None, int or numpy.random.Generator
        Seed or generator for the shuffle.
    drop_last : bool, default False
        Leave out the last batch if it is smaller than ``batch_size``.

    Yields
    ------
    X_batch : ndarray of shape (batch_size, ...)
    y_batch : ndarray of shape (batch_size, ...) or None

    Examples
    --------
    >>> import numpy as np
    >>> [len(xb) for xb, _ in iter_batches(np.zeros((5, 2)), batch_size=2, shuffle=False)]
    [2, 2, 1]
    """
    features = np.asarray(X)
    targets = None if y is None else np.asarray(y)
    if targets is not None:
        check_same_length(features, targets)
    size = check_positive_int(batch_size, "batch_size")
    # Checked here, not in the generator, so a bad argument fails at the call.
    order = as_generator(rng).permutation(len(features)) if shuffle else None
    return _batches(features, targets, size, order, drop_last)


def _batches(
    features: np.ndarray,
    targets: np.ndarray | None,
    size: int,
    order: np.ndarray | None,
    drop_last: bool,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    n_samples = len(features)
    stop = n_samples - n_samples % size if drop_last else n_samples
    for start in range(0, stop, size):
        rows: slice | np.ndarray = slice(start, start + size)
        if order is not None:
            rows = order[start : start + size]
        yield features[rows], None if targets is None else targets[rows]
