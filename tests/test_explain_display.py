"""Shortened displays of arrays keep the entries a reader needs and mark every cut."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import nn
from chainrule.explain.fmt import (
    MAX_COLS,
    MAX_ROWS,
    SPARSE_ENTRIES,
    as_grid,
    cut_note,
    matrix_lines,
    num,
    shown_indices,
)

_VALUES = st.sampled_from([0.0, 0.0, 0.0, 1.0, -1.0, 0.05, -9.337, 2.5, -0.25, 1e-7])


@st.composite
def _arrays(draw: st.DrawFn) -> np.ndarray:
    """Dense, sparse, one-hot and lone-sign arrays of 1 to 30 rows and columns."""
    shape = (draw(st.integers(1, 30)), draw(st.integers(1, 30)))
    kind = draw(st.sampled_from(["any", "one-hot", "lone-sign", "dense"]))
    if kind == "dense":
        return draw(hnp.arrays(np.float64, shape, elements=st.floats(-5, 5, width=32)))
    array = draw(hnp.arrays(np.float64, shape, elements=_VALUES))
    if kind == "one-hot":
        array = np.zeros(shape)
        for r in range(shape[0]):
            array[r, draw(st.integers(0, shape[1] - 1))] = 1.0
    elif kind == "lone-sign":  # O - Y: one negative entry per row among positive ones
        array = np.abs(array) + 0.01
        for r in range(shape[0]):
            c = draw(st.integers(0, shape[1] - 1))
            array[r, c] = -array[r, c]
    return array


def _must_keep(matrix: np.ndarray, rows: list[int]) -> set[tuple[int, int]]:
    """The entries a shortened display has to show, stated independently of fmt."""
    need = {tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(matrix)), matrix.shape))}
    for r in rows:
        line = matrix[r]
        need.add((r, int(np.argmax(np.abs(line)))))
        nonzero = np.flatnonzero(line)
        if len(nonzero) <= SPARSE_ENTRIES:
            need |= {(r, int(c)) for c in nonzero}
        for sign in (line > 0, line < 0):
            if 0 < sign.sum() <= SPARSE_ENTRIES and sign.sum() < len(nonzero) - sign.sum():
                need |= {(r, int(c)) for c in np.flatnonzero(sign)}
    return need


def _check_axis(kept: list[int | None], count: int) -> None:
    shown = [i for i in kept if i is not None]
    assert shown == sorted(set(shown)) and all(0 <= i < count for i in shown)
    # Every run of hidden positions is marked by exactly one cut, and only there.
    expected: list[int | None] = []
    previous = -1
    for i in shown:
        if i != previous + 1:
            expected.append(None)
        expected.append(i)
        previous = i
    if previous != count - 1:
        expected.append(None)
    assert kept == expected


@settings(max_examples=300, deadline=None)
@given(_arrays())
def test_a_shortened_display_keeps_what_matters_and_marks_each_cut(matrix: np.ndarray) -> None:
    rows, cols = shown_indices(matrix)
    _check_axis(rows, matrix.shape[0])
    _check_axis(cols, matrix.shape[1])
    shown_rows = [r for r in rows if r is not None]
    shown_cols = [c for c in cols if c is not None]
    grid = as_grid(matrix)
    for r, c in _must_keep(matrix, shown_rows):
        assert r in shown_rows and c in shown_cols
        assert grid[rows.index(r)][cols.index(c)] == num(matrix[r, c])
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            if r is None or c is None:
                assert grid[i][j] == "..."
    # Cut only when it saves room, and then the display says which rows and columns it shows.
    for kept, count, limit in (
        (rows, matrix.shape[0], MAX_ROWS),
        (cols, matrix.shape[1], MAX_COLS),
    ):
        if count <= limit + 2:
            assert None not in kept
        if None in kept:
            assert len(kept) <= count - 2
    assert len(rows) <= MAX_ROWS + 1 + 2 * SPARSE_ENTRIES
    note = cut_note(matrix)
    assert bool(note) == (None in rows or None in cols)
    if note:
        assert matrix_lines(matrix)[-1] == note


def test_one_sample_of_many_classes_shows_the_target_everywhere() -> None:
    classes, target = 12, 7
    model = nn.Sequential(nn.Linear(3, classes, dtype=np.float64, rng=0), nn.Softmax())
    step = cr.explain(
        model,
        np.array([[0.5, -1.0, 2.0]]),
        np.array([target]),
        nn.CrossEntropyLoss(from_probs=True),
    )
    text = step.to_text()
    fused = step.derivation.fused
    assert fused is not None
    # Y's one, dE/dO's only non-zero entry and dE/dZ's only negative one are all printed.
    assert "Y = [[0 0 0 0 0 ... 1 ... 0]]" in text
    assert num(fused.grad_probs[0, target]) in text
    assert num(fused.combined_stage.result[0, target]) in text
    assert f"(columns 0-4, {target}, {classes - 1} of {classes} shown)" in text
    assert "class labels [7]" in text


def test_class_labels_are_listed_for_exactly_the_rows_shown() -> None:
    labels = np.arange(30) % 3
    model = nn.Sequential(nn.Linear(2, 3, dtype=np.float64, rng=0), nn.Softmax())
    x = np.random.default_rng(0).normal(size=(30, 2))
    step = cr.explain(model, x, labels, nn.CrossEntropyLoss(from_probs=True))
    rows = [r for r in shown_indices(step.trace.target_rows)[0] if r is not None]
    assert len(rows) < 30
    listed = ", ".join(f"row {r}: {labels[r]}" for r in rows)
    assert f"the rows shown have {listed}." in " ".join(step.to_text().split())


# -- signs in worked formulas ---------------------------------------------------------------
NUMBERS = st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: f"{v:.4g}")


@given(st.lists(NUMBERS, min_size=2, max_size=6), st.lists(st.sampled_from("+-*"), min_size=5))
def test_plain_signs_keep_the_value_and_drop_doubled_signs(numbers, operators):
    from chainrule.explain.fmt import plain_signs

    worked = numbers[0]
    for number, operator in zip(numbers[1:], operators):
        worked += f" {operator} {number}"
    tidy = plain_signs(worked)
    assert " - -" not in tidy and " + -" not in tidy
    assert eval(tidy) == pytest.approx(eval(worked), rel=1e-12, abs=1e-9)  # noqa: S307


def test_the_one_weight_view_writes_no_doubled_sign():
    # A negative target makes O - Y a difference with a negative number in it.
    model = cr.nn.Sequential(
        cr.nn.Linear(2, 3, rng=0, dtype=np.float64), cr.nn.Tanh(),
        cr.nn.Linear(3, 1, rng=1, dtype=np.float64),
    )  # fmt: skip
    x = np.array([[0.5, 0.1], [0.2, 0.3]])
    y = np.array([[-0.6655], [0.5]])
    step = cr.explain(model, x, y, cr.nn.MSELoss(), lr=0.1, weights=["2.weight[0,0]"])
    text = step.to_text()
    assert "sample 0:" in text
    assert " - -" not in text and " + -" not in text
