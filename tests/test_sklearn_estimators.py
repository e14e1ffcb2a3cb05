"""MLPClassifier and MLPRegressor: scikit-learn's estimator checks, pipelines, attributes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import check_estimator
from threadpoolctl import threadpool_limits

import chainrule as cr
from chainrule.sklearn import MLPClassifier, MLPRegressor


# scikit-learn itself skips its array-API check unless SCIPY_ARRAY_API=1 is set; every other
# check runs and must pass.
@pytest.mark.filterwarnings("ignore:Skipping check check_array_api_input")
@pytest.mark.parametrize(
    "estimator", [MLPClassifier(), MLPRegressor()], ids=lambda e: type(e).__name__
)
def test_check_estimator(estimator):
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_estimator(estimator)


# The bad-input checks among them, named so that the README can cite each: NaN/inf,
# shapes (one sample, one feature, 1-D X, empty X, wrong feature count at predict time),
# dtypes, y problems, one class and continuous labels for the classifier.
BAD_INPUT_CHECKS = [
    estimator_checks.check_estimators_nan_inf,
    estimator_checks.check_supervised_y_no_nan,
    estimator_checks.check_fit2d_1sample,
    estimator_checks.check_fit2d_1feature,
    estimator_checks.check_fit1d,
    estimator_checks.check_fit2d_predict1d,
    estimator_checks.check_estimators_empty_data_messages,
    estimator_checks.check_n_features_in_after_fitting,
    estimator_checks.check_dtype_object,
    estimator_checks.check_complex_data,
    estimator_checks.check_supervised_y_2d,
    estimator_checks.check_estimators_unfitted,
    estimator_checks.check_classifiers_one_label,
    estimator_checks.check_classifiers_regression_target,
]
CLASSIFIER_ONLY = {"check_classifiers_one_label", "check_classifiers_regression_target"}


@pytest.mark.parametrize(
    ("estimator", "check"),
    [
        pytest.param(estimator, check, id=f"{estimator.__name__}-{check.__name__}")
        for estimator in (MLPClassifier, MLPRegressor)
        for check in BAD_INPUT_CHECKS
        if estimator is MLPClassifier or check.__name__ not in CLASSIFIER_ONLY
    ],
)
def test_bad_input_checks(estimator, check):
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator.__name__, estimator(hidden_layer_sizes=(5,), max_iter=5))


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_classifier_attributes_match_scikit_learns(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8, 5), max_iter=30, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(30\\) reached"):
        clf.fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(4, 8), (8, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (5,), (3,)]
    assert clf.n_iter_ == 30 == len(clf.loss_curve_) and clf.t_ == 30 * 150
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert isinstance(clf.model_, cr.nn.Sequential)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_loss_curve_includes_the_l2_penalty(iris):
    X, y = iris
    plain = MLPClassifier((8,), alpha=0.0, max_iter=1, random_state=0, shuffle=False).fit(X, y)
    penalised = MLPClassifier((8,), alpha=10.0, max_iter=1, random_state=0, shuffle=False)
    penalised.fit(X, y)
    # One epoch is one full batch (batch_size "auto" = 150): same weights, loss differs by
    # alpha / 2 * sum(W^2) / 150 computed from the initial weights.
    initial = MLPClassifier((8,), max_iter=1, random_state=0)._build(
        4, [8], 3, np.float64, np.random.default_rng(0)
    )
    squares = sum(
        float((layer.weight.data**2).sum()) for layer in initial if hasattr(layer, "weight")
    )
    assert penalised.loss_curve_[0] - plain.loss_curve_[0] == pytest.approx(5.0 * squares / 150)


def test_binary_classifier_uses_a_logistic_output():
    X = np.array([[0.0], [1.0], [2.0], [3.0]] * 10)
    y = np.array(["no", "no", "yes", "yes"] * 10)
    clf = MLPClassifier((4,), learning_rate_init=0.05, max_iter=200, random_state=0).fit(X, y)
    assert clf.out_activation_ == "logistic" and clf.coefs_[-1].shape == (4, 1)
    assert clf.predict_proba(X).shape == (40, 2)
    assert list(clf.predict([[0.0], [3.0]])) == ["no", "yes"]


def test_early_stopping_keeps_the_best_validation_score(iris):
    X, y = iris
    clf = MLPClassifier(
        (16,),
        early_stopping=True,
        n_iter_no_change=5,
        max_iter=300,
        learning_rate_init=0.01,
        random_state=0,
    ).fit(X, y)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 300


def test_regressor_with_several_outputs_and_sgd():
    X, y = make_regression(n_samples=120, n_features=4, n_targets=2, noise=0.1, random_state=0)
    y = y / y.std(axis=0)
    reg = MLPRegressor((16,), solver="sgd", learning_rate_init=0.01, max_iter=300, random_state=0)
    reg.fit(X, y)
    assert reg.predict(X).shape == (120, 2) and reg.out_activation_ == "identity"
    assert reg.score(X, y) > 0.9


def test_pipeline_and_grid_search(iris):
    X, y = iris
    search = GridSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier(max_iter=60, random_state=0)),
        {
            "mlpclassifier__hidden_layer_sizes": [(4,), (16,)],
            "mlpclassifier__learning_rate_init": [0.01],
        },
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert search.best_score_ > 0.85
    assert search.best_estimator_.predict(X[:5]).shape == (5,)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes must be positive integers"),
        ({"activation": "swish"}, "activation must be one of identity, logistic, tanh, relu"),
        ({"solver": "lbfgs"}, "lbfgs is not provided"),
        ({"alpha": -1.0}, r"alpha must be a number in \[0, inf\)"),
        ({"learning_rate_init": 0}, r"learning_rate_init must be a number in \(0, inf\)"),
        ({"validation_fraction": 1.0}, r"validation_fraction must be a number in \(0, 1\)"),
        ({"max_iter": 0}, "max_iter must be an integer >= 1"),
        ({"batch_size": "big"}, 'batch_size must be "auto" or an integer'),
    ],
)
def test_invalid_parameters_are_named(iris, params, message):
    X, y = iris
    with pytest.raises(ValueError, match=message):
        MLPClassifier(**params).fit(X, y)


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="only one class"):
        MLPClassifier().fit(np.zeros((5, 2)), np.ones(5))


@pytest.mark.parametrize("route", ["flat", "one by one"])
def test_adam_steps_are_scikit_learns(route, monkeypatch):
    """The estimators' Adam gives scikit-learn's AdamOptimizer's numbers bit for bit, step
    after step, through the flat buffers and parameter by parameter. A large epsilon and
    gradients from 1e-4 to 10 make its place in the formula show: PyTorch's Adam (eps
    after the bias correction) differs from step one."""
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    import chainrule.optim.adam
    from chainrule._sklearn_support import ScikitAdam

    if route == "one by one":
        def no_plan(plans, index, group, *rest):
            return group["params"], None

        monkeypatch.setattr(chainrule.optim.adam, "flat_plan", no_plan)
    rng = np.random.default_rng(3)
    shapes = [(4, 3), (3,), (3, 1), (1,)]
    params = [cr.nn.Parameter(rng.normal(size=shape)) for shape in shapes]
    theirs = [p.data.copy() for p in params]
    settings = dict(beta_1=0.8, beta_2=0.99, epsilon=1e-3)
    ours = ScikitAdam(params, lr=0.07, betas=(0.8, 0.99), eps=1e-3)
    reference = AdamOptimizer(theirs, learning_rate_init=0.07, **settings)
    for _ in range(6):
        grads = [rng.normal(size=shape) * 10.0 ** rng.integers(-4, 2) for shape in shapes]
        for param, grad in zip(params, grads):
            param.grad = grad.copy()
        ours.step()
        reference.update_params(theirs, grads)
        for param, expected in zip(params, theirs, strict=True):
            np.testing.assert_array_equal(param.data, expected)
    assert all(int(ours.state[id(p)]["step"]) == 6 for p in params)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["multiclass", "binary", "regression", "column-major"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_training_takes_scikit_learns_steps(iris, kind, solver):
    """From the same weights, 20 epochs of mini-batches (the last one short) with the L2
    penalty land where scikit-learn's MLP lands, to rounding, with SGD and with Adam (whose
    steps are scikit-learn's own arithmetic: see test_adam_steps_are_scikit_learns)."""
    from sklearn.neural_network import MLPClassifier as ScikitClassifier
    from sklearn.neural_network import MLPRegressor as ScikitRegressor

    X, y = iris
    if kind == "binary":
        X, y = X[:100], y[:100]
    elif kind == "regression":
        X, y = X[:, :3], X[:, 3]
    elif kind == "column-major":
        X = np.asfortranarray(X)
    settings = dict(
        hidden_layer_sizes=(7,), solver=solver, batch_size=32, alpha=0.3, shuffle=False,
        learning_rate_init=0.01, tol=0.0, n_iter_no_change=10**6, random_state=0, max_iter=1,
    )
    ours, theirs = (
        (MLPRegressor(**settings), ScikitRegressor(**settings))
        if kind == "regression"
        else (MLPClassifier(**settings), ScikitClassifier(**settings))
    )
    ours.fit(X, y)
    theirs.fit(X, y)
    for mine, reference in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        reference[...] = mine
    ours.set_params(warm_start=True, max_iter=20).fit(X, y)
    theirs.set_params(warm_start=True, max_iter=20).fit(X, y)
    rtol = 1e-10
    np.testing.assert_allclose(ours.loss_curve_[1:], theirs.loss_curve_[1:], rtol=rtol)
    for mine, reference in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e3 * rtol, atol=1e3 * rtol)
