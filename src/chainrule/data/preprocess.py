"""Feature scaling and class-label encoding."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from chainrule._show import kind, names

from ._checks import as_1d, as_2d_float, check_positive_int, plain

__all__ = ["Standardizer", "encode_labels", "one_hot"]

_HALF_MAX = float(np.finfo(np.float64).max) / 2


#: Spreads below this count as none (see :class:`Standardizer`): 1 / 1e-30 is well
#: inside float32's range (3.4e38), so an ordinary later value stays readable.
NEGLIGIBLE_SPREAD = 1e-30


class Standardizer:
    """Shift and scale each feature to mean 0 and standard deviation 1.

    Fit it on the training data only and apply the same statistics to validation,
    test and prediction data, so that no information leaks from them into training.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Mean of each feature in the data passed to :meth:`fit`.
    scale_ : ndarray of shape (n_features,)
        Standard deviation of each feature; 1 for a constant feature, so that
        constant columns become 0 instead of dividing by zero (for a constant
        feature beyond 2**26 in size, a power of two 2**26 times smaller than it).
        A feature whose spread is below :data:`NEGLIGIBLE_SPREAD` (1e-30) counts as
        constant, so that later data standardises into float32's range.
        Both are computed without overflow for any finite values, up to the
        largest float.
    n_features_in_ : int
        Number of features seen by :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> scaler = Standardizer().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> scaler.mean_, scaler.scale_
    (array([2., 5.]), array([1., 1.]))
    >>> scaler.transform(np.array([[2.0, 5.0], [4.0, 6.0]]))
    array([[0., 0.],
           [2., 1.]])
    """

    # Set by fit(); like scikit-learn, the attributes do not exist before that.
    mean_: np.ndarray
    scale_: np.ndarray

    @property
    def n_features_in_(self) -> int:
        """Number of features seen by :meth:`fit`."""
        return len(self._fitted_state()[0])

    def fit(self, X: ArrayLike) -> Standardizer:
        """Compute each feature's mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; every value must be finite.

        Returns
        -------
        Standardizer
            ``self``, fitted.
        """
        data = as_2d_float(X).astype(np.float64)
        if len(data) == 0:
            raise ValueError(
                f"Standardizer.fit needs at least one sample, got X of shape {data.shape}"
            )
        if not np.isfinite(data).all():
            row, column = np.argwhere(~np.isfinite(data))[0]
            raise ValueError(
                f"Standardizer.fit needs finite values, got {data[row, column]} at "
                f"X[{row}, {column}]; remove or fill in that value first"
            )
        self.mean_, self.scale_ = _mean_and_scale(data)
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Return ``(X - mean_) / scale_``, keeping float32 input as float32.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        mean, scale = self._fitted_state()
        data = self._check_features(X)
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = (data - mean) / scale
            # X - mean overflows when the two have opposite signs near the largest float;
            # halving both first is exact there, and the quotient is then in range.
            overflowed = np.isinf(scaled) & np.isfinite(data)
            if overflowed.any():
                halved = (data * 0.5 - mean * 0.5) / scale * 2.0
                scaled = np.where(overflowed, halved, scaled)
        return scaled.astype(data.dtype, copy=False)

    def fit_transform(self, X: ArrayLike) -> np.ndarray:
        """Fit on ``X`` and return it standardised; see :meth:`fit` and :meth:`transform`."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: ArrayLike) -> np.ndarray:
        """Undo :meth:`transform`: return ``X * scale_ + mean_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        mean, scale = self._fitted_state()
        data = self._check_features(X)
        with np.errstate(over="ignore", invalid="ignore"):
            restored = data * scale + mean
            # As in transform: the product can overflow although the sum is in range.
            overflowed = np.isinf(restored) & np.isfinite(data)
            if overflowed.any():
                halved = data * (scale * 0.5) + mean * 0.5
                # Rounding can carry a value that was the largest float a few steps past
                # it; only a value beyond that is out of range.
                near = np.abs(halved) <= _HALF_MAX * (1 + 8 * np.finfo(np.float64).eps)
                halved = np.where(near, np.clip(halved, -_HALF_MAX, _HALF_MAX), halved)
                restored = np.where(overflowed, halved * 2.0, restored)
        return restored.astype(data.dtype, copy=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the fitted statistics as plain JSON-serialisable Python values."""
        mean, scale = self._fitted_state()
        return {"type": "Standardizer", "mean": mean.tolist(), "scale": scale.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Standardizer:
        """Rebuild a fitted Standardizer from the output of :meth:`to_dict`.

        Raises
        ------
        ValueError
            If ``state`` is not a Standardizer state or its values are inconsistent.
        """
        if state.get("type") != "Standardizer" or not {"mean", "scale"} <= state.keys():
            raise ValueError(
                "expected a dict with type='Standardizer', 'mean' and 'scale' as written by "
                f"Standardizer.to_dict(), got keys {sorted(state)}"
            )
        mean = np.asarray(state["mean"], dtype=np.float64)
        scale = np.asarray(state["scale"], dtype=np.float64)
        if mean.ndim != 1 or mean.shape != scale.shape:
            raise ValueError(
                "Standardizer state needs 'mean' and 'scale' lists of equal length, got "
                f"shapes {mean.shape} and {scale.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("Standardizer state needs finite means and scales > 0")
        scaler = cls()
        scaler.mean_, scaler.scale_ = mean, scale
        return scaler

    def __repr__(self) -> str:
        if not self._is_fitted():
            return "Standardizer()"
        return f"Standardizer(n_features_in_={len(self.mean_)})"

    def _is_fitted(self) -> bool:
        return hasattr(self, "mean_") and hasattr(self, "scale_")

    def _fitted_state(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._is_fitted():
            raise ValueError("this Standardizer is not fitted yet; call fit(X_train) first")
        return self.mean_, self.scale_

    def _check_features(self, X: ArrayLike) -> np.ndarray:
        data = as_2d_float(X)
        expected = self.n_features_in_
        if data.shape[1] != expected:
            raise ValueError(
                f"Standardizer was fitted on {expected} features, got an array of shape "
                f"{data.shape}"
            )
        return data


def _mean_and_scale(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation (1 where constant), never overflowing.

    Squaring values above about 1e154 overflows, and so does summing values near the
    largest float, so each column is first divided by the power of two just above its
    largest magnitude. That division is exact, leaves every value in (-1, 1), and is
    undone on the results, which lie within the column's range and so stay finite.
    """
    _, exponent = np.frexp(np.abs(data).max(axis=0))
    unit = np.ldexp(data, -exponent)
    low, high = unit.min(axis=0), unit.max(axis=0)
    # The rounded mean of equal values can land one ulp outside them; the true mean cannot.
    mean = np.clip(unit.mean(axis=0), low, high)
    std = np.minimum(unit.std(axis=0), np.maximum(np.abs(low), np.abs(high)))
    # Rounding leaves a tiny spread in a constant column: a spread below ten rounding
    # steps of the column's largest value is treated as none. Measured relative to the
    # column, so that columns of tiny values (1e-20) keep their spread.
    constant = std <= 10 * np.finfo(np.float64).eps
    scale = np.ldexp(std, exponent)
    # A spread below NEGLIGIBLE_SPREAD counts as none: dividing by it would send an
    # ordinary value of later data (a 1 where training saw 0 and 2e-56) past float32's
    # range, so the network could not read it, and no float32 network can use a signal
    # that small. Columns of small values above it (1e-20) keep their spread.
    constant |= scale < NEGLIGIBLE_SPREAD
    # A constant column's scale is 1, unless its values are so large (beyond 2**26) that
    # their rounding steps would come out of X - mean as large numbers; there it is a
    # power of two 2**26 times smaller than the values, so those steps stay near 0.
    constant_scale = np.maximum(1.0, np.ldexp(1.0, exponent - 26))
    return np.ldexp(mean, exponent), np.where(constant, constant_scale, scale)


def encode_labels(y: ArrayLike, classes: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Map class labels (numbers or strings) to integer codes 0, 1, ..., k - 1.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    classes : array-like of shape (k,), optional
        The known classes, e.g. those seen in training; codes index into them in the
        order given. By default the sorted unique values of ``y``.

    Returns
    -------
    codes : ndarray of shape (n_samples,), int64
        ``classes[codes]`` gives back ``y``.
    classes : ndarray of shape (k,)

    Examples
    --------
    >>> codes, classes = encode_labels(["cat", "dog", "cat"])
    >>> codes, classes
    (array([0, 1, 0]), array(['cat', 'dog'], dtype='<U3'))
    """
    labels = as_1d(y)
    if classes is None:
        known, codes = np.unique(labels, return_inverse=True)
        return codes.astype(np.int64).ravel(), known
    known = as_1d(classes, "classes")
    if len(known) == 0 or len(np.unique(known)) != len(known):
        raise ValueError(f"classes must be distinct labels, at least one, got [{names(known, 10)}]")
    if (known.dtype.kind in "biuf") != (labels.dtype.kind in "biuf"):
        raise ValueError(
            f"y holds {kind(labels.dtype)} but classes holds {kind(known.dtype)}; "
            "use the same kind (numbers or text) for both"
        )
    order = np.argsort(known, kind="stable")
    positions = np.clip(np.searchsorted(known[order], labels), 0, len(known) - 1)
    codes = order[positions]
    unknown = known[codes] != labels
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        raise ValueError(
            f"label {names(labels[first : first + 1])} at y[{first}] is not one of the known "
            f"classes [{names(known, 10)}]"
        )
    return codes.astype(np.int64), known


def one_hot(
    labels: ArrayLike, num_classes: int | None = None, *, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Turn class labels into one-hot rows.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Class labels. With ``num_classes`` they must be integers (or integer-valued
        floats) in ``[0, num_classes)``; otherwise any labels, encoded in sorted order.
    num_classes : int, optional
        Number of columns; classes absent from ``labels`` still get a column.
    dtype : numpy dtype, default float64

    Returns
    -------
    onehot : ndarray of shape (n_samples, k)
    classes : ndarray of shape (k,)
        The label each column stands for.

    Examples
    --------
    >>> onehot, classes = one_hot([2, 0], num_classes=3)
    >>> onehot
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    if num_classes is None:
        codes, classes = encode_labels(labels)
    else:
        count = check_positive_int(num_classes, "num_classes")
        values = as_1d(labels, "labels")
        if values.dtype.kind not in "biuf" or (values != np.round(values)).any():
            got = (
                f"label {names(values[values != np.round(values)][:1])}"
                if values.dtype.kind in "biuf"
                else kind(values.dtype)
            )
            raise ValueError(
                "with num_classes, labels must be integers 0 .. num_classes - 1; got "
                f"{got}; leave num_classes=None to encode them"
            )
        if len(values) and (values.min() < 0 or values.max() >= count):
            bad = plain(values[(values < 0) | (values >= count)][0])
            raise ValueError(
                f"label {bad} is out of range for num_classes={count}: "
                f"labels must be in [0, {count - 1}]"
            )
        codes, classes = values.astype(np.int64), np.arange(count)
    onehot = np.zeros((len(codes), len(classes)), dtype=dtype)
    onehot[np.arange(len(codes)), codes] = 1
    return onehot, classes
