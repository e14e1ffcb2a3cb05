"""Loss functions: MSELoss, CrossEntropyLoss, BCEWithLogitsLoss, BCELoss.

Call a loss as ``loss(prediction, target)``. Each checks its target and names
the problem (shape, label range, values) before computing anything.

``loss(prediction, target, sample_weight=w)`` weights each sample's loss by ``w``
(non-negative, one per sample, as Keras' losses take it): ``reduction="mean"`` becomes
the weighted mean ``sum(w_i l_i) / sum(w_i)``, so scaling every weight by the same
factor changes nothing and all-ones weights give the unweighted loss; ``"sum"``
becomes ``sum(w_i l_i)``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from chainrule import functional as F
from chainrule.nn.activations import Sigmoid, Softmax, _Activation
from chainrule.nn.layers import as_tensor
from chainrule.nn.module import Module
from chainrule.ops import get_op
from chainrule.ops.registry import Op
from chainrule.tensor import ArrayLike, Tensor, _as_float_array, all_finite, apply

REDUCTIONS = ("mean", "sum")
_MSE = get_op("mse")
_LINEAR = get_op("linear")
_SOFTMAX_CE = get_op("softmax_cross_entropy")
_UNSIGNED: dict[np.dtype[Any], np.dtype[Any]] = {}

#: A loss's registered op and its attributes (see ``CrossEntropyLoss.op_for``).
OpFor = tuple[Op, dict[str, Any]]


def _labels_in_range(labels: np.ndarray, classes: int) -> bool:
    """Whether every integer label lies in [0, classes).

    Read as unsigned integers of the same size, negative labels are larger than any
    class number, so the largest one decides. A small batch's few labels are compared
    as Python numbers: a NumPy reduction costs several times more on a handful of values.
    """
    unsigned = _UNSIGNED.get(labels.dtype)
    if unsigned is None:
        unsigned = _UNSIGNED[labels.dtype] = np.dtype(labels.dtype.str.replace("i", "u"))
    values = labels.view(unsigned)
    largest = max(values.tolist()) if values.size <= 64 else np.maximum.reduce(values)
    return bool(largest < classes)


def _prediction(prediction: ArrayLike, loss: Module) -> Tensor:
    """The prediction as a tensor; a loss over no samples is refused (its mean is undefined)."""
    pred = prediction if isinstance(prediction, Tensor) else as_tensor(prediction, loss)
    if pred.data.size == 0:
        raise ValueError(
            f"{type(loss).__name__}: got no samples (prediction of shape {pred.shape}); "
            "a loss needs at least one sample"
        )
    return pred


def _sample_weights(
    owner: str, sample_weight: ArrayLike | None, prediction: Tensor, reduction: str
) -> np.ndarray | None:
    """The per-sample weights in the prediction's dtype, checked; None without weights."""
    if sample_weight is None:
        return None
    count = prediction.shape[0] if prediction.ndim else 1
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{owner}: sample_weight must be numbers, one per sample; got "
            f"{type(sample_weight).__name__}"
        ) from None
    if weights.shape != (count,):
        raise ValueError(
            f"{owner}: sample_weight must hold one weight per sample, shape ({count},); "
            f"got shape {weights.shape}"
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"{owner}: sample weights must be finite and non-negative numbers")
    if reduction == "mean" and not weights.any():
        raise ValueError(
            f"{owner}: every sample weight is zero, so the weighted mean is undefined; "
            "give at least one sample a positive weight"
        )
    return weights.astype(prediction.dtype, copy=False)


def _check_reduction(owner: str, reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f'{owner}: reduction must be "mean" or "sum", got {reduction!r}')
    return reduction


def _target_array(owner: str, target: ArrayLike, dtype: Any, check: bool = True) -> np.ndarray:
    """The target as a float array; NaN and infinities are refused (unless ``check`` is
    False: the caller then checks with :func:`_check_finite_target`)."""
    if type(target) is np.ndarray and target.dtype == dtype:
        array = target
    else:
        try:
            array = _as_float_array(target, dtype)
        except TypeError as err:
            raise TypeError(f"{owner}: target: {err}") from None
    if check:
        _check_finite_target(owner, array)
    return array


def _check_finite_target(owner: str, target: np.ndarray) -> None:
    if not all_finite(target):
        raise ValueError(f"{owner}: the target contains NaN or infinite values")


def _matching_target(owner: str, prediction: Tensor, target: np.ndarray) -> np.ndarray:
    """Targets of the prediction's shape; (N,) is accepted for an (N, 1) prediction."""
    if target.shape == prediction.shape:
        return target
    if prediction.ndim == 2 and prediction.shape[1] == 1 and target.shape == prediction.shape[:1]:
        return target.reshape(prediction.shape)
    raise ValueError(
        f"{owner}: prediction has shape {prediction.shape} but target has shape {target.shape}; "
        "they must match (reshape the target)"
    )


class MSELoss(Module):
    """Mean (or summed) squared error.

    ``E = c * sum((O - Y)^2)`` with ``c = 1/N`` for ``reduction="mean"`` (N the
    number of elements) or 1 for ``"sum"``, halved when ``half=True``:
    ``MSELoss(reduction="sum", half=True)`` is the textbook ``E = 1/2 sum (O - Y)^2``,
    whose derivative is simply ``O - Y``.
    """

    def __init__(self, reduction: str = "mean", half: bool = False) -> None:
        super().__init__()
        self.reduction = _check_reduction("MSELoss", reduction)
        self.half = bool(half)

    def forward(
        self, prediction: ArrayLike, target: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Tensor:
        pred = _prediction(prediction, self)
        weight = (
            None if sample_weight is None
            else _sample_weights("MSELoss", sample_weight, pred, self.reduction)
        )
        data = pred.data
        if type(target) is np.ndarray and target.dtype == data.dtype and target.shape == data.shape:
            y = target  # the usual case, with nothing to convert
        else:
            y = _target_array("MSELoss", target, data.dtype, check=False)
            y = _matching_target("MSELoss", pred, y)
        if weight is None:  # the op records exactly the attributes it always had
            loss = apply(_MSE, pred, Tensor._from_op(y), reduction=self.reduction, half=self.half)
        else:
            loss = apply(
                _MSE, pred, Tensor._from_op(y), reduction=self.reduction, half=self.half,
                weight=weight,
            )
        # A NaN or infinite target makes the loss NaN or infinite: only then can the
        # target be at fault, and only then is it searched.
        if not math.isfinite(loss.data):
            _check_finite_target("MSELoss", y)
        return loss

    def op_for(self, target: np.ndarray, outputs: int, dtype: np.dtype[Any]) -> OpFor | None:
        """The registered op and attributes this loss applies, without sample weights, to
        a prediction of ``outputs`` columns in ``dtype`` and rows of ``target`` (all the
        training targets, finite, checked once by the caller), or None when it would take
        another path: targets of another shape or dtype."""
        if target.dtype != dtype or target.ndim != 2 or target.shape[1] != outputs:
            return None
        return _MSE, {"reduction": self.reduction, "half": self.half}

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" + (", half=True" if self.half else "")


class CrossEntropyLoss(Module):
    """Cross-entropy for classification.

    Takes logits (scores before softmax) by default, like PyTorch, and computes
    softmax and the log together so no probability is rounded to 0. With
    ``from_probs=True`` it takes probabilities, for a network that ends in an
    explicit :class:`~chainrule.nn.Softmax` layer (the textbook layout); when
    those probabilities come straight from a softmax, the loss is still computed
    from its logits, so it is just as stable.

    Targets are class indices of shape ``(N,)`` (integers in ``[0, C)``) or rows
    of shape ``(N, C)``: one-hot or probabilities.
    """

    #: The layer whose output ``from_probs=True`` takes (the textbook layout).
    probabilities_from: ClassVar[type[_Activation]] = Softmax

    def __init__(self, from_probs: bool = False, reduction: str = "mean") -> None:
        super().__init__()
        self.from_probs = bool(from_probs)
        self.reduction = _check_reduction("CrossEntropyLoss", reduction)

    def _targets(self, scores: Tensor, target: ArrayLike) -> np.ndarray:
        owner = "CrossEntropyLoss"
        if scores.ndim != 2:
            raise ValueError(
                f"{owner}: expects scores of shape (samples, classes), got shape {scores.shape}"
            )
        n, classes = scores.shape
        if isinstance(target, np.ndarray) and target.dtype.kind in "iu" and target.shape == (n,):
            # Integer labels (the usual case) are passed on as they are, after a check.
            if n and not _labels_in_range(target, classes):
                i = int(np.argmax((target < 0) | (target >= classes)))
                raise ValueError(
                    f"{owner}: class labels must be integers in [0, {classes - 1}] for {classes} "
                    f"classes; sample {i} has label {target[i]}"
                )
            return target
        # Labels are checked in float64, before any cast to the scores' dtype could round a
        # label such as 1.0000001 or 1e-30 to a whole number.
        y = _target_array(owner, target, np.float64)
        if y.shape == (n,):
            bad = (y != np.round(y)) | (y < 0) | (y >= classes)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(
                    f"{owner}: class labels must be integers in [0, {classes - 1}] for {classes} "
                    f"classes; sample {i} has label {y[i]:g}"
                )
            return y.astype(scores.dtype, copy=False)
        y = y.astype(scores.dtype, copy=False)
        if y.shape == scores.shape:
            if (y < 0).any() or not np.allclose(y.sum(axis=1), 1.0, atol=1e-3):
                raise ValueError(
                    f"{owner}: target rows of shape {y.shape} must be one-hot or probabilities "
                    "(non-negative, each row summing to 1)"
                )
            return y
        raise ValueError(
            f"{owner}: scores have shape {scores.shape}, so targets must be class labels of "
            f"shape ({n},) or rows of shape {scores.shape}; got shape {y.shape}"
        )

    def forward(
        self, prediction: ArrayLike, target: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Tensor:
        scores = _prediction(prediction, self)
        y = self._targets(scores, target)
        w = _sample_weights("CrossEntropyLoss", sample_weight, scores, self.reduction)
        if not self.from_probs:
            if w is None:  # the usual case, straight to the op (y is of the right dtype)
                return apply(_SOFTMAX_CE, scores, Tensor._from_op(y), reduction=self.reduction)
            return F.softmax_cross_entropy(scores, y, reduction=self.reduction, weight=w)
        node = scores.node
        if node is not None and node.op.name == "softmax" and node.attrs.get("axis", -1) in (-1, 1):
            return F.softmax_cross_entropy(node.inputs[0], y, reduction=self.reduction, weight=w)
        return F.cross_entropy_probs(scores, y, reduction=self.reduction, weight=w)

    def op_for(self, target: np.ndarray, outputs: int, dtype: np.dtype[Any]) -> OpFor | None:
        """As :meth:`MSELoss.op_for`: the op for integer class labels, all of them in
        ``[0, outputs)``; None for other targets (this method checks the labels' range
        once for the whole array) or ``from_probs=True``."""
        if self.from_probs or target.ndim != 1 or target.dtype.kind not in "iu":
            return None
        if len(target) and not _labels_in_range(target, outputs):
            return None
        return _SOFTMAX_CE, {"reduction": self.reduction}

    def extra_repr(self) -> str:
        return "from_probs=True" if self.from_probs else ""


def _binary_targets(owner: str, prediction: Tensor, target: ArrayLike) -> np.ndarray:
    y = _matching_target(owner, prediction, _target_array(owner, target, prediction.dtype))
    if (y < 0).any() or (y > 1).any():
        raise ValueError(
            f"{owner}: targets must lie in [0, 1], got values from {y.min():g} to {y.max():g}"
        )
    return y


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy on logits: sigmoid and log computed together, stably."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction("BCEWithLogitsLoss", reduction)

    def forward(
        self, prediction: ArrayLike, target: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Tensor:
        logits = _prediction(prediction, self)
        y = _binary_targets("BCEWithLogitsLoss", logits, target)
        w = _sample_weights("BCEWithLogitsLoss", sample_weight, logits, self.reduction)
        return F.sigmoid_cross_entropy(logits, y, reduction=self.reduction, weight=w)


class BCELoss(Module):
    """Binary cross-entropy on probabilities (after a Sigmoid layer).

    When the probabilities come straight from a sigmoid, the loss is computed
    from its logits, as stably as :class:`BCEWithLogitsLoss`.
    """

    #: The layer whose output it takes.
    probabilities_from: ClassVar[type[_Activation]] = Sigmoid

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction("BCELoss", reduction)

    def forward(
        self, prediction: ArrayLike, target: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Tensor:
        probs = _prediction(prediction, self)
        y = _binary_targets("BCELoss", probs, target)
        w = _sample_weights("BCELoss", sample_weight, probs, self.reduction)
        node = probs.node
        if node is not None and node.op.name == "sigmoid":
            return F.sigmoid_cross_entropy(node.inputs[0], y, reduction=self.reduction, weight=w)
        if node is not None and node.op.name == "dense" and node.attrs["activation"] == "sigmoid":
            # A fused Linear + Sigmoid: recompute its logits X @ W + b as a tensor of the
            # graph (the same arithmetic, so the same values) and work from them.
            logits = apply(_LINEAR, *node.inputs)
            return F.sigmoid_cross_entropy(logits, y, reduction=self.reduction, weight=w)
        if node is not None and node.op.name.startswith("dense_stack"):
            activations = node.attrs["activations"]
            if activations[-1] == "sigmoid":  # the same for fused layers: all but the sigmoid
                logits = apply(
                    node.op, *node.inputs, activations=(*activations[:-1], None),
                    activation_attrs=node.attrs["activation_attrs"],
                )
                return F.sigmoid_cross_entropy(logits, y, reduction=self.reduction, weight=w)
        if (probs.data < 0).any() or (probs.data > 1).any():
            raise ValueError(
                "BCELoss: predictions must be probabilities in [0, 1]; "
                "use BCEWithLogitsLoss for logits"
            )
        return F.binary_cross_entropy(probs, y, reduction=self.reduction, weight=w)
