"""The brief explanation: the numbers of the step without the derivations.

Forward values, the loss, the error signal of each layer, every parameter's
gradient in matrix form with its shapes, the update and what to notice: what a
reader who knows backpropagation wants to check, in a page or two. The full
explanation (:func:`chainrule.explain.explanation.build`) derives each of them.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.derive import Derivation
from chainrule.explain.document import Block, Heading, MatEq, Math, Para
from chainrule.explain.fmt import num, tex_name
from chainrule.explain.lossform import loss_blocks
from chainrule.explain.matrix_view import matrix_rows
from chainrule.explain.notation import forward_math
from chainrule.explain.runs import Elider
from chainrule.explain.trace import Trace, Value


def _label(math: Math, gap: bool) -> Math:
    """``Z1 = X @ Wih + bih =`` before its matrix; ``gap`` leaves room after a matrix."""
    if not gap:
        return math + Math(" =", " =")
    return Math("  " + math.text + " =", "\\qquad " + math.latex + " =")


def _name(name: str) -> Math:
    return Math(name, tex_name(name))


def forward_brief(trace: Trace) -> list[Block]:
    """Data, parameters and every forward value, a layer's values on one line."""
    x, y = trace.input, trace.target
    blocks: list[Block] = [
        Heading(2, "Forward pass"),
        MatEq(
            [_label(_name(x.name), False), x.data, _label(_name(y.name), True), trace.target_rows]
        ),
    ]
    groups: dict[tuple[str, int | None], list[Value]] = {}
    for v in trace.parameters():
        groups.setdefault(("parameters", v.layer), []).append(v)
    for v in trace.values:
        if v.tensor.node is not None and v is not trace.loss:
            groups.setdefault(("values", v.layer if v.layer is not None else id(v)), []).append(v)
    elider = {
        "parameters": Elider(trace, "their parameters of the same shapes"),
        "values": Elider(trace, "computed"),
    }
    for (what, _), values in groups.items():
        skip, note = elider[what].skip(values[0].layer)
        blocks += note
        if skip:
            continue
        terms: list[Math | np.ndarray] = []
        for k, v in enumerate(values):
            label = _name(v.name) if what == "parameters" else forward_math(v, trace)
            terms += [_label(label, k > 0), v.data]
        blocks.append(MatEq(terms))
    return blocks


def backward_brief(trace: Trace, derivation: Derivation, digits: int) -> list[Block]:
    """Each layer's error signal, and each parameter's gradient with shapes beside its new value."""
    lr = num(trace.lr, 6)
    blocks: list[Block] = [
        Heading(2, "Backward pass and update"),
        Para([f"Gradients in matrix form with shapes; beside each, W_new = W - {lr} * dE/dW."]),
    ]
    elider = Elider(trace, "their gradients computed")
    for left, right, shapes, value in matrix_rows(trace, derivation):
        skip, note = elider.skip(value.layer)
        blocks += note
        if skip:
            continue
        shapes_tex = shapes.replace("->", "\\to").replace("@", "\\times")
        shapes_tex = shapes_tex.replace(" summed", "\\text{ summed}")
        formula = left + Math(" = ", " = ") + right
        formula += Math(f"  [{shapes}] =", f"\\quad [{shapes_tex}] =")
        key = value.param_key
        if key is not None and key in trace.gradients and key in trace.updated:
            new = Math(
                f"  {value.name}_new =",
                f"\\qquad {tex_name(value.name)}^{{\\text{{new}}}} =",
            )
            blocks.append(MatEq([formula, trace.gradients[key], new, trace.updated[key]]))
            continue
        if value.grad is not None:
            blocks.append(MatEq([formula, value.grad]))
    before, after = float(trace.loss.data.reshape(())), trace.loss_after
    blocks.append(
        Para(
            [
                f"With the updated parameters the loss is {num(after, digits)} (before the step "
                f"{num(before, digits)})."
            ]
        )
    )
    return blocks


def brief_blocks(trace: Trace, derivation: Derivation, digits: int) -> list[Block]:
    """Forward, loss, backward and update sections of the brief explanation."""
    return [
        *forward_brief(trace),
        Heading(2, "Loss"),
        *loss_blocks(trace, derivation.fused is not None, digits),
        *backward_brief(trace, derivation, digits),
    ]
