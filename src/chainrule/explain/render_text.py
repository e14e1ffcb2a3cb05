"""Render an explanation's blocks as plain text that reads well at 100 columns.

Running text is wrapped between words, never inside a formula or a number: a
formula part stays on one line, and so do the small formulas written in the text
itself (``O_i (delta_ij - O_j)``, ``X = [0.5, 0.1]``, ``cross-entropy``).
"""

from __future__ import annotations

import re
import textwrap

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
    plain,
)
from chainrule.explain.fmt import DIGITS, matrix_lines
from chainrule.ops import REGISTRY

WIDTH = 100
INDENT = "  "
#: Stands for a space no line may break at while a paragraph is wrapped.
_GLUE = "\ue000"
#: Tokens that join their neighbours into one formula: no break on either side.
_OPERATORS = frozenset({"-", "+", "*", "/", "@", "⊙", "·", "=", "->", "→", "x", "×", "≈", "<", ">"})
#: Lowercase words that may stand inside a formula's parentheses, besides the names of
#: the registered ops (an activation's among them).
_NOTATION_WORDS = frozenset({"diag", "delta"})
_GROUP = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_WORD = re.compile(r"[a-z]{3,}")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_^]*$")


def _glue_formulas(text: str) -> str:
    """``text`` with the spaces inside its formulas replaced by :data:`_GLUE`."""

    def group(match: re.Match[str]) -> str:
        inside = match[0]
        words = [
            w for w in _WORD.findall(inside) if w not in REGISTRY and w not in _NOTATION_WORDS
        ]
        return inside if words else inside.replace(" ", _GLUE)

    # Innermost groups first, so "(h1 has shape (6, 5))" keeps "(6, 5)" whole but may break.
    text = _GROUP.sub(group, text)
    tokens = text.split(" ")
    glued = tokens[:1]
    for previous, token in zip(tokens, tokens[1:]):
        # "O_i (delta_ij - O_j)", "X (1, 2)": a name and the group that follows it.
        applied = token.startswith("(") and bool(_NAME.match(previous))
        if previous in _OPERATORS or token in _OPERATORS or applied:
            glued[-1] += _GLUE + token
        else:
            glued.append(token)
    return " ".join(glued)


def wrap_parts(parts: list[Inline], width: int = WIDTH, prefix: str = "") -> list[str]:
    """Running text as lines of at most ``width`` columns, breaking only between words.

    Formula parts, and formulas written in the text, are kept on one line when they
    fit on one; a formula longer than a line is broken at its spaces. A single word
    longer than the line (a long number) is never cut.
    """
    text = "".join(
        p.text.replace(" ", _GLUE) if isinstance(p, Math) else _glue_formulas(p) for p in parts
    )
    # A formula longer than a line is broken at its own spaces; the rest stay whole.
    room = width - len(prefix)
    text = " ".join(
        unit.replace(_GLUE, " ") if len(unit) > room else unit for unit in text.split(" ")
    )
    lines = textwrap.wrap(
        text,
        width,
        initial_indent=prefix,
        subsequent_indent=prefix,
        break_on_hyphens=False,
        break_long_words=False,
    )
    return [line.replace(_GLUE, " ") for line in lines]


def _term_lines(term: Math | np.ndarray, digits: int) -> list[str]:
    if isinstance(term, Math):
        return [term.text]
    return matrix_lines(term, digits)


def _side_by_side(columns: list[list[str]]) -> list[str]:
    height = max(len(c) for c in columns)
    padded = []
    for column in columns:
        width = max(len(line) for line in column)
        top = (height - len(column)) // 2
        lines = [""] * top + column + [""] * (height - top - len(column))
        padded.append([line.ljust(width) for line in lines])
    return [" ".join(parts).rstrip() for parts in zip(*padded)]


def _equation(block: MatEq, digits: int) -> list[str]:
    # Neighbouring formulas read as one line: "dE/dWho = h1^T @ dE/dZ2 =".
    columns: list[list[str]] = []
    for term in block.terms:
        lines = _term_lines(term, digits)
        if (
            isinstance(term, Math)
            and columns
            and len(columns[-1]) == 1
            and not columns[-1][0].startswith("[")
        ):
            columns[-1] = [columns[-1][0] + " " + lines[0]]
        else:
            columns.append(lines)
    joined = _side_by_side(columns)
    if max(len(line) for line in joined) + len(INDENT) <= WIDTH:
        return [INDENT + line for line in joined]
    if len(columns) > 2 and len(columns[0]) == 1:
        # The formula on its own line, the numbers side by side below it.
        rest = _side_by_side(columns[1:])
        if max(len(line) for line in rest) + 2 * len(INDENT) <= WIDTH:
            return [*_wrap_formula(columns[0][0]), *(INDENT * 2 + line for line in rest)]
    stacked: list[str] = []
    for column in columns:
        for line in column:
            stacked.extend(_wrap_formula(line))
    return stacked


def _wrap_formula(line: str) -> list[str]:
    """A long one-line formula, broken at spaces and indented under its first "= "."""
    if len(line) + len(INDENT) <= WIDTH:
        return [INDENT + line]
    hang = line.find("= ")
    hang = hang + 2 if 0 <= hang < 30 else 4
    pieces = line.split(" + ")
    if len(pieces) == 1:
        return textwrap.wrap(
            line,
            WIDTH,
            initial_indent=INDENT,
            subsequent_indent=INDENT + " " * hang,
            break_on_hyphens=False,
            break_long_words=False,
        )
    lines = [INDENT + pieces[0]]
    for piece in pieces[1:]:
        if len(lines[-1]) + 3 + len(piece) <= WIDTH:
            lines[-1] += " + " + piece
        else:
            lines.append(INDENT + " " * hang + "+ " + piece)
    return lines


def _table(block: Table) -> list[str]:
    """Aligned columns; a table wider than the page continues below, repeating column 1."""
    rows = [[plain(c) for c in block.header]] + [[plain(c) for c in row] for row in block.rows]
    count = len(rows[0])
    widths = [max(len(row[i]) for row in rows) for i in range(count)]
    numeric = block.numeric or [False] * count
    groups: list[list[int]] = [[0]]
    used = len(INDENT) + widths[0]
    for i in range(1, count):
        if used + 2 + widths[i] > WIDTH and len(groups[-1]) > 1:
            groups.append([0])
            used = len(INDENT) + widths[0]
        groups[-1].append(i)
        used += 2 + widths[i]
    out: list[str] = []
    for group in groups:

        def line(row: list[str], group: list[int] = group) -> str:
            cells = [
                row[i].rjust(widths[i]) if numeric[i] else row[i].ljust(widths[i]) for i in group
            ]
            return (INDENT + "  ".join(cells)).rstrip()

        if out:
            out.append("")
        out += [line(rows[0]), (INDENT + "  ".join("-" * widths[i] for i in group)).rstrip()]
        out += [line(r) for r in rows[1:]]
    return out


def render_text(blocks: list[Block], digits: int = DIGITS) -> str:
    """The blocks as text lines no wider than 100 columns (long matrices stack)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            rule = {1: "=", 2: "=", 3: "-"}.get(block.level, "")
            if out and out[-1]:
                out.append("")
            out.append(block.text)
            if rule:
                out.append(rule * (WIDTH if block.level == 1 else min(WIDTH, len(block.text))))
        elif isinstance(block, Para):
            prefix = INDENT + "| " if block.note else ""
            if block.note and out and out[-1]:
                out.append("")
            out.extend(wrap_parts(block.parts, WIDTH, prefix))
            if block.note:
                out.append("")
        elif isinstance(block, Box):
            if out and out[-1]:
                out.append("")
            rule = "+" + "-" * (WIDTH - 2 * len(INDENT) - 1)
            out += [INDENT + rule, *wrap_parts([block.title], WIDTH, INDENT + "| ")]
            out += wrap_parts(block.parts, WIDTH, INDENT + "| ")
            out += [INDENT + rule, ""]
        elif isinstance(block, MatEq):
            # A blank line before an equation of several lines lets it stand out.
            lines = _equation(block, digits)
            tall = any(
                isinstance(t, np.ndarray) and t.ndim == 2 and t.shape[0] > 1 for t in block.terms
            )
            if tall and out and out[-1]:
                out.append("")
            out.extend(lines)
            if tall:
                out.append("")
        elif isinstance(block, Table):
            if out and out[-1]:
                out.append("")
            out.extend(_table(block))
            out.append("")
        elif isinstance(block, Picture):
            continue
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"
