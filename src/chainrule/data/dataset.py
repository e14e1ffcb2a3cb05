"""The :class:`Dataset` container returned by :func:`read_csv` and :func:`load`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """A feature matrix with its optional target and the names of both.

    A ``Dataset`` unpacks like a tuple, so ``X, y = read_csv("houses.csv", "price")``
    works as well as ``data = read_csv(...); data.X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Features, float64; rows are samples.
    y : ndarray of shape (n_samples,) or None
        The target: float64 numbers, int64 class labels or text class labels
        (a string array). ``None`` when the data has no target column.
    feature_names : list of str
        One name per column of ``X``.
    target_name : str or None
        Name of the target column; ``None`` when ``y`` is ``None``.

    Attributes
    ----------
    n_samples : int
        Number of rows of ``X``.
    n_features : int
        Number of columns of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> data = Dataset(np.zeros((3, 2)), np.array([0, 1, 0]), ["a", "b"], "label")
    >>> data.n_samples, data.n_features
    (3, 2)
    >>> X, y = data
    >>> X.shape
    (3, 2)
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    target_name: str | None = None

    def __post_init__(self) -> None:
        if self.X.ndim != 2:
            raise ValueError(
                f"Dataset.X must be 2-D (n_samples, n_features), got shape {self.X.shape}"
            )
        if len(self.feature_names) != self.X.shape[1]:
            raise ValueError(
                f"Dataset has {self.X.shape[1]} feature columns but "
                f"{len(self.feature_names)} feature names: {self.feature_names}"
            )
        if self.y is not None and (self.y.ndim != 1 or len(self.y) != len(self.X)):
            raise ValueError(
                f"Dataset.y must have shape ({len(self.X)},) to match X, got {self.y.shape}"
            )

    @property
    def n_samples(self) -> int:
        """Number of samples (rows of ``X``)."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features (columns of ``X``)."""
        return int(self.X.shape[1])

    def __iter__(self) -> Iterator[Any]:
        # Typed as Any so that ``X, y = dataset`` does not make ``X`` Optional for mypy.
        return iter((self.X, self.y))

    def __repr__(self) -> str:
        target = "no target" if self.y is None else f"target={self.target_name!r}"
        return (
            f"Dataset(n_samples={self.n_samples}, n_features={self.n_features}, "
            f"features={self.feature_names}, {target})"
        )
