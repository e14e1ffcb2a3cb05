"""Read a CSV file of numbers into a :class:`Dataset`, with errors that say what to fix.

Two readers share the checks. The fast one (:mod:`._csv_fast`) parses numbers in
chunks straight into the array, with pandas' C parser where pandas is installed; at the
first cell or row it cannot vouch for it gives up, and the careful one reads every cell
as text first, so that a bad cell can be reported by its column, its data row and its
line in the file. Every message therefore comes from the careful reader.
"""

from __future__ import annotations

import difflib
import os
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chainrule._show import MAX_NAMES, names, shown

from ._csv_cells import numeric_column, target_column
from ._csv_fast import FastReadError, Layout, header_cells, read_numbers, row_bounds
from ._csv_file import (
    CANDIDATE_DELIMITERS,
    check_max_bytes,
    checked_size,
    file_head,
    header_start,
    read_text,
    sniff_delimiter,
    strip_leading_blank_lines,
)
from ._csv_text import pandas_or_none, text_table
from .dataset import Dataset

__all__ = ["MAX_CSV_BYTES", "csv_columns", "read_csv"]

#: The largest CSV file :func:`read_csv` reads unless told otherwise: 256 MiB.
MAX_CSV_BYTES = 256 * 2**20


def read_csv(
    path: str | os.PathLike[str],
    target: str | None = None,
    *,
    delimiter: str | None = None,
    feature_names: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    max_bytes: int = MAX_CSV_BYTES,
) -> Dataset:
    """Read a CSV file whose first line names the columns.

    Every column except ``target`` is a feature and must hold numbers. The target may
    hold numbers (returned as float64) or text class labels (returned as a string
    array, exactly as written). Blank lines are skipped; spaces around cells are
    ignored.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file, UTF-8 encoded (a byte-order mark is allowed).
    target : str, optional
        Name of the target column. ``None`` reads every column as a feature, as when
        predicting.
    delimiter : str, optional
        Cell separator. By default the most frequent of ``,`` ``;`` tab and ``|`` in
        the header line is used. ``r"\\s+"`` reads space-aligned columns.
    feature_names : sequence of str, optional
        The feature columns a model was trained on. When given, the file's feature
        columns must be exactly these (in any order); ``X`` follows this order.
    ignore : sequence of str, default ()
        Columns to leave out unread, e.g. a target column, possibly blank, in a file
        given for prediction. Names that are not in the file are allowed.
    max_bytes : int, default MAX_CSV_BYTES (256 MiB)
        The largest file read; a larger one is refused before any of it is read. A
        clean file takes about 1.5 times its size in memory to read, but one with a
        problem in it up to 15 times: every cell is then kept as text, to name the bad
        one.

    Where pandas is installed (the ``data`` extra) its C parser reads the numbers,
    in chunks straight into ``X``; without it Python's :mod:`csv` module and NumPy do,
    a few times slower. Both read the same files and give the same messages.

    Column names are compared in Unicode normal form NFC, so ``café`` written with a
    combining accent matches ``café`` written with the accented letter; the names
    returned are in that form.

    Returns
    -------
    Dataset
        ``X`` of shape (n_samples, n_features) as float64, ``y`` of shape
        (n_samples,) or ``None``, and the column names.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not a regular file (a device such as ``/dev/zero``, a pipe,
        a socket) or is larger than ``max_bytes``.
        If the file cannot be read as a table of numbers: not UTF-8, empty, no data
        rows, duplicated or empty column names, a missing, non-numeric or infinite
        cell, an unknown target column, a likely wrong delimiter, or feature columns
        that differ from ``feature_names``. The message names the cell or column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "houses.csv"
    >>> _ = path.write_text("size,rooms,price\\n1.2,3,0.4\\n0.8,2,0.3\\n")
    >>> data = read_csv(path, target="price")
    >>> data.X
    array([[1.2, 3. ],
           [0.8, 2. ]])
    >>> data.y, data.feature_names
    (array([0.4, 0.3]), ['size', 'rooms'])
    """
    hint = _library_hint(None if target is None else _normal(target))
    return read_table(path, target, delimiter, feature_names, ignore, hint, max_bytes=max_bytes)


def read_table(
    path: str | os.PathLike[str],
    target: str | None,
    delimiter: str | None,
    feature_names: Sequence[str] | None,
    ignore: Sequence[str],
    unexpected_hint: str,
    *,
    max_bytes: int = MAX_CSV_BYTES,
) -> Dataset:
    """:func:`read_csv`, with the advice for unexpected feature columns given by the
    caller: the command line has no ``target=`` or ``ignore=`` to suggest."""
    source = Path(path)
    max_bytes = check_max_bytes(max_bytes)
    size = checked_size(source, max_bytes)
    try:
        return _read_fast(source, target, delimiter, feature_names, ignore, size)
    except FastReadError:
        pass
    return _read_careful(
        source, target, delimiter, feature_names, ignore, unexpected_hint, max_bytes
    )


def _read_fast(
    source: Path,
    target: str | None,
    delimiter: str | None,
    feature_names: Sequence[str] | None,
    ignore: Sequence[str],
    size: int,
) -> Dataset:
    """The file of ``size`` bytes read by the fast reader, or FastReadError for the
    careful one to decide (and to word the message: this reader shows none)."""
    head, whole = file_head(source)
    start = header_start(head, whole)
    # pandas skips the header badly when a lone "\r" ends it (old Mac files): it eats the
    # next line's first character. (A "\r" that ends the head may be half of a "\r\n".)
    seen = head[:-1] if not whole and head.endswith(b"\r") else head
    if start is None or seen.count(b"\r") != seen.count(b"\r\n"):
        raise FastReadError
    header_line, offset = start
    sep = sniff_delimiter(header_line) if delimiter is None else delimiter
    if not sep or (len(sep) > 1 and (sep != r"\s+" or pandas_or_none() is None)):
        raise FastReadError  # regular expressions, and any longer delimiter without pandas
    header = [_normal(name) for name in header_cells(source, offset, sep)]
    try:
        _check_header(header, header_line, sep, delimiter is None, source)
        target = None if target is None else _normal(target)
        features = _features(header, target, feature_names, ignore, "", source)
    except ValueError:
        raise FastReadError from None
    read = len(features) + (target is not None)
    rows, most_rows = row_bounds(head, whole, offset, size, read)
    layout = Layout(
        start=offset,
        sep=sep,
        width=len(header),
        features=[header.index(name) for name in features],
        target=None if target is None else header.index(target),
        rows=rows,
        most_rows=most_rows,
        end=size,
    )
    X, y = read_numbers(source, layout)
    return Dataset(X=X, y=y, feature_names=features, target_name=target)


def _read_careful(
    source: Path,
    target: str | None,
    delimiter: str | None,
    feature_names: Sequence[str] | None,
    ignore: Sequence[str],
    unexpected_hint: str,
    max_bytes: int,
) -> Dataset:
    """The file read with every cell as text, naming the first problem found."""
    table, header, skipped = _table(source, delimiter, max_bytes)
    cells = table[1:]
    # Row i of the table is line i + 1 of the text, after the skipped blank lines.
    lines = np.arange(2, len(table) + 1) + skipped
    nonblank = (cells != "").any(axis=1)
    cells, lines = cells[nonblank], lines[nonblank]

    if len(cells) == 0:
        raise ValueError(
            f"{source}: the file has a header ({names(header, quoted=False)}) but no data rows; "
            "add one line per sample below the header"
        )

    target = None if target is None else _normal(target)
    features = _features(header, target, feature_names, ignore, unexpected_hint, source)
    X = np.empty((len(cells), len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        X[:, j] = numeric_column(cells[:, header.index(name)], name, lines, source, target)
    y = None
    if target is not None:
        y = target_column(cells[:, header.index(target)], target, lines, source)
    return Dataset(X=X, y=y, feature_names=features, target_name=target)


def _features(
    header: list[str],
    target: str | None,
    feature_names: Sequence[str] | None,
    ignore: Sequence[str],
    unexpected_hint: str,
    source: Path,
) -> list[str]:
    """The feature columns in the order of X, or the ValueError that says why not."""
    if target is not None and target not in header:
        raise ValueError(f"{source}: {_unknown_column_message(target, header)}")
    left_out = {_normal(name) for name in ignore}
    features = [name for name in header if name != target and name not in left_out]
    if not features:
        raise ValueError(
            f"{source}: no feature columns left after taking {target!r} as the target; "
            "the file needs at least one more column"
        )
    if feature_names is not None:
        expected = [_normal(name) for name in feature_names]
        features = _match_expected(features, expected, source, unexpected_hint)
    return features


def csv_columns(
    path: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    max_bytes: int = MAX_CSV_BYTES,
) -> list[str]:
    """The column names of a CSV file, with :func:`read_csv`'s checks of the file and header.

    For offering a choice of target column before the file is read as numbers.
    """
    return _table(Path(path), delimiter, check_max_bytes(max_bytes))[1]


def _table(
    source: Path, delimiter: str | None, max_bytes: int
) -> tuple[np.ndarray, list[str], int]:
    """The file's cells as text, its checked header and the blank lines skipped above it."""
    text, skipped = strip_leading_blank_lines(read_text(source, max_bytes))
    if not text:
        raise ValueError(
            f"{source}: the file is empty; expected a header line naming the columns, "
            "then one line per sample"
        )
    header_line = text.splitlines()[0]
    sep = sniff_delimiter(header_line) if delimiter is None else delimiter
    if not sep:
        raise ValueError('delimiter must be a non-empty string such as "," or ";", got ""')
    table = text_table(text, sep, skipped, source)
    header = [_normal(name) for name in table[0]]
    _check_header(header, header_line, sep, delimiter is None, source)
    return table, header, skipped


def _check_header(
    header: list[str], header_line: str, sep: str, sniffed: bool, source: Path
) -> None:
    if len(header) == 1:
        others = [s for s in CANDIDATE_DELIMITERS if s != sep and s in header_line]
        if others:
            raise ValueError(
                f"{source}: the header {shown(header_line.strip())} was read as a single column "
                f"using delimiter {sep!r}, but it contains {others[0]!r}; the delimiter is "
                f"likely wrong: pass delimiter={others[0]!r}"
            )
        if len(header_line.split()) > 1:
            how = "no , ; tab or | was found" if sniffed else f"using delimiter {sep!r}"
            raise ValueError(
                f"{source}: the header {shown(header_line.strip())} was read as a single column "
                f"({how}); the delimiter is likely wrong: for space-separated columns "
                'pass delimiter=r"\\s+"'
            )
    for position, name in enumerate(header, start=1):
        if not name:
            raise ValueError(
                f"{source}: column {position} has no name in the header line; "
                "give every column a name"
            )
    duplicated = sorted(name for name, n in Counter(header).items() if n > 1)
    if duplicated:
        raise ValueError(
            f"{source}: duplicated column name(s) {names(duplicated)} "
            "in the header; rename the columns so that each name appears once"
        )


def _unknown_column_message(name: str, available: list[str]) -> str:
    close = difflib.get_close_matches(name, available, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if not close and all(_is_number(column) for column in available):
        hint = " (the first line holds numbers: is the header line missing?)"
    return (
        f"target column {shown(name)} not found{hint}; "
        f"available columns: {names(available, 6)}"
    )


#: What a user of the command line can do about unexpected columns (it has no
#: ``target=`` or ``ignore=`` to suggest).
COMMAND_LINE_HINT = (
    "delete the unexpected columns from the file, or give them the model's feature names"
)


def _normal(name: str) -> str:
    """``name`` in Unicode normal form NFC: how names are compared."""
    return unicodedata.normalize("NFC", name)


def _library_hint(target: str | None) -> str:
    """What a caller of :func:`read_csv` can do about unexpected columns."""
    if target is None:
        return "if one is the target, pass target=<name>; to leave one out, ignore=[<name>]"
    return "to leave a column out, pass ignore=[<its name>]"


def _match_expected(found: list[str], expected: list[str], source: Path, hint: str) -> list[str]:
    """Return ``expected`` if the file's feature columns are the same names, else raise
    naming a few of the missing and unexpected ones; ``hint`` says what to do about
    unexpected columns (it differs between the library and the command line)."""
    if len(set(expected)) != len(expected):
        repeated = sorted(name for name, n in Counter(expected).items() if n > 1)
        raise ValueError(
            f"feature_names must not repeat a name, got {names(repeated)} more than once"
        )
    wanted, present = set(expected), set(found)
    missing = [name for name in expected if name not in present]
    extra = [name for name in found if name not in wanted]
    if not missing and not extra:
        return expected
    details = []
    if missing:
        details.append(f"missing {names(missing)}")
    if extra:
        details.append(f"unexpected {names(extra)}")
    # Short lists are shown whole; of a wide file, only what differs.
    short = len(expected) <= MAX_NAMES and len(found) <= MAX_NAMES
    expected_list = f" [{names(expected)}]" if short else ""
    found_list = f": [{names(found)}]" if short else ""
    raise ValueError(
        f"{source}: expected {len(expected)} feature columns{expected_list}, found "
        f"{len(found)}{found_list} ({'; '.join(details)})" + (f"; {hint}" if extra and hint else "")
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
