"""The op registry: every differentiable primitive, declared once.

Each :class:`Op` holds the forward function, one vector-Jacobian product (VJP)
per input, a human-readable local derivative per input and a sampler of valid
inputs. The backward pass (:mod:`chainrule.autograd`), the gradient check
(:mod:`chainrule.check`) and the explanations all read this one table, so what a
learner reads is what the code computes.

VJP signature::

    vjp(grad_out, out, *inputs, **attrs) -> grad_in

``inputs`` are the NumPy arrays the op was called with, ``out`` its result and
``attrs`` its keyword attributes (e.g. ``axis``), plus whatever the forward
function saved (see ``Op.saves``). The engine sums the returned gradient back to
the input's shape, so a VJP may return a broadcast-shaped array.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray
VJP = Callable[..., Array]
Sampler = Callable[[np.random.Generator, tuple[int, int]], "Sample"]


@dataclass(frozen=True)
class Formula:
    """A local derivative ``d out / d input`` written for people.

    ``text`` and ``latex`` are templates: ``{out}`` and the input names (e.g.
    ``{x}``) are replaced by the names a caller gives those values, so the same
    formula reads ``O * (1 - O)`` for an output layer and ``h1 * (1 - h1)`` for a
    hidden one.
    """

    text: str
    latex: str

    def render(self, names: dict[str, str], *, latex: bool = False) -> str:
        """Substitute ``names`` into the template."""
        template = self.latex if latex else self.text
        return template.format(**names)


@dataclass(frozen=True)
class Sample:
    """Valid inputs for an op: arrays (one per input) and keyword attributes."""

    inputs: tuple[Array, ...]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Op:
    """One differentiable primitive.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"sigmoid"``.
    arg_names : tuple of str
        Name of each input as it appears in ``formulas`` (``"x"``, ``"W"``...).
    forward : callable
        ``forward(*inputs, **attrs) -> out``, or ``(out, saved)`` when ``saves``.
    vjps : tuple
        One VJP per input; ``None`` for an input that has no gradient (labels).
    formulas : tuple of Formula
        One local derivative per input (``None`` where ``vjps`` is ``None``).
    sample : callable
        ``sample(rng, (batch, width)) -> Sample`` drawing valid float64 inputs
        whose sizes follow the hint, for the generic tests.
    elementwise : bool
        True when the output has the input's shape and each output element
        depends only on the matching input element; the local derivative is
        then an array of the input's shape, ``vjp(ones, ...)``.
    saves : bool
        True when ``forward`` returns ``(out, saved)``; the dict ``saved`` is
        passed to every VJP as extra keyword arguments.
    description : str
        One line for people: what the op computes.
    formula_names : callable, optional
        ``formula_names(**attrs) -> dict`` of extra template names that depend
        on the op's attributes (the slope of a leaky ReLU, a loss's constant).
    joint_vjp : callable, optional
        ``joint_vjp(grad_out, out, *inputs, needs=(bool, ...), **attrs)`` giving
        the gradients of all the inputs flagged in ``needs`` (None for the others)
        in one call, for ops whose gradients share work. Its ``vjps`` are then
        made from it with :func:`vjps_from_joint`, so the two cannot disagree;
        the backward pass calls it once instead of each VJP. Every array it
        returns must be new (not ``grad_out``, an input or a view of one) and of
        its input's shape: a leaf keeps it as its ``.grad`` as it is.
    always_record : bool
        Record the node even when no input needs a gradient (outside
        ``no_grad()``), so a loss that takes probabilities can look through this
        op's result to the logits before it, for stability (the softmax, the
        sigmoid and the fused layers that may end in one).
    role : str
        ``"activation"`` for an activation function (a layer of its own in a
        network, whose input is a layer's Z); empty for other ops. The
        explanations name an activation's result ``h1``, ``O``...; an activation
        that is :attr:`fusable` may run inside the fused layer ops.
    notation : Formula, optional
        How the op's result is written in the forward pass (``"tanh({x})"``,
        ``"\\tanh({x})"``), over the ``arg_names``. Without it the explanation
        writes ``name(x)``.
    gate : str
        What the op does to the gradient when seen as a gate ("routes: ..."),
        for the explanation's gates view; empty for a generic sentence.
    stages : tuple of str
        For a fused loss, the registered ops it computes one after the other
        (``("softmax", "cross_entropy_probs")``): the activation it absorbs, then
        the loss on that activation's output. The explanation expands it into them.
    intuition : str
        One sentence for a learner: why the op's gradient is what it is ("the
        sigmoid's slope is largest at 0.5 and vanishes at 0 and 1, so saturated
        units pass almost no gradient back"). The explanation shows it beside the
        op's first stage; every registered op has one.
    forward_in_place : callable, optional
        For an activation whose VJP needs only its output: ``forward_in_place(x, **attrs)``
        writes the result over ``x`` and returns it, bit for bit ``forward(x)``, and
        ``vjps[0](grad_out, out, out)`` equals ``vjps[0](grad_out, out, x)`` bit for bit.
        The fused layer ops then compute the activation over Z and keep one array per
        layer instead of two.
    vjp_in_place : callable, optional
        With ``forward_in_place``: ``vjp_in_place(grad_out, out, **attrs)`` writes the
        gradient over ``grad_out`` (an array the caller made and owns) and returns it, bit
        for bit ``vjps[0](grad_out, out, x)``. The fused layer ops use it between layers.
    """

    name: str
    arg_names: tuple[str, ...]
    forward: Callable[..., Any]
    vjps: tuple[VJP | None, ...]
    formulas: tuple[Formula | None, ...]
    sample: Sampler
    elementwise: bool = False
    saves: bool = False
    description: str = ""
    formula_names: Callable[..., dict[str, str]] | None = None
    joint_vjp: Callable[..., tuple[Array | None, ...]] | None = None
    always_record: bool = False
    role: str = ""
    notation: Formula | None = None
    gate: str = ""
    stages: tuple[str, ...] = ()
    intuition: str = ""
    forward_in_place: Callable[..., Array] | None = None
    vjp_in_place: Callable[..., Array] | None = None

    def __post_init__(self) -> None:
        n = len(self.arg_names)
        if self.joint_vjp is not None and not all(v is not None for v in self.vjps):
            raise ValueError(f"op {self.name!r}: a joint VJP must differentiate every input")
        if self.vjp_in_place is not None and self.forward_in_place is None:
            raise ValueError(
                f"op {self.name!r}: vjp_in_place computes from the output alone, which "
                "forward_in_place promises; declare both"
            )
        if self.forward_in_place is not None and not (self.elementwise and n == 1):
            raise ValueError(
                f"op {self.name!r}: only an elementwise op of one input can be computed in place"
            )
        if len(self.vjps) != n or len(self.formulas) != n:
            raise ValueError(
                f"op {self.name!r}: {n} inputs need {n} vjps and {n} formulas, "
                f"got {len(self.vjps)} and {len(self.formulas)}"
            )

    @functools.cached_property
    def fusable(self) -> bool:
        """Whether the fused layer ops (``dense``, ``dense_stackN``) may run this op."""
        return self.not_fusable_because() is None

    def not_fusable_because(self) -> str | None:
        """Why the fused layer ops cannot run this op, or None when they can.

        The fused ops keep only each layer's Z and output for the backward pass and call
        ``forward(z, **attrs)`` and ``vjps[0](grad, out, z, **attrs)``: the op must be an
        activation, elementwise, of one input, and save nothing in its forward pass.
        """
        if self.role != "activation":
            return "it is not an activation (role='activation')"
        if len(self.arg_names) != 1:
            return f"it takes {len(self.arg_names)} inputs, not one"
        if not self.elementwise:
            return "it is not elementwise"
        if self.saves:
            return "its forward saves values (saves=True), which the fused ops do not keep"
        return None

    @functools.cached_property
    def differentiable(self) -> tuple[bool, ...]:
        """Which inputs carry a gradient."""
        return tuple(v is not None for v in self.vjps)

    @functools.cached_property
    def differentiated(self) -> tuple[int, ...]:
        """The positions of the inputs that carry a gradient."""
        return tuple(i for i, v in enumerate(self.vjps) if v is not None)


def vjps_from_joint(joint: Callable[..., tuple[Array | None, ...]], count: int) -> tuple[VJP, ...]:
    """One VJP per input, each asking ``joint`` for that input's gradient alone."""

    def single(position: int) -> VJP:
        needs = tuple(i == position for i in range(count))

        def vjp(grad_out: Array, out: Array, *inputs: Array, **attrs: Any) -> Array:
            grad_in = joint(grad_out, out, *inputs, needs=needs, **attrs)[position]
            assert grad_in is not None
            return grad_in

        return vjp

    return tuple(single(i) for i in range(count))


REGISTRY: dict[str, Op] = {}


def register(op: Op) -> Op:
    """Add ``op`` to the registry; a name can be registered only once."""
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name!r} is already registered")
    REGISTRY[op.name] = op
    return op


def get_op(name: str) -> Op:
    """Look an op up by name."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown op {name!r}; registered ops: {known}") from None
