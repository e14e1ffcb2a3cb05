"""Gradient clipping (PyTorch's ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``).

Called between ``loss.backward()`` and ``optimizer.step()``, they shrink the gradients in
place, so one unlucky batch cannot throw the weights far away (an exploding gradient):

* :func:`clip_grad_norm_` scales every gradient by one factor, so that all of them
  together, as one long vector, have at most a given length: the direction of the step is
  kept, only its size is capped;
* :func:`clip_grad_value_` caps each entry on its own, which can turn the direction;
* :func:`get_total_norm` measures, without clipping.

Within :func:`chainrule.fit`, the callback :class:`chainrule.train.ClipGradNorm` does the
first at every batch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from chainrule._show import shown
from chainrule.ops.constants import vdot
from chainrule.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm"]

_EPS = 1e-6  # added to the norm before dividing, as PyTorch does


def _listed(value: Any, single: type | tuple[type, ...], caller: str, what: str) -> list[Any]:
    """``value`` as a list: one item if it is of a ``single`` type, else its items; a
    TypeError saying it must be ``what`` when it is neither."""
    if isinstance(value, single):
        return [value]
    try:
        if isinstance(value, (str, bytes)):  # iterable, but of characters
            raise TypeError
        return list(value)
    except TypeError:
        raise TypeError(f"{caller}: {what}, got {shown(value)}") from None


def _as_tensor(total: float, arrays: list[np.ndarray]) -> Tensor:
    """A norm of ``arrays`` as a 0-d tensor of their dtype (float32 when there are none)."""
    return Tensor(np.asarray(total, dtype=_dtype(arrays)))


def _dtype(arrays: list[np.ndarray]) -> np.dtype[Any]:
    return np.result_type(*arrays) if arrays else np.dtype(np.float32)


def gradients(parameters: Tensor | Iterable[Tensor], caller: str) -> list[np.ndarray]:
    """The gradients of ``parameters`` (a tensor or an iterable of them) that exist."""
    items = _listed(
        parameters, Tensor, caller,
        "parameters must be a Parameter or an iterable of them (model.parameters())",
    )  # fmt: skip
    grads = []
    for item in items:
        if not isinstance(item, Tensor):
            raise TypeError(
                f"{caller}: parameters must be Parameters or Tensors (model.parameters()), "
                f"got an item {shown(item)}"
            )
        if item.grad is not None:
            grads.append(item.grad)
    return grads


def _number(caller: str, name: str, value: Any) -> float:
    """``value`` as a float: a number, a NumPy scalar or a one-element array or tensor (a
    norm this module returned, say)."""
    given = value
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{caller}: {name} must be a number, got {shown(given)}")
    return float(value)


def _order(caller: str, norm_type: Any) -> float:
    """``norm_type`` as a float p > 0 (``inf``, or the string ``"inf"``, for the maximum);
    a string is read as a number, as PyTorch's ``float(norm_type)`` does."""
    if isinstance(norm_type, str):
        p = math.nan
        with contextlib.suppress(ValueError):
            p = float(norm_type)
    else:
        p = _number(caller, "norm_type", norm_type)
    if not p > 0:  # NaN too
        raise ValueError(
            f"{caller}: norm_type must be a positive number or inf (2 is the usual length), "
            f"got {shown(norm_type)}"
        )
    return p


def _root(total: float, p: float) -> float:
    """``total ** (1 / p)``, or inf when that is beyond a float (a small p)."""
    try:
        return float(total ** (1 / p))
    except OverflowError:
        return math.inf


def _norm(grad: np.ndarray, p: float) -> float:
    """The p-norm of one array, as a Python float (NaN if it holds a NaN, inf if an inf)."""
    if grad.size == 0:
        return 0.0
    if p == 2:
        squares = float(vdot(grad, grad))  # one BLAS pass, in the gradient's dtype
        # A sum of squares that overflowed, or fell among the subnormal numbers, where
        # digits are lost, is taken again below from scaled values.
        if np.finfo(grad.dtype).tiny <= squares < math.inf:
            return math.sqrt(squares)
    biggest = float(np.max(np.abs(grad)))  # NaN when there is one, else the largest size
    if p == math.inf or not 0 < biggest < math.inf:
        return biggest
    # Sizes over the largest are at most 1: their powers neither overflow nor all vanish.
    scaled = np.abs(grad, dtype=np.float64) / biggest
    if p == 1:
        return biggest * float(scaled.sum())
    if p == 2:
        return biggest * math.sqrt(float(vdot(scaled, scaled)))
    return biggest * _root(float(np.sum(scaled**p)), p)


def _total(grads: list[np.ndarray], p: float) -> float:
    """The p-norm of all of ``grads`` as one vector (the p-norm of their p-norms), in
    float64 and then rounded to their dtype, as a Python float."""
    norms = [_norm(grad, p) for grad in grads]
    if not norms:
        return 0.0
    if any(math.isnan(n) for n in norms):
        return math.nan
    biggest = max(norms)
    if p == math.inf or biggest in (0.0, math.inf):
        total = biggest
    else:
        total = biggest * _root(math.fsum((n / biggest) ** p for n in norms), p)
    with np.errstate(over="ignore"):  # beyond float32: inf, as PyTorch's float32 norm
        return float(np.asarray(total, dtype=_dtype(grads)))


def norm_clipping(caller: str, max_norm: Any, norm_type: Any) -> tuple[float, float]:
    """``max_norm`` and ``norm_type`` checked, as floats; errors name ``caller``."""
    limit = _number(caller, "max_norm", max_norm)
    if not limit >= 0:
        raise ValueError(
            f"{caller}: max_norm must be >= 0 (the largest length the gradients keep), "
            f"got {shown(max_norm)}"
        )
    return limit, _order(caller, norm_type)


def _nonfinite(caller: str, total: float, what: str, clipping: bool) -> ValueError:
    return ValueError(
        f"{caller}: the {what}' norm is {total} (one holds a NaN or an infinity, or the "
        "norm is beyond the largest number of their dtype)"
        + (", so it cannot be clipped" if clipping else "")
        + "; look for what made it (a learning rate too large, a log of 0), or pass "
        "error_if_nonfinite=False"
    )


def get_total_norm(
    tensors: Any,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The p-norm of ``tensors`` taken together as one long vector (a 0-d tensor of their
    dtype), as PyTorch's ``torch.nn.utils.get_total_norm``.

    Pass the gradients, ``[p.grad for p in model.parameters() if p.grad is not None]``, to
    get the number :func:`clip_grad_norm_` compares with ``max_norm``, without clipping:
    the length of the step plain gradient descent takes, over the learning rate.

    Parameters
    ----------
    tensors : array, Tensor, or iterable of them
    norm_type : float or "inf", default 2
    error_if_nonfinite : bool, default False
        Raise a ValueError when the norm is NaN or infinite.
    foreach : ignored
        Accepted for PyTorch's signature.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> cr.nn.utils.get_total_norm([np.array([3.0]), np.array([4.0])]).item()
    5.0
    """
    caller = "get_total_norm"
    p = _order(caller, norm_type)
    items = _listed(
        tensors, (Tensor, np.ndarray), caller,
        "tensors must be an array, a Tensor or an iterable of them",
    )  # fmt: skip
    arrays = []
    for item in items:
        array = item.data if isinstance(item, Tensor) else item
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            raise TypeError(
                f"{caller}: tensors must be float arrays or Tensors (the gradients), "
                f"got an item {shown(item)}"
            )
        arrays.append(array)
    total = _total(arrays, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise _nonfinite(caller, total, "tensors", clipping=False)
    return _as_tensor(total, arrays)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that together they have a
    p-norm of at most ``max_norm``; return their norm from before (a 0-d tensor).

    As in PyTorch, the gradients are multiplied by ``max_norm / (norm + 1e-6)`` when that
    is below 1 and left as they are otherwise; parameters without a gradient are skipped.

    Parameters
    ----------
    parameters : Parameter or iterable of Parameters
        Usually ``model.parameters()``.
    max_norm : float
        The largest norm the gradients keep, >= 0.
    norm_type : float or "inf", default 2
        The p of the p-norm: 2 is the Euclidean length, ``inf`` the largest entry's size.
    error_if_nonfinite : bool, default False
        Raise a ValueError when the norm is NaN or infinite (a gradient holds a NaN or an
        infinity, or is beyond their dtype's largest number). Otherwise, as in PyTorch,
        the gradients are scaled by the NaN or by 0.
    foreach : ignored
        Accepted for PyTorch's signature.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> w = cr.nn.Parameter(np.zeros(2))
    >>> w.grad = np.array([3.0, 4.0])       # length 5
    >>> cr.nn.utils.clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> np.round(w.grad, 6)                 # length 1, same direction
    array([0.6, 0.8])
    """
    caller = "clip_grad_norm_"
    limit, p = norm_clipping(caller, max_norm, norm_type)
    grads = gradients(parameters, caller)
    total, _ = clip_norm(grads, limit, p, error_if_nonfinite, caller)
    return _as_tensor(total, grads)


def clip_norm(
    grads: list[np.ndarray], limit: float, p: float, error_if_nonfinite: bool, caller: str
) -> tuple[float, bool]:
    """:func:`clip_grad_norm_` on the arrays ``grads``, with checked arguments: their
    norm before clipping (the number compared), and whether they were scaled."""
    total = _total(grads, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise _nonfinite(caller, total, "gradients", clipping=True)
    factor = limit / (total + _EPS)
    if factor >= 1.0:
        return total, False
    # Below 1, or NaN (the gradients then become NaN, as in PyTorch); 0 for an infinite
    # norm, which turns the infinite entries to NaN without NumPy's warning.
    with np.errstate(invalid="ignore"):
        for grad in grads:
            grad *= np.asarray(factor, dtype=grad.dtype)
    return total, True


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Cap every gradient entry of ``parameters`` to ``[-clip_value, clip_value]``, in
    place (NaN entries stay NaN); parameters without a gradient are skipped.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> w = cr.nn.Parameter(np.zeros(3))
    >>> w.grad = np.array([-3.0, 0.5, 4.0])
    >>> cr.nn.utils.clip_grad_value_([w], clip_value=1.0)
    >>> w.grad
    array([-1. ,  0.5,  1. ])
    """
    caller = "clip_grad_value_"
    limit = _number(caller, "clip_value", clip_value)
    if not limit >= 0:
        raise ValueError(
            f"{caller}: clip_value must be >= 0 (each gradient entry is capped to "
            f"[-clip_value, clip_value]), got {shown(clip_value)}"
        )
    for grad in gradients(parameters, caller):
        np.clip(grad, -limit, limit, out=grad)
