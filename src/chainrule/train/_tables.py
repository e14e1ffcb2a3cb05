"""Turn what users pass as data into a NumPy array, naming what cannot be turned.

A sparse matrix, a categorical DataFrame column or a missing value (``None``,
``pd.NA``) would otherwise reach NumPy as an array of Python objects and be reported
as such; here each is named for what it is, with its position and the fix.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any

import numpy as np

from chainrule._show import shown


def as_array(data: Any, name: str) -> np.ndarray:
    """``data`` as a NumPy array; sparse matrices, categorical columns and missing
    values are refused with a message that names them, and so is anything else that is
    not a number."""
    refuse_unsupported(data, name)
    try:
        array = np.asarray(data)
    except ValueError as err:  # rows of different lengths
        raise ValueError(
            f"{name} must be a table with the same number of values in every row ({err})"
        ) from None
    if array.dtype.kind == "O":
        return _from_objects(array, name)
    return array


def refuse_unsupported(data: Any, name: str) -> None:
    """Raise if ``data`` is a sparse matrix, or a pandas object with a categorical
    column or a missing value (``pd.NA``, ``None``, ``NaN``)."""
    if _is_sparse(data):
        raise TypeError(
            f"{name} is a sparse matrix ({type(data).__name__}); chainrule needs a dense "
            f"array: pass {name}.toarray()"
        )
    _check_pandas(data, name)


def _is_sparse(data: Any) -> bool:
    module = type(data).__module__
    return module.startswith("scipy.sparse") or (
        module.startswith("sparse") and hasattr(data, "todense")
    )


def _check_pandas(data: Any, name: str) -> None:
    pd = sys.modules.get("pandas")
    if pd is None:
        return  # not imported, so ``data`` cannot be a pandas object
    if isinstance(data, pd.Series):
        columns = [(None, data)]
    elif isinstance(data, pd.DataFrame):
        columns = [(label, data.iloc[:, j]) for j, label in enumerate(data.columns)]
    else:
        return
    for j, (label, column) in enumerate(columns):
        if isinstance(column.dtype, pd.CategoricalDtype):
            what, fix = (name, f"{name}.cat.codes")
            if label is not None:
                what = f"{name} column {shown(label)}"
                fix = f"pd.get_dummies({name}) or {name}[{shown(label)}].cat.codes"
            raise TypeError(f"{what} is categorical; encode it as numbers first, e.g. {fix}")
        where = "" if label is None else f", column {j} ({shown(label)})"
        missing = column.isna().to_numpy()
        if missing.any():
            row = int(np.argmax(missing))
            raise ValueError(
                f"{name} has a missing value ({_missing_name(column.iloc[row])}) at row "
                f"{row}{where}; fill it in or drop the row"
            )


def _from_objects(array: np.ndarray, name: str) -> np.ndarray:
    """An array of Python objects as float64 if every one is a real number, else the
    position and kind of the first one that is not."""
    for position, value in np.ndenumerate(array):
        if isinstance(value, (numbers.Real, np.bool_)) and not _is_nan(value):
            continue
        where = ", ".join(f"{axis} {index}" for axis, index in zip(("row", "column"), position))
        where = where or "its only value"
        if value is None or _is_nan(value) or _missing_name(value) == "pd.NA":
            raise ValueError(
                f"{name} has a missing value ({_missing_name(value)}) at {where}; fill it in "
                "or drop the row"
            )
        what = "text" if isinstance(value, (str, bytes)) else type(value).__name__
        raise TypeError(
            f"{name} must hold numbers, but holds {what} ({shown(value)}) at {where}; "
            "encode such columns as numbers first"
        )
    return array.astype(np.float64)


def _is_nan(value: Any) -> bool:
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def _missing_name(value: Any) -> str:
    """How a missing value is written: None, nan, pd.NA or pd.NaT."""
    if value is None:
        return "None"
    text = repr(value)
    return {"<NA>": "pd.NA", "NaT": "pd.NaT"}.get(text, "NaN" if _is_nan(value) else text)
