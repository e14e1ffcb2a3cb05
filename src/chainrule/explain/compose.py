"""Write the forward pass and the update of a traced step as blocks.

:meth:`Explanation.blocks <chainrule.explain.explanation.Explanation.blocks>` puts
these sections in reading order with the loss, backward, matrix, scalar and gate
sections. Every number placed in a block comes from the traced step's arrays,
formatted with :func:`~chainrule.explain.fmt.num`.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.document import Block, Heading, MatEq, Math, Para
from chainrule.explain.fmt import num, shape_str, shown_indices, tex_name, tex_num
from chainrule.explain.notation import forward_math
from chainrule.explain.runs import Elider
from chainrule.explain.trace import Trace, Value


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
            text += f"; {trace.of(bias).name}, one bias per output unit, is added to every row"
        return text
    if node.op.name == "matmul":
        return f"{shapes[0]} @ {shapes[1]} -> {shape_str(value.data.shape)}"
    if node.op.elementwise:
        shape = shape_str(value.data.shape)
        return f"{shape} -> {shape}, applied to each entry on its own"
    return f"{' and '.join(shapes)} -> {shape_str(value.data.shape)}"


def _label(name: str, gap: str = "") -> Math:
    """``W =`` before a matrix; ``gap`` separates it from a matrix on its left."""
    space = "\\qquad " if gap else ""
    return Math(f"{gap}{name} =", f"{space}{tex_name(name)} =")


def _labels_note(y: Value, rows: np.ndarray) -> str:
    """The class labels of exactly the rows the display of the one-hot ``rows`` shows."""
    labels = y.data.reshape(-1)
    shown = [r for r in shown_indices(rows)[0] if r is not None]
    if len(shown) == labels.size:
        listed = ", ".join(num(labels[r]) for r in shown)
        return f"({y.name} holds the class labels [{listed}] as one-hot rows.)"
    listed = ", ".join(f"row {r}: {num(labels[r])}" for r in shown)
    return f"({y.name} holds the class labels as one-hot rows; the rows shown have {listed}.)"


def forward_blocks(trace: Trace, digits: int) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Forward pass")]
    x, y = trace.input, trace.target
    blocks.append(MatEq([_label(x.name), x.data, _label(y.name, "  "), trace.target_rows]))
    if trace.target_rows.shape != y.data.shape:
        blocks.append(Para([_labels_note(y, trace.target_rows)]))
    blocks.append(Para(["The parameters before the step, layer by layer:"]))
    layers: dict[int | None, list[Value]] = {}
    for v in trace.parameters():
        layers.setdefault(v.layer, []).append(v)
    elider = Elider(trace, "their parameters of the same shapes")
    for layer, group in layers.items():
        skip, note = elider.skip(layer)
        blocks += note
        if skip:
            continue
        terms: list[Math | np.ndarray] = []
        for k, v in enumerate(group):
            terms += [_label(v.name, "  " if k else ""), v.data]
        blocks.append(MatEq(terms))
    rule = Math("Z = (its input) @ W + b", "Z = (\\text{its input})\\,W + b")
    blocks.append(Para(["Each layer computes ", rule, ", then its activation:"]))
    elider = Elider(trace, "computed")
    for v in trace.values:
        if v.tensor.node is None or v is trace.loss:
            continue
        skip, note = elider.skip(v.layer)
        blocks += note
        if skip:
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
    elider = Elider(trace, "updated")
    for v in trace.parameters():
        key = v.param_key
        if key is None or key not in trace.gradients:
            continue
        skip, note = elider.skip(v.layer)
        blocks += note
        if skip:
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
                    Math(f"- {lr} *", f"- {tex_num(trace.lr, 6)} \\,\\cdot"),
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
