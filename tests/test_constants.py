"""The constant arrays and row reductions the ops use for speed give NumPy's own results."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.ops import constants
from chainrule.ops.constants import filled, row_max, row_sum, scalar


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_a_scalar_constant_gives_the_python_float_result_bit_for_bit(dtype):
    x = np.random.default_rng(0).normal(size=(7, 3)).astype(dtype)
    for value in (0.5, 1.0, 0.1, 1 / 3):
        c = scalar(value, np.dtype(dtype))
        assert c.shape == () and c.dtype == dtype and not c.flags.writeable
        assert np.array_equal(x * c, x * value) and (x * c).dtype == dtype
        assert np.array_equal(c - x, value - x)


def test_filled_arrays_are_cached_read_only_and_the_cache_stays_bounded():
    a = filled(0.0, (3, 4), np.dtype(np.float32))
    assert a is filled(0.0, (3, 4), np.dtype(np.float32))
    assert not a.flags.writeable and not a.any() and a.dtype == np.float32
    assert np.array_equal(filled(1.0, (5,), np.dtype(np.float64)), np.ones(5))
    for n in range(200):  # many batch sizes: the cache is cleared rather than grown
        assert filled(1.0, (n,), np.dtype(np.float64)).sum() == n
    assert len(constants._ARRAYS) <= 64


@pytest.mark.parametrize(
    "shape", [(1, 1), (5, 1), (128, 10), (7, 32), (7, 33), (64, 300), (2, 3, 4), (6,)]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_reductions_match_numpy(shape, dtype):
    x = np.random.default_rng(1).normal(size=shape).astype(dtype)
    assert np.array_equal(row_max(x), x.max(axis=-1, keepdims=True))
    exact = x.astype(np.float64).sum(axis=-1, keepdims=True)
    assert row_sum(x).shape == exact.shape and row_sum(x).dtype == dtype
    # the textbook bound on a sum's rounding error: (terms - 1) eps sum |x|
    bound = (shape[-1] - 1) * np.finfo(dtype).eps * np.abs(x).sum(axis=-1, keepdims=True)
    assert (np.abs(row_sum(x) - exact) <= bound).all()


def test_row_reductions_propagate_nan_and_infinity():
    x = np.array([[1.0, np.nan, 2.0], [np.inf, 0.0, 1.0], [-np.inf, -1.0, -2.0]])
    assert np.isnan(row_max(x)[0, 0]) and row_max(x)[1, 0] == np.inf and row_max(x)[2, 0] == -1
    assert np.isnan(row_sum(x)[0, 0]) and row_sum(x)[1, 0] == np.inf

