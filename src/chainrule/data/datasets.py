"""Built-in datasets: toy problems, textbook examples and scikit-learn's bundled sets.

The toy problems are generated with NumPy alone; only :func:`load_sklearn` (and
:func:`load` for those names) needs scikit-learn, whose datasets ship with it, so
nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._checks import (
    RandomLike,
    as_generator,
    check_non_negative_float,
    check_positive_int,
)
from .dataset import Dataset

__all__ = [
    "available",
    "circles",
    "house_prices",
    "load",
    "load_sklearn",
    "softmax_example",
    "spirals",
    "two_moons",
    "xor",
]

#: scikit-learn loader function for each bundled dataset, and whether it is a
#: classification problem (integer labels) or a regression one (float target).
_SKLEARN_LOADERS = {
    "digits": ("load_digits", True),
    "iris": ("load_iris", True),
    "wine": ("load_wine", True),
    "breast-cancer": ("load_breast_cancer", True),
    "diabetes": ("load_diabetes", False),
}


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four points of the XOR problem, which no linear model can separate.

    Returns
    -------
    X : ndarray of shape (4, 2), float64
        ``[[0, 0], [0, 1], [1, 0], [1, 1]]``.
    y : ndarray of shape (4,), int64
        ``[0, 1, 1, 0]``: 1 where exactly one input is 1.
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return X, y


def two_moons(
    n_samples: int = 200, noise: float = 0.1, rng: RandomLike = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, a small non-linear 2-class problem.

    Parameters
    ----------
    n_samples : int >= 2, default 200
        Total number of points; the upper moon gets ``n_samples // 2``.
    noise : float >= 0, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    rng : None, int or numpy.random.Generator
        Seed or generator; the same seed gives the same points.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        0 for the upper moon, 1 for the lower one; samples come shuffled.
    """
    count = check_positive_int(n_samples, "n_samples", minimum=2)
    spread = check_non_negative_float(noise, "noise")
    generator = as_generator(rng)
    n_upper = count // 2
    n_lower = count - n_upper
    angle_upper = np.linspace(0.0, np.pi, n_upper)
    angle_lower = np.linspace(0.0, np.pi, n_lower)
    upper = np.column_stack([np.cos(angle_upper), np.sin(angle_upper)])
    lower = np.column_stack([1.0 - np.cos(angle_lower), 0.5 - np.sin(angle_lower)])
    return _two_classes(upper, lower, spread, generator)


def circles(
    n_samples: int = 200, noise: float = 0.1, factor: float = 0.5, rng: RandomLike = None
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle inside a larger one: 2 classes no straight line separates.

    Parameters
    ----------
    n_samples : int >= 2, default 200
        Total number of points; the outer circle gets ``n_samples // 2``.
    noise : float >= 0, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    factor : float, default 0.5
        Radius of the inner circle (the outer one has radius 1), from 0 to 1.
    rng : None, int or numpy.random.Generator
        Seed or generator; the same seed gives the same points.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        0 for the outer circle, 1 for the inner one; samples come shuffled.
    """
    count = check_positive_int(n_samples, "n_samples", minimum=2)
    spread = check_non_negative_float(noise, "noise")
    radius = check_non_negative_float(factor, "factor")
    if not 0.0 < radius < 1.0:
        raise ValueError(f"factor must be between 0 and 1 (the inner radius), got {factor!r}")
    generator = as_generator(rng)
    n_outer = count // 2
    n_inner = count - n_outer
    # endpoint=False: the first and last points of a circle would coincide.
    outer = np.linspace(0.0, 2.0 * np.pi, n_outer, endpoint=False)
    inner = np.linspace(0.0, 2.0 * np.pi, n_inner, endpoint=False)
    first = np.column_stack([np.cos(outer), np.sin(outer)])
    second = radius * np.column_stack([np.cos(inner), np.sin(inner)])
    return _two_classes(first, second, spread, generator)


def _two_classes(
    first: np.ndarray, second: np.ndarray, spread: float, generator: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Class 0 at the points ``first``, class 1 at ``second``, each coordinate moved by
    Gaussian noise of standard deviation ``spread``; samples shuffled."""
    count = len(first) + len(second)
    X = np.vstack([first, second]) + generator.normal(0.0, spread, size=(count, 2))
    y = np.repeat(np.array([0, 1], dtype=np.int64), [len(first), len(second)])
    order = generator.permutation(count)
    return X[order], y[order]


def spirals(
    n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, rng: RandomLike = None
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class, starting at the origin.

    Each arm turns through 4 radians while its radius grows from 0 to 1; the arms
    start at evenly spaced angles.

    Parameters
    ----------
    n_samples : int, default 300
        Total number of points, shared as evenly as possible between the classes;
        at least ``n_classes``.
    n_classes : int >= 2, default 3
    noise : float >= 0, default 0.2
        Standard deviation of the Gaussian noise added to each point's angle, in
        radians.
    rng : None, int or numpy.random.Generator
        Seed or generator; the same seed gives the same points.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
        Points inside the unit disc.
    y : ndarray of shape (n_samples,), int64
        The arm each point lies on, 0 .. n_classes - 1; samples come shuffled.
    """
    classes = check_positive_int(n_classes, "n_classes", minimum=2)
    count = check_positive_int(n_samples, "n_samples", minimum=classes)
    spread = check_non_negative_float(noise, "noise")
    generator = as_generator(rng)
    per_class = np.full(classes, count // classes)
    per_class[: count % classes] += 1
    parts = []
    for label, size in enumerate(per_class):
        radius = np.linspace(0.0, 1.0, size)
        start = 2 * np.pi * label / classes
        angle = np.linspace(start, start + 4.0, size) + generator.normal(0.0, spread, size)
        parts.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
    X = np.vstack(parts)
    y = np.repeat(np.arange(classes, dtype=np.int64), per_class)
    order = generator.permutation(count)
    return X[order], y[order]


def house_prices() -> Dataset:
    """A made-up table of six houses, small enough to follow by hand.

    Feature values lie roughly in 0..5 and prices in (0, 1), so a network with
    sigmoid units and a sigmoid output can fit them without any scaling. The
    result unpacks as ``X, y = house_prices()``.

    Returns
    -------
    Dataset
        ``X`` of shape (6, 4) with features ``size_100m2`` (floor area in 100 m²),
        ``rooms``, ``age_decades`` and ``distance_km`` (to the city centre), and
        ``y`` of shape (6,), the price in millions.
    """
    X = np.array(
        [
            [1.2, 3.0, 2.0, 1.5],
            [0.8, 2.0, 4.5, 3.0],
            [1.6, 4.0, 1.0, 4.0],
            [2.1, 5.0, 3.0, 2.5],
            [0.6, 1.0, 0.5, 0.8],
            [1.4, 3.0, 5.0, 5.0],
        ]
    )
    # Roughly 0.15 + 0.3 size + 0.04 rooms - 0.04 age - 0.05 distance, rounded.
    y = np.array([0.48, 0.14, 0.55, 0.74, 0.31, 0.24])
    names = ["size_100m2", "rooms", "age_decades", "distance_km"]
    return Dataset(X=X, y=y, feature_names=names, target_name="price_millions")


def softmax_example() -> tuple[np.ndarray, np.ndarray]:
    """One sample with two features for a 2-class softmax, as in textbook examples.

    Returns
    -------
    X : ndarray of shape (1, 2), float64
        ``[[0.5, 0.1]]``.
    y : ndarray of shape (1,), int64
        ``[1]``: the sample belongs to the second class.
    """
    return np.array([[0.5, 0.1]]), np.array([1], dtype=np.int64)


def load_sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Load one of scikit-learn's bundled datasets (no download needed).

    Parameters
    ----------
    name : {"digits", "iris", "wine", "breast-cancer", "diabetes"}
        ``"breast_cancer"`` is accepted too.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,)
        int64 class labels, or float64 for the regression set ``"diabetes"``.
    """
    key = _canonical(name)
    if key not in _SKLEARN_LOADERS:
        raise ValueError(
            f"{name!r} is not a scikit-learn dataset; choose one of "
            f"{', '.join(_SKLEARN_LOADERS)} (or use load({name!r}))"
        )
    X, y = _sklearn_dataset(key)
    return X, y


def available() -> list[str]:
    """Names accepted by :func:`load`, toy and textbook sets first."""
    return [*_BUILT_IN, *_SKLEARN_LOADERS]


def load(name: str, **kwargs: Any) -> Dataset:
    """Load any built-in dataset by name, as a :class:`Dataset` with column names.

    Parameters
    ----------
    name : str
        One of :func:`available`, e.g. ``"xor"``, ``"moons"``, ``"spirals"``,
        ``"house-prices"``, ``"softmax-example"``, ``"iris"``, ``"digits"``.
        Case, ``_`` and ``-`` do not matter.
    **kwargs
        Passed on to the generator, e.g. ``load("moons", n_samples=500, rng=0)``.

    Returns
    -------
    Dataset
        Unpacks as ``X, y = load(name)``.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the available names.
    """
    key = _canonical(name)
    if key in _SKLEARN_LOADERS:
        if kwargs:
            raise TypeError(f"load({name!r}) takes no options, got {sorted(kwargs)}")
        return _sklearn_dataset(key)
    result = _BUILT_IN[key](**kwargs)
    if isinstance(result, Dataset):
        return result
    X, y = result
    names = [f"x{j + 1}" for j in range(X.shape[1])]
    return Dataset(X=X, y=y, feature_names=names, target_name="label")


def _canonical(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in _BUILT_IN and key not in _SKLEARN_LOADERS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(available())}")
    return key


def _sklearn_dataset(key: str) -> Dataset:
    try:
        from sklearn import datasets as sklearn_datasets
    except ImportError:
        raise ImportError(
            f"the {key!r} dataset ships with scikit-learn; install it with: "
            "pip install scikit-learn"
        ) from None
    loader_name, is_classification = _SKLEARN_LOADERS[key]
    bunch = getattr(sklearn_datasets, loader_name)()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64 if is_classification else np.float64)
    names = [str(feature) for feature in bunch.feature_names]
    return Dataset(X=X, y=y, feature_names=names, target_name="target")


_BUILT_IN: dict[str, Callable[..., Any]] = {
    "xor": xor,
    "moons": two_moons,
    "circles": circles,
    "spirals": spirals,
    "house-prices": house_prices,
    "softmax-example": softmax_example,
}
_ALIASES = {"two-moons": "moons", "spiral": "spirals", "houses": "house-prices"}
