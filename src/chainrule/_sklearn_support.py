"""The parts of :mod:`chainrule.sklearn` that need no scikit-learn: scikit-learn's L2
penalty and stopping rule for :func:`chainrule.fit`, and parameter checks."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule._show import shown
from chainrule.nn import Identity, ReLU, Sigmoid, Tanh
from chainrule.nn.module import Module
from chainrule.ops.constants import vdot
from chainrule.optim import Adam
from chainrule.tensor import Tensor
from chainrule.train._tables import refuse_unsupported
from chainrule.train.callbacks import Callback
from chainrule.train.inputs import check_finite

#: scikit-learn's activation names and the layer each one is.
ACTIVATIONS: dict[str, type[Module]] = {
    "identity": Identity,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
}

#: Allowed range of each numeric parameter: (low, high, low included, high included).
RANGES = {
    "alpha": (0, math.inf, True, False),
    "learning_rate_init": (0, math.inf, False, False),
    "tol": (0, math.inf, True, False),
    "momentum": (0, 1, True, True),
    "validation_fraction": (0, 1, False, False),
    "beta_1": (0, 1, True, False),
    "beta_2": (0, 1, True, False),
    "epsilon": (0, math.inf, False, False),
}


class PenalizedLoss:
    """``loss(output, target) + alpha / 2 * sum(W^2) / batch size``: scikit-learn's L2 term.

    With sample weights, as in scikit-learn, the loss is the batch's weighted mean and
    the penalty is divided by the batch's total weight instead of its size.

    Give it to :func:`chainrule.fit` as the loss: it is a penalized loss (see
    :func:`chainrule.train.inputs.penalty_of`), so the loop backpropagates the data term
    alone, adds the penalty's value (one BLAS dot per weight matrix) as a number and,
    after each ``backward()``, has :meth:`add_gradients` add the penalty's gradient,
    ``alpha * W / batch size``, to each weight's, as scikit-learn does. Taking the
    penalty through the graph instead would cost several graph nodes per layer and step
    for a gradient that is one scaled copy of the weights.
    """

    def __init__(self, loss: Module, weights: Sequence[Tensor], alpha: float) -> None:
        self.loss, self.weights, self.alpha = loss, list(weights), float(alpha)
        self.scale = 0.0  # alpha / the last batch's size (or total weight)

    def __call__(
        self, output: Tensor, target: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> Tensor:
        """The penalized loss as a tensor; its gradient holds the data term's alone (call
        :meth:`add_gradients` after ``backward()`` for the penalty's)."""
        value, penalty = self.penalty_terms(output, target, sample_weight)
        return value if self.alpha == 0 else value + penalty

    def penalty_terms(
        self, output: Tensor, target: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> tuple[Tensor, float]:
        """The data term, to backpropagate, and the penalty's value, whose gradient
        :meth:`add_gradients` adds."""
        if sample_weight is None:
            value = self.loss(output, target)
            count = float(len(target))
        else:
            value = self.loss(output, target, sample_weight=sample_weight)
            count = float(sample_weight.sum())
        return value, self.penalty(count)

    def penalty(self, share: float) -> float:
        """The penalty's value for a batch of ``share`` samples (or of that total weight);
        :meth:`add_gradients` then adds its gradient."""
        if self.alpha == 0:
            return 0.0
        self.scale = self.alpha / float(share)
        # Summed as Python floats: a float32 network's squares too add up in double.
        squares = 0.0
        for weight in self.weights:
            data = weight.data
            squares += float(vdot(data, data))
        return 0.5 * self.scale * squares

    def add_gradients(self) -> None:
        """Add the last value's penalty gradient to the weights' gradients, in place."""
        if self.alpha == 0:
            return
        # The scale as a 0-d array of the weights' dtype: the products NumPy forms with the
        # Python float, without converting it for each weight (see ops.constants).
        factors: dict[np.dtype[Any], np.ndarray] = {}
        for weight in self.weights:
            data = weight.data
            factor = factors.get(data.dtype)
            if factor is None:
                factor = factors[data.dtype] = np.array(self.scale, data.dtype)
            grad = weight.grad
            if grad is None:
                weight.grad = factor * data
            else:
                grad += factor * data


class ScikitAdam(Adam):
    """Adam as scikit-learn's MLP estimators compute it, for :mod:`chainrule.sklearn`.

    The moments are any Adam's, ``m = b1 m + (1 - b1) g`` and ``v = b2 v + (1 - b2) g^2``;
    the step folds the bias corrections into the learning rate and adds ``eps`` to
    ``sqrt(v)`` itself, ``W += -lr_t m / (sqrt(v) + eps)`` with
    ``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)``, where :class:`~chainrule.optim.Adam`
    (PyTorch's) adds ``eps`` to the corrected ``sqrt(v) / sqrt(1 - b2^t)``: scikit-learn's
    ``eps`` acts as ``eps / sqrt(1 - b2^t)``, 32 times larger at the first step with the
    default ``b2``, so the two differ while gradients are small (up to about a hundred times
    ``eps`` in the first steps). The operations are scikit-learn's
    (``sklearn.neural_network._stochastic_optimizers.AdamOptimizer``), in its order, so in
    float64 a step from the same gradients gives its numbers bit for bit; and they are
    one pass and one division fewer than PyTorch's.
    """

    @staticmethod
    def _coefficients(group: dict[str, Any], step: int) -> tuple[float, ...]:
        """``b1``, ``1 - b1``, ``b2``, ``1 - b2``, ``eps`` and ``-lr_t`` at step ``step``."""
        beta1, beta2 = group["betas"]
        rate = group["lr"] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        return beta1, 1 - beta1, beta2, 1 - beta2, group["eps"], -rate

    @staticmethod
    def _update(
        grad: np.ndarray,
        exp_avg: np.ndarray,
        exp_avg_sq: np.ndarray,
        coefficients: Sequence[Any],
        out: np.ndarray,
        scratch: np.ndarray,
    ) -> np.ndarray:
        beta1, keep1, beta2, keep2, eps, rate = coefficients
        exp_avg *= beta1
        np.multiply(grad, keep1, out=scratch)
        exp_avg += scratch
        exp_avg_sq *= beta2
        np.multiply(grad, grad, out=scratch)
        scratch *= keep2
        exp_avg_sq += scratch
        np.sqrt(exp_avg_sq, out=scratch)
        scratch += eps
        np.multiply(exp_avg, rate, out=out)
        out /= scratch
        return out


class StoppingRule(Callback):
    """scikit-learn's rule: stop after ``n_iter_no_change`` epochs without an improvement
    of at least ``tol``, in the training loss or, with early stopping, the validation score
    (then the best epoch's weights are restored at the end).

    The validation tuple is ``(X, y)`` or ``(X, y, sample_weight)``. :meth:`resume` and
    :meth:`save` carry the rule's state over from one ``warm_start`` fit or
    ``partial_fit`` call to the next, as scikit-learn does.
    """

    def __init__(self, estimator: Any, validation: tuple[np.ndarray, ...] | None):
        self.estimator, self.validation = estimator, validation
        self.best_loss = np.inf
        self.best_score = -np.inf
        self.scores: list[float] = []
        self.count = 0
        self.best_weights: dict[str, np.ndarray] | None = None
        self.converged = False

    def resume(self, estimator: Any) -> None:
        """Start from the best loss or score and the count of the estimator's last run."""
        self.count = estimator._no_improvement_count
        if self.validation is None:
            self.best_loss = estimator.best_loss_
        else:
            self.best_score = estimator.best_validation_score_
            self.scores = estimator.validation_scores_

    def save(self, estimator: Any) -> None:
        """Record the rule's state on the estimator, in scikit-learn's attributes."""
        estimator._no_improvement_count = self.count
        if self.validation is None:
            estimator.best_loss_ = float(self.best_loss)
        else:
            estimator.best_validation_score_ = self.best_score
            estimator.validation_scores_ = self.scores

    def on_train_begin(self) -> None:
        if self.validation is not None and self.best_score > -np.inf:
            # A warm start: the weights it starts from are the last run's best.
            self.best_weights = self.context.model.state_dict()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        tol = self.estimator.tol
        if self.validation is not None:
            score = self.estimator._model_score(self.context.model, *self.validation)
            self.scores.append(score)
            self.count = self.count + 1 if score < self.best_score + tol else 0
            if score > self.best_score:
                self.best_score = score
                self.best_weights = self.context.model.state_dict()
            what = "Validation score"
        else:
            loss = logs["loss"]
            self.count = self.count + 1 if loss > self.best_loss - tol else 0
            self.best_loss = min(self.best_loss, loss)
            what = "Training loss"
        if self.count > self.estimator.n_iter_no_change:
            self.converged = True
            self.context.stop(
                f"{what} did not improve more than tol={tol} for "
                f"{self.estimator.n_iter_no_change} consecutive epochs"
            )

    def on_train_end(self) -> None:
        if self.best_weights is not None:
            self.context.model.load_state_dict(self.best_weights)


def check_input(data: Any, name: str) -> None:
    """Refuse, by what they are, input that scikit-learn's checks would misname: sparse
    matrices, categorical or missing pandas values, NaN or infinity in a float array."""
    refuse_unsupported(data, name)
    if isinstance(data, np.ndarray) and data.dtype.kind == "f" and data.ndim == 2:
        check_finite(data, name)


def check_params(estimator: Any) -> list[int]:
    """The hidden layer sizes, after checking every parameter of an MLP estimator."""
    name = type(estimator).__name__
    raw = estimator.hidden_layer_sizes
    sizes = [raw] if isinstance(raw, numbers.Integral) else list(raw)
    if not sizes or not all(isinstance(s, numbers.Integral) and int(s) > 0 for s in sizes):
        raise ValueError(
            f"{name}: hidden_layer_sizes must be positive integers, such as (100,) or "
            f"(64, 32); got {shown(raw)}"
        )
    for key, allowed in (("activation", ACTIVATIONS), ("solver", ("adam", "sgd"))):
        value = getattr(estimator, key)
        if value not in allowed:
            extra = " (lbfgs is not provided)" if value == "lbfgs" else ""
            raise ValueError(
                f"{name}: {key} must be one of {', '.join(allowed)}, got {shown(value)}{extra}"
            )
    for key, (low, high, low_in, high_in) in RANGES.items():
        value = getattr(estimator, key)
        number = float(value) if _is_real(value) else math.nan
        above = low <= number if low_in else low < number
        below = number <= high if high_in else number < high
        if not (above and below):
            interval = f"{'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"
            raise ValueError(f"{name}: {key} must be a number in {interval}, got {shown(value)}")
    for key in ("max_iter", "n_iter_no_change"):
        value = getattr(estimator, key)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: {key} must be an integer >= 1, got {shown(value)}")
    batch = estimator.batch_size
    if batch != "auto" and not (isinstance(batch, numbers.Integral) and int(batch) >= 1):
        raise ValueError(
            f'{name}: batch_size must be "auto" or an integer >= 1, got {shown(batch)}'
        )
    return [int(s) for s in sizes]


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def generator(random_state: Any) -> np.random.Generator:
    """A NumPy Generator from scikit-learn's kinds of ``random_state``."""
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    raise ValueError(
        "random_state must be None, an int, a numpy RandomState or Generator, "
        f"got {shown(random_state)}"
    )
