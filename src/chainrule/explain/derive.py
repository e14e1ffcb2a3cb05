"""Chain-rule derivations from a traced step, computed by the op registry.

:func:`derive` replays the backward pass op by op: each op's vector-Jacobian
products from the registry, fed the gradient its output received in the real
``backward()`` (kept by ``retain_grad``), give one :class:`Stage` per input. The
contributions are summed in the order ``backward()`` adds them, and the result
must equal every ``.grad`` the real ``backward()`` stored, bit for bit, or
:class:`ReplayMismatchError` is raised: every number an explanation shows is one
the backward pass computed.

Local derivatives are also read from the registry, never from a table of our own:
for an elementwise op it is ``vjp(ones, out, *inputs)``; for a layer ``X @ W + b``
the factors ``W^T`` and ``X^T`` are ``vjp(identity, ...)``; for a softmax the
Jacobian of each row is ``vjp(e_i, ...)`` for each unit vector ``e_i``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.autograd import unbroadcast
from chainrule.explain.chains import Chain, Junction, build_chains
from chainrule.explain.fmt import tex_name
from chainrule.explain.runs import Run
from chainrule.explain.trace import LAYER_OPS, Trace, Value
from chainrule.ops import get_op
from chainrule.ops.registry import Op

#: Binary ops that act element by element (with broadcasting).
POINTWISE_BINARY = frozenset({"add", "sub", "mul", "div"})
#: Largest class count for which a per-row Jacobian is shown in numbers.
MAX_JACOBIAN = 12


__all__ = ["Chain", "Derivation", "FusedLoss", "Junction", "Stage", "derive"]


class ReplayMismatchError(RuntimeError):
    """The replayed backward pass disagrees with ``backward()``: a bug in chainrule."""


@dataclass(eq=False)
class Stage:
    """One op's contribution to a gradient: ``dE/d(wrt)`` from ``dE/d(out)``.

    Attributes
    ----------
    out, wrt : Value
        The op's result and the input this stage differentiates with respect to.
    position : int
        Index of ``wrt`` among the op's inputs.
    kind : str
        How the upstream gradient combines with the local derivative:
        ``"loss"`` (the first stage, upstream 1), ``"pointwise"`` (elementwise
        product), ``"jacobian"`` (row times a Jacobian), ``"layer-input"``
        (``dE/dZ @ W^T``), ``"layer-weights"`` (``X^T @ dE/dZ``), ``"bias"``
        (a sum) or ``"other"``.
    formula_text, formula_latex : str
        The local derivative ``d(out)/d(wrt)`` from the registry, with names.
    upstream : ndarray
        ``dE/d(out)``, the gradient the backward pass fed to this op.
    local : ndarray or None
        The local derivative in numbers (see the module docstring); None when
        it is not a small array.
    result : ndarray
        ``unbroadcast(vjp(upstream, ...))``: this op's contribution to ``dE/d(wrt)``.
    parts : int
        How many ops read ``wrt``: above 1, ``result`` is only the contribution
        through ``out``, and ``dE/d(wrt)`` is the sum of ``parts`` of them.
    """

    out: Value
    wrt: Value
    position: int
    kind: str
    formula_text: str
    formula_latex: str
    upstream: np.ndarray
    local: np.ndarray | None
    result: np.ndarray
    parts: int = 1

    @property
    def op(self) -> Op:
        node = self.out.tensor.node
        assert node is not None
        return node.op

    @property
    def key(self) -> tuple[int, int]:
        return (id(self.out.tensor), self.position)

    @property
    def is_error_signal(self) -> bool:
        """True when ``wrt`` is a layer's pre-activation: its gradient is the layer's delta."""
        node = self.wrt.tensor.node
        return node is not None and node.op.name in LAYER_OPS and self.wrt.layer is not None


@dataclass(eq=False)
class FusedLoss:
    """A fused loss expanded into its textbook stages.

    For ``CrossEntropyLoss(from_probs=True)`` after a ``Softmax`` layer the
    backward pass uses the combined ``dE/dZ = (O - Y) / N``; the textbook
    route is ``dE/dO = -Y / (N O)`` times the softmax Jacobian ``dO/dZ``. Both
    are computed here by the registry's VJPs; ``combined`` is the one used.
    """

    probs: Value
    logits: Value
    activation: Op
    outer: Op
    outer_text: str
    outer_latex: str
    grad_probs: np.ndarray
    local_text: str
    local_latex: str
    local: np.ndarray
    textbook: np.ndarray
    combined_stage: Stage
    difference: float

    @property
    def jacobian(self) -> bool:
        """True when ``local`` holds one Jacobian matrix per row (softmax)."""
        return not self.activation.elementwise


@dataclass(eq=False)
class Derivation:
    """Every stage of the backward pass, the chains and the fused-loss expansion."""

    stages: list[Stage]
    chains: list[Chain]
    fused: FusedLoss | None
    totals: dict[int, np.ndarray]
    runs: list[Run] = field(default_factory=list)


def formula_names(
    out: Value, inputs: list[Value], op: Op, attrs: dict[str, Any], latex: bool
) -> dict[str, str]:
    """Template names for ``op``'s formulas: its inputs, ``out`` and attribute names."""
    show = tex_name if latex else (lambda name: name)
    names = {arg: show(v.name) for arg, v in zip(op.arg_names, inputs)}
    names["out"] = show(out.name)
    if op.formula_names is not None:
        names.update(op.formula_names(**attrs))
    return names


def _kind(op: Op, position: int, out: np.ndarray, wrt_shape: tuple[int, ...]) -> str:
    if out.size == 1 and op.name not in LAYER_OPS:
        return "loss"
    if op.elementwise or op.name in POINTWISE_BINARY:
        return "pointwise"
    if op.name in LAYER_OPS and out.ndim == 2:
        return ("layer-input", "layer-weights", "bias")[position]
    if op.role == "activation" and not op.elementwise and out.ndim == 2 and out.shape == wrt_shape:
        return "jacobian"
    return "other"


def _local(
    kind: str,
    op: Op,
    position: int,
    out: np.ndarray,
    arrays: list[np.ndarray],
    extra: dict[str, Any],
) -> np.ndarray | None:
    vjp = op.vjps[position]
    assert vjp is not None
    if kind in ("loss", "pointwise"):
        return np.asarray(vjp(np.ones_like(out), out, *arrays, **extra))
    if kind == "layer-input" and arrays[1].ndim == 2:
        return np.asarray(vjp(np.eye(out.shape[1], dtype=out.dtype), out, *arrays, **extra))
    if kind == "layer-weights" and arrays[0].ndim == 2:
        return np.asarray(vjp(np.eye(out.shape[0], dtype=out.dtype), out, *arrays, **extra))
    if kind == "jacobian" and out.shape[1] <= MAX_JACOBIAN:
        rows = []
        for i in range(out.shape[1]):
            unit = np.zeros_like(out)
            unit[:, i] = 1.0
            rows.append(vjp(unit, out, *arrays, **extra))
        return np.stack(rows, axis=1)  # [n, i, j] = d out[n, i] / d x[n, j]
    return None


def _creation_order(trace: Trace) -> list[Value]:
    """Op results in the order the forward pass created them."""
    results = [v for v in trace.values if v.tensor.node is not None]
    position = {id(v.tensor): i for i, v in enumerate(results)}
    return sorted(results, key=lambda v: getattr(v.tensor.node, "seq", position[id(v.tensor)]))


def _replay(trace: Trace) -> tuple[list[Stage], dict[int, np.ndarray]]:
    """Every op's contribution to its inputs' gradients, from the registry's VJPs.

    Each op is fed the gradient its output received in the real backward pass
    (kept by ``retain_grad``), exactly as ``backward()`` fed it. Contributions
    to a value used more than once are summed in the order ``backward()`` adds
    them: the op created last first. Returns the stages (in backward order) and
    the summed gradient of every value.
    """
    stages: list[Stage] = []
    contributions: dict[int, list[np.ndarray]] = {}
    totals: dict[int, np.ndarray] = {}
    for out_value in reversed(_creation_order(trace)):
        tensor, node = out_value.tensor, out_value.tensor.node
        assert node is not None
        grad = tensor.grad
        if grad is None:  # not on the path from the loss
            continue
        totals[id(tensor)] = grad
        inputs = [trace.of(t) for t in node.inputs]
        arrays = list(getattr(node, "arrays", None) or [t.data for t in node.inputs])
        extra = {**node.attrs, **node.saved}
        for i, parent in enumerate(node.inputs):
            vjp = node.op.vjps[i]
            if vjp is None or not parent.requires_grad or inputs[i] is trace.input:
                continue
            grad_in = unbroadcast(
                np.asarray(vjp(grad, tensor.data, *arrays, **extra)), parent.shape
            )
            formula = node.op.formulas[i]
            assert formula is not None
            kind = _kind(node.op, i, tensor.data, parent.shape)
            stages.append(
                Stage(
                    out=out_value,
                    wrt=inputs[i],
                    position=i,
                    kind=kind,
                    formula_text=formula.render(
                        formula_names(out_value, inputs, node.op, node.attrs, False)
                    ),
                    formula_latex=formula.render(
                        formula_names(out_value, inputs, node.op, node.attrs, True), latex=True
                    ),
                    upstream=grad,
                    local=_local(kind, node.op, i, tensor.data, arrays, extra),
                    result=grad_in,
                )
            )
            contributions.setdefault(id(parent), []).append(grad_in)
    for stage in stages:
        stage.parts = len(contributions[id(stage.wrt.tensor)])
    for key, parts in contributions.items():
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        if key not in totals:  # leaves; op results keep the gradient backward() gave them
            totals[key] = total
        elif not np.array_equal(np.asarray(total, dtype=totals[key].dtype), totals[key]):
            raise ReplayMismatchError(
                "explain: an op's gradient replayed from the registry differs from the one "
                "backward() computed; please report this as a bug in chainrule"
            )
    return stages, totals


def _check(trace: Trace, totals: dict[int, np.ndarray]) -> None:
    """The replayed parameter gradients must equal .grad from backward(), bit for bit."""
    for value in trace.parameters():
        key = value.param_key
        if key is None or key not in trace.gradients:
            continue
        replayed = totals.get(id(value.tensor))
        stored = trace.gradients[key]
        if replayed is None or not np.array_equal(np.asarray(replayed, dtype=stored.dtype), stored):
            raise ReplayMismatchError(
                f"explain: the replayed gradient of {value.name} differs from the .grad backward() "
                "computed; please report this as a bug in chainrule"
            )


def _fused(trace: Trace, stages: list[Stage]) -> FusedLoss | None:
    loss_node = trace.loss.tensor.node
    probs_node = trace.output.tensor.node
    if loss_node is None or probs_node is None or not loss_node.op.stages:
        return None
    activation_name, outer_name = loss_node.op.stages
    logits_tensor = loss_node.inputs[0]
    if probs_node.op.name != activation_name or probs_node.inputs[0] is not logits_tensor:
        return None
    combined = next(s for s in stages if s.out is trace.loss and s.position == 0)
    probs, logits = trace.output, trace.of(logits_tensor)
    activation, outer = get_op(activation_name), get_op(outer_name)
    target = loss_node.inputs[1].data
    attrs = dict(loss_node.attrs)
    outer_vjp, act_vjp = outer.vjps[0], activation.vjps[0]
    assert outer_vjp is not None and act_vjp is not None
    one = np.ones_like(trace.loss.data)
    grad_probs = outer_vjp(one, trace.loss.data, probs.data, target, **attrs)
    act_args = (probs.data, logits.data)
    act_attrs = {**probs_node.attrs, **probs_node.saved}
    kind = "pointwise" if activation.elementwise else "jacobian"
    local = _local(kind, activation, 0, probs.data, [logits.data], act_attrs)
    if local is None:
        return None
    textbook = act_vjp(grad_probs, *act_args, **act_attrs)
    outer_names = [probs, trace.target]
    formula_o, formula_a = outer.formulas[0], activation.formulas[0]
    assert formula_o is not None and formula_a is not None
    return FusedLoss(
        probs=probs,
        logits=logits,
        activation=activation,
        outer=outer,
        outer_text=formula_o.render(formula_names(trace.loss, outer_names, outer, attrs, False)),
        outer_latex=formula_o.render(
            formula_names(trace.loss, outer_names, outer, attrs, True), latex=True
        ),
        grad_probs=grad_probs,
        local_text=formula_a.render(
            formula_names(probs, [logits], activation, probs_node.attrs, False)
        ),
        local_latex=formula_a.render(
            formula_names(probs, [logits], activation, probs_node.attrs, True), latex=True
        ),
        local=local,
        textbook=textbook,
        combined_stage=combined,
        difference=float(np.max(np.abs(textbook - combined.result))),
    )


def derive(trace: Trace) -> Derivation:
    """Replay the backward pass of ``trace``, check it, and build the chains."""
    stages, totals = _replay(trace)
    _check(trace, totals)
    chains = build_chains(trace, stages, totals)
    return Derivation(stages, chains, _fused(trace, stages), totals, list(trace.runs))
