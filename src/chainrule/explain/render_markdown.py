"""Render an explanation's blocks as Markdown with LaTeX math (``$...$``, ``$$...$$``)."""

from __future__ import annotations

import numpy as np

from chainrule.explain.document import (
    Block,
    Box,
    Heading,
    Inline,
    MatEq,
    Math,
    Para,
    Picture,
    Table,
)
from chainrule.explain.fmt import DIGITS, as_grid, latex_numbers


def bmatrix(array: np.ndarray, digits: int) -> str:
    """A LaTeX ``bmatrix`` of the (elided) array."""
    array = np.asarray(array)
    if array.ndim == 0:
        return latex_numbers(as_grid(array, digits)[0][0])
    grid = as_grid(array, digits)
    rows = []
    for row in grid:
        vertical = all(cell == "..." for cell in row)
        cells = [
            "\\vdots" if vertical else ("\\cdots" if c == "..." else latex_numbers(c))
            for c in row
        ]
        rows.append(" & ".join(cells))
    return "\\begin{bmatrix}" + " \\\\ ".join(rows) + "\\end{bmatrix}"


def _inline(part: Inline) -> str:
    if isinstance(part, Math):
        return f"${latex_numbers(part.latex)}$"
    # Plain text may hold "*", "_" and "|" (products, indices, tables): keep them literal.
    for char in ("\\", "*", "_", "|"):
        part = part.replace(char, "\\" + char)
    return part


def render_markdown(blocks: list[Block], digits: int = DIGITS) -> str:
    """The blocks as Markdown; matrices are LaTeX ``bmatrix`` environments."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text)
        elif isinstance(block, Para):
            text = "".join(_inline(p) for p in block.parts)
            out.append("> " + text if block.note else text)
        elif isinstance(block, MatEq):
            terms = [
                latex_numbers(t.latex) if isinstance(t, Math) else bmatrix(t, digits)
                for t in block.terms
            ]
            out.append("$$\n" + " ".join(terms) + "\n$$")
        elif isinstance(block, Table):
            header = "| " + " | ".join(_inline(c) for c in block.header) + " |"
            numeric = block.numeric or [False] * len(block.header)
            rule = "|" + "|".join("---:" if n else "---" for n in numeric) + "|"
            rows = ["| " + " | ".join(_inline(c) for c in row) + " |" for row in block.rows]
            out.append("\n".join([header, rule, *rows]))
        elif isinstance(block, Box):
            text = "".join(_inline(p) for p in block.parts)
            out.append(f"> **{_inline(block.title)}**\n>\n> {text}")
        elif isinstance(block, Picture):
            continue
        out.append("")
    return "\n".join(out).rstrip() + "\n"
