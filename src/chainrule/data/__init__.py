"""Data for training and explaining networks: CSV files, scaling, splits, datasets.

Everything here works with NumPy alone: :func:`read_csv` reads faster with pandas
where it is installed, and :func:`load_sklearn` needs scikit-learn, both imported
only when called.

Examples
--------
>>> from chainrule.data import load, train_test_split, Standardizer
>>> X, y = load("moons", n_samples=100, rng=0)
>>> X_train, X_test, y_train, y_test = train_test_split(X, y, rng=0, stratify=y)
>>> scaler = Standardizer().fit(X_train)
>>> scaler.transform(X_test).shape
(20, 2)
"""

from .csv import csv_columns, read_csv
from .dataset import Dataset
from .datasets import (
    available,
    circles,
    house_prices,
    load,
    load_sklearn,
    softmax_example,
    spirals,
    two_moons,
    xor,
)
from .preprocess import Standardizer, encode_labels, one_hot
from .split import iter_batches, train_test_split

__all__ = [
    "Dataset",
    "Standardizer",
    "available",
    "circles",
    "csv_columns",
    "encode_labels",
    "house_prices",
    "iter_batches",
    "load",
    "load_sklearn",
    "one_hot",
    "read_csv",
    "softmax_example",
    "spirals",
    "train_test_split",
    "two_moons",
    "xor",
]
