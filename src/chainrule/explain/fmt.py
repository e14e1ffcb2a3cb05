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


def agreement(first: float, second: float) -> str:
    """How closely two numbers agree, in words: ``agree to 9 significant digits``.

    Never "to within 0": equal numbers "agree exactly".
    """
    first, second = float(first), float(second)
    if first == second:
        return "agree exactly"
    scale = max(abs(first), abs(second))
    if not np.isfinite(scale):
        return "do not agree"
    digits = int(np.floor(-np.log10(abs(first - second) / scale)))
    if digits < 1:
        return f"do not agree (they differ by {num(abs(first - second), 2)})"
    return f"agree to {digits} significant digit" + ("" if digits == 1 else "s")


def tex_num(value: float | np.floating[Any] | np.ndarray, digits: int = DIGITS) -> str:
    """:func:`num` in LaTeX: ``0.4532``, ``-1.2 \\times 10^{-5}``."""
    return latex_numbers(num(value, digits))


_E_NOTATION = re.compile(r"(?<![A-Za-z0-9_.])([0-9]+(?:\.[0-9]+)?)e([-+])0*([0-9]+)")


def latex_numbers(latex: str) -> str:
    """Every ``1.29e-07`` in a LaTeX string written ``1.29 \\times 10^{-7}``.

    Text output keeps the compact ``e`` form; in a formula the power of ten is what
    a reader expects.
    """

    def power(match: re.Match[str]) -> str:
        sign = "-" if match[2] == "-" else ""
        return f"{match[1]} \\times 10^{{{sign}{match[3]}}}"

    return _E_NOTATION.sub(power, latex)


_DOUBLE_SIGN = re.compile(r" ([+-]) -(?=[0-9.])")


def plain_signs(worked: str) -> str:
    """A worked formula with numbers substituted, its doubled signs made single:
    ``0.69 - -0.67`` becomes ``0.69 + 0.67`` and ``a + -b`` becomes ``a - b``."""
    return _DOUBLE_SIGN.sub(lambda m: " + " if m.group(1) == "-" else " - ", worked)


def shape_str(shape: Sequence[int]) -> str:
    """``(6, 5)``, ``(1,)`` or ``()`` for a scalar."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(n) for n in shape) + ")"


def index_str(index: Sequence[int]) -> str:
    """``[2, 0]`` for an element index."""
    return "[" + ", ".join(str(i) for i in index) + "]"


#: A row with at most this many non-zero entries is sparse (a one-hot target, a
#: cross-entropy gradient): all its non-zero entries are kept. The same count bounds
#: the entries of a row's minority sign that are kept (the target's entry of O - Y).
SPARSE_ENTRIES = 2


def _line_keys(line: np.ndarray) -> set[int]:
    """Positions a shortened display of ``line`` must keep.

    Its largest-magnitude entry; its non-zero entries when it has at most
    :data:`SPARSE_ENTRIES` of them; the entries of its minority sign when there are
    at most that many (the one negative entry among positive ones).
    """
    keys = {int(np.argmax(np.abs(np.nan_to_num(line, nan=np.inf))))}
    nonzero = np.flatnonzero(line != 0)
    if nonzero.size <= SPARSE_ENTRIES:
        keys.update(int(i) for i in nonzero)
    for sign in (line > 0, line < 0):
        count = int(sign.sum())
        if 0 < count <= SPARSE_ENTRIES and count < nonzero.size - count:
            keys.update(int(i) for i in np.flatnonzero(sign))
    return keys


def _layout(shown: set[int], count: int) -> list[int | None]:
    """``shown`` in order with ``None`` for each run of hidden positions."""
    kept: list[int | None] = []
    previous = -1
    for i in sorted(shown):
        if i != previous + 1:
            kept.append(None)
        kept.append(i)
        previous = i
    if previous != count - 1:
        kept.append(None)
    return kept


def _with_cuts(keep: set[int], count: int, limit: int) -> list[int | None]:
    """Positions to show out of ``count``, at most ``limit`` numbers unless more must be kept.

    Everything in ``keep`` is shown, even past ``limit``; the rest of the room
    (``limit`` numbers and one cut mark) goes to the last position and the first
    ones, as a reader expects. A cut that would hide a single position shows it
    instead, and a cut that saves fewer than two cells is not made.
    """
    if count <= limit:
        return list(range(count))
    shown = set(keep) | {count - 1}
    for i in range(count):
        if i in shown:
            continue
        if len(_layout(shown | {i}, count)) > limit + 1:
            break
        shown.add(i)
    for i in range(1, count - 1):
        if i - 1 in shown and i + 1 in shown:
            shown.add(i)
    kept = _layout(shown, count)
    return list(range(count)) if len(kept) >= count - 1 else kept


def shown_indices(array: np.ndarray) -> tuple[list[int | None], list[int | None]]:
    """Rows and columns a display of ``array`` shows; ``None`` marks each cut.

    Beyond :data:`MAX_ROWS` rows or :data:`MAX_COLS` columns a display is
    shortened, but never at the cost of what a reader needs: the row holding the
    largest-magnitude entry (and the only rows with non-zero entries, when there
    are at most :data:`SPARSE_ENTRIES`), and in every shown row its key entries
    (see :func:`_line_keys`): the target class of a one-hot row, the non-zero
    entries of a sparse row, a lone entry of the other sign, the largest entry.
    The rest of the room goes to the first rows or columns and the last one.
    """
    matrix = _as_matrix(array)
    rows, cols = matrix.shape
    if matrix.size == 0:
        return list(range(rows)), list(range(cols))
    magnitude = np.abs(np.nan_to_num(matrix, nan=np.inf))
    key_rows = {int(np.unravel_index(np.argmax(magnitude), matrix.shape)[0])}
    nonzero_rows = np.flatnonzero((matrix != 0).any(axis=1))
    if 0 < nonzero_rows.size <= SPARSE_ENTRIES:
        key_rows.update(int(r) for r in nonzero_rows)
    shown_rows = _with_cuts(key_rows, rows, MAX_ROWS)
    key_cols: set[int] = set()
    if cols > MAX_COLS:
        for r in shown_rows:
            if r is not None:
                key_cols |= _line_keys(matrix[r])
    return shown_rows, _with_cuts(key_cols, cols, MAX_COLS)


def _as_matrix(array: np.ndarray) -> np.ndarray:
    matrix = np.atleast_2d(np.asarray(array))
    if matrix.ndim > 2:
        matrix = matrix.reshape(-1, matrix.shape[-1])
    return matrix


def as_grid(array: np.ndarray, digits: int = DIGITS) -> list[list[str]]:
    """A 0-, 1- or 2-D array as rows of formatted cells, shortened as :func:`shown_indices` says.

    A 1-D array is one row; each cut is a ``"..."`` cell (a whole row of them
    between rows).
    """
    matrix = _as_matrix(array)
    rows, cols = shown_indices(matrix)
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
    note = cut_note(array)
    if array.ndim == 1:
        return ["[" + cells[0] + "]", *([note] if note else [])]
    last = len(cells) - 1
    lines = [
        ("[[" if i == 0 else " [") + line + ("]]" if i == last else "]")
        for i, line in enumerate(cells)
    ]
    return lines + ([note] if note else [])


def _ranges(kept: list[int | None]) -> str:
    """``0-4, 7, 9`` for the shown positions of a shortened axis."""
    runs: list[list[int]] = []
    for i in kept:
        if i is None:
            runs.append([])
        elif runs and runs[-1]:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = [str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs if r]
    return ", ".join(parts)


def cut_note(array: np.ndarray) -> str:
    """Which rows and columns a shortened display shows: ``(rows 0-4, 17, 29 of 30 shown)``.

    Empty when nothing is cut. Indices start at 0, like the formulas' indices.
    """
    array = np.asarray(array)
    if array.ndim == 0:
        return ""
    matrix = _as_matrix(array)
    rows, cols = shown_indices(matrix)
    parts = []
    if None in rows:
        parts.append(f"rows {_ranges(rows)} of {matrix.shape[0]}")
    if None in cols:
        word = "entries" if array.ndim == 1 else "columns"
        parts.append(f"{word} {_ranges(cols)} of {matrix.shape[1]}")
    return f"({'; '.join(parts)} shown)" if parts else ""


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
#: ``Z1_2``: the value of a layer applied a second time (``h_2``, ``delta1_3``).
_APPLIED_AGAIN = re.compile(r"^(?P<head>[A-Za-z]|delta)(?P<layer>[0-9]*)_(?P<use>[0-9]+)$")


def tex_name(name: str) -> str:
    """A display name in LaTeX: ``Wih`` -> ``W_{ih}``, ``Z1`` -> ``Z_{1}``, ``O`` -> ``O``."""
    match = _SUBSCRIPTED.match(name)
    if len(name) == 1:
        return name
    again = _APPLIED_AGAIN.match(name)
    if again:
        head = "\\delta" if again["head"] == "delta" else again["head"]
        layer = f"_{{{again['layer']}}}" if again["layer"] else ""
        return f"{head}{layer}^{{({again['use']})}}"
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
