"""The engine: walk the recorded ops backwards.

Every op result made while gradients are enabled remembers a :class:`Node`: the
registered :class:`~chainrule.ops.registry.Op`, its input tensors and attributes
(:func:`chainrule.tensor.apply` records it). :func:`backward` visits those nodes
from the output back (a chain as it stands, any other graph sorted by creation
order, iteratively, so graphs of any depth work) and applies each op's
vector-Jacobian products from the registry.

The engine never makes a tensor and knows no op by name: of a tensor it reads and
writes only ``data``, ``grad``, ``requires_grad``, ``_node`` and ``_retains_grad``,
and of an op only its registry entry. So the dependency runs one way, from
:mod:`chainrule.tensor` down to here.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from chainrule.ops.constants import ONES, filled

if TYPE_CHECKING:
    from chainrule.ops.registry import Op
    from chainrule.tensor import Tensor

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """Whether new ops are being recorded for backpropagation."""
    return _GradMode.enabled


@contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    previous = _GradMode.enabled
    _GradMode.enabled = enabled
    try:
        yield
    finally:
        _GradMode.enabled = previous


class no_grad:  # noqa: N801  (PyTorch's name)
    """Context manager and decorator that stops recording ops.

    Use it for inference and for parameter updates::

        with chainrule.no_grad():
            prediction = model(X)
    """

    _mode = False

    def __enter__(self) -> None:
        self._previous = _GradMode.enabled
        _GradMode.enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self._previous

    def __call__(self, func: F) -> F:
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _grad_mode(mode):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class enable_grad(no_grad):  # noqa: N801
    """Context manager and decorator that turns recording back on inside :class:`no_grad`."""

    _mode = True


class Node:
    """How a tensor was made: the op, its input tensors, the input arrays as they
    were in the forward pass, and the keyword arguments its VJPs receive (the op's
    attributes plus what its forward function saved).

    ``seq`` numbers nodes in creation order; since an op runs after its inputs
    exist, that order is a topological order of the graph.
    """

    __slots__ = ("op", "inputs", "arrays", "attrs", "saved", "kwargs", "seq", "released")

    def __init__(
        self,
        op: Op,
        inputs: tuple[Tensor, ...],
        arrays: tuple[np.ndarray, ...],
        attrs: dict[str, Any],
        saved: dict[str, Any] | None,
    ) -> None:
        self.op = op
        self.inputs = inputs
        self.arrays = arrays
        self.attrs = attrs
        if saved:
            self.saved = saved
            self.kwargs = {**attrs, **saved}
        else:
            self.saved = {}
            self.kwargs = attrs
        self.seq = next(_counter)
        self.released = False

    def release(self) -> None:
        """Drop the inputs and saved arrays (backward() without retain_graph does this),
        so the memory of intermediate results can be reused at once."""
        self.inputs = ()
        self.arrays = ()
        self.saved = {}
        self.kwargs = {}
        self.released = True

    def __repr__(self) -> str:
        return f"Node({self.op.name})"


_counter = itertools.count()


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes broadcasting added, so it has ``shape``.

    Broadcasting copies a value to many places in the forward pass; each copy
    receives its own gradient, and the value's gradient is their sum.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _sorted_order(starts: list[Tensor]) -> list[Tensor]:
    """The op results ``starts`` depend on through tensors that need gradients,
    ``starts`` included, in the reverse of the order they were computed: an
    iterative walk (graphs of any depth work) and a sort by creation number, which
    is a topological order. Every node is checked before backward() goes on."""
    found = []
    seen = set()
    stack = []
    for tensor in starts:
        if id(tensor) not in seen:
            seen.add(id(tensor))
            found.append(tensor)
            stack.append(tensor)
    while stack:
        for parent in _live_node(stack.pop()).inputs:
            if parent._node is not None and parent.requires_grad and id(parent) not in seen:
                seen.add(id(parent))
                found.append(parent)
                stack.append(parent)
    found.sort(key=_creation_number, reverse=True)
    return found


def _live_node(tensor: Tensor) -> Node:
    node = tensor._node
    assert node is not None
    if node.released:
        raise ValueError(
            f"backward() through the result of {node.op.name} a second time: the first "
            "backward() freed its saved values; call backward(retain_graph=True) the first "
            "time to backpropagate through the same graph again"
        )
    return node


def _creation_number(tensor: Tensor) -> int:
    return tensor._node.seq  # type: ignore[union-attr]


def _accumulate(tensor: Tensor, grad: np.ndarray) -> None:
    """Add ``grad`` into ``tensor.grad`` (a copy of it the first time, since the array
    may be held elsewhere)."""
    if tensor.grad is None:
        tensor.grad = np.array(grad, dtype=tensor.data.dtype)
    else:
        tensor.grad += grad


def backward(
    root: Tensor, grad_out: np.ndarray | None = None, retain_graph: bool = False
) -> None:
    """Backpropagate from ``root``: fill ``.grad`` of every leaf that needs one.

    Leaves (tensors made by the user, such as parameters) accumulate into
    ``.grad`` until zeroed, as in PyTorch; intermediate results keep their
    gradient only after :meth:`Tensor.retain_grad`. As in PyTorch, the graph's
    saved values are freed as the pass goes, unless ``retain_graph`` is True.
    """
    if not root.requires_grad:
        raise ValueError(
            "backward() called on a tensor that does not require grad: no input of the "
            "computation had requires_grad=True (or it ran under no_grad())"
        )
    data = root.data
    if grad_out is None:
        if data.size != 1:
            raise ValueError(
                f"backward() without a gradient needs a single-element output, got shape "
                f"{data.shape}; pass grad_out with that shape or reduce the output first"
            )
        # A read-only one: VJPs make new arrays from the gradient they get, and whatever
        # keeps it (a leaf root, a retained gradient) copies it first.
        grad_out = ONES[data.dtype] if data.ndim == 0 else filled(1.0, data.shape, data.dtype)
    else:
        grad_out = np.asarray(grad_out, dtype=data.dtype)
        if grad_out.shape != data.shape:
            raise ValueError(
                f"backward(): grad_out has shape {grad_out.shape}, expected {data.shape}"
            )
    if root._node is None:
        _accumulate(root, grad_out)
        return

    # The usual graph is a chain: each result made from at most one other result that
    # needs a gradient. It is walked from the root with no sort and no table of
    # gradients (every consumer of the next result is behind the walk, so its gradient
    # is complete). At the first result with two or more, the rest of the graph is
    # sorted by creation number and walked in that order.
    tensor, grad = root, grad_out
    while True:
        found = _propagate(tensor, grad, retain_graph)
        if len(found) != 2:
            break
        tensor, grad = found
    if not found:
        return
    grads: dict[int, np.ndarray] = {}
    _gather(grads, found)
    for tensor in _sorted_order(found[::2]):
        pending = grads.pop(id(tensor), None)
        if pending is not None:
            _gather(grads, _propagate(tensor, pending, retain_graph))


def _gather(grads: dict[int, np.ndarray], found: list[Any]) -> None:
    """Add each (result, gradient) pair of ``found`` (flat) into ``grads``, by the result's id."""
    for i in range(0, len(found), 2):
        key = id(found[i])
        previous = grads.get(key)
        grads[key] = found[i + 1] if previous is None else previous + found[i + 1]


def _propagate(tensor: Tensor, grad: np.ndarray, retain_graph: bool) -> list[Any]:
    """Apply the VJPs of the node that made ``tensor`` to ``grad`` (dE/d tensor): add
    the gradients of leaves into their ``.grad`` and return those of the op results
    among the inputs, flat as ``[result, gradient, result, gradient, ...]``."""
    node = tensor._node
    assert node is not None
    if node.released:
        _live_node(tensor)  # raises, saying why
    if tensor._retains_grad:
        _accumulate(tensor, grad)
    op, inputs, arrays, kwargs = node.op, node.inputs, node.arrays, node.kwargs
    results: Any
    joint = op.joint_vjp
    if joint is not None:  # new arrays of the inputs' shapes (the Op contract)
        if len(inputs) == 2:  # written out: a comprehension is a call of its own
            needs: tuple[bool, ...] = (inputs[0].requires_grad, inputs[1].requires_grad)
        else:
            needs = tuple([p.requires_grad for p in inputs])
        results = joint(grad, tensor.data, *arrays, needs=needs, **kwargs)
    else:
        results = [
            vjp(grad, tensor.data, *arrays, **kwargs)
            if vjp is not None and parent.requires_grad
            else None
            for parent, vjp in zip(inputs, op.vjps)
        ]
    if not retain_graph:
        node.release()
    found: list[Any] = []
    for parent, grad_in in zip(inputs, results):
        if grad_in is None:
            continue
        if joint is None and grad_in.shape != parent.data.shape:
            grad_in = unbroadcast(grad_in, parent.data.shape)
        if parent._node is not None:
            found += (parent, grad_in)
        elif parent.grad is None:
            # The leaf keeps the array as its .grad (and later adds into it) only if the
            # VJP made it: not the upstream gradient, an input, or a view.
            dtype = parent.data.dtype
            if (grad_in.dtype is not dtype and grad_in.dtype != dtype) or (
                joint is None and _shared(grad_in, grad, arrays)
            ):
                grad_in = np.array(grad_in, dtype=dtype)
            parent.grad = grad_in
        else:
            parent.grad += grad_in
    return found


def _shared(grad_in: np.ndarray, grad: np.ndarray, arrays: tuple[np.ndarray, ...]) -> bool:
    """Whether a VJP's result may be held elsewhere: the upstream gradient, an input, a view."""
    return grad_in is grad or grad_in.base is not None or any(grad_in is a for a in arrays)
