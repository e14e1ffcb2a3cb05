"""Lean batches: fit's step through a fused Sequential and a registered loss, on arrays.

Beside its arithmetic, a batch through ``model(X)``, ``loss(output, y)`` and
``backward()`` spends some tens of microseconds on bookkeeping: tensors and graph
nodes, the checks of the input and of the labels, the walk of the graph. Within
:func:`chainrule.fit` most of it is repeated work: fit has checked the whole of ``X``
and ``y`` once, and the graph of a Sequential whose layers all run as registered ops
(fused Linear layers and their activations) is the same chain at every batch.

So for that case the loop calls the ops' own forward functions and VJPs directly, in
the order :func:`~chainrule.tensor.apply` and :func:`~chainrule.autograd.backward`
would, and gives each parameter the gradient ``backward()`` would have given it: the
same functions on the same arrays, so the same numbers bit for bit
(tests/test_train_batches.py compares the two), without the bookkeeping.

Every other batch goes the usual way: other layers or losses, sample weights, targets
the loss would convert, recording switched off (``no_grad``), no parameter that needs a
gradient, or a layer changed since (a bias removed, weights of another dtype).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

import numpy as np

from chainrule.autograd import is_grad_enabled
from chainrule.nn.fusion import FusedRun, OpCall, fusion_enabled, step_call
from chainrule.nn.layers import Linear
from chainrule.nn.loss import CrossEntropyLoss, MSELoss
from chainrule.nn.module import Module
from chainrule.nn.sequential import Sequential
from chainrule.ops.constants import ONES
from chainrule.ops.registry import Op
from chainrule.tensor import Tensor

__all__ = ["LeanBatch", "lean_batch"]

# One op of the chain as the forward pass ran it: the op, its parameters, its input
# arrays, the keyword arguments of its VJP (attributes and saved values), its output,
# and which inputs need a gradient.
_Record = tuple[
    Op, list[Tensor], tuple[np.ndarray, ...], dict[str, Any], np.ndarray, tuple[bool, ...]
]


def lean_batch(
    model: Module,
    data_loss: Any,
    X: np.ndarray,
    y: np.ndarray,
    weighted: bool,
) -> LeanBatch | None:
    """The lean path for one fit, or None when its batches cannot take it.

    ``data_loss`` is the loss module whose value is backpropagated (a penalized loss's
    own ``loss``); ``X`` and ``y`` are the training data fit has checked.
    """
    if weighted or type(model) is not Sequential or type(data_loss) not in _LOSSES:
        return None
    steps = model.steps()
    first, last = (_linears(steps[0]), _linears(steps[-1])) if steps else ([], [])
    if not (first and last) or X.ndim != 2 or X.shape[1] != first[0].in_features:
        return None
    found = data_loss.op_for(y, last[-1].out_features, X.dtype)
    if found is None:
        return None
    return LeanBatch(model, steps, *found)


class LeanBatch:
    """A model's chain of ops and a loss's op, run on arrays (see the module's notes).

    :meth:`forward` runs a batch, or declines it (None) before computing anything, and
    :meth:`backward` then fills the parameters' ``.grad``.
    """

    def __init__(
        self, model: Sequential, steps: list[Any], loss_op: Op, loss_attrs: dict[str, Any]
    ) -> None:
        self.model, self.steps = model, steps
        self.loss_op, self.loss_attrs = loss_op, loss_attrs
        self.records: list[_Record] = []
        self.loss_record: tuple[tuple[np.ndarray, ...], dict[str, Any], np.ndarray] | None = None

    def forward(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:  # noqa: N803
        """The batch's output and loss (a 0-d array), or None if it must go the usual way."""
        calls = self._calls(X.dtype)
        if calls is None:
            return None
        records: list[_Record] = []
        needed = False  # whether the current input needs a gradient (X never does)
        for op, params, attrs in calls:
            needs = (needed, *map(_requires_grad, params))
            arrays = (X, *map(_data, params))
            X, kwargs = _run(op, arrays, attrs)
            records.append((op, params, arrays, kwargs, X, needs))
            needed = any(needs)  # needs[0] is the input's: any() counts truthy flags too
        arrays = (X, y)
        loss, kwargs = _run(self.loss_op, arrays, self.loss_attrs)
        self.records = records
        self.loss_record = (arrays, kwargs, loss)
        return X, loss

    def backward(self) -> None:
        """What ``loss.backward()`` does for the last :meth:`forward`: each parameter that
        needs a gradient gets it in ``.grad`` (added to one it already has)."""
        assert self.loss_record is not None, "backward() before forward()"
        arrays, kwargs, loss = self.loss_record
        op = self.loss_op
        # The losses of _LOSSES reduce to a number (their reductions are "mean" and "sum"),
        # and their VJPs give the prediction's gradient in its shape. The target needs no
        # gradient: only the prediction's is computed.
        grad: Any = ONES[loss.dtype]
        if op.joint_vjp is not None:
            grad = op.joint_vjp(grad, loss, *arrays, needs=(True, False), **kwargs)[0]
        else:
            vjp: Any = op.vjps[0]
            grad = vjp(grad, loss, *arrays, **kwargs)
        for op, params, arrays, kwargs, out, needs in reversed(self.records):
            joint: Any = op.joint_vjp  # not None: _calls() took only such ops
            results = joint(grad, out, *arrays, needs=needs, **kwargs)
            for param, grad_in in zip(params, results[1:]):
                if grad_in is None:
                    continue
                if param.grad is None:
                    # As backward() does for a leaf: it keeps the array its VJP made.
                    if grad_in.dtype != param.data.dtype:
                        grad_in = np.array(grad_in, dtype=param.data.dtype)
                    param.grad = grad_in
                else:
                    param.grad += grad_in
            if not needs[0]:
                break
            grad = results[0]
        # The arrays are let go at once, as backward() releases its nodes.
        self.records, self.loss_record = [], None

    def _calls(self, dtype: np.dtype[Any]) -> list[OpCall] | None:
        """Each step's op call for this batch, if every step is one op with a joint VJP
        and some parameter needs a gradient, with recording and fusion on."""
        if not (is_grad_enabled() and fusion_enabled()):
            return None
        if self.model.steps() is not self.steps:  # the layers changed: the usual way from now
            return None
        calls = []
        trains = False
        for step in self.steps:
            call = step_call(step, dtype)
            if call is None or call[0].joint_vjp is None:
                return None
            trains = trains or any(map(_requires_grad, call[1]))
            calls.append(call)
        return calls if trains else None


_LOSSES = (CrossEntropyLoss, MSELoss)
_requires_grad = attrgetter("requires_grad")
_data = attrgetter("data")


def _run(
    op: Op, arrays: tuple[np.ndarray, ...], attrs: dict[str, Any]
) -> tuple[np.ndarray, dict[str, Any]]:
    """What apply() does: the op's forward on ``arrays``, as an ndarray, and the keyword
    arguments its VJP gets (the attributes and what the forward saved)."""
    if op.saves:
        out, saved = op.forward(*arrays, **attrs)
    else:
        out, saved = op.forward(*arrays, **attrs), None
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    return out, ({**attrs, **saved} if saved else attrs)


def _linears(step: Any) -> list[Linear]:
    """The Linear layers of one step of a Sequential's plan (none for another layer)."""
    if isinstance(step, FusedRun):
        return list(step.linears)
    return [step] if isinstance(step, Linear) else []
