"""A grid search over chainrule's estimators on a Dask cluster gives exactly the results of
the same search run serially.

The cluster is a real ``dask.distributed.LocalCluster`` of two worker processes, so every
estimator crosses a process boundary (pickled, cloned, fitted there, scored, sent back).
"""

from __future__ import annotations

import faulthandler
import pickle
import warnings

import joblib
import numpy as np
import pytest
from dask import distributed
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from chainrule.sklearn import MLPClassifier, MLPRegressor

# A hung cluster must not stall the test run: past this, the process dumps its threads'
# stacks and exits, which fails the run loudly. The tests take seconds.
WATCHDOG_SECONDS = 300


@pytest.fixture(scope="module")
def client():
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    try:
        with (
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
    finally:
        faulthandler.cancel_dump_traceback_later()


def _classification():
    X, y = make_classification(
        n_samples=90, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0
    )
    weights = np.random.default_rng(0).integers(1, 4, size=len(y)).astype(float)
    return X, y, {"sample_weight": weights}


def _regression():
    X, y = make_regression(n_samples=90, n_features=4, noise=0.1, random_state=0)
    return X, y / y.std(), {}


SEARCHES = {
    "classifier": (
        MLPClassifier(max_iter=15, learning_rate_init=0.01, batch_size=32, random_state=0),
        {"hidden_layer_sizes": [(4,), (8,)], "alpha": [1e-4, 1e-1]},
        _classification,
    ),
    "regressor": (
        MLPRegressor(max_iter=15, learning_rate_init=0.01, batch_size=32, random_state=0),
        {"hidden_layer_sizes": [(4,), (8,)], "solver": ["adam", "sgd"]},
        _regression,
    ),
}
COMPARED = ("params", "mean_test_score", "std_test_score", "rank_test_score")


def _search(estimator, grid, X, y, fit_params):
    search = GridSearchCV(estimator, grid, cv=3, error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y, **fit_params)


@pytest.mark.parametrize("name", SEARCHES)
def test_grid_search_on_a_dask_cluster_equals_the_serial_search(client, name):
    estimator, grid, data = SEARCHES[name]
    X, y, fit_params = data()
    # Dask's workers run one BLAS thread each; so does the serial search.
    with threadpool_limits(limits=1):
        serial = _search(estimator, grid, X, y, fit_params)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote = _search(estimator, grid, X, y, fit_params)
    workers = set(client.scheduler_info()["workers"])
    assert tasks.data and {task["worker"] for task in tasks.data} <= workers
    for key in COMPARED + tuple(k for k in serial.cv_results_ if k.startswith("split")):
        assert list(remote.cv_results_[key]) == list(serial.cv_results_[key]), key
    assert remote.best_params_ == serial.best_params_


def test_a_partly_trained_estimator_continues_on_a_worker_as_it_would_here(client):
    X, y, fit_params = _classification()
    clf = MLPClassifier((8,), batch_size=16, random_state=0)
    clf.partial_fit(
        X[:45], y[:45], classes=np.unique(y), sample_weight=fit_params["sample_weight"][:45]
    )

    def more(estimator, X_part, y_part):
        return estimator.partial_fit(X_part, y_part)

    there = client.submit(more, clf, X[45:], y[45:], pure=False).result()
    here = pickle.loads(pickle.dumps(clf)).partial_fit(X[45:], y[45:])
    # The weights, Adam's moments and the shuffling generator all crossed over.
    for a, b in zip(there.coefs_ + there.intercepts_, here.coefs_ + here.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert there.loss_curve_ == here.loss_curve_ and there.t_ == here.t_ == 90
