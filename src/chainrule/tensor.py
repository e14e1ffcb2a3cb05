"""Tensor: a NumPy array that remembers how it was made.

``Tensor.data`` is the NumPy array itself (assign to it, or change it in place);
``Tensor.grad`` is filled by :meth:`Tensor.backward`. Operators on tensors call
the registered ops in :mod:`chainrule.ops` through :func:`apply`, which records
each one for the backward pass (:mod:`chainrule.autograd`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from chainrule.autograd import Node, _GradMode
from chainrule.autograd import backward as _backward
from chainrule.ops import get_op
from chainrule.ops.constants import vdot as _vdot

if TYPE_CHECKING:
    from chainrule.ops import Op

DEFAULT_DTYPE = np.dtype(np.float32)
_new_tensor = object.__new__
ArrayLike = Union["Tensor", np.ndarray, float, int, list[Any], tuple[Any, ...]]


def _as_float_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert ``data`` to a floating-point array without surprises.

    Float arrays keep their dtype unless ``dtype`` asks for another; Python
    numbers, lists, integer and boolean arrays become float32 (the training
    default). Anything that is not a real number is refused.
    """
    if isinstance(data, Tensor):
        data = data.data
    from_numpy = isinstance(data, (np.ndarray, np.generic))
    array = np.asarray(data)
    if array.dtype.kind not in "fiub":
        kind = {"c": "complex", "U": "string", "S": "bytes", "O": "object"}.get(
            array.dtype.kind, str(array.dtype)
        )
        raise TypeError(
            f"chainrule tensors hold real numbers; got an array of {kind} dtype "
            f"({array.dtype}). Convert the data to float first, e.g. np.asarray(x, dtype=float)"
        )
    if dtype is not None:
        target = np.dtype(dtype)
        if target.kind != "f":
            raise TypeError(f"tensor dtype must be a float dtype such as float32, got {target}")
    elif array.dtype.kind == "f" and from_numpy:
        target = array.dtype
    else:
        target = DEFAULT_DTYPE
    if array.dtype != target:
        array = array.astype(target)
    return array


#: The longest dot product of ``all_finite(..., pieces=True)``: OpenBLAS computes up to
#: 10,000 entries on one thread.
ONE_THREAD_DOT = 8192


def all_finite(array: np.ndarray, pieces: bool = False) -> bool:
    """Whether every entry of a float array is finite (no NaN, no +-inf).

    The sum of squares is finite exactly when every entry is, unless it overflows;
    one BLAS dot product decides the common case at a fraction of the cost of
    ``np.isfinite(array).all()``, which settles the rest.

    ``pieces=True`` checks a long array in dot products of at most
    :data:`ONE_THREAD_DOT` entries. OpenBLAS runs a longer one on several threads, and
    those threads then spin for about 0.1 s: a core kept busy beside training on one
    thread, when the check is ``fit``'s of the data, made before it chooses the threads.
    """
    if pieces and array.size > ONE_THREAD_DOT:
        flat = array.reshape(-1)
        step = ONE_THREAD_DOT
        return all(all_finite(flat[start : start + step]) for start in range(0, flat.size, step))
    return math.isfinite(_vdot(array, array)) or bool(np.isfinite(array).all())


class Tensor:
    """An array with an optional gradient.

    Parameters
    ----------
    data : array_like
        The values. Float arrays keep their dtype; other numbers become float32.
    requires_grad : bool, default False
        Whether backward() should compute a gradient for this tensor.
    name : str, optional
        A label shown in explanations and graph pictures.
    dtype : numpy dtype, optional
        Convert the data to this float dtype.
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "_node", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(
        self,
        data: ArrayLike,
        requires_grad: bool = False,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        self.data: np.ndarray = _as_float_array(data, dtype)
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._node: Node | None = None
        self._retains_grad = False

    @staticmethod
    def _from_op(data: np.ndarray) -> Tensor:
        """A tensor around ``data`` that needs no gradient (yet): apply() records its node."""
        out = _new_tensor(Tensor)
        out.data = data
        out.grad = None
        out.requires_grad = False
        out.name = None
        out._node = None
        out._retains_grad = False
        return out

    # -- properties -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (not the result of a recorded op)."""
        return self._node is None

    @property
    def node(self) -> Node | None:
        """The recorded op that made this tensor, or None for a leaf."""
        return self._node

    @property
    def T(self) -> Tensor:  # noqa: N802
        return self.transpose()

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4, prefix="tensor(")
        extras = ""
        if self.dtype != DEFAULT_DTYPE:
            extras += f", dtype={self.dtype}"
        if self.requires_grad:
            extras += ", requires_grad=True"
        if self.name:
            extras += f", name={self.name!r}"
        return f"tensor({body}{extras})"

    # -- autograd ---------------------------------------------------------------------
    # Compute gradients of this tensor with respect to every leaf it depends on. The
    # graph's saved values are freed on the way (as in PyTorch); pass
    # retain_graph=True to backpropagate through the same graph again.
    backward = _backward

    def retain_grad(self) -> Tensor:
        """Keep this intermediate result's gradient in ``.grad`` after backward()."""
        self._retains_grad = True
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def detach(self) -> Tensor:
        """The same data, cut off from the graph."""
        return Tensor(self.data, requires_grad=False)

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self.data

    def item(self) -> float:
        """The single value of a one-element tensor, as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a one-element tensor, got shape {self.shape}")
        return float(self.data.reshape(()))

    def astype(self, dtype: Any) -> Tensor:
        """A detached copy converted to ``dtype``."""
        return Tensor(self.data.astype(dtype), requires_grad=self.requires_grad)

    # -- ops --------------------------------------------------------------------------
    def _lift(self, other: ArrayLike) -> Tensor:
        if isinstance(other, Tensor):
            if other.dtype != self.dtype:
                raise TypeError(
                    f"cannot combine a {self.dtype} tensor with a {other.dtype} tensor; "
                    f"convert one of them, e.g. tensor.astype(np.{self.dtype})"
                )
            return other
        return Tensor(_as_float_array(other, self.dtype))

    def _binary(self, name: str, other: ArrayLike, reverse: bool = False) -> Tensor:
        other_t = self._lift(other)
        a, b = (other_t, self) if reverse else (self, other_t)
        return apply(get_op(name), a, b)

    def _unary(self, name: str, **attrs: Any) -> Tensor:
        return apply(get_op(name), self, **attrs)

    def __add__(self, other: ArrayLike) -> Tensor:
        return self._binary("add", other)

    def __radd__(self, other: ArrayLike) -> Tensor:
        return self._binary("add", other, reverse=True)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return self._binary("sub", other)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return self._binary("sub", other, reverse=True)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return self._binary("mul", other)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return self._binary("mul", other, reverse=True)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return self._binary("div", other)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return self._binary("div", other, reverse=True)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return self._binary("matmul", other)

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return self._binary("matmul", other, reverse=True)

    def __neg__(self) -> Tensor:
        return self._unary("neg")

    def __pow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:
            raise TypeError("Tensor ** exponent needs a Python number as the exponent")
        return self._unary("pow", exponent=float(exponent))

    def exp(self) -> Tensor:
        return self._unary("exp")

    def log(self) -> Tensor:
        return self._unary("log")

    def sigmoid(self) -> Tensor:
        return self._unary("sigmoid")

    def tanh(self) -> Tensor:
        return self._unary("tanh")

    def relu(self) -> Tensor:
        return self._unary("relu")

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return self._unary("sum", axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return self._unary("mean", axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return self._unary("max", axis=axis, keepdims=keepdims)

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        target = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        return self._unary("reshape", shape=tuple(target))

    def transpose(self, axes: tuple[int, ...] | None = None) -> Tensor:
        return self._unary("transpose", axes=axes)


def apply(op: Op, *inputs: Tensor, **attrs: Any) -> Tensor:
    """Run ``op`` forward on tensors and record its node when gradients are needed.

    The node is recorded when an input the op differentiates needs a gradient, or,
    for an op whose registry entry says ``always_record``, whenever recording is on.
    """
    # Written out for one and two inputs: a comprehension is a call of its own.
    count = len(inputs)
    if count == 2:
        arrays: tuple[np.ndarray, ...] = (inputs[0].data, inputs[1].data)
    elif count == 1:
        arrays = (inputs[0].data,)
    else:
        arrays = tuple([t.data for t in inputs])
    if op.saves:
        result, saved = op.forward(*arrays, **attrs)
    else:
        result, saved = op.forward(*arrays, **attrs), None
    if type(result) is not np.ndarray:  # NumPy reductions return scalars
        result = np.asarray(result)
    # Tensor._from_op(result), without the call: this runs for every op of every step.
    out = _new_tensor(Tensor)
    out.data = result
    out.grad = None
    out.name = None
    out._retains_grad = False
    if _GradMode.enabled:
        for position in op.differentiated:
            if inputs[position].requires_grad:
                out.requires_grad = True
                out._node = Node(op, inputs, arrays, attrs, saved)
                return out
        out.requires_grad = False
        out._node = Node(op, inputs, arrays, attrs, saved) if op.always_record else None
        return out
    out.requires_grad = False
    out._node = None
    return out


def tensor(
    data: ArrayLike, requires_grad: bool = False, name: str | None = None, dtype: Any = None
) -> Tensor:
    """Make a :class:`Tensor` (PyTorch's ``torch.tensor``).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4.], dtype=float32)
    """
    return Tensor(data, requires_grad=requires_grad, name=name, dtype=dtype)
