"""Convert the text cells of one CSV column to numbers, naming any cell that fails."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ._csv_numbers import to_numbers

#: Cells that mean "no value here" (compared case-insensitively).
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
#: A number written with a decimal comma: 0,5 or 3,25 (1,234 is ambiguous, see below).
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$", re.ASCII)
#: Digits grouped in threes by one separator: 1,234 / 12.345.678 / 1 234 / 1'234, then
#: optionally a decimal part after the other mark: 1,234.5 / 1.234,5 / 1 234,5.
_GROUPED = re.compile(
    r"^(?P<sign>[+-]?)(?P<head>[1-9]\d{0,2})(?P<groups>(?:(?P<sep>[,. \u00a0\u202f'])\d{3})"
    r"(?:(?P=sep)\d{3})*)(?:(?P<mark>[.,])(?P<fraction>\d+))?$",
    re.ASCII,
)
_SEPARATOR_NAMES = {" ": "a space", "\u00a0": "a space", "\u202f": "a space", "'": "an apostrophe"}


def _where(lines: np.ndarray, index: int) -> str:
    return f"row {index + 1} (line {int(lines[index])} of the file)"


def numeric_column(
    text: np.ndarray, name: str, lines: np.ndarray, source: Path, target: str | None
) -> np.ndarray:
    """The stripped text cells of feature column ``name`` as float64, or a ValueError
    naming the first bad cell by its row and line, and what to write instead."""
    values = to_numbers(text)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad) == 0:
        return values
    first = int(bad[0])
    where = f"column {name!r}, {_where(lines, first)}"
    more = f" ({len(bad) - 1} more bad cell(s) in this column)" if len(bad) > 1 else ""
    cell = str(text[first])
    if cell.lower() in MISSING_TOKENS:
        shown = "an empty cell" if cell == "" else f"{cell!r}"
        raise ValueError(
            f"{source}: missing value ({shown}) in {where}{more}; fill it in or delete the row"
        )
    if np.isinf(values[first]):
        raise ValueError(
            f"{source}: infinite value {cell!r} in {where}{more}; replace it with a finite number"
        )
    written = _number_hint(cell)
    if written:
        fix = written
    elif target is None and np.isnan(values).all():
        fix = f"features must be numbers; if {name!r} is the label column, pass target={name!r}"
    else:
        fix = "features must be numbers; correct the cell or delete the row"
    raise ValueError(f"{source}: non-numeric value {cell!r} in {where}{more}; {fix}")


def _number_hint(cell: str) -> str | None:
    """How to write ``cell`` so it reads as the number it most plausibly means, or None.

    A hint never changes the value: digits grouped in threes are thousands separators
    (12,345,678), a comma before other digit counts is a decimal comma (3,25), and a
    single comma before three digits (1,234) could be either, which the hint says.
    """
    grouped = _GROUPED.match(cell)
    if grouped and grouped["mark"] != grouped["sep"]:
        sep = grouped["sep"]
        digits = grouped["sign"] + grouped["head"] + grouped["groups"].replace(sep, "")
        whole = digits + (f".{grouped['fraction']}" if grouped["fraction"] else "")
        sep_name = _SEPARATOR_NAMES.get(sep, f"'{sep}'")
        single = grouped["groups"].count(sep) == 1 and not grouped["fraction"]
        if sep == "," and single:
            return (
                f"it is ambiguous: write it as {whole} if ',' separates thousands, "
                f"or as {cell.replace(',', '.')} if ',' is a decimal comma"
            )
        if sep == "." and single:
            return None  # 1.234 is a number already and never reaches here
        decimals = f" and {grouped['mark']!r} marks the decimals" if grouped["mark"] else ""
        return f"write it as {whole} ({sep_name} separates thousands{decimals} there)"
    if _DECIMAL_COMMA.match(cell):
        return f"write it as {cell.replace(',', '.')} (with a decimal point, not a comma)"
    return None


@dataclass(frozen=True)
class BadLabel:
    """Why a target column cannot be read: its first ``missing`` or ``infinite`` label,
    or the first text label among numbers (``mixed``), at ``index``."""

    problem: Literal["missing", "infinite", "mixed"]
    index: int


def target_values(text: np.ndarray) -> np.ndarray | BadLabel:
    """The stripped text labels as float64 if every one is a number, else as text; or
    the first label that is missing, infinite, or text among numbers."""
    missing = np.array([cell.lower() in MISSING_TOKENS for cell in text])
    if missing.any():
        return BadLabel("missing", int(np.flatnonzero(missing)[0]))
    values = to_numbers(text)
    is_number = ~np.isnan(values)
    if is_number.all():
        infinite = np.isinf(values)
        return BadLabel("infinite", int(np.flatnonzero(infinite)[0])) if infinite.any() else values
    if is_number.any():
        return BadLabel("mixed", int(np.flatnonzero(~is_number)[0]))
    return np.array([str(cell) for cell in text], dtype=str)


def target_column(text: np.ndarray, name: str, lines: np.ndarray, source: Path) -> np.ndarray:
    """The target column as float64 if every label is a number, else as the text labels;
    a ValueError for a missing or infinite label, or numbers mixed with text."""
    values = target_values(text)
    if isinstance(values, np.ndarray):
        return values
    where = _where(lines, values.index)
    label = text[values.index]
    if values.problem == "missing":
        raise ValueError(
            f"{source}: missing target value in column {name!r}, "
            f"{where}; fill it in or delete the row"
        )
    if values.problem == "infinite":
        raise ValueError(
            f"{source}: infinite target value {label!r} in column {name!r}, "
            f"{where}; replace it with a finite number"
        )
    raise ValueError(
        f"{source}: target column {name!r} mixes numbers and text: "
        f"{where} has {label!r}; make every label a number, or every label text"
    )
