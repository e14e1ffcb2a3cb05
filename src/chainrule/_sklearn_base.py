"""What :class:`chainrule.sklearn.MLPClassifier` and ``MLPRegressor`` share: their
parameters, and training from scratch, warm-started or incrementally (``partial_fit``)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from chainrule._show import shown
from chainrule._sklearn_support import (
    ACTIVATIONS,
    PenalizedLoss,
    ScikitAdam,
    StoppingRule,
    check_input,
    check_params,
    generator,
)
from chainrule._threads import batch_work, prediction_threads
from chainrule.autograd import no_grad
from chainrule.nn import Linear, Sequential
from chainrule.nn.module import Module
from chainrule.optim import SGD
from chainrule.optim.optimizer import Optimizer
from chainrule.train.fit import fit as train


class BaseMLP(BaseEstimator):
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
        warm_start: bool = False,
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
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change

    # -- what subclasses define --------------------------------------------------------
    def _prepare_targets(
        self, y: np.ndarray, first: bool, incremental: bool
    ) -> tuple[np.ndarray, int, Module]:
        """(training targets, number of outputs, loss); ``first``: a new network."""
        raise NotImplementedError

    def _model_score(
        self, model: Module, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
    ) -> float:
        """The validation score of ``model`` on prepared targets ``y``."""
        raise NotImplementedError

    # -- training ----------------------------------------------------------------------
    def _continues(self, incremental: bool) -> bool:
        """Whether this call trains the network of the last one on (partial_fit, warm_start)."""
        return hasattr(self, "model_") and (incremental or bool(self.warm_start))

    def _validated(self, X: Any, y: Any, incremental: bool, **checks: Any) -> tuple[Any, Any]:
        check_input(X, "X")
        if incremental and self.early_stopping:
            raise ValueError(
                f"{type(self).__name__}: partial_fit does not support early_stopping=True "
                "(it trains one epoch on the data it is given); set early_stopping=False"
            )
        reset = not self._continues(incremental)
        return validate_data(self, X, y, dtype=(np.float64, np.float32), reset=reset, **checks)

    def _fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: Any, incremental: bool
    ) -> BaseMLP:
        hidden = check_params(self)
        first = not self._continues(incremental)
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
            if not weights.any():
                raise ValueError(
                    f"{type(self).__name__}: every sample weight is zero, so there is nothing "
                    "to learn from; give at least one sample a positive weight"
                )
        targets, n_outputs, loss = self._prepare_targets(y, first, incremental)
        if first:
            self._rng = generator(self.random_state)
            self.model_ = self._build(X.shape[1], hidden, n_outputs, X.dtype, self._rng)
            self._architecture = (tuple(hidden), self.activation, n_outputs)
            self._reset_state()
        else:
            self._check_architecture(hidden, n_outputs, incremental)
            X = X.astype(self._linears()[0].weight.dtype, copy=False)
        if first or not incremental or not hasattr(self, "_optimizer"):
            # warm_start keeps the weights, not the optimizer (as scikit-learn's MLP does);
            # partial_fit keeps both, so a stream of calls is one run of Adam or SGD.
            self._optimizer = self._new_optimizer(self.model_)
        self._train(X, targets, weights, loss, epochs=1 if incremental else int(self.max_iter))
        if not incremental and not self._stopping.converged:
            self._warn_not_converged()
        return self

    def _reset_state(self) -> None:
        self.t_ = 0
        self.loss_curve_: list[float] = []
        self.best_loss_: float | None = None if self.early_stopping else np.inf
        self.validation_scores_: list[float] | None = [] if self.early_stopping else None
        self.best_validation_score_: float | None = -np.inf if self.early_stopping else None
        self._no_improvement_count = 0

    def _check_architecture(self, hidden: list[int], n_outputs: int, incremental: bool) -> None:
        trained = self._architecture
        if (tuple(hidden), self.activation) != trained[:2] or n_outputs != trained[2]:
            how = "partial_fit" if incremental else "warm_start=True"
            raise ValueError(
                f"{type(self).__name__}: {how} continues the trained network of "
                f"hidden_layer_sizes={shown(trained[0])}, activation={shown(trained[1])} and "
                f"{trained[2]} output(s), but now hidden_layer_sizes={shown(tuple(hidden))}, "
                f"activation={shown(self.activation)} and {n_outputs} output(s); keep them, "
                "or start afresh with warm_start=False and fit"
            )

    def _train(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray | None,
        loss: Module,
        epochs: int,
    ) -> None:
        model, rng = self.model_, self._rng
        batch_size = min(200, len(X)) if self.batch_size == "auto" else int(self.batch_size)
        X_train, y_train, w_train, validation = X, targets, weights, None
        if self.early_stopping:
            X_train, y_train, w_train, validation = self._validation_split(X, targets, weights)
        self._stopping = stopping = StoppingRule(self, validation)
        stopping.resume(self)
        history = train(
            model,
            X_train,
            y_train,
            loss=PenalizedLoss(loss, [layer.weight for layer in self._linears()], self.alpha),
            optimizer=self._optimizer,
            epochs=epochs,
            batch_size=min(batch_size, len(X_train)),
            shuffle=bool(self.shuffle),
            callbacks=[stopping],
            verbose=2 if self.verbose else 0,
            rng=rng,
            sample_weight=w_train,
        )
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = self._architecture[2]
        self.n_layers_ = len(self._architecture[0]) + 2
        self.n_iter_ = len(history)
        self.t_ += self.n_iter_ * len(X_train)
        self.loss_curve_ += list(history["loss"]) if "loss" in history else []
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else np.nan
        stopping.save(self)
        linear = self._linears()
        self.coefs_ = [layer.weight.data for layer in linear]
        self.intercepts_ = [layer.bias.data for layer in linear if layer.bias is not None]
        self._history = history

    def _warn_not_converged(self) -> None:
        reason = self._history.stop_reason
        warnings.warn(
            f"training stopped early: {reason}"
            if reason
            else f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
            "the optimization hasn't converged yet.",
            ConvergenceWarning,
            stacklevel=4,
        )

    def _linears(self) -> list[Linear]:
        return [layer for layer in self.model_ if isinstance(layer, Linear)]

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

    def _new_optimizer(self, model: Module) -> Optimizer:
        lr = float(self.learning_rate_init)
        if self.solver == "adam":
            return ScikitAdam(
                model.parameters(), lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon
            )
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        return SGD(model.parameters(), lr=lr, momentum=self.momentum, nesterov=nesterov)

    def _validation_split(
        self, X: np.ndarray, targets: np.ndarray, weights: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[np.ndarray, ...]]:
        from chainrule.data import train_test_split

        stratify = targets if isinstance(self, ClassifierMixin) else None
        rows = np.arange(len(X)).reshape(-1, 1)
        try:
            train_rows, val_rows, y_train, y_val = train_test_split(
                rows, targets, test_size=self.validation_fraction, rng=self._rng, stratify=stratify
            )
        except ValueError as err:
            raise ValueError(
                f"early_stopping needs a validation set of validation_fraction="
                f"{self.validation_fraction} of {len(X)} samples: {err}"
            ) from None
        train_rows, val_rows = train_rows[:, 0], val_rows[:, 0]
        if weights is None:
            return X[train_rows], y_train, None, (X[val_rows], y_val)
        w_train = weights[train_rows]
        if not w_train.any():
            raise ValueError(
                "early_stopping: every sample weight in the training part is zero; lower "
                "validation_fraction or give more samples a positive weight"
            )
        return X[train_rows], y_train, w_train, (X[val_rows], y_val, weights[val_rows])

    def _outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        check_input(X, "X")
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        dtype = self.coefs_[0].dtype
        work = batch_work((W.shape for W in self.coefs_), len(X))
        with no_grad(), prediction_threads(work):
            return np.asarray(self.model_(np.asarray(X, dtype=dtype)).data)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
