"""scikit-learn estimators backed by chainrule: :class:`MLPClassifier` and :class:`MLPRegressor`.

They take the parameters of scikit-learn's ``sklearn.neural_network`` estimators
and follow its semantics: Glorot-uniform initialisation, a softmax output with
log-loss for several classes, a logistic output for two, an identity output with
half the squared error for regression, ``alpha`` as an L2 penalty on the weights
(not the biases) divided by the batch size, and scikit-learn's stopping rule
(``tol`` and ``n_iter_no_change`` on the training loss, or on the validation score
with ``early_stopping``). Training runs through :func:`chainrule.fit`.

``fit`` takes ``sample_weight``, ``warm_start=True`` continues from the last fit's
weights, and ``partial_fit`` trains one epoch on the data it is given, for data that
arrives in chunks or does not fit in memory, all as in scikit-learn. The estimators
pickle and clone, so :class:`~sklearn.model_selection.GridSearchCV` can fit them in
parallel processes or, through joblib's Dask back-end, on a cluster.

The network computes in the dtype of ``X`` as scikit-learn's does: float32 input
trains a float32 network, anything else float64. ``lbfgs``, sparse input and the
``learning_rate`` schedules of the ``sgd`` solver are not provided.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from chainrule.sklearn import MLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, y)
>>> clf.score(X, y) > 0.9
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, MultiOutputMixin, RegressorMixin
from sklearn.metrics import r2_score as weighted_r2_score
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import column_or_1d

from chainrule._show import names, shown
from chainrule._sklearn_base import BaseMLP
from chainrule._sklearn_support import check_input
from chainrule.autograd import no_grad
from chainrule.nn import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from chainrule.nn.module import Module
from chainrule.train.metrics import r2_score

__all__ = ["MLPClassifier", "MLPRegressor"]


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier (scikit-learn's ``MLPClassifier``), on chainrule.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        Neurons in each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default "relu"
        Hidden-layer activation.
    solver : {"adam", "sgd"}, default "adam"
    alpha : float, default 0.0001
        Strength of the L2 penalty on the weights.
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)`` for "auto".
    learning_rate_init : float, default 0.001
    max_iter : int, default 200
        Epochs at most.
    shuffle : bool, default True
    random_state : int, RandomState, Generator or None
        Seeds the initial weights, the shuffling and the validation split.
    tol : float, default 1e-4
    verbose : bool, default False
        Print one line per epoch.
    momentum : float, default 0.9
        For ``solver="sgd"``.
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (stratified) and stop
        when its accuracy stops improving; the best epoch's weights are kept.
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Adam's parameters. Each step is scikit-learn's,
        ``lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)`` (``m``,
        ``v``: running means of the gradient and of its square), where
        ``chainrule.optim.Adam`` (PyTorch's) adds ``epsilon`` to the corrected
        ``sqrt(v) / sqrt(1 - beta_2**t)``.
    n_iter_no_change : int, default 10

    Attributes
    ----------
    classes_ : ndarray
    model_ : chainrule.nn.Sequential
        The trained network (logits out); save it with :func:`chainrule.save`.
    coefs_, intercepts_ : list of ndarray
        Weights ``(n_in, n_out)`` and biases per layer, views of the network's.
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_
    n_iter_, t_, n_features_in_, n_outputs_, n_layers_, out_activation_

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = MLPClassifier(max_iter=50, random_state=0).fit(X[:400], y[:400])
    >>> clf.predict_proba(X[400:]).shape
    (169, 2)
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on ``X`` of shape (n_samples, n_features) and labels ``y``; returns self.

        With ``warm_start=True`` and a fitted network, training continues from its
        weights (with a new optimizer), and ``y`` must hold the same classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weight of each sample. Each mini-batch descends on the weighted
            mean of its samples' log-losses, ``sum(w_i l_i) / sum(w_i)``, plus the L2
            penalty divided by the batch's total weight instead of its size, as in
            scikit-learn. So with one batch (``batch_size`` at least the number of
            samples) a weight of 2 trains exactly as the sample given twice, and weight 0
            as the sample left out; multiplying every weight by ``c`` leaves the data
            term unchanged and divides the penalty by ``c`` (as ``c`` copies of the data
            would). With smaller batches the weights act within each batch, so a batch
            of heavy samples moves the weights no further than any other (use
            ``batch_size`` covering the data for the exact equivalence). A batch of zero
            weights is skipped. ``loss_curve_`` holds each epoch's weighted mean loss;
            with ``early_stopping`` the validation accuracy is weighted too.
        """
        X, y = self._validated(X, y, incremental=False)
        self._fit(X, y, sample_weight, incremental=False)
        return self

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> MLPClassifier:
        """Train one epoch on ``(X, y)``, continuing from the last call; returns self.

        For data that arrives in chunks or does not fit in memory: call it once per
        chunk (and as many passes over the chunks as wanted). The weights, the
        optimizer's state (Adam's moments, SGD's momentum) and the shuffling generator
        carry over from call to call; ``loss_curve_`` and ``t_`` grow, ``n_iter_`` is 1.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like, required on the first call
            Every class of the whole data set (``np.unique(y_all)``); a chunk need not
            hold them all.
        sample_weight : array-like of shape (n_samples,), optional
            As for :meth:`fit`.
        """
        X, y = self._validated(X, y, incremental=True)
        _check_partial_fit_first_call(self, classes)
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def _fit(self, X: np.ndarray, y: np.ndarray, sample_weight: Any, incremental: bool) -> Any:
        check_classification_targets(y)
        super()._fit(X, y, sample_weight, incremental)
        self.out_activation_ = "logistic" if len(self.classes_) == 2 else "softmax"
        return self

    def _prepare_targets(
        self, y: np.ndarray, first: bool, incremental: bool
    ) -> tuple[np.ndarray, int, Module]:
        name = type(self).__name__
        found = np.unique(y)
        if first and not incremental:
            self.classes_ = found
        if not first and not incremental and not np.array_equal(found, self.classes_):
            raise ValueError(
                f"{name}: warm_start continues a network trained on the classes "
                f"{names(self.classes_)}, but y holds {names(found)}; give y the same "
                "classes, or set warm_start=False"
            )
        # fit takes its classes from y (or checked them above): only partial_fit's can miss one.
        if incremental:
            unknown = np.setdiff1d(found, self.classes_)
            if len(unknown):
                raise ValueError(
                    f"{name}: y holds the class(es) {names(unknown)}, which are not among "
                    f"classes_ {names(self.classes_)} given to the first partial_fit"
                )
        if len(self.classes_) < 2:
            raise ValueError(
                f"{name} needs samples of at least two classes, but y contains only one "
                f"class: {shown(self.classes_[0])}"
            )
        codes = np.searchsorted(self.classes_, y)
        if len(self.classes_) == 2:
            return codes.astype(np.float64), 1, BCEWithLogitsLoss()
        return codes, len(self.classes_), CrossEntropyLoss()

    def _model_score(
        self, model: Module, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
    ) -> float:
        with no_grad():
            outputs = model(X).data
        predicted = outputs.argmax(axis=1) if outputs.shape[1] > 1 else outputs[:, 0] > 0
        hits = predicted == y
        if weights is not None and weights.any():
            return float(np.average(hits, weights=weights))
        return float(np.mean(hits))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample."""
        outputs = self._outputs(X)
        index = outputs.argmax(axis=1) if outputs.shape[1] > 1 else (outputs[:, 0] > 0).astype(int)
        return self.classes_[index]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), in the order of ``classes_``."""
        outputs = self._outputs(X)
        if outputs.shape[1] == 1:
            positive = 0.5 * (1 + np.tanh(0.5 * outputs[:, 0]))  # the logistic, overflow-free
            return np.column_stack([1 - positive, positive])
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


class MLPRegressor(MultiOutputMixin, RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor (scikit-learn's ``MLPRegressor``), on chainrule.

    Takes the same parameters as :class:`MLPClassifier`; minimises half the mean
    squared error (plus the L2 penalty) with an identity output. ``y`` may have
    several columns. With ``early_stopping`` the validation score is R^2.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> reg = MLPRegressor((32,), learning_rate_init=0.01, max_iter=300, random_state=0)
    >>> reg.fit(X, X[:, 0] ** 2).score(X, X[:, 0] ** 2) > 0.9
    True
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on ``X`` of shape (n_samples, n_features) and targets ``y``; returns self.

        ``sample_weight`` and ``warm_start`` work as for :meth:`MLPClassifier.fit`: each
        batch descends on the weighted mean of its samples' squared errors.
        """
        X, y = self._targets(X, y, incremental=False)
        self._fit(X, y, sample_weight, incremental=False)
        self.out_activation_ = "identity"
        return self

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train one epoch on ``(X, y)``, continuing from the last call; returns self.

        See :meth:`MLPClassifier.partial_fit`; ``y`` must have as many outputs on
        every call.
        """
        X, y = self._targets(X, y, incremental=True)
        self._fit(X, y, sample_weight, incremental=True)
        self.out_activation_ = "identity"
        return self

    def _targets(self, X: Any, y: Any, incremental: bool) -> tuple[np.ndarray, np.ndarray]:
        check_input(y, "y")
        X, y = self._validated(X, y, incremental, multi_output=True, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _prepare_targets(
        self, y: np.ndarray, first: bool, incremental: bool
    ) -> tuple[np.ndarray, int, Module]:
        targets = y.reshape(len(y), -1)
        return targets, targets.shape[1], MSELoss(half=True)

    def _model_score(
        self, model: Module, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
    ) -> float:
        with no_grad():
            outputs = model(X).data
        if weights is not None and weights.any():
            return float(weighted_r2_score(y, outputs, sample_weight=weights))
        return r2_score(y, outputs)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, shape (n_samples,) or (n_samples, n_outputs)."""
        outputs = self._outputs(X)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs
