"""The fast reading of a CSV file of numbers, in chunks, straight into a float array.

It reads only files it can vouch for: every feature (and numeric target) cell a finite
number written as pandas writes numbers, every row as long as the header, text labels
neither missing nor numbers. At anything else it gives up (:class:`FastReadError`) and the
careful reader, which keeps every cell as text, reads the file and names the problem;
so the result and every message are the careful reader's, only sooner.

With pandas, its C parser splits and converts the cells; without it, Python's
:mod:`csv` module splits them and NumPy converts them. Either way memory holds the
array being filled and one chunk of rows, never the file's text.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import math
import warnings
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from ._csv_cells import BadLabel, target_values
from ._csv_numbers import not_plain
from ._csv_text import pandas_or_none

#: Rows converted at a time: pandas' chunks (smaller ones stay in the processor's cache,
#: and measure faster than larger ones), and the csv module's.
PANDAS_CHUNK_ROWS = 2**15
PYTHON_CHUNK_ROWS = 2**12
#: Characters of lines handed to ``numpy.loadtxt`` at a time.
PYTHON_BLOCK_CHARS = 2**18


class FastReadError(Exception):
    """The fast reader cannot vouch for this file: the careful reader decides."""


@dataclass(frozen=True)
class Layout:
    """Where the cells are and which columns to take.

    ``start`` is the byte where the header line starts, ``width`` the header's number of
    cells, ``features`` the columns of X in order, ``rows`` the rows to make room for at
    first, ``most_rows`` the most the file can hold, ``end`` the file's size when checked.
    """

    start: int
    sep: str
    width: int
    features: list[int]
    target: int | None
    rows: int
    most_rows: int
    end: int


def row_bounds(head: bytes, whole: bool, start: int, end: int, columns: int) -> tuple[int, int]:
    """A guess at the number of rows below the header, and the most there can be.

    ``head`` is the start of the file (``whole``: all of it), ``start`` the byte where its
    header starts, ``end`` the file's size and ``columns`` the cells read from each row.
    The guess scales the head's rows per byte to the file; the most is what the bytes
    hold when every cell read is one character and the delimiter or line end after it,
    a bound without reading the file (a row must be longer to be read).
    """
    most = (end - start) // (2 * columns) + 1
    body = head[start:]
    lines = body.count(b"\n")
    if whole:
        guess = lines + (not body.endswith(b"\n")) - 1  # less the header
    else:
        header_end = body.find(b"\n") + 1
        sampled = body.rfind(b"\n") + 1 - header_end
        rest = end - start - header_end
        guess = _scaled(lines - 1, sampled, rest) if sampled else most
    return max(0, min(guess, most)), most


def _scaled(rows: int, sampled: int, total: int) -> int:
    """The rows ``total`` bytes hold if they hold them as ``rows`` rows in ``sampled``
    bytes do, with 2% spare room: growing the arrays later costs more than unused room."""
    return math.ceil(1.02 * rows * total / sampled)


@contextlib.contextmanager
def _opened(source: Path, start: int, end: int) -> Iterator[io.BufferedReader]:
    """The file from ``start`` on; FastReadError if it has changed since checked up to ``end``."""
    with source.open("rb") as handle:
        handle.seek(start)
        yield handle
        if handle.tell() > end:
            raise FastReadError


def header_cells(source: Path, start: int, sep: str) -> list[str]:
    """The header's cells, stripped, as the careful reader splits them."""
    pd = pandas_or_none()
    with source.open("rb") as handle:
        handle.seek(start)
        try:
            if pd is not None:
                table = pd.read_csv(
                    handle, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False,
                    skip_blank_lines=False, engine="c", encoding="utf-8",
                )  # fmt: skip
                row = table.fillna("").iloc[0].tolist()
            else:
                rows = _python_rows(handle, sep)
                with contextlib.closing(rows):
                    row = next(rows)
        except (ValueError, UnicodeError, csv.Error, StopIteration):
            raise FastReadError from None
    return [cell.strip() for cell in row]


def read_numbers(source: Path, layout: Layout) -> tuple[np.ndarray, np.ndarray | None]:
    """``X`` and ``y`` of the rows below the header, or FastReadError."""
    pd = pandas_or_none()
    filler = _Filler(layout)
    with _opened(source, layout.start, layout.end) as handle:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pandas' warnings of mixed types
                chunks = _pandas_chunks(pd, handle, layout) if pd else _numpy_chunks(handle, layout)
                with contextlib.closing(chunks):  # before ``handle`` closes
                    for features, target in chunks:
                        filler.add(features, target, handle.tell())
        except (ValueError, OverflowError, UnicodeError, csv.Error):
            raise FastReadError from None
    return filler.result()


Chunk = tuple[list[np.ndarray], np.ndarray | None]


def _pandas_chunks(
    pd: ModuleType, handle: io.BufferedReader, layout: Layout
) -> Generator[Chunk, None, None]:
    reader = pd.read_csv(
        # No names=: with names, pandas would take a longer row's first cells as an index.
        handle, sep=layout.sep, header=None, skiprows=1,
        na_filter=False, engine="c", encoding="utf-8", chunksize=PANDAS_CHUNK_ROWS,
        low_memory=False,  # each chunk in one piece: chunksize bounds the memory already
    )  # fmt: skip
    with reader:
        for chunk in reader:
            if chunk.shape[1] != layout.width:  # the first row's length sets pandas' width
                raise FastReadError
            columns = [chunk[column] for column in layout.features]
            if any(column.dtype.kind not in "iuf" for column in columns):
                raise FastReadError
            target = None
            if layout.target is not None:
                labels = chunk[layout.target]
                kind = labels.dtype.kind
                if kind not in "iufO":  # True/False became booleans: the text is lost
                    raise FastReadError
                target = labels.to_numpy(dtype=object if kind == "O" else np.float64)
            yield [column.to_numpy(dtype=np.float64) for column in columns], target


@contextlib.contextmanager
def _text(handle: io.BufferedReader) -> Iterator[io.TextIOWrapper]:
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    try:
        yield text
    finally:
        text.detach()  # leaves ``handle`` open, for its owner to close


def _python_rows(handle: io.BufferedReader, sep: str) -> Generator[list[str], None, None]:
    with _text(handle) as text:
        yield from csv.reader(text, delimiter=sep, strict=True)


def _numpy_chunks(handle: io.BufferedReader, layout: Layout) -> Generator[Chunk, None, None]:
    """Blocks of lines of nothing but numbers go to ``numpy.loadtxt``; from the first
    block with anything else on (quotes, text labels), the csv module splits the rows."""
    other = not_plain(layout.sep + "\r\n")
    with _text(handle) as text:
        text.readline()  # the header
        while lines := text.readlines(PYTHON_BLOCK_CHARS):
            if other.search("".join(lines)):
                rows = csv.reader(itertools.chain(lines, text), delimiter=layout.sep, strict=True)
                yield from _numpy_converted(rows, layout)
                return
            table = np.loadtxt(
                lines, delimiter=layout.sep, comments=None, dtype=np.float64, ndmin=2
            )
            if table.shape[1] != layout.width:
                raise FastReadError
            if len(table):
                target = None if layout.target is None else table[:, layout.target]
                yield list(table[:, layout.features].T), target


def _numpy_converted(rows: Iterator[list[str]], layout: Layout) -> Iterator[Chunk]:
    while chunk := list(itertools.islice(rows, PYTHON_CHUNK_ROWS)):
        chunk = [row for row in chunk if row]  # blank lines
        if any(len(row) != layout.width for row in chunk):
            raise FastReadError
        if not chunk:
            continue
        features = [_floats([row[column] for row in chunk]) for column in layout.features]
        target = None
        if layout.target is not None:
            labels = [row[layout.target] for row in chunk]
            try:
                target = _floats(labels)
            except FastReadError:
                target = np.array(labels, dtype=object)
        yield features, target


_OTHER = not_plain()


def _floats(cells: list[str]) -> np.ndarray:
    """The cells as numbers, if every one is plain (FastReadError if not); a ValueError
    for a plain cell that is no number ("1e", "."), which pandas refuses as well."""
    if _OTHER.search(" ".join(cells)):  # a space between cells, as around them
        raise FastReadError
    return np.array([float(cell) for cell in cells])


class _Filler:
    """Fills ``X`` (and ``y``) chunk by chunk, checking each chunk; the arrays start at
    the layout's guess of the rows, grow when a chunk does not fit, and are trimmed to
    the rows read at the end."""

    def __init__(self, layout: Layout) -> None:
        self.X = np.empty((layout.rows, len(layout.features)), dtype=np.float64)
        self.y = np.empty(layout.rows) if layout.target is not None else None
        self.most_rows = layout.most_rows
        self.start, self.end = layout.start, layout.end
        self.labels: list[np.ndarray] = []
        self.numeric_labels = False
        self.rows = 0

    def add(self, features: list[np.ndarray], target: np.ndarray | None, read: int) -> None:
        """Check and store a chunk of rows; ``read`` is how far into the file the
        parser has read (it reads ahead of the rows it has handed over)."""
        start, end = self.rows, self.rows + len(features[0])
        if end > len(self.X):
            if end > self.most_rows:  # more rows than the bytes hold: the file has changed
                raise FastReadError
            self._resize(min(self.most_rows, self._guess(end, read)))
        block = self.X[start:end]
        for j, column in enumerate(features):
            block[:, j] = column
        if not _finite(block):
            raise FastReadError
        if target is not None and self.y is not None:
            if target.dtype == object:
                self.labels.append(target)
            else:
                self.y[start:end] = target
                self.numeric_labels = True
                if not _finite(self.y[start:end]):
                    raise FastReadError
            if self.labels and self.numeric_labels:  # numbers mixed with text
                raise FastReadError
        self.rows = end

    def _guess(self, rows: int, read: int) -> int:
        """The rows to make room for when ``rows`` rows came from the first ``read``
        bytes: the rate so far scaled to the file, with a little spare room; and at
        least an eighth more than now, for the guess runs short while the parser
        reads ahead. Growing by guesses, not by a fixed factor, keeps the room that
        growing fills with zeros (NumPy does) close to the rows still to come."""
        scaled = _scaled(rows, max(read - self.start, 1), self.end - self.start)
        return max(rows, scaled, len(self.X) + len(self.X) // 8)

    def _resize(self, rows: int) -> None:
        """Give the arrays room for ``rows`` rows, keeping those filled. In place where
        NumPy allows it (the memory is reallocated, neither copied nor held twice), so
        through the attributes themselves: an array passed on to a helper has one
        reference more, and NumPy then refuses to resize it in place."""
        try:
            self.X.resize((rows, self.X.shape[1]))
        except ValueError:  # another reference to the array exists: copy instead
            self.X = _copied(self.X, rows)
        if self.y is not None:
            try:
                self.y.resize((rows,))
            except ValueError:
                self.y = _copied(self.y, rows)

    def result(self) -> tuple[np.ndarray, np.ndarray | None]:
        if self.rows == 0:
            raise FastReadError
        if self.rows != len(self.X):
            self._resize(self.rows)
        X = self.X
        if self.y is None:
            return X, None
        if not self.labels:
            return X, self.y
        labels = [str(label).strip() for part in self.labels for label in part]
        y = target_values(np.array(labels, dtype=object))
        if isinstance(y, BadLabel):
            raise FastReadError
        return X, y


def _copied(values: np.ndarray, rows: int) -> np.ndarray:
    """A copy of ``values`` with ``rows`` rows, its first ones those of ``values``."""
    copy = np.empty((rows, *values.shape[1:]), dtype=values.dtype)
    kept = min(rows, len(values))
    copy[:kept] = values[:kept]
    return copy


def _finite(values: np.ndarray) -> bool:
    """Whether every value is finite. A finite sum says so in one pass without a
    temporary array; only a sum that overflows needs the look at each value."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(values.sum())) or bool(np.isfinite(values).all())


