"""The matrix view: every gradient as one matrix formula, with the shape of each product.

Error signals get their textbook names (``delta2 = (O - Y) ⊙ O * (1 - O)``) and
each gradient is written with them (``dE/dWho = h1^T @ delta2``). A value read by
several ops (a Linear applied twice, a residual connection) gets a row of its
own: its gradient is the sum of one term per reader.
"""

from __future__ import annotations

from chainrule.explain.derive import Derivation, Stage
from chainrule.explain.document import Block, Heading, Inline, Math, Para, Table
from chainrule.explain.fmt import shape_str
from chainrule.explain.runs import Run, hidden
from chainrule.explain.stages import delta_name, partial
from chainrule.explain.trace import Trace, Value

TIMES = Math(" @ ", "\\,")
HADAMARD = Math(" ⊙ ", " \\odot ")
PLUS = Math(" + ", " + ")
#: An inlined expression longer than this (in text characters) gets a row of its own.
MAX_INLINE = 60


def _paren(math: Math) -> Math:
    if " " not in math.text or (math.text.startswith("(") and math.text.endswith(")")):
        return math
    return Math(f"({math.text})", f"\\left({math.latex}\\right)")


def _row_jacobian(stage: Stage, up: Math) -> tuple[Math, str]:
    """``dE/dO[n] @ (diag(O[n]) - O[n]^T @ O[n])``: one Jacobian per sample row.

    The registry writes each op's Jacobian for one sample row ``[n]``.
    """
    n_rows, width = stage.upstream.shape
    jac = _paren(Math(stage.formula_text, stage.formula_latex))
    expr = (
        _paren(up)
        + Math("[n]", "_n")
        + TIMES
        + jac
        + Math(", each row n", ",\\ \\text{each row } n")
    )
    shapes = f"{n_rows} rows, each (1, {width}) @ ({width}, {width}) -> (1, {width})"
    return expr, shapes


def _term(stage: Stage, up: Math | None, trace: Trace) -> tuple[Math, str]:
    """This stage's contribution in matrix form, given dE/d(out) as ``up``."""
    formula = Math(stage.formula_text, stage.formula_latex)
    upstream, down = shape_str(stage.upstream.shape), shape_str(stage.result.shape)
    inner = shape_str(stage.local.shape) if stage.local is not None else "?"
    if stage.kind == "loss" or up is None:
        return formula, f"-> {down}"
    if stage.kind == "pointwise":
        left = _paren(up) if "@" in up.text or "+" in up.text else up
        return left + HADAMARD + _paren(formula), f"{upstream} ⊙ {upstream} -> {down}"
    if stage.kind == "layer-input":
        return _paren(up) + TIMES + formula, f"{upstream} @ {inner} -> {down}"
    if stage.kind == "layer-weights":
        return formula + TIMES + _paren(up), f"{inner} @ {upstream} -> {down}"
    if stage.kind == "bias":
        return Math("sum(", "\\sum(") + up + Math(")", ")"), f"{upstream} summed -> {down}"
    if stage.kind == "jacobian":
        return _row_jacobian(stage, up)
    return _paren(up) + Math(" · ", " \\cdot ") + _paren(formula), f"-> {down}"


def _left(value: Value, parts: list[Stage], trace: Trace) -> Math:
    """How the gradient of ``value`` is called: its delta for a layer's error signal."""
    last = parts[-1]
    if last.is_error_signal and value.kind != "parameter":
        return delta_name(last, trace.n_layers)
    return partial(trace.loss.name, value.name)


def matrix_rows(trace: Trace, derivation: Derivation) -> list[tuple[Math, Math, str, Value]]:
    """(gradient, matrix form, shapes, value) for every gradient with a row of its own.

    Each value's expression is built once from its readers' (named or inlined),
    so the rows grow linearly with the number of ops.
    """
    parts: dict[int, list[Stage]] = {}
    last: dict[int, int] = {}
    for i, stage in enumerate(derivation.stages):
        parts.setdefault(id(stage.wrt.tensor), []).append(stage)
        last[id(stage.wrt.tensor)] = i
    refs: dict[int, Math | None] = {id(trace.loss.tensor): None}
    rows: list[tuple[Math, Math, str, Value]] = []
    for key in sorted(parts, key=last.__getitem__):
        stages = parts[key]
        value = stages[0].wrt
        terms = [_term(stage, refs.get(id(stage.out.tensor)), trace) for stage in stages]
        if len(terms) == 1:
            expr, shapes = terms[0]
        else:
            expr = terms[0][0]
            for term, _ in terms[1:]:
                expr = expr + PLUS + term
            shapes = f"{len(terms)} terms, each {shape_str(value.shape)}"
        named = (
            value.kind == "parameter"
            or len(stages) > 1
            or stages[-1].is_error_signal
            or len(expr.text) > MAX_INLINE
        )
        if named:
            left = _left(value, stages, trace)
            rows.append((left, expr, shapes, value))
            refs[key] = left
        else:
            refs[key] = expr
    return rows


def matrix_view_blocks(trace: Trace, derivation: Derivation) -> list[Block]:
    """Every gradient in matrix form with the shape of each product."""
    table: list[list[Inline]] = []
    noted: set[Run] = set()
    for left, right, shapes, value in matrix_rows(trace, derivation):
        run = hidden(trace, value.layer)
        if run is not None:
            if run not in noted:
                noted.add(run)
                text = f"the same for layers {run.first} to {run.last} ({run.label})"
                table.append(["...", text, "", ""])
            continue
        table.append([left, right, shapes, f"shape of {value.name}"])
    return [
        Heading(3, "Matrix view"),
        Para(
            [
                "All gradients in matrix form: @ is a matrix product, ⊙ an elementwise product "
                "(* inside a local derivative such as O * (1 - O)), ^T a transpose. Every "
                "gradient comes out with its parameter's shape; a value read by several ops "
                "gets the sum of one term per reader."
            ]
        ),
        Table(["gradient", "matrix form", "shapes", ""], table),
    ]
