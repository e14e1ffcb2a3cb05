"""Run one training step on a copy of a model and record everything it computed.

The step is the real one: the model's own ``forward``, the loss module, the
engine's ``backward()`` (with :meth:`Tensor.retain_grad` on every intermediate,
so each one keeps the gradient the backward pass gave it) and an
:class:`~chainrule.optim.SGD` step. The model passed in is never changed.

Every tensor of the step gets the name a textbook would give it: ``X`` and
``Y``, ``Z1 = X @ W1 + b1``, ``h1 = sigmoid(Z1)``, ..., ``O`` for the network's
output and ``E`` for the loss. A network of two layers names its parameters
``Wih, bih`` (input to hidden) and ``Who, bho`` (hidden to output).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.autograd import enable_grad

# Value and LAYER_OPS are read from here by the rest of the package.
from chainrule.explain.naming import LAYER_OPS as LAYER_OPS
from chainrule.explain.naming import Value as Value
from chainrule.explain.naming import name_values, rename
from chainrule.explain.runs import Run, find_runs
from chainrule.nn.fusion import fusion
from chainrule.nn.layers import Linear
from chainrule.nn.module import Module, Parameter
from chainrule.optim import SGD
from chainrule.tensor import Tensor

LossFunction = Callable[[Tensor, Any], Tensor]


@dataclass(eq=False)
class Trace:
    """Everything one recorded training step computed.

    Attributes
    ----------
    values : list of Value
        Every tensor of the step in forward order (inputs before results).
    input, target, output, loss : Value
        ``X``, ``Y``, the model's output and ``E``.
    target_rows : ndarray
        ``Y`` as the loss formulas read it (class labels become one-hot rows).
    lr : float
        Learning rate of the step.
    gradients : dict
        ``.grad`` of every parameter after the real ``backward()``, by dotted name.
    updated : dict
        Every parameter after the SGD step, by dotted name.
    loss_after : float
        The loss of the updated parameters on the same data.
    n_layers : int
        Number of layers (linear/matmul ops with weights).
    runs : list of Run
        Layers in the middle of long runs of identical layers, which the
        explanation summarises instead of writing out (:mod:`.runs`).
    """

    values: list[Value]
    input: Value
    target: Value
    output: Value
    loss: Value
    target_rows: np.ndarray
    lr: float
    gradients: dict[str, np.ndarray]
    updated: dict[str, np.ndarray]
    loss_after: float
    n_layers: int
    runs: list[Run] = field(default_factory=list)
    _by_id: dict[int, Value] = field(default_factory=dict, repr=False)

    _readers: dict[int, list[tuple[Value, int]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {id(v.tensor): v for v in self.values}
        for v in self.values:
            node = v.tensor.node
            for i, t in enumerate(node.inputs if node is not None else ()):
                self._readers.setdefault(id(t), []).append((v, i))

    def of(self, tensor: Tensor) -> Value:
        """The :class:`Value` recorded for ``tensor``."""
        return self._by_id[id(tensor)]

    def parameters(self) -> list[Value]:
        """Parameter values in ``named_parameters()`` order."""
        return [v for v in self.values if v.kind == "parameter"]

    def consumers(self, value: Value) -> list[tuple[Value, int]]:
        """(result, input position) for every op of the step that read ``value``."""
        return list(self._readers.get(id(value.tensor), ()))


def _as_input(x: Any, dtype: np.dtype[Any]) -> Tensor:
    data = x.data if isinstance(x, Tensor) else x
    try:
        array = np.array(data, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"explain: x must be an array of numbers, got {type(x).__name__}: {err}"
        ) from None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise ValueError(f"explain: x must have shape (samples, features), got shape {array.shape}")
    return Tensor(array, name="X")


def _forward_order(roots: list[Tensor]) -> list[Tensor]:
    """Every tensor the roots depend on (constants too), inputs first; iterative."""
    order: list[Tensor] = []
    seen: set[int] = set()
    for root in roots:
        stack: list[tuple[Tensor, bool]] = [(root, False)]
        while stack:
            tensor, expanded = stack.pop()
            if expanded:
                order.append(tensor)
                continue
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            stack.append((tensor, True))
            if tensor.node is not None:
                stack.extend((t, False) for t in reversed(tensor.node.inputs) if id(t) not in seen)
    return order


def _target_rows(target: np.ndarray, scores: np.ndarray, loss_op: str) -> np.ndarray:
    if loss_op in ("softmax_cross_entropy", "cross_entropy_probs") and target.ndim < scores.ndim:
        rows = np.zeros_like(scores)
        rows[np.arange(target.shape[0]), target.astype(np.intp)] = 1.0
        return rows
    return target


def trace_step(
    model: Module,
    x: Any,
    y: Any,
    loss_fn: LossFunction,
    lr: float,
    *,
    names: Mapping[str, str] | None = None,
    dtype: Any = np.float64,
) -> Trace:
    """Run forward, loss, ``backward()`` and one SGD step on a copy of ``model``.

    Parameters
    ----------
    model : Module
        The network; it is copied, never changed.
    x, y : array_like
        Inputs ``(samples, features)`` (one 1-D sample is allowed) and targets.
    loss_fn : callable
        A loss module such as ``MSELoss()``: ``loss_fn(prediction, target) -> Tensor``.
    lr : float
        Learning rate of the SGD step.
    names : mapping, optional
        New display names, keyed by default name (``"h1"``) or parameter name
        (``"0.weight"``).
    dtype : float dtype or None, default float64
        Run the step in this dtype (None: the model's own).
    """
    if not isinstance(model, Module):
        raise TypeError(f"explain: model must be a chainrule Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"explain: loss must be a loss module such as MSELoss(), got {loss_fn!r}")
    with fusion(False):  # every layer its own node: Z and the activation as two stages
        return _trace_step(model, x, y, loss_fn, lr, names, dtype)


def _trace_step(
    model: Module,
    x: Any,
    y: Any,
    loss_fn: LossFunction,
    lr: float,
    names: Mapping[str, str] | None,
    dtype: Any,
) -> Trace:
    work = copy.deepcopy(model)
    if dtype is not None:
        work.to(dtype)
    work.zero_grad()
    run_dtype = work.dtype or np.dtype(np.float64)
    x_t = _as_input(x, run_dtype)
    # Recorded from the first op on, even when the network starts with an activation
    # (an op on inputs that need no gradient would leave no node to explain).
    x_t.requires_grad = True
    with enable_grad():
        out = work(x_t)
        if not isinstance(out, Tensor):
            raise TypeError(f"explain: the model must return a Tensor, got {type(out).__name__}")
        loss = loss_fn(out, y)
    if not isinstance(loss, Tensor) or loss.size != 1 or loss.node is None:
        raise ValueError(
            "explain: the loss must be a single number computed from the model's output"
        )
    order = _forward_order([out, loss])
    for t in order:
        if t.node is not None:
            t.retain_grad()
    loss.backward(retain_graph=True)  # the graph is read below

    params = {id(p): key for key, p in work.named_parameters()}
    shared = {
        id(m.bias) for m in work.modules() if isinstance(m, Linear) and m.bias_kind == "shared"
    }
    values, n_layers = name_values(order, params, shared, x_t, out, loss)
    rename(values, names)
    gradients = {key: p.grad.copy() for key, p in work.named_parameters() if p.grad is not None}
    updated, loss_after = _sgd_step(work, x_t, y, loss_fn, lr)
    by_id = {id(v.tensor): v for v in values}
    target_tensor = loss.node.inputs[1] if len(loss.node.inputs) > 1 else Tensor(np.zeros(()))
    target = by_id.get(id(target_tensor)) or Value(target_tensor, "Y", "target", "target")
    scores = loss.node.inputs[0].data
    rows = _target_rows(target.data, scores, loss.node.op.name)
    return Trace(
        values=values,
        input=by_id[id(x_t)],
        target=target,
        output=by_id[id(out)],
        loss=by_id[id(loss)],
        target_rows=rows,
        lr=float(lr),
        gradients=gradients,
        updated=updated,
        loss_after=loss_after,
        n_layers=n_layers,
        runs=find_runs(values, by_id[id(loss)]),
    )


def _sgd_step(
    work: Module, x_t: Tensor, y: Any, loss_fn: LossFunction, lr: float
) -> tuple[dict[str, np.ndarray], float]:
    """The update on a second copy, so the traced arrays keep their values."""
    stepped = copy.deepcopy(work)
    trainable: list[Parameter] = [p for p in stepped.parameters() if p.requires_grad]
    if trainable:
        SGD(trainable, lr=lr).step()
    # With recording on, a fused loss takes the same path as in the traced step.
    with enable_grad():
        after = loss_fn(stepped(x_t), y)
    updated = {key: p.data.copy() for key, p in stepped.named_parameters()}
    return updated, float(after.data.reshape(()))
