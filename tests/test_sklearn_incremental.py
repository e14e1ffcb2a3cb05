"""MLPClassifier and MLPRegressor: partial_fit, warm_start and sample_weight, held to
scikit-learn's semantics (scikit-learn's estimator checks run them too, in
test_sklearn_estimators.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as ScikitMLPClassifier
from sklearn.neural_network import MLPRegressor as ScikitMLPRegressor
from sklearn.preprocessing import StandardScaler

import chainrule as cr
from chainrule._sklearn_support import PenalizedLoss
from chainrule.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _regression(n=60, targets=1):
    X, y = make_regression(n_samples=n, n_features=3, n_targets=targets, random_state=0)
    return X, y / y.std(axis=0)


def _parameters(estimator):
    return estimator.coefs_ + estimator.intercepts_


def _assert_same_network(a, b):
    for left, right in zip(_parameters(a), _parameters(b), strict=True):
        np.testing.assert_array_equal(left, right)


# -- partial_fit ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("epochs", [1, 4])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_partial_fit_epochs_are_the_epochs_of_fit(iris, solver, epochs, kind):
    """k calls of partial_fit on all the data train exactly as fit with max_iter=k: the
    optimizer's state and the shuffling generator carry over from call to call."""
    if kind == "regression":
        X, y = _regression()
        make = MLPRegressor
        extra = {}
    else:
        X, y = iris if kind == "multiclass" else (iris[0][:100], iris[1][:100])
        make = MLPClassifier
        extra = {"classes": np.unique(y)}
    settings_ = {"hidden_layer_sizes": (6,), "solver": solver, "batch_size": 16}
    fitted = make(max_iter=epochs, n_iter_no_change=100, random_state=0, **settings_).fit(X, y)
    streamed = make(random_state=0, **settings_)
    for _ in range(epochs):
        streamed.partial_fit(X, y, **extra)
    _assert_same_network(streamed, fitted)
    assert streamed.loss_curve_ == fitted.loss_curve_
    assert streamed.n_iter_ == 1 and streamed.t_ == fitted.t_ == epochs * len(X)


def test_partial_fit_learns_from_chunks_that_lack_some_classes(iris):
    X, y = iris
    order = np.argsort(y, kind="stable")  # the chunks come sorted by class
    chunks = np.array_split(order, 5)
    clf = MLPClassifier((16,), learning_rate_init=0.01, random_state=0)
    for epoch in range(40):
        for chunk in chunks:
            clf.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2] if epoch == 0 else None)
    assert list(clf.classes_) == [0, 1, 2] and len(np.unique(y[chunks[0]])) == 1
    assert clf.score(X, y) > 0.9


def test_partial_fit_refusals_name_the_problem(iris):
    X, y = iris
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    clf = MLPClassifier((4,), random_state=0).partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match=r"y holds the class\(es\) 2, which are not among"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    reg = MLPRegressor((4,), random_state=0).partial_fit(*_regression())
    with pytest.raises(ValueError, match="1 output\\(s\\), but now .* and 2 output"):
        reg.partial_fit(*_regression(targets=2))


def test_fit_after_partial_fit_starts_afresh_unless_warm_started(iris):
    X, y = iris
    fresh = MLPClassifier((6,), max_iter=3, random_state=0).fit(X, y)
    clf = MLPClassifier((6,), max_iter=3, random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    clf.fit(X, y)
    _assert_same_network(clf, fresh)
    assert clf.loss_curve_ == fresh.loss_curve_


# -- warm_start ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [MLPClassifier, MLPRegressor])
def test_warm_start_continues_from_the_last_weights(iris, make):
    """With plain SGD (no optimizer state) and no shuffling, fitting a epochs and then b
    more with warm_start is exactly fitting a + b epochs."""
    X, y = iris if make is MLPClassifier else _regression()
    settings_ = {"solver": "sgd", "momentum": 0.0, "shuffle": False, "n_iter_no_change": 100}
    whole = make((5,), max_iter=7, random_state=0, **settings_).fit(X, y)
    warm = make((5,), max_iter=3, random_state=0, warm_start=True, **settings_).fit(X, y)
    warm.set_params(max_iter=4).fit(X, y)
    _assert_same_network(warm, whole)
    assert warm.loss_curve_ == whole.loss_curve_ and warm.t_ == whole.t_
    assert warm.n_iter_ == 4
    cold = make((5,), max_iter=3, random_state=0, **settings_).fit(X, y)
    cold.set_params(max_iter=4).fit(X, y)  # warm_start=False: a new network each time
    assert cold.loss_curve_ == whole.loss_curve_[:4]


def test_warm_start_with_early_stopping_keeps_the_best_weights_so_far(iris):
    X, y = iris
    clf = MLPClassifier(
        (8,), early_stopping=True, warm_start=True, max_iter=20, random_state=0
    ).fit(X, y)
    first_best = clf.best_validation_score_
    scores = len(clf.validation_scores_)
    clf.fit(X, y)
    assert len(clf.validation_scores_) == scores + clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_) >= first_best


def test_warm_start_refuses_other_classes_or_another_architecture(iris):
    X, y = iris
    clf = MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="classes 0, 1, 2, but y holds 0, 1"):
        clf.fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(4,\).*now hidden_layer_sizes"):
        clf.set_params(hidden_layer_sizes=(5,)).fit(X, y)


# -- sample_weight -------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    weights=st.lists(st.integers(0, 3), min_size=12, max_size=12).filter(
        lambda w: sum(w[:6]) > 0 and sum(w[6:]) > 0
    ),
    regression=st.booleans(),
)
def test_integer_weights_train_as_repeated_samples(weights, regression):
    """In one batch, weight k is the sample given k times (0: left out), to rounding."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = rng.normal(size=12) if regression else np.repeat([0, 1], 6)
    make = MLPRegressor if regression else MLPClassifier
    w = np.array(weights)
    settings_ = {"hidden_layer_sizes": (5,), "max_iter": 20, "batch_size": 200, "random_state": 0}
    weighted = make(**settings_).fit(X, y, sample_weight=w)
    repeated = make(**settings_).fit(X.repeat(w, axis=0), y.repeat(w))
    for a, b in zip(_parameters(weighted), _parameters(repeated), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # the same loss, written twice: the weighted mean and the mean over repetitions
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("make", [MLPClassifier, MLPRegressor])
def test_scaling_every_weight_leaves_the_data_term_unchanged(iris, make):
    """Without a penalty, weights c * w train as w, whatever the batches; the penalty is
    divided by the batch's total weight, so it shrinks by c (as c copies of the data)."""
    X, y = iris if make is MLPClassifier else _regression()
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    settings_ = {"max_iter": 10, "batch_size": 32, "random_state": 0}
    a = make((5,), alpha=0.0, **settings_).fit(X, y, sample_weight=w)
    b = make((5,), alpha=0.0, **settings_).fit(X, y, sample_weight=7 * w)
    for left, right in zip(_parameters(a), _parameters(b), strict=True):
        np.testing.assert_allclose(left, right, rtol=1e-10, atol=1e-13)
    penalised = make((5,), alpha=1.0, **settings_).fit(X, y, sample_weight=w)
    shrunk = make((5,), alpha=1.0, **settings_).fit(X, y, sample_weight=7 * w)
    assert not np.allclose(penalised.coefs_[0], shrunk.coefs_[0], rtol=1e-6)


def _scikit_learns_loss_and_gradients(estimator, X, Y, w, coefs, intercepts):
    """scikit-learn's own backpropagation, on chainrule's weights."""
    estimator.coefs_ = [c.copy() for c in coefs]
    estimator.intercepts_ = [b.copy() for b in intercepts]
    activations = [X] + [None] * (len(coefs))
    deltas = [None] * len(coefs)
    coef_grads = [np.empty_like(c) for c in coefs]
    intercept_grads = [np.empty_like(b) for b in intercepts]
    return estimator._backprop(X, Y, w, activations, deltas, coef_grads, intercept_grads)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_loss_and_gradients_are_scikit_learns(iris, kind, weighted):
    """chainrule's batch loss with sample weights and the L2 penalty, and its gradients,
    equal scikit-learn's MLP's, computed by scikit-learn on the same weights. (One
    regression target: for several, scikit-learn's gradient is that of the sum over the
    outputs while its loss is their mean; chainrule follows the loss.)"""
    if kind == "regression":
        X, y = _regression(n=40)
        ours = MLPRegressor((6,), alpha=0.3)
        theirs = ScikitMLPRegressor(hidden_layer_sizes=(6,), alpha=0.3)
    else:
        X, y = iris if kind == "multiclass" else (iris[0][:100], iris[1][:100])
        ours, theirs = MLPClassifier((6,), alpha=0.3), ScikitMLPClassifier((6,), alpha=0.3)
    w = np.random.default_rng(1).uniform(0.0, 3.0, size=len(y)) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.set_params(max_iter=1, random_state=0).fit(X, y)
        theirs.set_params(max_iter=1, random_state=0).fit(X, y)
    Y = theirs._label_binarizer.transform(y) if kind != "regression" else y.reshape(-1, 1)
    loss, coef_grads, intercept_grads = _scikit_learns_loss_and_gradients(
        theirs, X, np.asarray(Y, dtype=float), w, ours.coefs_, ours.intercepts_
    )
    targets, _, base_loss = ours._prepare_targets(y, first=False, incremental=False)
    model = ours.model_
    model.zero_grad()
    penalty = PenalizedLoss(base_loss, [layer.weight for layer in ours._linears()], 0.3)
    value = penalty(model(X), targets, sample_weight=w)
    value.backward()
    penalty.add_gradients()  # what fit does after backward()
    assert value.item() == pytest.approx(loss, rel=1e-12)
    grads = [layer.weight.grad for layer in ours._linears()]
    grads += [layer.bias.grad for layer in ours._linears()]
    for mine, reference in zip(grads, coef_grads + intercept_grads, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-10, atol=1e-14)


def test_a_batch_of_zero_weights_is_skipped():
    X = np.arange(8, dtype=float).reshape(4, 2)
    y = np.array([0.0, 1.0, 2.0, 3.0])
    model = cr.nn.Sequential(cr.nn.Linear(2, 1, rng=0)).double()
    before = model.state_dict()
    history = cr.fit(
        model, X, y, loss="mse", optimizer="sgd", epochs=1, batch_size=2, shuffle=False,
        verbose=0, sample_weight=[0.0, 0.0, 1.0, 1.0],
    )
    after_one_batch = cr.nn.Sequential(cr.nn.Linear(2, 1, rng=0)).double()
    cr.fit(
        after_one_batch, X[2:], y[2:], loss="mse", optimizer="sgd", epochs=1, batch_size=2,
        verbose=0,
    )
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, after_one_batch.state_dict()[name])
        assert not np.array_equal(value, before[name])
    assert np.isfinite(history["loss"][0])


@pytest.mark.parametrize(
    ("weights", "error", "message"),
    [
        ([1.0, 2.0], ValueError, r"one weight per sample, shape \(4,\); got shape \(2,\)"),
        ([1.0, -1.0, 1.0, 1.0], ValueError, "non-negative; sample 1 has weight -1"),
        ([1.0, np.nan, 1.0, 1.0], ValueError, "sample_weight has a non-finite value"),
        (["a", "b", "c", "d"], TypeError, "sample_weight must be numbers"),
        ([0.0, 0.0, 0.0, 0.0], ValueError, "every training sample's weight is zero"),
    ],
)
def test_fit_refuses_bad_sample_weights_by_name(weights, error, message):
    model = cr.nn.Sequential(cr.nn.Linear(2, 1, rng=0))
    with pytest.raises(error, match=message):
        cr.fit(model, np.ones((4, 2)), np.ones(4), loss="mse", verbose=0, sample_weight=weights)


def test_a_custom_loss_without_sample_weight_is_named():
    model = cr.nn.Sequential(cr.nn.Linear(2, 1, rng=0))
    with pytest.raises(TypeError, match="sample_weight needs a loss that takes it"):
        cr.fit(
            model, np.ones((4, 2)), np.ones(4), loss=lambda out, target: ((out - 1) ** 2).mean(),
            verbose=0, sample_weight=np.ones(4),
        )
