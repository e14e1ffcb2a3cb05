"""Numbers, shapes and names, formatted for people.

Every number a reader sees goes through :func:`num`, which formats a value that
was computed (never a recomputed one) with a fixed number of significant digits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Significant digits shown unless a caller asks for others.
DIGITS = 4
#: Largest number of rows / columns printed before a matrix is elided with "...".
MAX_ROWS = 8
MAX_COLS = 8


def num(value: float | np.floating[Any] | np.ndarray, digits: int = DIGITS) -> str:
    """One number with ``digits`` significant digits: ``0.4532``, ``-1.2e-05``, ``3``."""
    value = float(value)
    if value == 0.0:
        return "0"
    if not np.isfinite(value):
        return str(value)
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent):+03d}"
    return text


def shape_str(shape: Sequence[int]) -> str:
    """``(6, 5)``, ``(1,)`` or ``()`` for a scalar."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(n) for n in shape) + ")"


def index_str(index: Sequence[int]) -> str:
    """``[2, 0]`` for an element index."""
    return "[" + ", ".join(str(i) for i in index) + "]"


def _kept(count: int, limit: int) -> list[int | None]:
    """Indices to show out of ``count``; ``None`` marks the elided middle."""
    if count <= limit:
        return list(range(count))
    head = limit - 2
    return [*range(head), None, count - 2, count - 1]


def as_grid(array: np.ndarray, digits: int = DIGITS) -> list[list[str]]:
    """A 0-, 1- or 2-D array as rows of formatted cells, elided beyond MAX_ROWS x MAX_COLS.

    A 1-D array is one row; elided entries are ``"..."``.
    """
    matrix = np.atleast_2d(np.asarray(array))
    if matrix.ndim > 2:
        matrix = matrix.reshape(-1, matrix.shape[-1])
    rows = _kept(matrix.shape[0], MAX_ROWS)
    cols = _kept(matrix.shape[1], MAX_COLS)
    grid = []
    for r in rows:
        if r is None:
            grid.append(["..." for _ in cols])
            continue
        grid.append(["..." if c is None else num(matrix[r, c], digits) for c in cols])
    return grid


def matrix_lines(array: np.ndarray, digits: int = DIGITS) -> list[str]:
    """An array as aligned bracketed lines, like NumPy prints it but with ``digits``."""
    array = np.asarray(array)
    if array.ndim == 0:
        return [num(array, digits)]
    grid = as_grid(array, digits)
    columns = [_align_decimals([row[c] for row in grid]) for c in range(len(grid[0]))]
    cells = [" ".join(column[r] for column in columns) for r in range(len(grid))]
    if array.ndim == 1:
        return ["[" + cells[0] + "]"]
    last = len(cells) - 1
    return [
        ("[[" if i == 0 else " [") + line + ("]]" if i == last else "]")
        for i, line in enumerate(cells)
    ]


def _align_decimals(cells: list[str]) -> list[str]:
    """Pad one column of numbers so their decimal points line up."""
    plain = {i for i, c in enumerate(cells) if "e" not in c and c != "..."}
    left = max((len(cells[i].split(".")[0]) for i in plain), default=0)
    right = max(
        (len(cells[i].partition(".")[2]) + 1 if "." in cells[i] else 0 for i in plain), default=0
    )
    aligned = []
    for i, cell in enumerate(cells):
        if i in plain:
            whole, _, frac = cell.partition(".")
            cell = whole.rjust(left) + ("." + frac if frac else "").ljust(right)
        aligned.append(cell)
    width = max(len(c) for c in aligned)
    return [c.rjust(width) for c in aligned]


def summary(array: np.ndarray, digits: int = DIGITS, limit: int = 4) -> str:
    """A short one-line view: all values when few, else the range."""
    array = np.asarray(array)
    if array.size == 1:
        return num(array.reshape(()), digits)
    flat = array.reshape(-1)
    if flat.size <= limit:
        return "[" + ", ".join(num(v, digits) for v in flat) + "]"
    return f"{shape_str(array.shape)} from {num(flat.min(), digits)} to {num(flat.max(), digits)}"


_SUBSCRIPTED = re.compile(r"^(?P<head>[A-Za-z])(?P<sub>[0-9]+|[a-z][a-z0-9]*)$")


def tex_name(name: str) -> str:
    """A display name in LaTeX: ``Wih`` -> ``W_{ih}``, ``Z1`` -> ``Z_{1}``, ``O`` -> ``O``."""
    match = _SUBSCRIPTED.match(name)
    if len(name) == 1:
        return name
    if match and (match["sub"].isdigit() or match["head"] in "Wb"):
        return f"{match['head']}_{{{match['sub']}}}"
    return "\\mathrm{" + name.replace("_", "\\_") + "}"


def tex_index(name: str, index: str) -> str:
    """``W_{ih,12}`` for entry ``12`` of ``Wih``, ``O_{n0}`` for ``O[n,0]``."""
    tex = tex_name(name)
    if tex.endswith("}") and "_{" in tex and not tex.startswith("\\mathrm"):
        return tex[:-1] + ",\\," + index + "}"
    return f"{tex}_{{{index}}}"


def tex_partial(top: str, bottom: str) -> str:
    """``\\frac{\\partial E}{\\partial W_{ho}}`` from display names."""
    return f"\\frac{{\\partial {tex_name(top)}}}{{\\partial {tex_name(bottom)}}}"


def text_partial(top: str, bottom: str) -> str:
    """``dE/dWho`` from display names."""
    return f"d{top}/d{bottom}"
