"""Generated bad input to the public API beyond the core: ``chainrule.fit`` and the
scikit-learn estimators (``read_csv`` and the command line: test_robust_cli.py).

Whatever comes in, the call either works on input that is valid, or raises a
ValueError/TypeError whose message names the problem; no other exception escapes.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning

import chainrule as cr
from chainrule.sklearn import MLPClassifier, MLPRegressor

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = [np.float32, np.float64, np.int64, np.bool_, np.complex128, np.str_, object]
FEATURES = 3


@st.composite
def arrays(draw: st.DrawFn, shape: Any = None) -> np.ndarray:
    """Arrays of every kind: any dtype, 0 to 3 dimensions (empty ones too), NaN and inf."""
    dtype = draw(st.sampled_from(DTYPES))
    if shape is None:
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    if dtype in (np.str_, object):
        return np.full(shape, draw(st.sampled_from(["x", "1.5", ""])), dtype=dtype)
    elements = None
    if dtype in (np.float32, np.float64):
        elements = st.floats(-1e3, 1e3, width=32) | st.sampled_from([np.nan, np.inf, -np.inf, 0.0])
    elif dtype is np.int64:
        elements = st.integers(-2, 4)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def feature_arrays(draw: st.DrawFn) -> np.ndarray:
    """Mostly (n, 3) tables of some dtype, sometimes any shape."""
    shape = draw(
        st.one_of(
            st.tuples(st.integers(0, 6), st.sampled_from([FEATURES, FEATURES, 0, 1, 5])),
            hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
        )
    )
    return draw(arrays(shape=shape))


def _valid_features(X: np.ndarray) -> bool:
    return (
        X.dtype.kind in "fiub"
        and X.ndim == 2
        and X.shape[0] > 0
        and X.shape[1] == FEATURES
        and bool(np.isfinite(X.astype(np.float64)).all())
    )


def _finite_numbers(X: np.ndarray) -> bool:
    """Whether scikit-learn can read ``X`` as finite real numbers (text such as "1.5" too)."""
    if X.dtype.kind == "c":
        return False
    try:
        return bool(np.isfinite(X.astype(np.float64)).all())
    except (ValueError, TypeError):
        return False


def _raises_named(call: Any, *words: str) -> BaseException | None:
    """Run ``call``; return None if it worked, else check the error and return it."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence, conversion: not errors
            call()
    except (ValueError, TypeError) as err:
        message = str(err)
        assert message.strip(), f"{type(err).__name__} without a message"
        if words:
            assert any(word in message for word in words), message
        return err
    return None


def _fit_call(X: np.ndarray, y: np.ndarray, loss: str) -> Any:
    outputs = 3 if loss == "cross-entropy" else 1
    model = cr.nn.Sequential(cr.nn.Linear(FEATURES, 4, rng=0), cr.nn.Linear(4, outputs, rng=1))
    return lambda: cr.fit(model, X, y, loss=loss, epochs=1, batch_size=4, verbose=0, rng=0)


# -- chainrule.fit ----------------------------------------------------------------------
@SETTINGS
@given(X=feature_arrays(), loss=st.sampled_from(["mse", "cross-entropy"]))
def test_fit_trains_on_valid_features_and_names_bad_ones(X, loss):
    y = np.zeros(len(X) if X.ndim else 0, dtype=np.int64)
    error = _raises_named(_fit_call(X, y, loss), "X", "Linear")
    event(f"valid {_valid_features(X)}")
    assert (error is None) == _valid_features(X), (X.dtype, X.shape, error)
    if error is not None:
        assert "\n" not in str(error)


@SETTINGS
@given(y=arrays(), n=st.integers(1, 5), loss=st.sampled_from(["mse", "cross-entropy"]))
def test_fit_accepts_only_targets_that_fit_the_loss(y, n, loss):
    X = np.linspace(-1, 1, n * FEATURES, dtype=np.float32).reshape(n, FEATURES)
    error = _raises_named(_fit_call(X, y, loss), "y", "target", "label", "Loss")
    if error is not None:
        assert "\n" not in str(error)
        return
    values = y.astype(np.float64)
    assert y.dtype.kind in "fiub" and np.isfinite(values).all() and len(y) == n
    if loss == "cross-entropy" and values.ndim == 1:
        assert ((values >= 0) & (values < 3) & (values == np.round(values))).all()


def test_fit_with_one_sample_trains():
    history = _fit_call(np.ones((1, FEATURES)), np.array([2]), "cross-entropy")()
    assert len(history) == 1 and np.isfinite(history.loss[0])


# -- scikit-learn estimators --------------------------------------------------------------
def _estimators() -> st.SearchStrategy[Any]:
    return st.sampled_from([MLPClassifier, MLPRegressor])


@SETTINGS
@given(estimator=_estimators(), X=feature_arrays(), labels=st.sampled_from(["int", "text"]))
def test_estimator_fit_names_bad_features(estimator, X, labels):
    n = len(X) if X.ndim else 0
    y = np.arange(n) % 2
    if labels == "text" and estimator is MLPClassifier:
        y = np.array(["no", "yes"])[y]
    model = estimator(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    error = _raises_named(lambda: model.fit(X, y))
    two_classes = n >= 2 or estimator is MLPRegressor
    # As in scikit-learn, text that reads as numbers ("1.5") is converted; complex is not.
    valid = X.dtype.kind != "c" and X.ndim == 2 and X.shape[1] > 0 and X.shape[0] > 0
    valid = valid and _finite_numbers(X) and two_classes
    assert (error is None) == valid, (estimator.__name__, X.dtype, X.shape, error)


@SETTINGS
@given(estimator=_estimators(), y=arrays(), n=st.integers(1, 6))
def test_estimator_fit_names_bad_targets(estimator, y, n):
    X = np.linspace(-1, 1, n * FEATURES).reshape(n, FEATURES)
    model = estimator(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    error = _raises_named(lambda: model.fit(X, y))
    if error is None:
        assert len(y) == n
        if estimator is MLPClassifier:
            assert len(np.unique(y)) >= 2
            assert y.dtype.kind not in "fc" or (y.astype(complex) == np.round(y.real)).all()
        else:
            assert np.isfinite(y.astype(np.float64)).all()


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_continuous_labels_are_refused_by_the_classifier_only(estimator):
    X = np.linspace(-1, 1, 12).reshape(6, 2)
    y = np.linspace(0.1, 0.6, 6)
    model = estimator(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    error = _raises_named(lambda: model.fit(X, y), "continuous")
    assert (error is not None) == (estimator is MLPClassifier)


@pytest.fixture(scope="module")
def fitted() -> list[Any]:
    X = np.random.default_rng(0).normal(size=(20, FEATURES))
    y = np.arange(20) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return [
            MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y),
            MLPRegressor((4,), max_iter=3, random_state=0).fit(X, y.astype(float)),
        ]


@SETTINGS
@given(X=feature_arrays())
def test_estimator_predict_names_bad_features(fitted, X):
    # hypothesis runs the examples inside one test, so the module fixture is shared safely
    for estimator in fitted:
        for method in ("predict", "predict_proba", "score"):
            if not hasattr(estimator, method):
                continue
            call = getattr(estimator, method)
            if method == "score":
                error = _raises_named(lambda c=call: c(X, np.zeros(len(X) if X.ndim else 0)))
            else:
                error = _raises_named(lambda c=call: c(X))
            valid = X.dtype.kind != "c" and X.ndim == 2 and X.shape[0] > 0
            valid = valid and X.shape[1] == FEATURES and _finite_numbers(X)
            assert (error is None) == valid, (type(estimator), method, X.dtype, X.shape)
            wrong_width = X.ndim == 2 and len(X) > 0 and X.shape[1] not in (0, FEATURES)
            if error is not None and wrong_width and _finite_numbers(X):
                assert "features" in str(error)


@pytest.mark.parametrize("label", [1e-30, 1.0000001, 2 - 1e-12])
def test_labels_that_round_to_whole_numbers_in_float32_are_still_refused(label):
    # Checked in float64: cast to the float32 scores first, these would read 0, 1 and 2.
    scores = np.zeros((1, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="class labels must be integers in \\[0, 2\\]"):
        cr.nn.CrossEntropyLoss()(scores, np.array([label]))
    with pytest.raises(ValueError, match="class labels .* whole numbers; sample 0 has label"):
        cr.fit(cr.nn.Linear(3, 3), np.ones((1, 3)), [label], loss="cross-entropy", verbose=0)
