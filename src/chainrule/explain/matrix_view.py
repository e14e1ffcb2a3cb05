"""The matrix view: every gradient as one matrix formula, with the shape of each product.

Error signals get their textbook names (``delta2 = (O - Y) ⊙ O * (1 - O)``) and
each gradient is written with them (``dE/dWho = h1^T @ delta2``).
"""

from __future__ import annotations

from chainrule.explain.derive import Chain, Derivation
from chainrule.explain.document import Block, Heading, Inline, Math, Para, Table
from chainrule.explain.fmt import shape_str
from chainrule.explain.stages import delta_name, partial
from chainrule.explain.trace import Trace

TIMES = Math(" @ ", "\\,")
HADAMARD = Math(" ⊙ ", " \\odot ")


def _paren(math: Math) -> Math:
    if " " not in math.text or (math.text.startswith("(") and math.text.endswith(")")):
        return math
    return Math(f"({math.text})", f"\\left({math.latex}\\right)")


def _rows(chain: Chain, trace: Trace) -> list[tuple[Math, Math, str, str]]:
    """(left side, matrix form, shapes, whose shape) per error signal and for the gradient."""
    rows: list[tuple[Math, Math, str, str]] = []
    expr: Math | None = None
    shapes = ""
    for stage in chain.stages:
        formula = Math(stage.formula_text, stage.formula_latex)
        up, down = shape_str(stage.upstream.shape), shape_str(stage.result.shape)
        inner = shape_str(stage.local.shape) if stage.local is not None else "?"
        if stage.kind == "loss" or expr is None:
            expr, shapes = formula, f"-> {down}"
        elif stage.kind == "pointwise":
            left = _paren(expr) if "@" in expr.text else expr
            expr, shapes = left + HADAMARD + _paren(formula), f"{up} ⊙ {up} -> {down}"
        elif stage.kind == "layer-input":
            expr, shapes = _paren(expr) + TIMES + formula, f"{up} @ {inner} -> {down}"
        elif stage.kind == "layer-weights":
            expr, shapes = formula + TIMES + _paren(expr), f"{inner} @ {up} -> {down}"
        elif stage.kind == "bias":
            expr, shapes = Math("sum(", "\\sum(") + expr + Math(")", ")"), f"{up} summed -> {down}"
        else:
            expr = partial(trace.loss.name, stage.out.name) + Math(" · ", " \\cdot ") + formula
            shapes = f"-> {down}"
        if stage.is_error_signal and stage is not chain.stages[-1]:
            delta = delta_name(stage, trace.n_layers)
            if all(row[0] != delta for row in rows):
                rows.append((delta, expr, shapes, stage.wrt.name))
            expr = delta
    assert expr is not None
    rows.append((partial(trace.loss.name, chain.param.name), expr, shapes, chain.param.name))
    return rows


def matrix_view_blocks(trace: Trace, derivation: Derivation) -> list[Block]:
    """Every gradient in matrix form with the shape of each product."""
    table: list[list[Inline]] = []
    seen: set[str] = set()
    for chain in derivation.chains:
        for left, right, shapes, owner in _rows(chain, trace):
            if left.text not in seen:
                seen.add(left.text)
                table.append([left, right, shapes, f"shape of {owner}"])
    return [
        Heading(3, "Matrix view"),
        Para(
            [
                "All gradients in matrix form: @ is a matrix product, ⊙ an elementwise product, "
                "^T a transpose. Every gradient comes out with its parameter's shape."
            ]
        ),
        Table(["gradient", "matrix form", "shapes", ""], table),
    ]
