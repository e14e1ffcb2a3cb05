"""The gates view: every op of the step as a gate with inputs, output and gradients.

Backpropagation is local: each gate only needs its own inputs and output (from
the forward pass) and the gradient arriving at its output (upstream). It
multiplies that by its local derivative and passes the result to its inputs
(downstream). A gradient-descent step then moves each input against its
gradient: up where the gradient is negative, down where it is positive.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.derive import Derivation, Stage
from chainrule.explain.document import Block, Heading, Math, Para
from chainrule.explain.fmt import tex_name
from chainrule.explain.notation import forward_math
from chainrule.explain.runs import Elider
from chainrule.explain.trace import Trace


def _push(grad: np.ndarray) -> str:
    down, up = int((grad > 0).sum()), int((grad < 0).sum())
    parts = []
    if up:
        parts.append(f"up in {up}")
    if down:
        parts.append(f"down in {down}")
    if not parts:
        return "nowhere (gradient 0)"
    return " and ".join(parts) + f" of {grad.size} " + ("entry" if grad.size == 1 else "entries")


def gate_blocks(trace: Trace, derivation: Derivation, digits: int) -> list[Block]:
    """One paragraph per op, in the order the backward pass visits them."""
    loss = trace.loss.name
    groups: dict[int, list[Stage]] = {}
    for stage in derivation.stages:
        groups.setdefault(id(stage.out.tensor), []).append(stage)
    blocks: list[Block] = [
        Heading(2, "Gates"),
        Para(
            [
                "Each op is a gate: it knows only its inputs, its output and the gradient "
                "arriving from above (upstream). It multiplies that by its local derivative and "
                "sends the result to its inputs (downstream). Each input is pushed against its "
                "gradient: up where the gradient is negative, down where it is positive, since "
                "that lowers the loss."
            ]
        ),
    ]
    elider = Elider(trace, "their gates working")
    for stages in groups.values():
        out = stages[0].out
        skip, note = elider.skip(out.layer)
        blocks += note
        if skip:
            continue
        op = stages[0].op
        node = out.tensor.node
        assert node is not None
        if out is trace.loss:
            args = ", ".join(trace.of(t).name for t in node.inputs)
            tex_args = ", ".join(tex_name(trace.of(t).name) for t in node.inputs)
            op_tex = op.name.replace("_", "\\_")
            formula = Math(
                f"{loss} = {op.name}({args})",
                f"{tex_name(loss)} = \\operatorname{{{op_tex}}}({tex_args})",
            )
            does = "starts backpropagation: its upstream gradient is dE/dE = 1"
        else:
            formula = forward_math(out, trace)
            does = op.gate or "applies its local derivative from the op registry"
        # The values and gradients are in the sections above; a gate adds what it does
        # to the gradient and which way the step moves each input.
        pushes = "; ".join(f"{stage.wrt.name} {_push(stage.result)}" for stage in stages)
        blocks += [
            Heading(3, f"{op.name} gate: {formula.text}"),
            Para([f"It {does}. It pushes {pushes}."]),
        ]
    return blocks
