"""Tests for the built-in datasets and the load() dispatcher."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import (
    Dataset,
    available,
    house_prices,
    load,
    load_sklearn,
    softmax_example,
    spirals,
    two_moons,
    xor,
)


def test_xor_points_and_labels() -> None:
    X, y = xor()

    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, X[:, 0].astype(int) ^ X[:, 1].astype(int))
    assert X.dtype == np.float64 and y.dtype == np.int64


def test_two_moons_shape_balance_and_labels() -> None:
    X, y = two_moons(n_samples=101, rng=0)

    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.dtype == np.int64
    assert np.bincount(y).tolist() == [50, 51]
    assert not np.all(y[:-1] <= y[1:])  # shuffled, not sorted by class


def test_two_moons_without_noise_lie_on_their_half_circles() -> None:
    X, y = two_moons(n_samples=40, noise=0.0, rng=0)
    upper, lower = X[y == 0], X[y == 1]

    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert (upper[:, 1] >= -1e-12).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_spirals_shape_classes_and_radius() -> None:
    X, y = spirals(n_samples=301, n_classes=4, rng=1)

    assert X.shape == (301, 2)
    assert np.bincount(y).tolist() == [76, 75, 75, 75]
    # noise moves points along the angle only, so every point stays in the unit disc
    assert np.hypot(X[:, 0], X[:, 1]).max() <= 1.0 + 1e-12


@pytest.mark.parametrize("make", [two_moons, spirals])
def test_generated_sets_are_reproducible_with_a_seed(
    make: Callable[..., tuple[np.ndarray, np.ndarray]],
) -> None:
    X1, y1 = make(rng=42)
    X2, y2 = make(rng=42)
    X3, _ = make(rng=43)

    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)


def test_generator_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2, got 1"):
        two_moons(n_samples=1)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0, got -0.1"):
        two_moons(noise=-0.1)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2, got 1"):
        spirals(n_classes=1)
    with pytest.raises(ValueError, match="n_samples must be an integer >= 5, got 4"):
        spirals(n_samples=4, n_classes=5)


def test_house_prices_is_a_small_sigmoid_friendly_table() -> None:
    data = house_prices()
    X, y = data

    assert isinstance(data, Dataset)
    assert X.shape == (6, 4)
    assert len(data.feature_names) == 4 and data.target_name is not None
    assert ((X >= 0) & (X <= 5)).all()
    assert ((y > 0) & (y < 1)).all()
    # bigger, closer houses cost more: price grows with size in this table
    assert np.corrcoef(X[:, 0], y)[0, 1] > 0.5


def test_softmax_example() -> None:
    X, y = softmax_example()

    np.testing.assert_array_equal(X, [[0.5, 0.1]])
    assert y.tolist() == [1]


@pytest.mark.parametrize(
    ("name", "shape", "n_classes"),
    [
        ("iris", (150, 4), 3),
        ("wine", (178, 13), 3),
        ("breast_cancer", (569, 30), 2),
        ("digits", (1797, 64), 10),
        ("diabetes", (442, 10), None),
    ],
)
def test_load_sklearn(name: str, shape: tuple[int, int], n_classes: int | None) -> None:
    pytest.importorskip("sklearn")
    X, y = load_sklearn(name)

    assert X.shape == shape and X.dtype == np.float64
    assert y.shape == (shape[0],)
    if n_classes is None:
        assert y.dtype == np.float64
    else:
        assert y.dtype == np.int64
        assert np.unique(y).tolist() == list(range(n_classes))


def test_load_sklearn_rejects_toy_names() -> None:
    with pytest.raises(ValueError, match="'xor' is not a scikit-learn dataset"):
        load_sklearn("xor")


SKLEARN_NAMES = {"digits", "iris", "wine", "breast-cancer", "diabetes"}


def test_available_names() -> None:
    names = available()

    expected = {"xor", "moons", "circles", "spirals", "house-prices", "softmax-example"}
    assert set(names) == expected | SKLEARN_NAMES
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", available())
def test_every_available_name_loads(name: str) -> None:
    if name in SKLEARN_NAMES:
        pytest.importorskip("sklearn")

    data = load(name)

    assert isinstance(data, Dataset)
    assert data.y is not None and len(data.y) == data.n_samples
    assert len(data.feature_names) == data.n_features
    assert np.isfinite(data.X).all()


def test_load_accepts_aliases_and_forwards_options() -> None:
    np.testing.assert_array_equal(load("XOR").X, xor()[0])
    X, y = load("Two_Moons", n_samples=30, rng=3)
    np.testing.assert_array_equal(X, two_moons(n_samples=30, rng=3)[0])
    assert load("moons").feature_names == ["x1", "x2"]
    assert load("house_prices").feature_names == house_prices().feature_names


def test_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist'; available: xor, moons"):
        load("mnist")


def test_importing_needs_neither_pandas_nor_sklearn() -> None:
    src = Path(__file__).resolve().parents[1] / "src"
    code = (
        "import sys; import chainrule.data; chainrule.data.load('spirals'); "
        "print('pandas' in sys.modules, 'sklearn' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(src)},
    )
    assert result.stdout.split() == ["False", "False"]


def test_circles_puts_one_class_inside_the_other() -> None:
    from chainrule.data import circles

    X, y = circles(n_samples=301, noise=0.0, factor=0.4, rng=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert X.shape == (301, 2) and np.bincount(y).tolist() == [150, 151]
    assert np.allclose(radius[y == 0], 1.0) and np.allclose(radius[y == 1], 0.4)
    assert np.array_equal(circles(50, rng=3)[0], circles(50, rng=3)[0])
    with pytest.raises(ValueError, match="factor must be between 0 and 1"):
        circles(factor=1.5)
