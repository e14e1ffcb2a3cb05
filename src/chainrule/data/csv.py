"""Read a CSV file of numbers into a :class:`Dataset`, with errors that say what to fix.

Every cell is read as text first and converted here rather than inside pandas, so a
bad cell can be reported by its column, its data row and its line in the file.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from chainrule._memory import format_bytes, format_excess
from chainrule._show import MAX_NAMES, names, shown

from ._csv_cells import numeric_column, target_column
from .dataset import Dataset

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_CSV_BYTES", "csv_columns", "read_csv"]

#: The largest CSV file :func:`read_csv` reads unless told otherwise: 256 MiB.
MAX_CSV_BYTES = 256 * 2**20

#: Delimiters tried, in this order of preference, when none is given.
_CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
_QUOTED = re.compile(r'"[^"]*"')
_RAGGED_ROW = re.compile(
    r"Expected (?P<expected>\d+) fields in line (?P<line>\d+), saw (?P<saw>\d+)"
)


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
        The largest file read. Reading takes about 15 times the file's size in
        memory, so a larger file is refused before any of it is read.

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
    table, header, skipped = _table(source, delimiter, max_bytes)
    cells = table.iloc[1:]
    # Row i of the table is line i + 1 of the text, after the skipped blank lines.
    lines = np.arange(2, len(table) + 1) + skipped
    nonblank = (cells != "").any(axis=1).to_numpy()
    cells, lines = cells[nonblank], lines[nonblank]

    if len(cells) == 0:
        raise ValueError(
            f"{source}: the file has a header ({names(header, quoted=False)}) but no data rows; "
            "add one line per sample below the header"
        )

    target = None if target is None else _normal(target)
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

    columns = {name: cells.iloc[:, header.index(name)] for name in header}
    X = np.empty((len(cells), len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        X[:, j] = numeric_column(columns[name], name, lines, source, target)
    y = None if target is None else target_column(columns[target], target, lines, source)
    return Dataset(X=X, y=y, feature_names=features, target_name=target)


def csv_columns(
    path: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    max_bytes: int = MAX_CSV_BYTES,
) -> list[str]:
    """The column names of a CSV file, with :func:`read_csv`'s checks of the file and header.

    For offering a choice of target column before the file is read as numbers.
    """
    return _table(Path(path), delimiter, max_bytes)[1]


def _table(
    source: Path, delimiter: str | None, max_bytes: int
) -> tuple[pd.DataFrame, list[str], int]:
    """The file's cells as text, its checked header and the blank lines skipped above it."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive whole number of bytes, got {max_bytes!r}")
    text, skipped = _strip_leading_blank_lines(_read_text(source, int(max_bytes)))
    if not text:
        raise ValueError(
            f"{source}: the file is empty; expected a header line naming the columns, "
            "then one line per sample"
        )
    header_line = text.splitlines()[0]
    sep = _sniff_delimiter(header_line) if delimiter is None else delimiter
    if not sep:
        raise ValueError('delimiter must be a non-empty string such as "," or ";", got ""')
    table = _parse(text, sep, skipped, source)
    header = [_normal(name) for name in table.iloc[0]]
    _check_header(header, header_line, sep, delimiter is None, source)
    return table, header, skipped


def _read_text(source: Path, max_bytes: int) -> str:
    if not source.exists():
        raise FileNotFoundError(
            f"no such file: {str(source)!r} (looked in {source.resolve().parent}); "
            "check the path and the current directory"
        )
    if source.is_dir():
        raise ValueError(f"{source} is a directory; pass the path of a CSV file inside it")
    # A device or pipe may never end (/dev/zero) or never start (a FIFO nobody writes
    # to: even opening it would wait), so only regular files are read.
    info = source.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(
            f"{source} is {_file_kind(info.st_mode)}, not a regular file; save the table "
            "to a .csv file and pass that file's path"
        )
    size = info.st_size
    # The size on disk can be wrong (a file still growing, or one in /proc), so the read
    # itself is bounded too: one byte past the limit is enough to know.
    with source.open("rb") as handle:
        raw = handle.read(max_bytes + 1) if size <= max_bytes else b""
    if size > max_bytes or len(raw) > max_bytes:
        if size > max_bytes:
            found, limit = format_excess(size, max_bytes)
        else:
            limit = format_bytes(max_bytes)
            found = f"more than {limit}"
        raise ValueError(
            f"{source}: the file is {found}, over the limit of {limit} "
            "for a CSV file (reading one takes about 15 times its size in memory); to read "
            "it anyway, raise the limit: --max-csv-size on the command line, max_bytes= in "
            "read_csv"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        byte = raw[error.start : error.start + 1].hex()
        raise ValueError(
            f"{source}: not valid UTF-8 (byte 0x{byte} on line {line}); "
            "save the file with UTF-8 encoding (e.g. 'CSV UTF-8' in a spreadsheet program)"
        ) from None


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")


def _strip_leading_blank_lines(text: str) -> tuple[str, int]:
    """Return the text from its first non-blank line on, and how many lines were cut."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.strip():
            return "".join(lines[index:]), index
    return "", len(lines)


def _sniff_delimiter(header_line: str) -> str:
    unquoted = _QUOTED.sub("", header_line)
    counts = {sep: unquoted.count(sep) for sep in _CANDIDATE_DELIMITERS}
    best = max(_CANDIDATE_DELIMITERS, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def _parse(text: str, sep: str, skipped: int, source: Path) -> pd.DataFrame:
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("read_csv needs pandas; install it with: pip install pandas") from None
    import io

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
        found = _RAGGED_ROW.search(str(error))
        detail = (
            f"line {int(found['line']) + skipped} has {found['saw']} cells "
            f"but the header has {found['expected']}"
            if found
            else str(error).strip()
        )
        raise ValueError(
            f"{source}: rows have different numbers of cells ({detail}); every line needs "
            f"one cell per column, separated by {sep!r}"
        ) from None
    return table.fillna("").apply(lambda column: column.str.strip())


def _check_header(
    header: list[str], header_line: str, sep: str, sniffed: bool, source: Path
) -> None:
    if len(header) == 1:
        others = [s for s in _CANDIDATE_DELIMITERS if s != sep and s in header_line]
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
