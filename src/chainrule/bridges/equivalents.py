"""The one table of equivalents: each chainrule layer type, its PyTorch module and ONNX node.

chainrule's layer names follow PyTorch's (``Linear``, ``ReLU``, ``Softmax``...), so
the table is built from :data:`chainrule.nn.LAYER_TYPES` and the layers' own
constructor arguments: a layer type ``T`` with arguments ``a, b`` is ``torch.nn.T``
with the same arguments, and the ONNX operator named after its op (``leaky_relu``:
``LeakyRelu``; ``T`` for a layer without an op) with the same attributes. The few
names spelled otherwise are listed once, in :data:`SPELLINGS`; nothing else in the
bridges names a layer type, so a new activation (an op and a layer class) crosses
every bridge with no edit here. The loss functions are matched the same way, by
class name, among chainrule's loss modules.

``Linear`` is the one layer whose parameters are laid out differently: chainrule
stores ``W`` as ``(in_features, out_features)`` (``Z = X @ W + b``), PyTorch as
``(out_features, in_features)``; ONNX's ``Gemm`` takes chainrule's layout as it is.
A shared scalar bias (``bias="shared"``) has no PyTorch layer, so it becomes a
bias-free ``torch.nn.Linear`` followed by a one-parameter
:class:`~chainrule.bridges.torch_modules.SharedBias`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.nn import loss as loss_module
from chainrule.nn.layers import LAYER_TYPES, Layer
from chainrule.nn.module import Module
from chainrule.nn.sequential import Sequential

#: Where PyTorch or ONNX spell a chainrule name differently; every other layer type and
#: argument has the same name in all three, except that ONNX names an activation's
#: operator after its op (``leaky_relu``: ``LeakyRelu``). chainrule name: (PyTorch's, ONNX's).
SPELLINGS: dict[str, tuple[str, str]] = {
    "Linear": ("Linear", "Gemm"),
    "axis": ("dim", "axis"),
    "negative_slope": ("negative_slope", "alpha"),
}

#: The float dtypes every bridge carries over unchanged.
FLOAT_DTYPES = ("float16", "float32", "float64")


@dataclass(frozen=True)
class Equivalent:
    """One row of the table: a chainrule layer type and what it is called elsewhere.

    Attributes
    ----------
    layer : type
        The chainrule layer class.
    torch_name : str
        The ``torch.nn`` class of the same computation.
    onnx_op : str
        The ONNX operator (``Gemm`` for a Linear layer with a bias, ``MatMul`` without).
    arguments : tuple of str
        The layer's constructor arguments (besides a Linear layer's sizes and
        parameters), in chainrule's spelling; :meth:`torch_argument` and
        :meth:`onnx_attribute` give the other spellings.
    """

    layer: type[Layer]
    torch_name: str
    onnx_op: str
    arguments: tuple[str, ...]

    @staticmethod
    def torch_argument(name: str) -> str:
        return SPELLINGS.get(name, (name, name))[0]

    @staticmethod
    def onnx_attribute(name: str) -> str:
        return SPELLINGS.get(name, (name, name))[1]


def _constructor_arguments(layer: type[Layer]) -> tuple[str, ...]:
    parameters = inspect.signature(layer.__init__).parameters.values()
    return tuple(
        p.name for p in parameters if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD
    )


def _onnx_operator(layer: type[Layer]) -> str:
    """ONNX's name for an activation's operator: its op's name in CamelCase (``Relu``,
    ``LeakyRelu``, ``Softmax``); for another layer type, the type's own name."""
    op_name = getattr(layer, "op_name", "")
    return "".join(part.capitalize() for part in op_name.split("_")) or layer.__name__


def equivalents() -> dict[str, Equivalent]:
    """The table, by chainrule layer type name, read from the layer classes."""
    table = {}
    for name, layer in LAYER_TYPES.items():
        torch_name, onnx_op = SPELLINGS.get(name, (name, _onnx_operator(layer)))
        table[name] = Equivalent(layer, torch_name, onnx_op, _constructor_arguments(layer))
    return table


def equivalent_of(layer: Module, position: str) -> Equivalent:
    """The row for ``layer``; a module that is not a chainrule layer type is refused by name."""
    row = equivalents().get(type(layer).__name__)
    if row is None or type(layer) is not row.layer:
        raise TypeError(
            f"{type(layer).__name__} at position {position} is not supported: the bridges "
            f"translate Sequential models of {', '.join(sorted(LAYER_TYPES))}"
        )
    return row


def layer_arguments(layer: Module) -> dict[str, Any]:
    """A layer's constructor arguments as its config holds them (chainrule's spelling)."""
    config = layer.get_config()
    config.pop("type")
    return config


def flat_layers(model: Module) -> Iterator[tuple[str, Module]]:
    """(position, layer) for every layer of ``model``, nested Sequentials flattened.

    The position is the layer's path in the model (``"2"``, or ``"1.0"`` inside a nested
    Sequential), as its parameter names spell it; a model that is one layer is at ``"0"``.
    """
    if not isinstance(model, Sequential):
        yield "0", model
        return

    def walk(container: Sequential, prefix: str) -> Iterator[tuple[str, Module]]:
        for key, child in container._modules.items():
            if isinstance(child, Sequential):
                yield from walk(child, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", child

    yield from walk(model, "")


def loss_types() -> dict[str, type[Module]]:
    """chainrule's loss modules by class name (PyTorch names its losses the same)."""
    return {
        name: obj
        for name, obj in vars(loss_module).items()
        if isinstance(obj, type)
        and issubclass(obj, Module)
        and obj.__module__ == loss_module.__name__
        and not name.startswith("_")
    }


def float_dtype(dtype: Any, owner: str) -> np.dtype[Any]:
    """``dtype`` as a NumPy float dtype the bridges carry over; others are refused."""
    name = str(dtype).removeprefix("torch.")
    if name not in FLOAT_DTYPES:
        raise TypeError(
            f"{owner} has {name} parameters; the bridges carry float16, float32 and float64 "
            "(convert the model first)"
        )
    return np.dtype(name)
