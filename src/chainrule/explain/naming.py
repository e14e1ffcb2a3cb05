"""What to call each value of a traced step: ``X``, ``Z1``, ``h1``, ``Who``, ``Z1_2``.

Part of :mod:`chainrule.explain.trace`, which records the step; here each recorded
tensor gets its display name and role. Layers are numbered by their weight parameter,
so the same Linear applied twice is one layer used twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from chainrule.tensor import Tensor

__all__ = ["LAYER_OPS", "LOGIT_LOSSES", "Value", "name_values", "ordinal", "rename"]

#: Ops that make a layer's pre-activation Z from its input and weights.
LAYER_OPS = frozenset({"linear", "matmul"})
#: Losses that take logits; the tensor they read is named Z, not O.
LOGIT_LOSSES = frozenset({"softmax_cross_entropy", "sigmoid_cross_entropy"})


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


def param_name(n_layers: int, layer: int, weight: bool) -> str:
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


def layer_uses(order: list[Tensor], params: dict[int, str]) -> dict[int, tuple[int, int]]:
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


def name_values(
    order: list[Tensor],
    params: dict[int, str],
    shared: set[int],
    x: Tensor,
    out: Tensor,
    loss: Tensor,
) -> tuple[list[Value], int]:
    layer_of = layer_uses(order, params)
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
            name = param_name(n_layers, layer, is_weight) if layer else params[id(t)]
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


def rename(values: list[Value], names: Mapping[str, str] | None) -> None:
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
