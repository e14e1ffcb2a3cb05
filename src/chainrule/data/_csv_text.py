"""The careful reading of a CSV file: every cell kept as text, so that a bad one can be
named by its column, row and line.

With pandas installed, its parser splits the cells; without it, Python's :mod:`csv`
module does, following pandas' rules (quotes, short rows filled with blanks, long rows
refused). Either way the same cells come out, and so the same messages.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

_RAGGED_ROW = re.compile(
    r"Expected (?P<expected>\d+) fields in line (?P<line>\d+), saw (?P<saw>\d+)"
)
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (?P<row>\d+)")


def pandas_or_none() -> ModuleType | None:
    """pandas if it can be imported (the ``data`` extra), else None."""
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def text_table(text: str, sep: str, skipped: int, source: Path) -> np.ndarray:
    """The cells of ``text`` as a 2-D object array of stripped strings, header first.

    A short row is filled with empty cells; a longer row than the header raises.
    """
    pd = pandas_or_none()
    rows = _pandas_cells(pd, text, sep) if pd is not None else _python_cells(text, sep)
    if isinstance(rows, _Ragged):
        raise ValueError(
            f"{source}: rows have different numbers of cells ({rows.detail(skipped)}); "
            f"every line needs one cell per column, separated by {sep!r}"
        )
    return rows


class _Ragged:
    """Where the parser found a row it could not split: a long row or an open quote."""

    def __init__(self, message: str, row: int = 0) -> None:
        self.message = message
        self.row = row  # counted from 0, the header's row included

    def detail(self, skipped: int) -> str:
        found = _RAGGED_ROW.search(self.message)
        if found:
            return (
                f"line {int(found['line']) + skipped} has {found['saw']} cells "
                f"but the header has {found['expected']}"
            )
        opened = _OPEN_QUOTE.search(self.message)
        if opened:
            line = int(opened["row"]) + 1 + skipped
            return f'the quote (") opened on line {line} is never closed'
        return self.message.strip()


def _pandas_cells(pd: ModuleType, text: str, sep: str) -> np.ndarray | _Ragged:
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="python" if len(sep) > 1 and sep != r"\s+" else "c",
        )
    except pd.errors.ParserError as error:
        return _Ragged(str(error))
    cells = table.fillna("").to_numpy(dtype=object)
    return np.vectorize(str.strip, otypes=[object])(cells) if cells.size else cells


def _python_cells(text: str, sep: str) -> np.ndarray | _Ragged:
    rows: list[list[str]] = []
    if len(sep) == 1:
        # The lenient reading splits as pandas' tokenizer does (text after a closing quote,
        # "ab"c, is read as abc), but ends a quote left open at the end of the file
        # without a word: where pandas refuses the file, _open_quote finds it.
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False)
        with _fields_up_to(len(text)):
            ragged = _collect(reader, rows)
        opened = _open_quote(text, sep)
        # The row of the open quote runs to the end of the file and so never ends: pandas
        # reports a longer row only if one ends before it.
        if opened is not None and (ragged is None or ragged.row >= opened):
            return _Ragged(f"EOF inside string starting at row {opened}")
    else:
        # As pandas: space-aligned columns ignore the spaces that start a line; any
        # other delimiter longer than one character is a regular expression.
        pattern = re.compile(r"[ \t]+" if sep == r"\s+" else sep)
        lines = (line.rstrip("\r\n") for line in io.StringIO(text, newline=""))
        if sep == r"\s+":
            lines = (line.strip(" \t") for line in lines)
        ragged = _collect((pattern.split(line) if line else [] for line in lines), rows)
    if ragged is not None:
        return ragged
    width = len(rows[0]) if rows else 0
    table = np.full((len(rows), width), "", dtype=object)
    for index, row in enumerate(rows):
        table[index, : len(row)] = [cell.strip() for cell in row]
    return table


@contextlib.contextmanager
def _fields_up_to(length: int) -> Iterator[None]:
    """Within the block, the csv module reads cells of up to ``length`` characters (it
    refuses any over 131,072 by default; pandas has no limit)."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, length))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _open_quote(text: str, sep: str) -> int | None:
    """The row (counted from 0, blank lines included) of a quote that ``text`` never
    closes, as pandas' tokenizer reads quotes; None when every quote is closed.

    A quote opens a quoted cell only where a cell starts; inside one, two quotes are a
    quote character and a single one closes it. Elsewhere a quote is a character.
    """
    opening = re.compile(f'(?<![^{re.escape(sep)}\r\n])"')
    rows = position = 0
    while found := opening.search(text, position):
        rows += _line_ends(text, position, found.start())
        close = text.find('"', found.end())
        while close >= 0 and text.startswith('"', close + 1):
            close = text.find('"', close + 2)
        if close < 0:
            return rows
        position = close + 1
    return None


def _line_ends(text: str, start: int, end: int) -> int:
    """How many lines end (with \n, \r\n or \r) in ``text[start:end]``."""
    returns = text.count("\r", start, end)
    pairs = text.count("\r\n", start, end) if returns else 0
    return text.count("\n", start, end) + returns - pairs


def _collect(reader: Iterator[list[str]], rows: list[list[str]]) -> _Ragged | None:
    """Append the rows of ``reader`` to ``rows`` up to the first row longer than the
    first (pandas stops there, before any later problem), which it returns."""
    for row in reader:
        if rows and len(row) > len(rows[0]):
            width, line = len(rows[0]), len(rows) + 1
            message = f"Expected {width} fields in line {line}, saw {len(row)}"
            return _Ragged(message, row=len(rows))
        rows.append(row)
    return None
