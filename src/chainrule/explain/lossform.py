"""The loss written out: its definition, the numbers substituted, and its value.

The value shown is always the one the loss op computed; the substituted terms
are formatted from the step's own arrays (``O``, ``Y``, or the probabilities a
fused cross-entropy saved), with ``N`` replaced by its number. The substituted
sum is one formula per term, so a renderer can break it between terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainrule.explain.document import Block, MatEq, Math, Para
from chainrule.explain.fmt import num, tex_name, tex_num
from chainrule.explain.trace import Trace

#: Terms written out before the sum is elided with "...".
MAX_TERMS = 6


@dataclass(frozen=True)
class _Factor:
    """The factor in front of the sum: as a formula, with N filled in, and in words."""

    text: str
    latex: str
    text_n: str
    latex_n: str
    words: str


def _constant(reduction: str, count: int, half: bool = False) -> _Factor:
    if reduction == "mean" and half:
        return _Factor(
            "1/(2N) * ",
            "\\frac{1}{2N}",
            f"1/(2*{count}) * ",
            f"\\frac{{1}}{{2 \\cdot {count}}}",
            f"N = {count} terms",
        )
    if reduction == "mean":
        return _Factor(
            "1/N * ",
            "\\frac{1}{N}",
            f"1/{count} * ",
            f"\\frac{{1}}{{{count}}}",
            f"N = {count} terms",
        )
    if half:
        return _Factor("1/2 * ", "\\frac{1}{2}", "1/2 * ", "\\frac{1}{2}", "")
    return _Factor("", "", "", "", "")


def _sum(lead: Math, terms: list[Math], close: Math) -> list[Math]:
    """``lead`` + the terms joined by "+" + ``close``, one formula per term.

    A term that starts with a minus sign is subtracted ("- log 0.2", not "+ -log 0.2").
    """
    if len(terms) > MAX_TERMS:
        terms = [*terms[: MAX_TERMS - 1], Math("...", "\\ldots"), terms[-1]]
    if not terms:
        return [lead + close]
    pieces: list[Math] = []
    for k, term in enumerate(terms):
        if k > 0 and term.text.startswith("-"):
            term = Math(term.text[1:].lstrip(), term.latex[1:].lstrip())
        if k + 1 < len(terms):
            sign = " -" if terms[k + 1].text.startswith("-") else " +"
            term = term + Math(sign, sign)
        pieces.append(term)
    pieces[0] = lead + pieces[0]
    pieces[-1] = pieces[-1] + close
    return pieces


def _difference(pred: float, target: float, digits: int) -> Math:
    """``(0.8552 - 0.48)^2``; a negative target is added: ``(0.8552 + 0.6655)^2``."""
    sign = "+" if target < 0 else "-"
    p_text, t_text = num(pred, digits), num(abs(target), digits)
    p_tex, t_tex = tex_num(pred, digits), tex_num(abs(target), digits)
    return Math(f"({p_text} {sign} {t_text})^2", f"({p_tex} {sign} {t_tex})^2")


_Written = tuple[Math, list[Math], str]


def _mse(trace: Trace, o: str, y: str, digits: int) -> _Written:
    attrs = trace.loss.tensor.node.attrs if trace.loss.tensor.node else {}
    reduction, half = attrs.get("reduction", "mean"), bool(attrs.get("half", False))
    pred, target = (
        trace.output.data.reshape(-1),
        np.broadcast_to(trace.target_rows, trace.output.shape).reshape(-1),
    )
    factor = _constant(reduction, pred.size, half)
    o_t, y_t = tex_name(o), tex_name(y)
    definition = Math(
        f"E = {factor.text}sum(({o} - {y})^2)", f"E = {factor.latex}\\sum ({o_t} - {y_t})^2"
    )
    terms = [_difference(p, t, digits) for p, t in zip(pred, target)]
    grouped = factor.text and len(terms) > 1
    lead = Math(f"  = {factor.text_n}" + ("(" if grouped else ""), f"= {factor.latex_n}")
    if grouped:
        lead = lead + Math("", "(")
    substituted = _sum(lead, terms, Math(")", ")") if grouped else Math("", ""))
    return definition, substituted, factor.words


def _cross_entropy(trace: Trace, o: str, y: str, probs: np.ndarray, digits: int) -> _Written:
    attrs = trace.loss.tensor.node.attrs if trace.loss.tensor.node else {}
    rows = trace.target_rows
    count = probs.shape[0] if probs.ndim > 1 else 1
    factor = _constant(attrs.get("reduction", "mean"), count)
    words = factor.words and f"N = {count} sample" + ("" if count == 1 else "s")
    o_t, y_t = tex_name(o), tex_name(y)
    definition = Math(
        f"E = -{factor.text}sum({y} * log({o}))", f"E = -{factor.latex}\\sum {y_t} \\log {o_t}"
    )
    terms: list[Math] = []
    for p, t in zip(probs.reshape(-1), np.broadcast_to(rows, probs.shape).reshape(-1)):
        if t == 0:
            continue
        weight = Math("", "") if t == 1 else Math(f"{num(t, digits)} * ", f"{tex_num(t, digits)} ")
        terms.append(weight + Math(f"log({num(p, digits)})", f"\\log {tex_num(p, digits)}"))
    grouped = len(terms) > 1
    lead = Math(f"  = -{factor.text_n}" + ("(" if grouped else ""), f"= -{factor.latex_n}")
    if grouped:
        lead = lead + Math("", "(")
    substituted = _sum(lead, terms, Math(")", ")") if grouped else Math("", ""))
    return definition, substituted, words


def _binary(trace: Trace, o: str, y: str, probs: np.ndarray | None, digits: int) -> _Written:
    attrs = trace.loss.tensor.node.attrs if trace.loss.tensor.node else {}
    size = trace.output.data.size
    factor = _constant(attrs.get("reduction", "mean"), size)
    o_t, y_t = tex_name(o), tex_name(y)
    definition = Math(
        f"E = -{factor.text}sum({y} * log({o}) + (1 - {y}) * log(1 - {o}))",
        f"E = -{factor.latex}\\sum \\left({y_t} \\log {o_t} "
        f"+ (1 - {y_t}) \\log (1 - {o_t})\\right)",
    )
    if probs is None:
        return definition, [], factor.words
    targets = np.broadcast_to(trace.target_rows, probs.shape).reshape(-1)
    terms = [
        Math(
            f"{num(t, digits)} * log({num(p, digits)}) "
            f"+ {num(1 - t, digits)} * log({num(1 - p, digits)})",
            f"{tex_num(t, digits)} \\log {tex_num(p, digits)} "
            f"+ {tex_num(1 - t, digits)} \\log {tex_num(1 - p, digits)}",
        )
        for p, t in zip(probs.reshape(-1), targets)
    ]
    lead = Math(f"  = -{factor.text_n}(", f"= -{factor.latex_n}(")
    return definition, _sum(lead, terms, Math(")", ")")), factor.words


def loss_blocks(trace: Trace, fused: bool, digits: int) -> list[Block]:
    """The loss section: definition, numbers substituted, value."""
    node = trace.loss.tensor.node
    assert node is not None
    op = node.op.name
    reads = trace.of(node.inputs[0])
    y = trace.target.name
    blocks: list[Block] = []
    definition: Math | None = None
    substituted: list[Math] = []
    words = ""
    if op == "mse":
        definition, substituted, words = _mse(trace, reads.name, y, digits)
    elif op in ("softmax_cross_entropy", "cross_entropy_probs"):
        if op == "cross_entropy_probs" or fused:
            probs, o = trace.output.data, trace.output.name
        else:
            probs, o = node.saved["probs"], f"softmax({reads.name})"
        definition, substituted, words = _cross_entropy(trace, o, y, probs, digits)
        if op == "softmax_cross_entropy" and not fused:
            blocks.append(
                Para(
                    [
                        "The loss takes the logits ",
                        _name(reads.name),
                        " and applies softmax itself.",
                    ]
                )
            )
    elif op in ("sigmoid_cross_entropy", "binary_cross_entropy"):
        with_probs = op == "binary_cross_entropy" or fused
        o = trace.output.name if with_probs else f"sigmoid({reads.name})"
        definition, substituted, words = _binary(
            trace, o, y, trace.output.data if with_probs else None, digits
        )
    if definition is None:
        definition = Math(
            f"E = {op}({reads.name}, {y})",
            f"E = \\operatorname{{{op}}}({tex_name(reads.name)}, {tex_name(y)})",
        )
    if fused:
        blocks.append(
            Para(
                [
                    "The loss is computed from the logits ",
                    _name(reads.name),
                    " in one fused op, which never takes the log of a rounded probability; "
                    "it equals the formula below, written with the network's output ",
                    _name(trace.output.name),
                    ".",
                ]
            )
        )
    blocks.append(MatEq([definition]))
    if words:
        blocks.append(Para([f"({words})"]))
    if substituted:
        blocks.append(MatEq(list(substituted)))
    value = float(trace.loss.data.reshape(()))
    blocks.append(MatEq([Math(f"  = {num(value, digits)}", f"= {tex_num(value, digits)}")]))
    return blocks


def loss_definition(trace: Trace, fused: bool) -> Math:
    """``E = 1/2 * sum((O - Y)^2)``: the loss as its section defines it."""
    blocks = loss_blocks(trace, fused, digits=4)
    return next(b.terms[0] for b in blocks if isinstance(b, MatEq) and isinstance(b.terms[0], Math))


def _name(name: str) -> Math:
    return Math(name, tex_name(name))
