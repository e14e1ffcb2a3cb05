"""The checks of a CSV file as a file: that it exists, is a regular file within the size
limit and is UTF-8, and where its header line starts.

Two readers share them. :func:`read_text` returns the whole text, for the careful reader
that keeps every cell as text; the fast reader looks at :func:`file_head` only, and
decodes the rest as it parses, a chunk at a time.
"""

from __future__ import annotations

import codecs
import re
import stat
from pathlib import Path

import numpy as np

from chainrule._memory import format_bytes, format_excess

#: Delimiters tried, in this order of preference, when none is given.
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
_QUOTED = re.compile(r'"[^"]*"')
_BOM = codecs.BOM_UTF8
#: Bytes of the file's beginning searched for the header line.
BLOCK_BYTES = 2**20


def check_max_bytes(max_bytes: object) -> int:
    """``max_bytes`` as an int, or a ValueError naming what is accepted."""
    if (
        isinstance(max_bytes, bool)
        or not isinstance(max_bytes, (int, np.integer))
        or max_bytes < 1
    ):
        raise ValueError(f"max_bytes must be a positive whole number of bytes, got {max_bytes!r}")
    return int(max_bytes)


def checked_size(source: Path, max_bytes: int) -> int:
    """The file's size on disk, after the checks that need no reading."""
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
    if info.st_size > max_bytes:
        found, limit = format_excess(info.st_size, max_bytes)
        raise _too_large(source, found, limit)
    return info.st_size


def _too_large(source: Path, found: str, limit: str) -> ValueError:
    return ValueError(
        f"{source}: the file is {found}, over the limit of {limit} "
        "for a CSV file (reading one can take up to 15 times its size in memory); to read "
        "it anyway, raise the limit: --max-csv-size on the command line, max_bytes= in "
        "read_csv"
    )


def _grown_past(source: Path, max_bytes: int) -> ValueError:
    limit = format_bytes(max_bytes)
    return _too_large(source, f"more than {limit}", limit)


def _not_utf8(source: Path, byte: int, line: int) -> ValueError:
    return ValueError(
        f"{source}: not valid UTF-8 (byte 0x{byte:02x} on line {line}); "
        "save the file with UTF-8 encoding (e.g. 'CSV UTF-8' in a spreadsheet program)"
    )


def read_text(source: Path, max_bytes: int) -> str:
    """The whole file as text, its byte-order mark removed, after every check of the file."""
    checked_size(source, max_bytes)
    # The size on disk can be wrong (a file still growing, or one in /proc), so the read
    # itself is bounded too: one byte past the limit is enough to know.
    with source.open("rb") as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise _grown_past(source, max_bytes)
    bom = len(_BOM) if raw.startswith(_BOM) else 0
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        where = bom + error.start
        raise _not_utf8(source, raw[where], raw[:where].count(b"\n") + 1) from None


def file_head(source: Path) -> tuple[bytes, bool]:
    """The first block of the file, and whether it is the whole file."""
    with source.open("rb") as handle:
        block = handle.read(BLOCK_BYTES)
    return block, len(block) < BLOCK_BYTES


def header_start(head: bytes, whole: bool) -> tuple[str, int] | None:
    """The header line and the byte where it starts, below any blank lines.

    ``head`` is the start of the file (``whole``: all of it). None when ``head`` holds no
    complete non-blank line, or is not UTF-8: the careful reader must decide.
    """
    bom = len(_BOM) if head.startswith(_BOM) else 0
    # Most files start with their header: look at a little of the block first.
    for size in (2**12, 2**16, len(head)):
        part = head[bom : bom + size]
        complete = whole and size >= len(head)
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(part, final=complete)
        except UnicodeDecodeError:
            return None
        lines = text.splitlines(keepends=True)
        for index, line in enumerate(lines):
            if line.strip():
                # A line is complete when another follows it (a "\r" at the end of the
                # part might be half of "\r\n").
                if index == len(lines) - 1 and not complete:
                    break
                start = bom + len("".join(lines[:index]).encode("utf-8"))
                return line.splitlines()[0], start
    return None


def strip_leading_blank_lines(text: str) -> tuple[str, int]:
    """Return the text from its first non-blank line on, and how many lines were cut."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.strip():
            return "".join(lines[index:]), index
    return "", len(lines)


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of , ; tab and | outside quotes in the header (``,`` if none)."""
    unquoted = _QUOTED.sub("", header_line)
    counts = {sep: unquoted.count(sep) for sep in CANDIDATE_DELIMITERS}
    best = max(CANDIDATE_DELIMITERS, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")
