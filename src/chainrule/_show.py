"""Values in messages, shown as the user wrote them: never a NumPy repr.

``repr(np.str_("only"))`` is ``"np.str_('only')"`` and ``repr(np.dtype(object))`` is
``"dtype('O')"``; a message shows ``'only'`` and ``Python objects`` instead. Column lists
are cut to a few names, so a message about a wide file stays one readable line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Longest repr a message shows of one value before cutting it.
_MAX_CHARS = 80
#: Names a message lists before "and N more".
MAX_NAMES = 3

_KINDS = {
    "b": "true/false values",
    "i": "integers",
    "u": "integers",
    "c": "complex numbers",
    "U": "text",
    "S": "bytes",
    "O": "Python objects (text, None or mixed values)",
    "M": "dates",
    "m": "time spans",
    "V": "structured records",
}


def plain(value: Any) -> Any:
    """The Python value a NumPy scalar holds (``np.float64(2.5)`` -> ``2.5``); else ``value``."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return tuple(plain(item) for item in value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def shown(value: Any) -> str:
    """``repr`` of ``value`` as written: plain Python values, a dtype in words, cut if long."""
    if isinstance(value, np.dtype):
        return kind(value)
    if isinstance(value, np.ndarray) and value.size > 20:
        return f"an array of shape {value.shape}"
    return _cut(repr(plain(value)))


def kind(dtype: Any) -> str:
    """What an array of ``dtype`` holds, in words: "text", "float32 numbers"."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return f"{dtype.name} numbers"
    return _KINDS.get(dtype.kind, str(dtype))


def names(items: Sequence[Any] | np.ndarray, limit: int = MAX_NAMES, *, quoted: bool = True) -> str:
    """``'a', 'b', 'c' and 7 more``: at most ``limit`` values, each shown as written
    (without quotes, cut if long, unless ``quoted``)."""
    show = shown if quoted else _bare
    listed = ", ".join(show(item) for item in items[:limit])
    rest = len(items) - limit
    return f"{listed} and {rest} more" if rest > 0 else listed


def _bare(value: Any) -> str:
    return _cut(str(plain(value)))


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 3] + "..."
