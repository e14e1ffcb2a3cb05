"""The scikit-learn estimators: ``chainrule.sklearn.MLPClassifier.fit`` (and
``MLPRegressor.fit``) against scikit-learn's own ``sklearn.neural_network`` estimators.

Both sides get the same settings: one hidden layer of 100 ReLU units, Adam with
learning rate 0.001 and scikit-learn's betas and epsilon, batches of 200, shuffling
with ``random_state=0``, no early stopping, and a stopping rule that never fires
(``n_iter_no_change`` above ``max_iter``), so both run every epoch. ``alpha=1e-4`` means
the same on both sides: chainrule's estimators implement scikit-learn's penalty,
``alpha / 2 * sum(W^2)`` over the weights (not the biases) divided by the batch's size,
with its gradient ``alpha * W / batch size`` (tests/test_sklearn_incremental.py checks the
loss and gradients against scikit-learn's own backpropagation). Both compute in float64,
the dtype of the data, with one BLAS thread, and the figure is CPU time
(``time.process_time``), contestants taking turns, medians over the repetitions.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from racing import race, single_threaded

Runner = Callable[[], None]

#: The rows: (key, what is trained, data set, epochs, epochs with --quick).
ROWS = (
    ("digits", "MLPClassifier", "digits (1,797 x 64, 10 classes)", 40, 40),
    ("generated", "MLPClassifier", "generated 100,000 x 50, 4 classes", 5, 2),
    ("regression", "MLPRegressor", "generated 100,000 x 50, one target", 5, 2),
)


def data(key: str) -> tuple[np.ndarray, np.ndarray]:
    """The data set of a row."""
    if key == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return X, y
    if key == "generated":
        from sklearn.datasets import make_classification

        return make_classification(
            100_000, 50, n_informative=20, n_classes=4, random_state=0
        )
    from sklearn.datasets import make_regression

    X, y = make_regression(100_000, 50, n_informative=20, noise=1.0, random_state=0)
    return X, y / y.std()


def settings(epochs: int) -> dict[str, Any]:
    return {
        "hidden_layer_sizes": (100,),
        "activation": "relu",
        "solver": "adam",
        "alpha": 1e-4,
        "batch_size": 200,
        "learning_rate_init": 1e-3,
        "max_iter": epochs,
        "shuffle": True,
        "random_state": 0,
        "early_stopping": False,
        "n_iter_no_change": epochs + 1,
    }


def fitter(estimator: type, X: np.ndarray, y: np.ndarray, epochs: int) -> Runner:
    def run() -> None:
        with warnings.catch_warnings():
            # Every epoch runs by design, so both sides warn that the loss has not converged.
            warnings.simplefilter("ignore")
            model = estimator(**settings(epochs)).fit(X, y)
        assert model.n_iter_ == epochs

    return run


def bench_estimators(repeats: int, quick: bool) -> dict[str, object] | None:
    """One row per data set: seconds of each ``fit`` and chainrule's ratio."""
    try:
        import sklearn.neural_network as theirs
    except ImportError:
        return None
    import chainrule.sklearn as ours

    rows = []
    for key, name, label, epochs, quick_epochs in ROWS:
        n_epochs = quick_epochs if quick else epochs
        X, y = data(key)
        with single_threaded():
            seconds = race(
                {
                    "chainrule": fitter(getattr(ours, name), X, y, n_epochs),
                    "scikit-learn": fitter(getattr(theirs, name), X, y, n_epochs),
                },
                repeats,
                clock=time.process_time,
            )
        rows.append(
            {
                "key": key,
                "estimator": name,
                "data": label,
                "epochs": n_epochs,
                "seconds": seconds,
                "ratio": seconds["chainrule"] / seconds["scikit-learn"],
            }
        )
    return {"rows": rows}


def summary(results: dict[str, object] | None) -> dict[str, float | None]:
    """``sklearn_fit_<key>``: chainrule's fit time over scikit-learn's, per row."""
    found = {row["key"]: row["ratio"] for row in (results or {}).get("rows", [])}  # type: ignore[attr-defined]
    return {f"sklearn_fit_{key}": found.get(key) for key, *_ in ROWS}


TARGETS = {f"sklearn_fit_{key}": 0.6 for key, *_ in ROWS}


def markdown(results: dict[str, object] | None) -> list[str]:
    """The rows' table, for results.md."""
    if not results:
        return ["8. scikit-learn estimators: not measured (scikit-learn is not installed).", ""]
    lines = [
        "8. scikit-learn estimators: `fit` of chainrule's and of scikit-learn's with the same "
        "settings (100 ReLU units, Adam, lr 0.001, batch 200, alpha 1e-4, no early stopping), "
        "float64, one BLAS thread, CPU seconds.",
        "",
        "| estimator, data | epochs | chainrule (s) | scikit-learn (s) | chainrule / "
        "scikit-learn (target) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in results["rows"]:  # type: ignore[index]
        seconds = row["seconds"]
        lines.append(
            f"| {row['estimator']}, {row['data']} | {row['epochs']} "
            f"| {seconds['chainrule']:.3f} | {seconds['scikit-learn']:.3f} "
            f"| {row['ratio']:.3f} (<= {TARGETS['sklearn_fit_' + row['key']]}) |"
        )
    return [*lines, ""]
