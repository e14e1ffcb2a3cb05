"""Layer fusion: how ``nn.Sequential`` runs Linear layers and their activations as
one registered op (``dense``, ``dense_stackN``; see :mod:`chainrule.ops.fused`).

This is nn's own concern, kept apart from the layers it plans over: the layers do
not know it, and :class:`~chainrule.nn.sequential.Sequential` asks it for a plan.
An activation layer is fusable when its class says ``fusable = True``, which its op
allows only if it is elementwise, of one input, and saves nothing in the forward pass
(the fused op keeps only each layer's Z; see :meth:`chainrule.ops.Op.not_fusable_because`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from chainrule.nn.layers import Linear
from chainrule.ops import get_op
from chainrule.ops.fused import MAX_STACK, stack_op_name
from chainrule.ops.registry import Op
from chainrule.tensor import ArrayLike, Tensor, apply

_DENSE = get_op("dense")
_LINEAR = get_op("linear")

#: What a step of a plan applies to its input: (op, parameter tensors, attributes).
OpCall = tuple[Op, list[Tensor], dict[str, Any]]


class _Fusion:
    enabled = True


def fusion_enabled() -> bool:
    """Whether ``nn.Sequential`` runs Linear + activation pairs as one ``dense`` op."""
    return _Fusion.enabled


@contextmanager
def fusion(enabled: bool) -> Iterator[None]:
    """Turn layer fusion on or off inside a ``with`` block.

    Fused and unfused networks compute bit-identical values; unfused graphs have a
    node for every layer, which is what explanations show.
    """
    previous = _Fusion.enabled
    _Fusion.enabled = bool(enabled)
    try:
        yield
    finally:
        _Fusion.enabled = previous


def fusion_plan(layers: list[Any]) -> list[Any]:
    """The steps to run ``layers`` (a Sequential's, in order) when fusing: each run of
    Linear layers with a bias, each followed by an elementwise activation or by none,
    with sizes that chain, becomes one FusedRun (a single op) of up to MAX_STACK layers;
    other layers run as they are."""
    plan: list[Any] = []
    linears: list[Any] = []  # the run being gathered, and the activation after each
    activations: list[Any] = []

    def close_run() -> None:
        if len(linears) == 1 and activations[0] is None:
            plan.append(linears[0])
        elif linears:
            plan.append(FusedRun(linears, activations))
        linears.clear()
        activations.clear()

    i = 0
    while i < len(layers):
        layer = layers[i]
        if not (isinstance(layer, Linear) and layer.bias is not None):
            close_run()
            plan.append(layer)
            i += 1
            continue
        if linears and (
            len(linears) == MAX_STACK or linears[-1].out_features != layer.in_features
        ):
            close_run()
        after = layers[i + 1] if i + 1 < len(layers) else None
        fusable = getattr(after, "fusable", False)
        linears.append(layer)
        activations.append(after if fusable else None)
        i += 2 if fusable else 1
    close_run()
    return plan


class FusedRun:
    """Linear layers with a bias in a row, each followed by its elementwise activation
    or by none, that ``nn.Sequential`` runs as one registered op: ``dense`` for a
    single layer with an activation, ``dense_stackN`` for N = 2 to 4 layers. The
    values are bit-identical to running the layers one by one.
    """

    __slots__ = ("linears", "activations", "op", "names", "attrs")

    def __init__(self, linears: list[Linear], activations: list[Any]) -> None:
        self.linears = tuple(linears)
        self.activations = tuple(activations)
        self.op = get_op(stack_op_name(len(linears))) if len(linears) > 1 else _DENSE
        self.names = tuple(None if a is None else a.op_name for a in activations)
        # Without attributes (no slope, which may change) they are gathered once.
        constant = all(a is None or a.activation_attrs is None for a in activations)
        self.attrs = (None,) * len(activations) if constant else None

    def __call__(self, x: ArrayLike) -> Tensor:
        first = self.linears[0]
        if self.op is _DENSE:
            return first.fused(x, self.activations[0])
        x_t = first._checked_input(x)
        # op_call()'s decision, written out: this runs at every step of every batch.
        dtype = x_t.data.dtype
        params: list[Tensor] = []
        for linear in self.linears:
            weight, bias = linear.weight, linear.bias
            if bias is None or weight.data.dtype != dtype:  # changed since: run one by one,
                return self.unfused(x_t)  # so each layer checks its own input
            params += (weight, bias)
        attrs = self.attrs
        if attrs is None:
            attrs = tuple(None if a is None else a.activation_attrs for a in self.activations)
        return apply(self.op, x_t, *params, activations=self.names, activation_attrs=attrs)

    def op_call(self, dtype: np.dtype[Any]) -> OpCall | None:
        """The op, parameters and attributes this run applies to an input of ``dtype``
        (whose shape the caller has checked), or None when it would not run as one op:
        a layer lost its bias or has weights of another dtype. :meth:`__call__` writes the
        same decision out (change both: the lean path of fit must apply what it applies)."""
        params: list[Tensor] = []
        for linear in self.linears:
            weight, bias = linear.weight, linear.bias
            if bias is None or weight.data.dtype != dtype:
                return None
            params += (weight, bias)
        if self.op is _DENSE:
            activation = self.activations[0]
            attrs = {
                "activation": activation.op_name,
                "activation_attrs": activation.activation_attrs,
            }
            return _DENSE, params, attrs
        activation_attrs = self.attrs
        if activation_attrs is None:
            activation_attrs = tuple(
                None if a is None else a.activation_attrs for a in self.activations
            )
        return self.op, params, {"activations": self.names, "activation_attrs": activation_attrs}

    def unfused(self, x: ArrayLike) -> Tensor:
        for linear, activation in zip(self.linears, self.activations):
            x = linear(x)
            if activation is not None:
                x = activation(x)
        return x  # type: ignore[return-value]


def step_call(step: Any, dtype: np.dtype[Any]) -> OpCall | None:
    """What one step of :func:`fusion_plan` applies to a 2-D input of ``dtype`` with the
    right number of features, as one registered op: a fused run's op, or ``linear`` for a
    Linear layer with a bias and weights of that dtype; None for any other step (it runs
    as a module)."""
    if type(step) is FusedRun:
        return step.op_call(dtype)
    if type(step) is Linear:
        weight, bias = step.weight, step.bias
        if bias is not None and weight.data.dtype == dtype:
            return _LINEAR, [weight, bias], {}
    return None
