"""Tests for scaling, label encoding, train/test splits and mini-batches."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chainrule.data import (
    Standardizer,
    encode_labels,
    iter_batches,
    one_hot,
    train_test_split,
)

# --- Standardizer ------------------------------------------------------------------


def test_standardizer_statistics_and_output() -> None:
    X = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 60.0]])

    scaler = Standardizer().fit(X)
    Z = scaler.transform(X)

    # mean = [2, 30]; population std = [sqrt(2/3), sqrt(1400/3)]
    np.testing.assert_allclose(scaler.mean_, [2.0, 30.0])
    np.testing.assert_allclose(scaler.scale_, [np.sqrt(2 / 3), np.sqrt(1400 / 3)])
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)
    np.testing.assert_allclose(Z[:, 0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5)])
    assert scaler.n_features_in_ == 2


def test_constant_column_gets_scale_one_and_becomes_zero() -> None:
    X = np.array([[0.1, 7.0], [0.2, 7.0], [0.4, 7.0]])

    scaler = Standardizer().fit(X)

    assert scaler.scale_[1] == 1.0
    np.testing.assert_array_equal(scaler.transform(X)[:, 1], 0.0)
    assert np.isfinite(scaler.transform(X)).all()


def test_inverse_transform_undoes_transform() -> None:
    X = np.random.default_rng(0).normal(5.0, 3.0, size=(20, 3))
    scaler = Standardizer()

    np.testing.assert_allclose(scaler.inverse_transform(scaler.fit_transform(X)), X)


def test_float32_stays_float32_and_ints_become_float64() -> None:
    X32 = np.arange(6, dtype=np.float32).reshape(3, 2)

    assert Standardizer().fit_transform(X32).dtype == np.float32
    assert Standardizer().fit_transform(np.arange(6).reshape(3, 2)).dtype == np.float64


def test_statistics_come_from_the_training_split_only() -> None:
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (80, 2)), rng.normal(100, 1, (20, 2))])
    y = np.arange(100)
    X_train, X_test, _, _ = train_test_split(X, y, test_size=0.3, rng=2)

    scaler = Standardizer().fit(X_train)

    np.testing.assert_allclose(scaler.mean_, X_train.mean(axis=0))
    assert not np.allclose(scaler.mean_, X.mean(axis=0))
    # the test part is transformed with the training statistics, not its own
    np.testing.assert_allclose(
        scaler.transform(X_test), (X_test - X_train.mean(0)) / X_train.std(0)
    )


def test_to_dict_from_dict_json_round_trip() -> None:
    X = np.array([[1.0, 2.0], [3.0, 8.0], [5.0, 2.0]])
    scaler = Standardizer().fit(X)

    restored = Standardizer.from_dict(json.loads(json.dumps(scaler.to_dict())))

    np.testing.assert_array_equal(restored.transform(X), scaler.transform(X))


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"mean": [0.0]}, "type='Standardizer'"),
        ({"type": "Standardizer", "mean": [0.0, 1.0], "scale": [1.0]}, "equal length"),
        ({"type": "Standardizer", "mean": [0.0], "scale": [0.0]}, "scales > 0"),
    ],
)
def test_from_dict_rejects_bad_states(state: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Standardizer.from_dict(state)


def test_standardizer_errors() -> None:
    scaler = Standardizer()
    with pytest.raises(ValueError, match=r"not fitted yet; call fit\(X_train\) first"):
        scaler.transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not fitted yet"):
        scaler.to_dict()
    with pytest.raises(ValueError, match=r"got shape \(3,\); use X.reshape\(-1, 1\)"):
        scaler.fit(np.zeros(3))
    with pytest.raises(ValueError, match=r"got nan at X\[1, 0\]"):
        scaler.fit(np.array([[1.0, 2.0], [np.nan, 3.0]]))
    scaler.fit(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"fitted on 4 features, got an array of shape \(6, 3\)"):
        scaler.transform(np.zeros((6, 3)))


# --- labels ------------------------------------------------------------------------


def test_encode_labels_text_and_numbers() -> None:
    labels = np.array(["dog", "cat", "bird", "cat"])

    codes, classes = encode_labels(labels)

    assert classes.tolist() == ["bird", "cat", "dog"]
    assert codes.tolist() == [2, 1, 0, 1]
    assert codes.dtype == np.int64
    np.testing.assert_array_equal(classes[codes], labels)
    codes, classes = encode_labels([3.0, 1.0, 3.0])
    assert codes.tolist() == [1, 0, 1] and classes.tolist() == [1.0, 3.0]


def test_encode_labels_with_known_classes() -> None:
    codes, classes = encode_labels(["b", "c", "b"], classes=["c", "a", "b"])

    assert codes.tolist() == [2, 0, 2]
    assert classes.tolist() == ["c", "a", "b"]
    with pytest.raises(ValueError, match=r"label 'z' at y\[1\] is not one of the known"):
        encode_labels(["a", "z"], classes=["a", "b"])
    with pytest.raises(ValueError, match="same kind"):
        encode_labels([0, 1], classes=["a", "b"])


def test_one_hot_from_text_labels() -> None:
    onehot, classes = one_hot(["b", "a", "b"])

    np.testing.assert_array_equal(onehot, [[0, 1], [1, 0], [0, 1]])
    assert onehot.dtype == np.float64
    assert classes.tolist() == ["a", "b"]


def test_one_hot_with_num_classes_keeps_absent_classes() -> None:
    onehot, classes = one_hot(np.array([2.0, 0.0]), num_classes=4, dtype=np.float32)

    assert onehot.shape == (2, 4) and onehot.dtype == np.float32
    np.testing.assert_array_equal(onehot.argmax(axis=1), [2, 0])
    np.testing.assert_array_equal(onehot.sum(axis=1), 1.0)
    assert classes.tolist() == [0, 1, 2, 3]


def test_one_hot_errors() -> None:
    with pytest.raises(ValueError, match=r"label 3 is out of range .* must be in \[0, 2\]"):
        one_hot([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="labels must be integers"):
        one_hot([0.5, 1.0], num_classes=2)
    with pytest.raises(ValueError, match=r"num_classes must be an integer >= 1, got 0"):
        one_hot([0], num_classes=0)


# --- train_test_split --------------------------------------------------------------


def indexed_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """X whose first column is the sample index, so splits can be traced back."""
    X = np.column_stack([np.arange(n), np.arange(n) ** 2]).astype(float)
    return X, np.arange(n) * 10


def test_split_sizes_partition_and_alignment() -> None:
    X, y = indexed_data(11)

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, rng=0)

    assert len(X_test) == 3 and len(X_train) == 8  # ceil(0.25 * 11) = 3
    seen = np.concatenate([X_train[:, 0], X_test[:, 0]])
    assert sorted(seen.tolist()) == list(range(11))
    np.testing.assert_array_equal(y_train, X_train[:, 0] * 10)
    np.testing.assert_array_equal(y_test, X_test[:, 0] * 10)


def test_split_is_reproducible_with_a_seed() -> None:
    X, y = indexed_data(50)

    first = train_test_split(X, y, rng=7)
    again = train_test_split(X, y, rng=7)
    other = train_test_split(X, y, rng=8)

    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])


def test_split_without_shuffle_keeps_the_last_samples_for_testing() -> None:
    X, y = indexed_data(10)

    X_train, X_test, _, _ = train_test_split(X, y, test_size=3, shuffle=False)

    assert X_train[:, 0].tolist() == list(range(7))
    assert X_test[:, 0].tolist() == [7, 8, 9]


def test_stratified_split_keeps_class_proportions() -> None:
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100.0).reshape(-1, 1)

    for seed in range(5):
        _, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, rng=seed, stratify=y)
        assert np.bincount(y_test).tolist() == [12, 6, 2]
        assert np.bincount(y_train).tolist() == [48, 24, 8]
        np.testing.assert_array_equal(y[X_test[:, 0].astype(int)], y_test)


def test_stratified_split_rounds_to_within_one_sample() -> None:
    y = np.repeat(["a", "b", "c"], [7, 7, 7])

    _, _, _, y_test = train_test_split(np.zeros((21, 1)), y, test_size=5, rng=0, stratify=y)

    counts = np.unique(y_test, return_counts=True)[1]
    assert counts.sum() == 5
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize(
    ("test_size", "message"),
    [
        (0.0, r"test_size must be a float in \(0, 1\) or an int in \[1, 9\], got 0.0"),
        (1.5, r"got 1.5"),
        (np.float64(1.5), r"got 1.5$"),  # a NumPy scalar reads as a plain number
        (10, r"test_size=10 gives 10 test samples out of 10"),
        (0, r"test_size=0 gives 0 test samples"),
    ],
)
def test_split_rejects_bad_test_size(test_size: float, message: str) -> None:
    X, y = indexed_data(10)
    with pytest.raises(ValueError, match=message):
        train_test_split(X, y, test_size=test_size)


def test_split_argument_errors() -> None:
    X, y = indexed_data(10)
    with pytest.raises(ValueError, match="got 10 rows in X and 9 in y"):
        train_test_split(X, y[:9])
    lonely = np.array([0] * 9 + [1])
    with pytest.raises(ValueError, match="class 1 has only 1 sample"):
        train_test_split(X, lonely, stratify=lonely)
    with pytest.raises(ValueError, match="stratify needs shuffle=True"):
        train_test_split(X, y, shuffle=False, stratify=y)
    with pytest.raises(TypeError, match="rng must be None, a non-negative integer seed"):
        train_test_split(X, y, rng="seed")  # type: ignore[arg-type]


# --- iter_batches ------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3, 10, 64])
def test_batches_cover_every_sample_once_per_epoch(batch_size: int) -> None:
    X, y = indexed_data(10)
    generator = np.random.default_rng(0)

    for _ in range(2):
        batches = list(iter_batches(X, y, batch_size, shuffle=True, rng=generator))
        indices = np.concatenate([xb[:, 0] for xb, _ in batches])
        assert sorted(indices.tolist()) == list(range(10))
        assert [len(xb) for xb, _ in batches[:-1]] == [batch_size] * (len(batches) - 1)
        for xb, yb in batches:
            assert yb is not None
            np.testing.assert_array_equal(yb, xb[:, 0] * 10)


def test_each_epoch_gets_a_new_order_but_seeds_repeat() -> None:
    X, _ = indexed_data(30)
    generator = np.random.default_rng(3)

    def order(rng: np.random.Generator | int) -> list[float]:
        return [v for xb, _ in iter_batches(X, batch_size=8, rng=rng) for v in xb[:, 0]]

    assert order(generator) != order(generator)
    assert order(5) == order(5)


def test_unshuffled_batches_are_views_in_order() -> None:
    X, y = indexed_data(5)

    batches = list(iter_batches(X, y, batch_size=2, shuffle=False))

    assert [xb[:, 0].tolist() for xb, _ in batches] == [[0, 1], [2, 3], [4]]
    assert all(np.shares_memory(xb, X) for xb, _ in batches)


def test_drop_last_and_missing_y() -> None:
    X, _ = indexed_data(7)

    batches = list(iter_batches(X, batch_size=3, shuffle=False, drop_last=True))

    assert [len(xb) for xb, _ in batches] == [3, 3]
    assert all(yb is None for _, yb in batches)


def test_batch_arguments_are_checked_at_the_call() -> None:
    X, y = indexed_data(4)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        iter_batches(X, y, 0)
    with pytest.raises(TypeError, match="batch_size must be an integer >= 1, got '2'"):
        iter_batches(X, y, "2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got 4 rows in X and 3 in y"):
        iter_batches(X, y[:3], 2)
