"""Convert the text cells of one CSV column to numbers, naming any cell that fails."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

#: Cells that mean "no value here" (compared case-insensitively).
_MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def _where(lines: np.ndarray, index: int) -> str:
    return f"row {index + 1} (line {int(lines[index])} of the file)"


def numeric_column(
    cells: pd.Series, name: str, lines: np.ndarray, source: Path, target: str | None
) -> np.ndarray:
    import pandas as pd

    text = cells.to_numpy(dtype=object)
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad) == 0:
        return values
    first = int(bad[0])
    where = f"column {name!r}, {_where(lines, first)}"
    more = f" ({len(bad) - 1} more bad cell(s) in this column)" if len(bad) > 1 else ""
    cell = str(text[first])
    if cell.lower() in _MISSING_TOKENS:
        shown = "an empty cell" if cell == "" else f"{cell!r}"
        raise ValueError(
            f"{source}: missing value ({shown}) in {where}{more}; fill it in or delete the row"
        )
    if np.isinf(values[first]):
        raise ValueError(
            f"{source}: infinite value {cell!r} in {where}{more}; replace it with a finite number"
        )
    if _DECIMAL_COMMA.match(cell):
        fix = f"write it with a decimal point ({cell.replace(',', '.')})"
    elif target is None and np.isnan(values).all():
        fix = f"features must be numbers; if {name!r} is the label column, pass target={name!r}"
    else:
        fix = "features must be numbers; correct the cell or delete the row"
    raise ValueError(f"{source}: non-numeric value {cell!r} in {where}{more}; {fix}")


def target_column(cells: pd.Series, name: str, lines: np.ndarray, source: Path) -> np.ndarray:
    import pandas as pd

    text = cells.to_numpy(dtype=object)
    missing = np.array([cell.lower() in _MISSING_TOKENS for cell in text])
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise ValueError(
            f"{source}: missing target value in column {name!r}, "
            f"{_where(lines, first)}; fill it in or delete the row"
        )
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)
    is_number = ~np.isnan(values)
    if is_number.all():
        if np.isinf(values).any():
            first = int(np.flatnonzero(np.isinf(values))[0])
            raise ValueError(
                f"{source}: infinite target value {text[first]!r} in column {name!r}, "
                f"{_where(lines, first)}; replace it with a finite number"
            )
        return values
    if is_number.any():
        first = int(np.flatnonzero(~is_number)[0])
        raise ValueError(
            f"{source}: target column {name!r} mixes numbers and text: "
            f"{_where(lines, first)} has {text[first]!r}; make every label "
            "a number, or every label text"
        )
    return np.array([str(cell) for cell in text], dtype=str)
