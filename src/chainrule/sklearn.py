"""scikit-learn estimators backed by chainrule: :class:`MLPClassifier` and :class:`MLPRegressor`.

They take the parameters of scikit-learn's ``sklearn.neural_network`` estimators
and follow its semantics: Glorot-uniform initialisation, a softmax output with
log-loss for several classes, a logistic output for two, an identity output with
half the squared error for regression, ``alpha`` as an L2 penalty on the weights
(not the biases) divided by the batch size, and scikit-learn's stopping rule
(``tol`` and ``n_iter_no_change`` on the training loss, or on the validation score
with ``early_stopping``). Training runs through :func:`chainrule.fit`.

The network computes in the dtype of ``X`` as scikit-learn's does: float32 input
trains a float32 network, anything else float64. ``lbfgs``, ``warm_start``,
``partial_fit``, sparse input and the ``learning_rate`` schedules of the ``sgd``
solver are not provided.

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

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MultiOutputMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from chainrule._show import shown
from chainrule._sklearn_support import (
    ACTIVATIONS,
    PenalizedLoss,
    StoppingRule,
    check_input,
    check_params,
    generator,
)
from chainrule.autograd import no_grad
from chainrule.nn import BCEWithLogitsLoss, CrossEntropyLoss, Linear, MSELoss, Sequential
from chainrule.nn.module import Module
from chainrule.optim import SGD, Adam
from chainrule.optim.optimizer import Optimizer
from chainrule.train.fit import fit as train
from chainrule.train.metrics import r2_score

__all__ = ["MLPClassifier", "MLPRegressor"]


class _BaseMLP(BaseEstimator):
    """Parameters and training shared by the classifier and the regressor."""

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change

    # -- what subclasses define --------------------------------------------------------
    def _prepare_targets(self, y: np.ndarray) -> tuple[np.ndarray, int, Module]:
        """(training targets, number of outputs, loss)."""
        raise NotImplementedError

    def _model_score(self, model: Module, X: np.ndarray, y: np.ndarray) -> float:
        """The validation score of ``model`` on prepared targets ``y``."""
        raise NotImplementedError

    # -- training ----------------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray) -> _BaseMLP:
        hidden = check_params(self)
        rng = generator(self.random_state)
        targets, n_outputs, loss = self._prepare_targets(y)
        model = self._build(X.shape[1], hidden, n_outputs, X.dtype, rng)
        batch_size = min(200, len(X)) if self.batch_size == "auto" else int(self.batch_size)
        X_train, y_train, validation = X, targets, None
        if self.early_stopping:
            X_train, y_train, validation = self._validation_split(X, targets, rng)
        stopping = StoppingRule(self, validation)
        weights = [layer.weight for layer in model if isinstance(layer, Linear)]
        history = train(
            model,
            X_train,
            y_train,
            loss=PenalizedLoss(loss, weights, float(self.alpha)),
            optimizer=self._optimizer(model),
            epochs=int(self.max_iter),
            batch_size=min(batch_size, len(X_train)),
            shuffle=bool(self.shuffle),
            callbacks=[stopping],
            verbose=2 if self.verbose else 0,
            rng=rng,
        )
        self.model_ = model
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(hidden) + 2
        self.n_iter_ = len(history)
        self.t_ = self.n_iter_ * len(X_train)
        self.loss_curve_ = list(history["loss"]) if "loss" in history else []
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else np.nan
        self.best_loss_ = None if self.early_stopping else float(stopping.best_loss)
        self.validation_scores_ = stopping.scores if self.early_stopping else None
        self.best_validation_score_ = stopping.best_score if self.early_stopping else None
        linear = [layer for layer in model if isinstance(layer, Linear)]
        self.coefs_ = [layer.weight.data for layer in linear]
        self.intercepts_ = [layer.bias.data for layer in linear if layer.bias is not None]
        if not stopping.converged:
            reason = history.stop_reason
            warnings.warn(
                f"training stopped early: {reason}"
                if reason
                else f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _build(
        self, n_in: int, hidden: list[int], n_out: int, dtype: Any, rng: np.random.Generator
    ) -> Sequential:
        sizes = [n_in, *hidden, n_out]
        factor = 2.0 if self.activation == "logistic" else 6.0
        layers: list[Module] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            layer = Linear(fan_in, fan_out, dtype=dtype, init="zeros")
            bound = np.sqrt(factor / (fan_in + fan_out))
            layer.weight.data[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
            assert layer.bias is not None
            layer.bias.data[...] = rng.uniform(-bound, bound, fan_out)
            layers += [layer, ACTIVATIONS[self.activation]()]
        return Sequential(*layers[:-1])

    def _optimizer(self, model: Module) -> Optimizer:
        lr = float(self.learning_rate_init)
        if self.solver == "adam":
            return Adam(
                model.parameters(), lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon
            )
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        return SGD(model.parameters(), lr=lr, momentum=self.momentum, nesterov=nesterov)

    def _validation_split(
        self, X: np.ndarray, targets: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        from chainrule.data import train_test_split

        stratify = targets if isinstance(self, ClassifierMixin) else None
        try:
            X_train, X_val, y_train, y_val = train_test_split(
                X, targets, test_size=self.validation_fraction, rng=rng, stratify=stratify
            )
        except ValueError as err:
            raise ValueError(
                f"early_stopping needs a validation set of validation_fraction="
                f"{self.validation_fraction} of {len(X)} samples: {err}"
            ) from None
        return X_train, y_train, (X_val, y_val)

    def _outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        check_input(X, "X")
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        dtype = self.coefs_[0].dtype
        with no_grad():
            return np.asarray(self.model_(np.asarray(X, dtype=dtype)).data)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
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
    beta_1, beta_2, epsilon : float
        Adam's parameters.
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

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train on ``X`` of shape (n_samples, n_features) and labels ``y``; returns self."""
        check_input(X, "X")
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), reset=True)
        check_classification_targets(y)
        self._fit(X, y)
        self.out_activation_ = "logistic" if len(self.classes_) == 2 else "softmax"
        return self

    def _prepare_targets(self, y: np.ndarray) -> tuple[np.ndarray, int, Module]:
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least two classes, but y contains "
                f"only one class: {shown(self.classes_[0])}"
            )
        if len(self.classes_) == 2:
            return codes.astype(np.float64), 1, BCEWithLogitsLoss()
        return codes, len(self.classes_), CrossEntropyLoss()

    def _model_score(self, model: Module, X: np.ndarray, y: np.ndarray) -> float:
        with no_grad():
            outputs = model(X).data
        predicted = outputs.argmax(axis=1) if outputs.shape[1] > 1 else outputs[:, 0] > 0
        return float(np.mean(predicted == y))

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


class MLPRegressor(MultiOutputMixin, RegressorMixin, _BaseMLP):
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

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        """Train on ``X`` of shape (n_samples, n_features) and targets ``y``; returns self."""
        check_input(X, "X")
        check_input(y, "y")
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=True,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        self._fit(X, y)
        self.out_activation_ = "identity"
        return self

    def _prepare_targets(self, y: np.ndarray) -> tuple[np.ndarray, int, Module]:
        targets = y.reshape(len(y), -1)
        return targets, targets.shape[1], MSELoss(half=True)

    def _model_score(self, model: Module, X: np.ndarray, y: np.ndarray) -> float:
        with no_grad():
            return r2_score(y, model(X).data)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, shape (n_samples,) or (n_samples, n_outputs)."""
        outputs = self._outputs(X)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs
