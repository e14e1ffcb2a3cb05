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
from chainrule.explain.runs import Run, find_runs
from chainrule.nn.fusion import fusion
from chainrule.nn.layers import Linear
from chainrule.nn.module import Module, Parameter
from chainrule.optim import SGD
from chainrule.tensor import Tensor

#: Ops that make a layer's pre-activation Z from its input and weights.
LAYER_OPS = frozenset({"linear", "matmul"})
#: Losses that take logits; the tensor they read is named Z, not O.
LOGIT_LOSSES = frozenset({"softmax_cross_entropy", "sigmoid_cross_entropy"})

LossFunction = Callable[[Tensor, Any], Tensor]


@dataclass(eq=False)
class Value:
    """One tensor of the traced step and what to call it.

    Attributes
    ----------
    tensor : Tensor
        The tensor itself, as the step computed it.
    name : str
        Display name, e.g. ``"Z1"`` or ``"Who"``.
    kind : str
        ``"input"``, ``"target"``, ``"parameter"``, ``"intermediate"``,
        ``"output"``, ``"loss"`` or ``"constant"``.
    role : str
        A few words for people: ``"layer 2 weights"``.
    layer : int or None
        1-based layer number for layer quantities.
    param_key : str or None
        The parameter's name in ``named_parameters()``.
    use : int
        For a layer's pre-activation or activation: which application of the
        layer made it (2 when the same Linear is applied a second time).
    """

    tensor: Tensor
    name: str
    kind: str
    role: str = ""
    layer: int | None = None
    param_key: str | None = None
    use: int = 1

    @property
    def data(self) -> np.ndarray:
        return self.tensor.data

    @property
    def shape(self) -> tuple[int, ...]:
        return self.tensor.data.shape

    @property
    def grad(self) -> np.ndarray | None:
        """dE/d(this value) as the backward pass left it (None off the loss path)."""
        return self.tensor.grad

    @property
    def op_name(self) -> str | None:
        node = self.tensor.node
        return None if node is None else node.op.name


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


def _param_name(n_layers: int, layer: int, weight: bool) -> str:
    letter = "W" if weight else "b"
    if n_layers == 1:
        return letter
    if n_layers == 2:
        return letter + ("ih" if layer == 1 else "ho")
    return f"{letter}{layer}"


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def ordinal(n: int) -> str:
    """``"second"`` for 2; ``"12th"`` past the eighth."""
    return _ORDINALS[n - 1] if 1 <= n <= len(_ORDINALS) else f"{n}th"


def _layer_uses(order: list[Tensor], params: dict[int, str]) -> dict[int, tuple[int, int]]:
    """id(Z) -> (layer, use) for every op that applies a layer's weights.

    Layers are numbered by their weight parameter, in the order of its first use,
    so the same Linear applied twice is one layer used twice, not two layers.
    """
    layer_of_weight: dict[int, int] = {}
    uses: dict[int, int] = {}
    found: dict[int, tuple[int, int]] = {}
    for t in order:
        node = t.node
        if node is None or node.op.name not in LAYER_OPS or len(node.inputs) < 2:
            continue
        weight = id(node.inputs[1])
        if weight not in params:
            continue
        layer = layer_of_weight.setdefault(weight, len(layer_of_weight) + 1)
        uses[weight] = uses.get(weight, 0) + 1
        found[id(t)] = (layer, uses[weight])
    return found


def _name_values(
    order: list[Tensor],
    params: dict[int, str],
    shared: set[int],
    x: Tensor,
    out: Tensor,
    loss: Tensor,
) -> tuple[list[Value], int]:
    layer_of = _layer_uses(order, params)
    n_layers = len({layer for layer, _ in layer_of.values()})
    param_layer: dict[int, tuple[int, bool]] = {}
    for t in order:
        if id(t) in layer_of and t.node is not None:
            for position, p in enumerate(t.node.inputs[1:], start=1):
                param_layer.setdefault(id(p), (layer_of[id(t)][0], position == 1))
    target = loss.node.inputs[1] if loss.node is not None and len(loss.node.inputs) > 1 else None
    logits_out = loss.node is not None and loss.node.op.name in LOGIT_LOSSES
    logits_out = logits_out and loss.node is not None and loss.node.inputs[0] is out

    def suffix(layer: int, use: int) -> str:
        number = "" if n_layers == 1 else str(layer)
        return number + ("" if use == 1 else f"_{use}")

    def again(layer: int, use: int) -> str:
        return "" if use == 1 else f", layer {layer} applied a {ordinal(use)} time"

    values: list[Value] = []
    named: dict[int, Value] = {}
    others = 0
    for t in order:
        node = t.node
        if t is x:
            value = Value(t, "X", "input", "input, one sample per row")
        elif t is loss:
            value = Value(t, "E", "loss", "loss")
        elif target is not None and t is target:
            value = Value(t, "Y", "target", "target")
        elif id(t) in params:
            layer, is_weight = param_layer.get(id(t), (0, True))
            name = _param_name(n_layers, layer, is_weight) if layer else params[id(t)]
            kind = "weights" if is_weight else ("shared bias" if id(t) in shared else "bias")
            role = f"layer {layer} {kind}" if layer else "parameter"
            value = Value(t, name, "parameter", role, layer or None, params[id(t)])
        elif id(t) in layer_of:
            layer, use = layer_of[id(t)]
            if t is out and not logits_out:
                role = "network output" + again(layer, use)
                value = Value(t, "O", "output", role, layer, use=use)
            else:
                role = f"layer {layer} pre-activation" + again(layer, use)
                value = Value(t, "Z" + suffix(layer, use), "intermediate", role, layer, use=use)
        # What an activation op makes is what a textbook calls h1, h2, ... or O.
        elif node is not None and node.op.role == "activation" and id(node.inputs[0]) in layer_of:
            layer, use = layer_of[id(node.inputs[0])]
            if t is out:
                role = "network output" + again(layer, use)
                value = Value(t, "O", "output", role, layer, use=use)
            else:
                role = f"layer {layer} activation" + again(layer, use)
                value = Value(t, "h" + suffix(layer, use), "intermediate", role, layer, use=use)
        elif t is out:
            value = Value(t, "O", "output", "network output")
        elif node is not None:
            others += 1
            read = ", ".join(named[id(i)].name for i in node.inputs if id(i) in named)
            value = Value(t, f"t{others}", "intermediate", f"{node.op.name} of {read}")
        else:
            others += 1
            value = Value(t, f"c{others}", "constant", "constant")
        values.append(value)
        named[id(t)] = value
    return values, n_layers


def _rename(values: list[Value], names: Mapping[str, str] | None) -> None:
    if not names:
        return
    by_key = {v.name: v for v in values}
    by_key.update({v.param_key: v for v in values if v.param_key})
    for key, new in names.items():
        if key not in by_key:
            known = ", ".join(sorted(by_key))
            raise ValueError(
                f"explain: names has {key!r}, which is not a value of this step; known: {known}"
            )
        if not isinstance(new, str) or not new.strip() or any(c.isspace() for c in new):
            raise ValueError(
                f"explain: the new name for {key!r} must be a word without spaces, got {new!r}"
            )
        by_key[key].name = new
    seen: dict[str, str] = {}
    for v in values:
        if v.name in seen:
            raise ValueError(
                f"explain: two values would both be called {v.name!r}; rename one of them"
            )
        seen[v.name] = v.name


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
    values, n_layers = _name_values(order, params, shared, x_t, out, loss)
    _rename(values, names)
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
