"""Initializers: ranges, scales and reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import init

SHAPE = (400, 300)


def test_textbook_uniform_is_zero_to_one():
    w = init.uniform()(SHAPE, rng=0)
    assert w.dtype == np.float32 and w.min() >= 0.0 and w.max() < 1.0
    assert w.mean() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    "make, expected_std",
    [
        (lambda: init.normal(0, 0.3), 0.3),
        (lambda: init.xavier_uniform(), np.sqrt(2 / 700)),
        (lambda: init.xavier_normal(), np.sqrt(2 / 700)),
        (lambda: init.he_uniform(), np.sqrt(2 / 400)),
        (lambda: init.he_normal(), np.sqrt(2 / 400)),
    ],
)
def test_scales_follow_their_formulas(make, expected_std):
    w = make()(SHAPE, rng=1, dtype=np.float64)
    assert w.dtype == np.float64
    assert w.std() == pytest.approx(expected_std, rel=0.03)
    assert abs(w.mean()) < 0.01


def test_constant_and_zeros():
    assert (init.constant(0.25)((2, 3)) == 0.25).all()
    assert (init.zeros()((2, 3)) == 0).all()


def test_by_name_and_reproducible_with_seeds():
    assert repr(init.get("he_normal")) == "he_normal()"
    a = init.get("glorot_uniform")((3, 3), rng=7)
    b = init.xavier_uniform()((3, 3), rng=7)
    np.testing.assert_array_equal(a, b)
    cr.manual_seed(3)
    c = init.normal()((2, 2))
    cr.manual_seed(3)
    np.testing.assert_array_equal(c, init.normal()((2, 2)))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="high > low"):
        init.uniform(1, 0)
    with pytest.raises(ValueError, match="std must be a positive finite number"):
        init.normal(0, -1)
    with pytest.raises(ValueError, match="non-negative integer"):
        cr.manual_seed(-3)
