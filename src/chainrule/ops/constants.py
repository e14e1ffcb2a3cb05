"""Constants as NumPy arrays, for speed.

NumPy converts a Python float operand on every call (``x * 0.5``), which on arrays
of a few dozen numbers costs about as much as the arithmetic itself; a 0-d array
of ``x``'s own dtype gives the same result, bit for bit, without that conversion.
And ``np.maximum`` runs several times faster against an array of zeros of the
other operand's shape than against the number 0 (same result, bit for bit); a sum
over the rows of a matrix is fastest as a product with a vector of ones, and the
maxima of short rows (class scores) are fastest taken down the columns of the
transpose.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# np.vdot and np.concatenate without NumPy's __array_function__ dispatch (a Python call
# of its own), which costs as much as the work on the small arrays of a small batch.
vdot = getattr(np.vdot, "_implementation", np.vdot)
concatenate = getattr(np.concatenate, "_implementation", np.concatenate)

_ARRAYS: dict[tuple[float, tuple[int, ...], np.dtype[Any]], np.ndarray] = {}
_CACHE_ELEMENTS = 1 << 22  # what the cache of filled() may hold, in elements
_cached_elements = 0


def filled(value: float, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """A read-only array of ``value``. Arrays of up to a million elements are cached
    (a network uses a few shapes over and over); the cache holds at most four million
    elements. An array of zeros is never written, so the operating system backs it with
    one shared page of zeros: it costs address space, not memory."""
    global _cached_elements
    key = (value, shape, dtype)
    array = _ARRAYS.get(key)
    if array is None:
        array = np.zeros(shape, dtype) if value == 0 else np.full(shape, value, dtype)
        array.flags.writeable = False
        if array.size <= _CACHE_ELEMENTS // 4:
            if _cached_elements + array.size > _CACHE_ELEMENTS or len(_ARRAYS) >= 64:
                _ARRAYS.clear()
                _cached_elements = 0
            _ARRAYS[key] = array
            _cached_elements += array.size
    return array


def scalar(value: float, dtype: np.dtype[Any]) -> np.ndarray:
    """``value`` as a read-only 0-d array of ``dtype``: ``filled(value, (), dtype)``, with
    the cached case looked up first (it is on the hot path). Use it for constants; values
    that change every step, such as a scheduled learning rate, use np.array."""
    array = _ARRAYS.get((value, (), dtype))
    return array if array is not None else filled(value, (), dtype)


def row_sum(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=-1, keepdims=True)`` as ``x @ ones``: one BLAS call, faster than a
    reduction and at least as accurate (BLAS keeps several partial sums)."""
    return x.dot(filled(1.0, (x.shape[-1], 1), x.dtype))


def row_max(x: np.ndarray) -> np.ndarray:
    """``x.max(axis=-1, keepdims=True)``; for a matrix of short rows, the maxima down the
    columns of its transpose (NumPy reduces short rows one at a time, columns at once)."""
    if x.ndim == 2 and 0 < x.shape[1] <= 32:
        if x.shape[0] <= 8:  # a few rows (a small batch): one reduction, no copy
            return np.maximum.reduce(x, axis=1, keepdims=True)
        return np.maximum.reduce(np.ascontiguousarray(x.T), 0)[:, None]
    return x.max(axis=-1, keepdims=True)


class _Ones(dict[np.dtype[Any], np.ndarray]):
    """``ONES[dtype]`` is ``scalar(1.0, dtype)`` without a call: the activations' VJPs
    and the seed of backward() take it every step."""

    def __missing__(self, dtype: np.dtype[Any]) -> np.ndarray:
        array = self[dtype] = scalar(1.0, dtype)
        return array


ONES = _Ones()
