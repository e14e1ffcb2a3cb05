"""Activation layers: each one is the layer of one registered activation op.

An activation is declared in two places and nowhere else: its op in
:mod:`chainrule.ops` (forward, derivative, notation, gate, ``role="activation"``)
and its layer class here. The class gives what is about the layer: ``op_name``,
its label in charts and tables (the class name), its colour in charts, its name
on the command line (the op's name with hyphens) and whether ``nn.Sequential``
may fuse it (by default, whenever the op allows it). :data:`ACTIVATION_LAYERS`
gathers the classes as they are defined, and the explanations, the charts and
the commands build their tables from it, so a new activation needs no other edit.
"""

from __future__ import annotations

from typing import Any, ClassVar

from chainrule import functional as F
from chainrule.nn.layers import LAYER_TYPES, Layer, _is_real, _is_whole, _shown, as_tensor
from chainrule.ops import Op, get_op
from chainrule.tensor import ArrayLike, Tensor, apply

#: The layer class of each activation op, by op name (``"leaky_relu"``), filled in as
#: the public activation layers of chainrule are defined.
ACTIVATION_LAYERS: dict[str, type[_Activation]] = {}


class _Activation(Layer):
    """Base class of the activation layers.

    A subclass names its op in ``op_name`` (registered with ``role="activation"``)
    and may set ``color`` (a chart colour), ``command_name`` (default: the op's
    name with hyphens) and ``fusable``. ``fusable`` defaults to whether the fused
    layer ops can run the op (see :meth:`chainrule.ops.Op.not_fusable_because`);
    declaring it True for an op they cannot run is refused when the class is
    defined. A layer with attributes (a slope) gives the op's attributes in
    ``activation_attrs``.
    """

    op_name: ClassVar[str] = ""
    _op: ClassVar[Op]
    #: nn.Sequential may run this layer inside the Linear layer before it (one op).
    fusable: ClassVar[bool] = False
    #: The layer's colour in charts (a matplotlib colour); None: the chart picks one.
    color: ClassVar[str | None] = None
    #: The layer's name on the command line.
    command_name: ClassVar[str] = ""
    # The op's attributes when Sequential fuses this activation into a ``dense`` op.
    activation_attrs: dict[str, Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        op = cls._op = get_op(cls.op_name)
        if op.role != "activation":
            raise TypeError(
                f"{cls.__name__}: op {op.name!r} is not an activation; register it with "
                'role="activation"'
            )
        reason = op.not_fusable_because()
        declared = cls.__dict__.get("fusable")
        if declared and reason is not None:
            raise TypeError(
                f"{cls.__name__} declares fusable = True, but the fused layer ops cannot run "
                f"op {op.name!r}: {reason}; leave fusable out or set it to False"
            )
        if declared is None:
            cls.fusable = reason is None
        if "command_name" not in cls.__dict__:
            cls.command_name = op.name.replace("_", "-")
        if LAYER_TYPES.get(cls.__name__) is cls:  # a public layer of chainrule
            other = ACTIVATION_LAYERS.get(op.name)
            if other is not None and other.__name__ != cls.__name__:
                raise TypeError(
                    f"{cls.__name__}: op {op.name!r} already has its layer, {other.__name__}"
                )
            ACTIVATION_LAYERS[op.name] = cls

    @classmethod
    def label(cls) -> str:
        """The layer's name in charts and tables: its class name."""
        return cls.__name__

    def forward(self, x: ArrayLike) -> Tensor:
        return apply(self._op, x if isinstance(x, Tensor) else as_tensor(x, self))


def activation_layers(*, elementwise: bool | None = None) -> list[type[_Activation]]:
    """The activation layer classes, in the order they were defined.

    Parameters
    ----------
    elementwise : bool, optional
        True: only those whose op acts entry by entry (the ones a hidden layer may
        use); False: only the others (softmax); None: all.
    """
    return [
        cls
        for cls in ACTIVATION_LAYERS.values()
        if elementwise is None or cls._op.elementwise == elementwise
    ]


class Sigmoid(_Activation):
    """sigma(z) = 1 / (1 + e^-z), elementwise; its derivative is at most 0.25."""

    op_name = "sigmoid"
    color = "#c0392b"


class Tanh(_Activation):
    """tanh(z), elementwise."""

    op_name = "tanh"
    color = "#e67e22"


class ReLU(_Activation):
    """max(z, 0), elementwise."""

    op_name = "relu"
    color = "#2a6f97"


class LeakyReLU(_Activation):
    """z if z > 0 else negative_slope * z, elementwise.

    Parameters
    ----------
    negative_slope : float, default 0.01
        The slope for negative inputs, from 0 (ReLU) to 1 (the identity).
    """

    op_name = "leaky_relu"
    color = "#27ae60"

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not (_is_real(negative_slope) and 0 <= negative_slope <= 1):
            raise ValueError(
                "LeakyReLU: negative_slope must be a finite number >= 0 and at most 1, got "
                f"{_shown(negative_slope)}"
            )
        self.negative_slope = float(negative_slope)

    def forward(self, x: ArrayLike) -> Tensor:
        return F.leaky_relu(as_tensor(x, self), self.negative_slope)

    @property
    def activation_attrs(self) -> dict[str, Any]:  # type: ignore[override]
        """The op's attributes when Sequential fuses it into a ``dense`` op."""
        return {"negative_slope": self.negative_slope}

    def _config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope:g}"


class Softmax(_Activation):
    """exp(z) / sum(exp(z)) along ``axis``; rows of the output sum to 1.

    Parameters
    ----------
    axis : int, default -1
        The axis that sums to 1, from -32 to 31 (NumPy's limit on dimensions).
    """

    op_name = "softmax"

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        if not (_is_whole(axis) and -32 <= axis < 32):
            raise ValueError(
                f"Softmax: axis must be an integer from -32 to 31, got {_shown(axis)}"
            )
        self.axis = int(axis)

    def forward(self, x: ArrayLike) -> Tensor:
        return F.softmax(as_tensor(x, self), self.axis)

    def _config(self) -> dict[str, Any]:
        return {"axis": self.axis}

    def extra_repr(self) -> str:
        return f"axis={self.axis}"
