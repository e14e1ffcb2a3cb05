"""On digits, chainrule's MLPClassifier is at least as accurate as scikit-learn's.

Same split, same scaling, same architecture (one hidden layer of 100 ReLU units), same
solver (Adam, learning rate 0.001, batch size 200), same L2 penalty and the same number
of epochs; the README records the full comparison on digits and breast cancer.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as ScikitMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from chainrule.sklearn import MLPClassifier

SEEDS = (0, 1, 2)
SETTINGS = {
    "hidden_layer_sizes": (100,),
    "solver": "adam",
    "learning_rate_init": 1e-3,
    "max_iter": 100,
    # Never stop early, so both train for exactly max_iter epochs.
    "n_iter_no_change": 100,
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_digits_accuracy_is_at_least_scikit_learns():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    scores = {}
    # These matrices are small: one BLAS thread is as fast, and immune to busy machines.
    with threadpool_limits(limits=1):
        for name, estimator in (
            ("chainrule", MLPClassifier),
            ("scikit-learn", ScikitMLPClassifier),
        ):
            accuracies = []
            for seed in SEEDS:
                model = make_pipeline(StandardScaler(), estimator(random_state=seed, **SETTINGS))
                model.fit(X_train, y_train)
                assert model[-1].n_iter_ == SETTINGS["max_iter"]
                accuracies.append(model.score(X_test, y_test))
            scores[name] = float(np.mean(accuracies))
    assert scores["chainrule"] > 0.95
    assert scores["chainrule"] >= scores["scikit-learn"], scores
