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
    big = filled(1.0, (2_000_000,), np.dtype(np.float32))  # too big to keep
    assert big.sum() == 2_000_000 and not big.flags.writeable
    assert filled(1.0, (2_000_000,), np.dtype(np.float32)) is not big
    assert sum(a.size for a in constants._ARRAYS.values()) <= constants._CACHE_ELEMENTS


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



@pytest.mark.parametrize("rows, columns", [(6, 1), (6, 5), (100, 50), (3, 2000)])
@pytest.mark.parametrize("bias_shape", ["vector", "shared", "scalar"])
def test_bias_gradients_are_the_sums_of_the_upstream_gradient(rows, columns, bias_shape):
    from chainrule.ops.shape import linear_joint_vjp

    rng = np.random.default_rng(2)
    grad = rng.normal(size=(rows, columns))
    b = {"vector": np.zeros(columns), "shared": np.zeros(1), "scalar": np.zeros(())}[bias_shape]
    x, w = rng.normal(size=(rows, 3)), rng.normal(size=(3, columns))
    grad_b = linear_joint_vjp(grad, grad, x, w, b, (False, False, True))[2]
    assert grad_b.shape == b.shape
    expected = grad.sum(axis=0) if bias_shape == "vector" else grad.sum()
    np.testing.assert_allclose(grad_b, expected, rtol=1e-12, atol=1e-12)
