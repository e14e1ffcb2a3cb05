"""Functions on tensors, one per registered op (PyTorch's ``torch.nn.functional``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.ops import get_op
from chainrule.tensor import ArrayLike, Tensor, apply


def _t(x: ArrayLike, like: Tensor | None = None) -> Tensor:
    """``x`` as a tensor; with ``like``, converted to ``like``'s dtype (targets, constants)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and type(x) is np.ndarray and x.dtype == like.data.dtype:
        return Tensor._from_op(x)
    return Tensor(x, dtype=None if like is None else like.dtype)


def _labels(target: ArrayLike, like: Tensor) -> Tensor:
    """Targets of a classification loss: integer class labels are kept as integers."""
    if type(target) is np.ndarray and target.dtype.kind in "iu":
        return Tensor._from_op(target)
    return _t(target, like)


def _call(name: str, *inputs: Tensor, **attrs: Any) -> Tensor:
    return apply(get_op(name), *inputs, **attrs)


def add(a: ArrayLike, b: ArrayLike) -> Tensor:
    return _t(a) + b


def sub(a: ArrayLike, b: ArrayLike) -> Tensor:
    return _t(a) - b


def mul(a: ArrayLike, b: ArrayLike) -> Tensor:
    return _t(a) * b


def div(a: ArrayLike, b: ArrayLike) -> Tensor:
    return _t(a) / b


def neg(x: ArrayLike) -> Tensor:
    return -_t(x)


def pow(x: ArrayLike, exponent: float) -> Tensor:  # noqa: A001  (numpy's name)
    return _t(x) ** exponent


def exp(x: ArrayLike) -> Tensor:
    return _call("exp", _t(x))


def log(x: ArrayLike) -> Tensor:
    return _call("log", _t(x))


def matmul(a: ArrayLike, b: ArrayLike) -> Tensor:
    return _t(a) @ b


def transpose(x: ArrayLike, axes: tuple[int, ...] | None = None) -> Tensor:
    return _call("transpose", _t(x), axes=axes)


def reshape(x: ArrayLike, shape: tuple[int, ...]) -> Tensor:
    return _call("reshape", _t(x), shape=tuple(shape))


def sum(x: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _call("sum", _t(x), axis=axis, keepdims=keepdims)


def mean(x: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _call("mean", _t(x), axis=axis, keepdims=keepdims)


def max(x: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _call("max", _t(x), axis=axis, keepdims=keepdims)


def sigmoid(x: ArrayLike) -> Tensor:
    return _call("sigmoid", _t(x))


def tanh(x: ArrayLike) -> Tensor:
    return _call("tanh", _t(x))


def relu(x: ArrayLike) -> Tensor:
    return _call("relu", _t(x))


def leaky_relu(x: ArrayLike, negative_slope: float = 0.01) -> Tensor:
    return _call("leaky_relu", _t(x), negative_slope=float(negative_slope))


def softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    return _call("softmax", _t(x), axis=axis)


def log_softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    return _call("log_softmax", _t(x), axis=axis)


def linear(x: ArrayLike, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight + bias``; ``weight`` has shape (in_features, out_features)."""
    x_t = _t(x, weight)
    if x_t.ndim != 2:
        raise ValueError(
            f"linear: x must be a 2-D array (samples, features), got shape {x_t.shape}; "
            "for one sample use x.reshape(1, -1)"
        )
    if bias is None:
        return _call("matmul", x_t, weight)
    return _call("linear", x_t, weight, bias)


def _weighted(weight: np.ndarray | None) -> dict[str, Any]:
    """The ``weight`` attribute of a loss, only when there are weights: an unweighted loss
    records exactly the attributes it always had."""
    return {} if weight is None else {"weight": weight}


def softmax_cross_entropy(
    logits: Tensor, target: ArrayLike, reduction: str = "mean", weight: np.ndarray | None = None
) -> Tensor:
    return _call(
        "softmax_cross_entropy",
        logits,
        _labels(target, logits),
        reduction=reduction,
        **_weighted(weight),
    )


def cross_entropy_probs(
    probs: Tensor, target: ArrayLike, reduction: str = "mean", weight: np.ndarray | None = None
) -> Tensor:
    return _call(
        "cross_entropy_probs", probs, _labels(target, probs), reduction=reduction,
        **_weighted(weight),
    )


def sigmoid_cross_entropy(
    logits: Tensor, target: ArrayLike, reduction: str = "mean", weight: np.ndarray | None = None
) -> Tensor:
    return _call(
        "sigmoid_cross_entropy", logits, _t(target, logits), reduction=reduction,
        **_weighted(weight),
    )


def binary_cross_entropy(
    probs: Tensor, target: ArrayLike, reduction: str = "mean", weight: np.ndarray | None = None
) -> Tensor:
    return _call(
        "binary_cross_entropy", probs, _t(target, probs), reduction=reduction,
        **_weighted(weight),
    )


def mse(
    pred: Tensor,
    target: ArrayLike,
    reduction: str = "mean",
    half: bool = False,
    weight: np.ndarray | None = None,
) -> Tensor:
    return _call(
        "mse", pred, _t(target, pred), reduction=reduction, half=half, **_weighted(weight)
    )
