"""The scalar view: one weight's gradient, number by number, sample by sample.

For a weight ``W[i, j]`` of a layer ``Z = A @ W + b`` the gradient is
``sum_n A[n, i] * dE/dZ[n, j]``. The table follows the chain from the loss down
to that weight, one row per sample, with each stage's local derivative and the
gradient it gives; the last row is the sum, the entry of the matrix the
backward pass computed. Above a layer with several outputs the gradient of a
unit is a sum over them; there the table shows that sum and stops.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from chainrule.check import EPS, central_difference
from chainrule.explain.derive import Chain, Derivation, Stage
from chainrule.explain.document import Block, Heading, Inline, Math, Para, Table
from chainrule.explain.fmt import (
    agreement,
    index_str,
    num,
    plain_signs,
    tex_index,
    tex_name,
    text_partial,
)
from chainrule.explain.trace import Trace

#: Samples listed before the rest are elided (the sum always covers all of them).
MAX_SAMPLES = 8
#: Losses whose derivative is one formula per element, so it can be read entry by entry.
_ELEMENTWISE_LOSSES = ("mse", "cross_entropy_probs", "binary_cross_entropy")

_SPEC = re.compile(r"^\s*(?P<name>[^\[\]\s]+)\s*(?:\[\s*(?P<i>\d+)\s*,\s*(?P<j>\d+)\s*\])?\s*$")


@dataclass(frozen=True)
class WeightRef:
    """One entry of a weight matrix: its chain and its (row, column) index."""

    chain: Chain
    index: tuple[int, int]


def _is_weight(chain: Chain) -> bool:
    return bool(chain.path) and chain.path[-1].kind == "layer-weights"


def resolve(spec: str, derivation: Derivation) -> WeightRef:
    """``"Who[2,0]"`` or ``"2.weight[2, 0]"`` (0-based; no index means [0, 0])."""
    match = _SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(
            f"weight {spec!r} is not of the form NAME[i,j], e.g. Who[2,0] or 2.weight[2,0]"
        )
    name = match["name"]
    chains = [c for c in derivation.chains if name in (c.param.name, c.param.param_key)]
    if not chains:
        known = ", ".join(f"{c.param.name} ({c.param.param_key})" for c in derivation.chains)
        raise ValueError(f"no parameter named {name!r} in this step; parameters: {known}")
    chain = chains[0]
    if not _is_weight(chain):
        raise ValueError(
            f"{name!r} is not the weight matrix of a layer; the scalar view is for weights"
        )
    index = (int(match["i"] or 0), int(match["j"] or 0))
    rows, cols = chain.param.data.shape
    if index[0] >= rows or index[1] >= cols:
        raise ValueError(
            f"{name}{index_str(index)} is out of range: {name} has shape ({rows}, {cols})"
        )
    return WeightRef(chain, index)


def default_weights(derivation: Derivation) -> list[WeightRef]:
    """Entry [0, 0] of every layer's weight matrix (but those of a summarised run)."""
    return [
        WeightRef(c, (0, 0))
        for c in derivation.chains
        if _is_weight(c) and not any(c.param.layer in run for run in derivation.runs)
    ]


def _input_name(stage: Stage, trace: Trace, position: int) -> str:
    node = stage.out.tensor.node
    assert node is not None
    return trace.of(node.inputs[position]).name


def _element_formula(stage: Stage, trace: Trace, col: int, digits: int) -> tuple[str, str]:
    """The stage's registry formula at entry [n, col], as names and with sample 0's numbers."""
    node = stage.out.tensor.node
    assert node is not None
    formula = node.op.formulas[stage.position]
    assert formula is not None
    shape = stage.out.shape if stage.out.data.ndim == 2 else stage.wrt.shape

    def at(tensor_data: np.ndarray) -> str:
        value = np.broadcast_to(tensor_data, shape)
        return num(value[0, col] if value.ndim == 2 else value.reshape(-1)[0], digits)

    names, numbers = {}, {}
    for arg, tensor in zip(node.op.arg_names, node.inputs):
        value = trace.of(tensor)
        names[arg] = f"{value.name}[n,{col}]"
        numbers[arg] = at(trace.target_rows if value is trace.target else tensor.data)
    names["out"] = f"{stage.out.name}[n,{col}]"
    out = stage.out.data
    numbers["out"] = at(out) if out.ndim == 2 else num(out.reshape(()), digits)
    if node.op.formula_names is not None:
        extra = node.op.formula_names(**node.attrs)
        names.update(extra)
        numbers.update(extra)
    return formula.render(names), formula.render(numbers)


def _heads(stage: Stage, trace: Trace, col: int) -> tuple[Math, Math]:
    """Column headers: dE/d(wrt)[n,col] and d(out)/d(wrt)[n,col]."""
    loss, out, wrt = trace.loss.name, stage.out.name, stage.wrt.name
    at = f"n{col}"
    result = Math(
        f"{text_partial(loss, wrt)}[n,{col}]",
        f"\\partial {tex_name(loss)}/\\partial {tex_index(wrt, at)}",
    )
    local = Math(
        f"{text_partial(out, wrt)}[n,{col}]",
        f"\\partial {tex_index(out, at)}/\\partial {tex_index(wrt, at)}",
    )
    return result, local


def _columns(
    chain: Chain, trace: Trace, j: int, digits: int
) -> tuple[list[tuple[Math, np.ndarray]], list[list[Inline]]]:
    """Table columns (top-down) and legend lines, walking up from the weight's output unit."""
    loss = trace.loss.name
    columns: list[tuple[Math, np.ndarray]] = []
    legend: list[list[Inline]] = []
    col = j
    for stage in reversed(chain.path[:-1]):
        result_head, local_head = _heads(stage, trace, col)
        columns.append((result_head, stage.result[:, col]))
        elementwise = stage.kind == "pointwise" or (
            stage.kind == "loss" and stage.op.name in _ELEMENTWISE_LOSSES
        )
        if elementwise and stage.local is not None:
            text, worked = _element_formula(stage, trace, col, digits)
            head, values = (
                (result_head, stage.result) if stage.kind == "loss" else (local_head, stage.local)
            )
            if stage.kind == "pointwise":
                columns.append((local_head, stage.local[:, col]))
            worked = plain_signs(worked)
            legend.append([head, f" = {text}; sample 0: {worked} = {num(values[0, col], digits)}"])
            continue
        up = text_partial(loss, stage.out.name)
        if stage.kind == "layer-input" and stage.local is not None:
            w = _input_name(stage, trace, 1)
            if stage.upstream.shape[1] == 1:  # one unit above: follow it
                head = Math(f"{w}[{col},0]", tex_index(w, f"{col}0"))
                columns.append((head, np.full(stage.upstream.shape[0], stage.local[0, col])))
                legend.append([result_head, f" = {up}[n,0] * {w}[{col},0]"])
                col = 0
                continue
            terms = plain_signs(
                " + ".join(
                    f"{num(stage.upstream[0, k], digits)} * {num(stage.local[k, col], digits)}"
                    for k in range(stage.upstream.shape[1])
                )
            )
            total = num(stage.result[0, col], digits)
            legend.append(
                [result_head, f" = sum_k {up}[n,k] * {w}[{col},k]; sample 0: {terms} = {total}"]
            )
        else:
            legend.append(
                [result_head, f" = entry [n,{col}] of {text_partial(loss, stage.wrt.name)}"]
            )
        break
    columns.reverse()
    legend.reverse()
    return columns, legend


#: ``probe(changes)``: the loss with the parameters in ``changes`` replaced (by name).
LossAt = Callable[[Mapping[str, np.ndarray]], float]


def numerical_check(ref: WeightRef, loss_at: LossAt, eps: float = EPS) -> list[Block]:
    """The weight's gradient by central differences, beside the backpropagated value."""
    param = ref.chain.param
    key = param.param_key
    if key is None:
        return []
    weights = param.data.astype(np.float64)  # a copy: the traced values stay as they were
    index = int(np.ravel_multi_index(ref.index, weights.shape))
    plus, minus, numeric = central_difference(
        lambda: loss_at({key: weights}), weights.reshape(-1), index, eps
    )
    backprop = float(ref.chain.gradient[ref.index])
    w = f"{param.name}{index_str(ref.index)}"
    loss = "E"
    difference = Math(
        f"({loss}(w + h) - {loss}(w - h)) / 2h",
        f"\\frac{{{loss}(w + h) - {loss}(w - h)}}{{2h}}",
    )
    return [
        Para(
            [
                f"Numerical check: nudge w = {w} by h = {num(eps, 2)} each way and compute the "
                "loss again: ",
                Math(f"{loss}(w + h) = {num(plus, 15)}", f"{loss}(w + h) = {num(plus, 15)}"),
                " and ",
                Math(f"{loss}(w - h) = {num(minus, 15)}", f"{loss}(w - h) = {num(minus, 15)}"),
                ", so the central difference ",
                difference,
                f" = {num(numeric, 10)}. Backpropagation gave {num(backprop, 10)}: the two "
                f"{agreement(numeric, backprop)}.",
            ],
            note=True,
        )
    ]


def scalar_view(
    ref: WeightRef, trace: Trace, digits: int, loss_at: LossAt | None = None
) -> list[Block]:
    """The table and the worked first row for one weight entry."""
    chain, (i, j) = ref.chain, ref.index
    loss, param = trace.loss.name, chain.param.name
    last = chain.path[-1]
    a = _input_name(last, trace, 0)
    up = f"{text_partial(loss, last.out.name)}[n,{j}]"
    up_tex = f"\\partial {tex_name(loss)}/\\partial {tex_index(last.out.name, f'n{j}')}"
    columns, legend = _columns(chain, trace, j, digits)
    delta = last.upstream[:, j]
    inputs = last.local[i, :] if last.local is not None else np.zeros_like(delta)
    a_head = Math(f"{a}[n,{i}]", tex_index(a, f"n{i}"))
    header: list[Inline] = [
        Math("n", "n"),
        *(h for h, _ in columns),
        a_head,
        Math("term", "\\text{term}"),
    ]
    rows: list[list[Inline]] = []
    samples = min(MAX_SAMPLES, delta.shape[0])
    for n in range(samples):
        cells = [num(values[n], digits) for _, values in columns]
        rows.append([str(n), *cells, num(inputs[n], digits), num(inputs[n] * delta[n], digits)])
    if samples < delta.shape[0]:
        rows.append(["...", *("..." for _ in columns), "...", "..."])
    gradient = last.result[i, j]  # this use's part; the whole gradient when used once
    rows.append(["sum", *("" for _ in columns), "", num(gradient, digits)])
    entry = f"{param}{index_str((i, j))}"
    total = Math(
        f"{text_partial(loss, param)}[{i},{j}] = sum_n {a}[n,{i}] * {up}",
        f"\\frac{{\\partial {tex_name(loss)}}}{{\\partial {tex_index(param, f'{i}{j}')}}} = "
        f"\\sum_n {tex_index(a, f'n{i}')}\\,{up_tex}",
    )
    return [
        Heading(3, f"One weight: {entry}, from {a} unit {i} to {last.out.name} unit {j}"),
        Para([total, ": one term per sample n, each a chain of scalar factors (indices from 0)."]),
        Table(header, rows, [False, *([True] * (len(header) - 1))]),
        *(Para(line) for line in legend),
        Para(
            [
                a_head,
                f" = {text_partial(last.out.name, param)}[{i},{j}] for sample n; term = ",
                a_head,
                " * ",
                Math(up, up_tex),
            ]
        ),
        *_total(ref, trace, digits),
        *(numerical_check(ref, loss_at) if loss_at is not None else []),
    ]


def _total(ref: WeightRef, trace: Trace, digits: int) -> list[Block]:
    """The sum is the entry of dE/dW, or, for a weight used more than once, one part of it."""
    chain, (i, j) = ref.chain, ref.index
    loss, param = trace.loss.name, chain.param.name
    whole = Math(text_partial(loss, param), f"\\partial E/\\partial {tex_name(param)}")
    entry = index_str((i, j))
    total = num(chain.gradient[i, j], digits)
    if not chain.branches:
        return [
            Para(
                [
                    f"The sum, {total}, is entry {entry} of ",
                    whole,
                    " as the backward pass computed it.",
                ]
            )
        ]
    parts = plain_signs(
        " + ".join(
            f"{num(path[-1].result[i, j], digits)} (via {path[-1].out.name})" for path in chain.uses
        )
    )
    return [
        Para(
            [
                f"{param} is used {len(chain.uses)} times; this table is the part through "
                f"{chain.path[-1].out.name}. Entry {entry} of ",
                whole,
                f" adds the part of every use: {parts} = {total}, as the backward pass "
                "computed it.",
            ]
        )
    ]


def scalar_blocks(
    trace: Trace,
    derivation: Derivation,
    refs: list[WeightRef],
    digits: int,
    loss_at: LossAt | None = None,
) -> list[Block]:
    """The scalar-view section for the chosen weights; ``loss_at`` adds a numerical check."""
    if not refs:
        return []
    blocks: list[Block] = [Heading(2, "One weight at a time (scalar view)")]
    for ref in refs:
        blocks += scalar_view(ref, trace, digits, loss_at)
    return blocks
