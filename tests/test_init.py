"""Initializers: ranges, scales and reproducibility."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- drawn a piece at a time: the numbers of one draw of the whole ---------------------------
INITIALIZERS = [init.get(name) for name in init.names()] + [
    init.uniform(-2.5, 0.75),
    init.normal(1.5, 0.01),
    init.constant(1 / 3),
    init.fan_in_uniform(7),
]
DIRECT = {  # the NumPy call each draws with, for a weight of shape (3, 5)
    "uniform": lambda rng, size: rng.uniform(0.0, 1.0, size),
    "normal": lambda rng, size: rng.normal(0.0, 1.0, size),
    "he_normal": lambda rng, size: rng.normal(0.0, np.sqrt(2.0 / 3), size),
    "xavier_uniform": lambda rng, size: rng.uniform(-np.sqrt(6 / 8), np.sqrt(6 / 8), size),
}


@settings(max_examples=80, deadline=None)
@given(
    initializer=st.sampled_from(INITIALIZERS),
    shape=st.sampled_from([(), (1,), (7,), (3, 5), (10, 13), (4, 3, 5), (64, 33)]),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
    chunk=st.sampled_from([1, 2, 7, 64, 1000, init.DRAW_CHUNK]),
    seed=st.integers(0, 2**32 - 1),
)
def test_weights_drawn_in_pieces_are_the_whole_draw_bit_for_bit(
    initializer, shape, dtype, chunk, seed
):
    # The float64 weight is one draw of the whole; a narrower one is drawn in pieces of
    # `chunk` numbers, and must hold those numbers cast, leaving the generator where
    # the whole draw leaves it (the bias drawn next from it is the same).
    whole_rng, pieces_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    whole = initializer(shape, rng=whole_rng, dtype=np.float64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(init, "DRAW_CHUNK", chunk)
        pieces = initializer(shape, rng=pieces_rng, dtype=dtype)
    expected = whole.astype(dtype)
    assert (pieces.dtype, pieces.shape) == (expected.dtype, expected.shape)
    assert pieces.tobytes() == expected.tobytes()
    assert pieces_rng.random() == whole_rng.random()


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_the_whole_draw_is_numpys_one_call(name, monkeypatch):
    monkeypatch.setattr(init, "DRAW_CHUNK", 4)
    for seed in range(5):
        ours = init.get(name)((3, 5), rng=seed, dtype=np.float32)
        theirs = DIRECT[name](np.random.default_rng(seed), (3, 5)).astype(np.float32)
        assert ours.tobytes() == theirs.tobytes()


def test_drawing_a_float32_weight_holds_it_and_one_piece_only():
    shape = (1000, 1000)  # 4 MB in float32; drawn whole in float64 it would add 8 MB
    tracemalloc.start()
    try:
        weight = init.he_normal()(shape, rng=0, dtype=np.float32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert init.DRAW_CHUNK * 8 <= 2**19  # one piece: 512 KiB at most
    assert peak <= weight.nbytes + 2**20
