"""The computation graph of a traced step as an SVG picture, written by hand.

Values (boxes) and ops (pills) are laid out top to bottom in the order the
forward pass computes them; each box shows the value's name, shape, role, forward
value and gradient ``dE/d(value)``, each on a line of its own so nothing is cut.
Every edge ends at its own point on the op it feeds, with its own arrowhead. No
external program is needed.
"""

from __future__ import annotations

import html

import numpy as np

from chainrule.explain.fmt import num, shape_str, summary
from chainrule.explain.notation import forward_math
from chainrule.explain.trace import Trace, Value

BOX_W, BOX_H = 236, 74
OP_W, OP_H = 118, 26
GAP_X, GAP_Y = 26, 30
MARGIN = 16
FILL = {
    "input": "#eceff1",
    "target": "#eceff1",
    "constant": "#eceff1",
    "parameter": "#fde9c8",
    "intermediate": "#dcecf7",
    "output": "#d3ecd9",
    "loss": "#f6d3d3",
}
#: Longest op label written as a formula (longer ones show the op's name).
MAX_LABEL = 24


def _op_label(value: Value, trace: Trace) -> str:
    """``h1 @ Who + bho`` for the op that made ``value``, or the op's name if that is long."""
    node = value.tensor.node
    assert node is not None
    formula = forward_math(value, trace).text.split(" = ", 1)[1]
    return formula if len(formula) <= MAX_LABEL else node.op.name


def _op_width(value: Value, trace: Trace) -> float:
    """Width of the pill of the op that made ``value``: its label and its inputs fit."""
    return max(OP_W, 7.4 * len(_op_label(value, trace)) + 24)


def _ranks(trace: Trace) -> dict[int, int]:
    """Row of every value and op: ops one row below their deepest input."""
    rank: dict[int, int] = {}
    for value in trace.values:
        node = value.tensor.node
        if node is None:
            rank[id(value.tensor)] = 0
            continue
        op_rank = max(rank[id(t)] for t in node.inputs) + 1
        rank[id(node)] = op_rank
        rank[id(value.tensor)] = op_rank + 1
    # Parameters and targets sit just above the op that reads them.
    for value in trace.values:
        if value.tensor.node is not None or value is trace.input:
            continue
        readers = [
            rank[id(v.tensor.node)] for v, _ in trace.consumers(value) if v.tensor.node is not None
        ]
        if readers:
            rank[id(value.tensor)] = min(readers) - 1
    return rank


def _brief(array: np.ndarray, digits: int) -> str:
    """Up to three values, or the range: fits a box."""
    if array.size <= 3:
        return summary(array, digits, 3)
    return f"{num(array.min(), digits)} .. {num(array.max(), digits)}"


def _edge(x1: float, y1: float, x2: float, y2: float) -> str:
    """A line from (x1, y1) to (x2, y2) with an arrowhead of its own at the end."""
    length = max(float(np.hypot(x2 - x1, y2 - y1)), 1e-9)
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    size, half = 7.0, 3.5
    bx, by = x2 - ux * size, y2 - uy * size
    head = (
        f"{x2:.1f},{y2:.1f} {bx - uy * half:.1f},{by + ux * half:.1f} "
        f"{bx + uy * half:.1f},{by - ux * half:.1f}"
    )
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{bx:.1f}" y2="{by:.1f}" stroke="#7a8791" '
        f'stroke-width="1.3"/><polygon points="{head}" fill="#7a8791"/>'
    )


def _text(
    x: float,
    y: float,
    content: str,
    size: int = 12,
    weight: str = "normal",
    anchor: str = "start",
    color: str = "#1d232b",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" '
        f'text-anchor="{anchor}" fill="{color}">{html.escape(content)}</text>'
    )


def graph_svg(trace: Trace, digits: int = 3, standalone: bool = False) -> str:
    """The step's computation graph as SVG markup.

    Parameters
    ----------
    trace : Trace
        The recorded step.
    digits : int, default 3
        Significant digits of the values written in the boxes.
    standalone : bool, default False
        Add the XML namespace a ``.svg`` file needs (inline HTML does not).
    """
    rank = _ranks(trace)
    rows: dict[int, list[tuple[str, Value]]] = {}
    ordered = sorted(trace.values, key=lambda v: v.tensor.node is None)  # results first in each row
    for value in ordered:
        rows.setdefault(rank[id(value.tensor)], []).append(("value", value))
        node = value.tensor.node
        if node is not None:
            rows.setdefault(rank[id(node)], []).append(("op", value))
    heights = {r: (BOX_H if r % 2 == 0 else OP_H) for r in rows}
    top: dict[int, float] = {}
    y = float(MARGIN)
    for r in range(max(rows) + 1):
        top[r] = y
        y += heights.get(r, 0) + GAP_Y
    centers: dict[int, tuple[float, float, float, float]] = {}  # id -> x center, top, bottom, width
    body: list[str] = []
    width = float(MARGIN)
    for r, items in rows.items():
        # One grid of columns for values and ops alike, so the main path runs straight down.
        for column, (kind, value) in enumerate(items):
            w = BOX_W if kind == "value" else OP_W
            key = id(value.tensor) if kind == "value" else id(value.tensor.node)
            center = MARGIN + column * (BOX_W + GAP_X) + BOX_W / 2
            centers[key] = (center, top[r], top[r] + heights[r], w)
        width = max(width, MARGIN + len(items) * (BOX_W + GAP_X))
    edges: list[str] = []
    for value in trace.values:
        node = value.tensor.node
        if node is None:
            continue
        ox, otop, obottom, _ = centers[id(node)]
        # Each input ends at its own point along the pill's top edge, in the order of
        # the boxes above, so no two arrowheads sit on one another.
        inputs = node.inputs
        order = sorted(range(len(inputs)), key=lambda k: centers[id(inputs[k])][0])
        spread = min(34.0, (_op_width(value, trace) - 30) / max(1, len(order) - 1))
        for slot, k in enumerate(order):
            sx, _, sbottom, _ = centers[id(inputs[k])]
            ex = ox + (slot - (len(order) - 1) / 2) * spread
            edges.append(_edge(sx, sbottom, ex, otop - 1))
        vx, vtop, _, _ = centers[id(value.tensor)]
        edges.append(_edge(ox, obottom, vx, vtop - 1))
    loss_node = trace.loss.tensor.node
    loss_reads = None
    if loss_node is not None and loss_node.inputs[0] is not trace.output.tensor:
        loss_reads = trace.of(loss_node.inputs[0]).name  # a fused loss reads the logits
    for value in trace.values:
        cx, btop, _, box_w = centers[id(value.tensor)]
        left = cx - box_w / 2
        body.append(
            f'<rect x="{left:.1f}" y="{btop:.1f}" width="{box_w}" height="{BOX_H}" rx="7" '
            f'fill="{FILL.get(value.kind, "#ffffff")}" stroke="#5b6770" stroke-width="1"/>'
        )
        title = f"{value.name}  {shape_str(value.data.shape)}"
        body.append(_text(left + 8, btop + 16, title, 13, "bold"))
        body.append(_text(left + 8, btop + 32, value.role, 10, color="#55606b"))
        body.append(_text(left + 8, btop + 49, "value " + _brief(value.data, digits), 11))
        grad = value.grad
        if grad is not None:
            grad_text = "grad  " + _brief(grad, digits)
        elif value.kind in ("input", "target", "constant"):
            grad_text = "grad  - (data: not needed)"
        elif value is trace.output and loss_reads is not None:
            grad_text = f"grad  - (the loss reads {loss_reads})"
        else:
            grad_text = "grad  - (E does not use it)"
        body.append(
            _text(
                left + 8,
                btop + 65,
                grad_text,
                11,
                color="#b03a2e" if grad is not None else "#7a8791",
            )
        )
        node = value.tensor.node
        if node is not None:
            ox, otop, _, _ = centers[id(node)]
            label = _op_label(value, trace)
            ow = _op_width(value, trace)
            body.append(
                f'<rect x="{ox - ow / 2:.1f}" y="{otop:.1f}" width="{ow}" height="{OP_H}" rx="13" '
                'fill="#ffffff" stroke="#2a6f97" stroke-width="1.4"/>'
            )
            body.append(_text(ox, otop + 17, label, 12, "bold", "middle", "#2a6f97"))
    total_w, total_h = width + MARGIN - GAP_X, y - GAP_Y + MARGIN
    namespace = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    return (
        f'<svg{namespace} width="{total_w:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
        'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" role="img" '
        'aria-label="computation graph">'
        f'<rect width="100%" height="100%" fill="#ffffff"/>{"".join(edges)}{"".join(body)}</svg>'
    )
