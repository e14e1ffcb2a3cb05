"""What the CSV readers take for a number: one rule, in one place.

pandas reads a cell as a number when it is ASCII digits with an optional sign, decimal
point and exponent, or ``inf``/``infinity`` in any case. A cell written only with the
characters of :data:`PLAIN`, and spaces or tabs around them, is *plain*: Python's
``float``, NumPy (``astype``, ``loadtxt``) and pandas read it as the same number, or all
refuse it ("1e", "."). So the fast readers take plain cells only, parsed by whichever of
them is at hand, and give up at any other; the careful reader parses the plain cells in
one NumPy call and looks at the others one by one.
"""

from __future__ import annotations

import math
import re

import numpy as np

#: The characters of numbers as pandas reads them.
PLAIN = "0123456789.eE+-"
#: What may stand around a plain cell: every reader strips it.
_BLANKS = " \t"
#: The numbers among the plain cells, written out: ASCII digits with an optional sign,
#: decimal point and exponent.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INFINITE = {
    sign + word: (-math.inf if sign == "-" else math.inf)
    for sign in ("", "+", "-")
    for word in ("inf", "infinity")
}
#: Per character code: whether it is plain (0 too: NumPy's padding of short text).
_PLAIN_CODES = np.zeros(129, dtype=bool)
_PLAIN_CODES[[0, *map(ord, PLAIN)]] = True


def not_plain(structure: str = "") -> re.Pattern[str]:
    """The pattern that finds, in text of plain cells and the characters of ``structure``
    (delimiters, line ends), the first character that is neither."""
    return re.compile(f"[^{re.escape(PLAIN + _BLANKS + structure)}]")


def to_numbers(cells: np.ndarray) -> np.ndarray:
    """The stripped text ``cells`` as float64, NaN where a cell is not a number.

    What counts as a number is what ``pandas.to_numeric`` reads: ASCII digits with an
    optional sign, decimal point and exponent, or ``inf``/``infinity`` in any case (not
    ``1_000``, ``0x10`` or ``True``). Values are correctly rounded, as pandas' parser of
    files rounds them.
    """
    values = np.full(len(cells), np.nan)
    if len(cells) == 0:
        return values
    text = np.asarray(cells, dtype=str)
    plain = np.flatnonzero(_plain_rows(text[:, np.newaxis]))
    try:
        values[plain] = text[plain].astype(np.float64)
    except ValueError:  # "1e", "+", ".": left to the cell-by-cell reading below
        plain = plain[:0]
    for index in np.setdiff1d(np.arange(len(cells)), plain, assume_unique=True):
        cell = str(text[index])
        if _NUMBER.fullmatch(cell):
            values[index] = float(cell)
        else:
            values[index] = _INFINITE.get(cell.lower(), math.nan)
    return values


def _plain_rows(cells: np.ndarray) -> np.ndarray:
    """Per row of the 2-D array of stripped text ``cells``: whether every cell is plain."""
    codes = np.ascontiguousarray(cells).view(np.uint32).reshape(len(cells), -1)
    return np.asarray(_PLAIN_CODES[np.minimum(codes, 128)].all(axis=1))
