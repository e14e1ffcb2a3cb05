"""The loss written out: its definition, the numbers substituted, and its value.

The value shown is always the one the loss op computed; the substituted terms
are formatted from the step's own arrays (``O``, ``Y``, or the probabilities a
fused cross-entropy saved).
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.document import Block, MatEq, Math, Para
from chainrule.explain.fmt import num, tex_name
from chainrule.explain.trace import Trace

#: Terms written out before the sum is elided with "...".
MAX_TERMS = 6


def _constant(reduction: str, count: int, half: bool = False) -> tuple[str, str, str]:
    """(text, latex, words) for the factor in front of the sum."""
    if reduction == "mean" and half:
        return "1/(2N) * ", "\\frac{1}{2N}", f"N = {count} terms"
    if reduction == "mean":
        return "1/N * ", "\\frac{1}{N}", f"N = {count} terms"
    if half:
        return "1/2 * ", "\\frac{1}{2}", ""
    return "", "", ""


def _sum(terms: list[str], latex: bool) -> str:
    if len(terms) > MAX_TERMS:
        terms = [*terms[: MAX_TERMS - 1], "\\ldots" if latex else "...", terms[-1]]
    return " + ".join(terms).replace("+ -", "- ")


def _mse(trace: Trace, o: str, y: str, digits: int) -> tuple[Math, Math | None, str]:
    attrs = trace.loss.tensor.node.attrs if trace.loss.tensor.node else {}
    reduction, half = attrs.get("reduction", "mean"), bool(attrs.get("half", False))
    pred, target = (
        trace.output.data.reshape(-1),
        np.broadcast_to(trace.target_rows, trace.output.shape).reshape(-1),
    )
    c_text, c_tex, words = _constant(reduction, pred.size, half)
    o_t, y_t = tex_name(o), tex_name(y)
    definition = Math(f"E = {c_text}sum(({o} - {y})^2)", f"E = {c_tex}\\sum ({o_t} - {y_t})^2")
    text_terms = [f"({num(p, digits)} - {num(t, digits)})^2" for p, t in zip(pred, target)]
    tex_terms = [f"({num(p, digits)} - {num(t, digits)})^2" for p, t in zip(pred, target)]
    open_, close = ("(", ")") if c_text else ("", "")
    substituted = Math(
        f"  = {c_text}{open_}{_sum(text_terms, False)}{close}",
        f"= {c_tex}\\left({_sum(tex_terms, True)}\\right)",
    )
    return definition, substituted, words


def _cross_entropy(
    trace: Trace, o: str, y: str, probs: np.ndarray, digits: int
) -> tuple[Math, Math | None, str]:
    attrs = trace.loss.tensor.node.attrs if trace.loss.tensor.node else {}
    rows = trace.target_rows
    count = probs.shape[0] if probs.ndim > 1 else 1
    c_text, c_tex, words = _constant(attrs.get("reduction", "mean"), count)
    if words:
        words = f"N = {count} sample" + ("" if count == 1 else "s")
    o_t, y_t = tex_name(o), tex_name(y)
    definition = Math(f"E = -{c_text}sum({y} * log({o}))", f"E = -{c_tex}\\sum {y_t} \\log {o_t}")
    text_terms, tex_terms = [], []
    for p, t in zip(probs.reshape(-1), np.broadcast_to(rows, probs.shape).reshape(-1)):
        if t == 0:
            continue
        weight = "" if t == 1 else f"{num(t, digits)} * "
        text_terms.append(f"{weight}log({num(p, digits)})")
        tex_terms.append(
            ("" if t == 1 else f"{num(t, digits)} \\cdot ") + f"\\log {num(p, digits)}"
        )
    substituted = Math(
        f"  = -{c_text}({_sum(text_terms, False)})",
        f"= -{c_tex}\\left({_sum(tex_terms, True)}\\right)",
    )
    return definition, substituted, words


def _binary(
    trace: Trace, o: str, y: str, probs: np.ndarray | None, digits: int
) -> tuple[Math, Math | None, str]:
    attrs = trace.loss.tensor.node.attrs if trace.loss.tensor.node else {}
    size = trace.output.data.size
    c_text, c_tex, words = _constant(attrs.get("reduction", "mean"), size)
    o_t, y_t = tex_name(o), tex_name(y)
    definition = Math(
        f"E = -{c_text}sum({y} * log({o}) + (1 - {y}) * log(1 - {o}))",
        f"E = -{c_tex}\\sum \\left({y_t} \\log {o_t} + (1 - {y_t}) \\log (1 - {o_t})\\right)",
    )
    if probs is None:
        return definition, None, words
    targets = np.broadcast_to(trace.target_rows, probs.shape).reshape(-1)
    text_terms = [
        f"{num(t, digits)} * log({num(p, digits)}) "
        f"+ {num(1 - t, digits)} * log({num(1 - p, digits)})"
        for p, t in zip(probs.reshape(-1), targets)
    ]
    tex_terms = [
        f"{num(t, digits)} \\log {num(p, digits)} + {num(1 - t, digits)} \\log {num(1 - p, digits)}"
        for p, t in zip(probs.reshape(-1), targets)
    ]
    substituted = Math(
        f"  = -{c_text}({_sum(text_terms, False)})",
        f"= -{c_tex}\\left({_sum(tex_terms, True)}\\right)",
    )
    return definition, substituted, words


def loss_blocks(trace: Trace, fused: bool, digits: int) -> list[Block]:
    """The loss section: definition, numbers substituted, value."""
    node = trace.loss.tensor.node
    assert node is not None
    op = node.op.name
    reads = trace.of(node.inputs[0])
    y = trace.target.name
    blocks: list[Block] = []
    definition: Math | None = None
    substituted: Math | None = None
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
    if substituted is not None:
        blocks.append(MatEq([substituted]))
    value = float(trace.loss.data.reshape(()))
    blocks.append(MatEq([Math(f"  = {num(value, digits)}", f"= {num(value, digits)}")]))
    return blocks


def _name(name: str) -> Math:
    return Math(name, tex_name(name))
