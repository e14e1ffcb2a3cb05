"""Write an explanation as blocks: overview, forward pass, loss, backward pass, update.

Every number placed in a block comes from the traced step's arrays or from the
replayed backward pass (:mod:`chainrule.explain.derive`), formatted with
:func:`~chainrule.explain.fmt.num`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from chainrule.explain.compose_backward import backward_blocks
from chainrule.explain.document import Block, Heading, Inline, MatEq, Math, Para, Picture, Table
from chainrule.explain.fmt import num, shape_str, tex_name
from chainrule.explain.gates import gate_blocks
from chainrule.explain.lossform import loss_blocks
from chainrule.explain.matrix_view import matrix_view_blocks
from chainrule.explain.notation import forward_math, name_math
from chainrule.explain.scalar import scalar_blocks
from chainrule.explain.trace import Trace, Value
from chainrule.nn.module import Module
from chainrule.nn.sequential import Sequential

if TYPE_CHECKING:
    from chainrule.explain.explanation import Explanation


def _shapes(value: Value, trace: Trace) -> str:
    node = value.tensor.node
    assert node is not None
    shapes = [shape_str(t.shape) for t in node.inputs]
    if node.op.name == "linear":
        text = f"{shapes[0]} @ {shapes[1]} + {shapes[2]} -> {shape_str(value.data.shape)}"
        bias = node.inputs[2]
        if bias.size == 1:
            text += f"; the one shared bias {trace.of(bias).name} is added to every entry"
        else:
            text += f"; {trace.of(bias).name} is added to every row"
        return text
    if node.op.name == "matmul":
        return f"{shapes[0]} @ {shapes[1]} -> {shape_str(value.data.shape)}"
    if node.op.elementwise:
        shape = shape_str(value.data.shape)
        return f"{shape} -> {shape}, applied to each entry on its own"
    return f"{' and '.join(shapes)} -> {shape_str(value.data.shape)}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _architecture(model: Module) -> str:
    if isinstance(model, Sequential):
        return " -> ".join(repr(layer).replace("()", "") for layer in model)
    return repr(model).splitlines()[0]


def overview_blocks(expl: Explanation) -> list[Block]:
    trace = expl.trace
    x, y = trace.input, trace.target
    samples, features = x.data.shape
    lines = [
        f"Network: {_architecture(expl.model)}",
        f"Loss: {expl.loss_fn!r}",
        f"Data: {x.name} {shape_str(x.data.shape)}, {_count(samples, 'sample')} of "
        f"{_count(features, 'feature')}; {y.name} {shape_str(y.data.shape)}"
        + (" (class labels)" if trace.target_rows.shape != y.data.shape else ""),
        f"Step: one step of gradient descent with learning rate lr = {num(trace.lr, 6)}, "
        f"computed in {x.data.dtype}",
    ]
    blocks: list[Block] = [Heading(1, expl.title)]
    if expl.description:
        blocks.append(Para([expl.description]))
    blocks += [Para([line]) for line in lines]
    rows: list[list[Inline]] = []
    for v in trace.values:
        if v.kind in ("constant",):
            continue
        rows.append([name_math(v.name), v.role, shape_str(v.data.shape), v.param_key or ""])
    blocks += [Heading(3, "Names"), Table(["name", "what", "shape", "parameter"], rows)]
    return blocks


def _label(name: str, gap: str = "") -> Math:
    """``W =`` before a matrix; ``gap`` separates it from a matrix on its left."""
    space = "\\qquad " if gap else ""
    return Math(f"{gap}{name} =", f"{space}{tex_name(name)} =")


def forward_blocks(trace: Trace, digits: int) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Forward pass")]
    x, y = trace.input, trace.target
    blocks.append(MatEq([_label(x.name), x.data, _label(y.name, "  "), trace.target_rows]))
    if trace.target_rows.shape != y.data.shape:
        labels = ", ".join(num(v, digits) for v in y.data.reshape(-1)[:8])
        blocks.append(Para([f"({y.name} holds the class labels [{labels}] as one-hot rows.)"]))
    blocks.append(Para(["The parameters before the step, layer by layer:"]))
    layers: dict[int | None, list[Value]] = {}
    for v in trace.parameters():
        layers.setdefault(v.layer, []).append(v)
    for group in layers.values():
        terms: list[Math | np.ndarray] = []
        for k, v in enumerate(group):
            terms += [_label(v.name, "  " if k else ""), v.data]
        blocks.append(MatEq(terms))
    blocks.append(Para(["Each layer computes Z = (its input) @ W + b, then its activation:"]))
    for v in trace.values:
        if v.tensor.node is None or v is trace.loss:
            continue
        formula = forward_math(v, trace)
        blocks.append(MatEq([formula + Math(" =", " ="), v.data]))
        blocks.append(Para([f"Shapes: {_shapes(v, trace)}."]))
    return blocks


def update_blocks(trace: Trace, digits: int) -> list[Block]:
    lr = num(trace.lr, 6)
    blocks: list[Block] = [
        Heading(2, "Update"),
        Para([f"Gradient descent moves every parameter a step of lr = {lr} against its gradient:"]),
    ]
    for v in trace.parameters():
        key = v.param_key
        if key is None or key not in trace.gradients:
            continue
        name, tex = v.name, tex_name(v.name)
        lhs = Math(
            f"{name}_new = {name} - lr * d{trace.loss.name}/d{name} =",
            f"{tex}^{{\\text{{new}}}} = {tex} - \\eta\\,\\frac{{\\partial E}}{{\\partial {tex}}} =",
        )
        blocks.append(
            MatEq(
                [
                    lhs,
                    v.data,
                    Math(f"- {lr} *", f"- {lr} \\,\\cdot"),
                    trace.gradients[key],
                    Math("=", "="),
                    trace.updated[key],
                ]
            )
        )
    before, after = float(trace.loss.data.reshape(())), trace.loss_after
    change = "lower" if after < before else "not lower"
    blocks.append(
        Para(
            [
                f"With the updated parameters the loss on the same data is {num(after, digits)} "
                f"(it was {num(before, digits)}): {change}."
            ]
        )
    )
    return blocks


def training_blocks(expl: Explanation, digits: int) -> list[Block]:
    log = expl.training
    if log is None:
        return []
    epochs, losses = log.epochs, log.losses
    shown = sorted({0, *range(0, len(epochs), max(1, len(epochs) // 10)), len(epochs) - 1})
    rows: list[list[Inline]] = [[str(epochs[i]), num(losses[i], digits)] for i in shown]
    first, last = losses[0], losses[-1]
    return [
        Heading(2, "Training over epochs"),
        Para(
            [
                f"Repeating the step {epochs[-1]} times (learning rate {num(log.lr, 6)}, all "
                f"samples each epoch), the loss goes from {num(first, digits)} to "
                f"{num(last, digits)}:"
            ]
        ),
        Table(["epochs done", "loss E"], rows, [True, True]),
    ]


def build(expl: Explanation, digits: int, *, picture: bool) -> list[Block]:
    """All blocks of ``expl`` in reading order."""
    trace, derivation = expl.trace, expl.derivation
    blocks = overview_blocks(expl)
    blocks += forward_blocks(trace, digits)
    blocks.append(Heading(2, "Loss"))
    blocks += loss_blocks(trace, derivation.fused is not None, digits)
    blocks += backward_blocks(trace, derivation)
    blocks += matrix_view_blocks(trace, derivation)
    blocks += scalar_blocks(trace, derivation, expl.scalar_weights, digits)
    blocks += update_blocks(trace, digits)
    blocks += gate_blocks(trace, derivation, digits)
    if picture:
        blocks += [
            Heading(2, "Computation graph"),
            Picture(
                expl.graph_svg(),
                "Each box is a value of the step with its forward value and, in "
                "red, its gradient dE/d(value) (ranges for arrays). The blue pills are the ops; "
                "parameters are orange, the output green, the loss red.",
            ),
        ]
    blocks += training_blocks(expl, digits)
    return blocks
