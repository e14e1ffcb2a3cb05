"""Sizes in bytes: how much memory the machine has free, and how to write and read sizes.

The checks that refuse input too large to handle (a network whose weights cannot fit,
a CSV file over the size limit) measure with these, so that they say the same thing
the same way: "needs 37.3 GiB", "--max-csv-size 2G".
"""

from __future__ import annotations

import os
import re

__all__ = ["available_memory", "format_bytes", "format_excess", "parse_size"]

#: Assumed free memory where the machine does not say (neither /proc/meminfo nor sysconf).
FALLBACK_AVAILABLE = 16 * 2**30

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SIZE = re.compile(r"(?P<number>\d+(\.\d*)?|\.\d+)\s*(?P<unit>[KMGT]?)(I?B)?", re.IGNORECASE)


def available_memory() -> int:
    """Bytes of memory that a new allocation can use without swapping, as well as known.

    Linux's ``MemAvailable`` (free memory plus caches it can drop) where there is one;
    else the machine's physical memory; else :data:`FALLBACK_AVAILABLE` (16 GiB).
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return FALLBACK_AVAILABLE


def format_bytes(count: float) -> str:
    """A size for people, in binary units (1 KiB = 1024 bytes), three significant digits.

    ``format_bytes(40e9) == "37.3 GiB"``, ``format_bytes(512) == "512 bytes"``.
    """
    if count < 1024:
        return f"{int(count)} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        count /= 1024
        if count < 1024 or unit == "PiB":
            break
    return f"{count:.3g} {unit}" if count < 1000 else f"{count:.0f} {unit}"


def format_excess(size: int, limit: int) -> tuple[str, str]:
    """``size`` and ``limit`` for a message saying the first is over the second.

    As :func:`format_bytes`, unless the two round to the same text ("1 GiB, more than
    1 GiB"): then both in bytes, in full.
    """
    shown, most = format_bytes(size), format_bytes(limit)
    if shown == most:
        return f"{size:,} bytes", f"{limit:,} bytes"
    return shown, most


def parse_size(text: str) -> int:
    """Read a size such as ``500M``, ``2G``, ``1.5GiB``, ``100kb`` or ``1048576`` (bytes).

    K, M, G and T are binary units (1K = 1024 bytes), with or without a trailing
    ``B`` or ``iB``, in any case.

    Raises
    ------
    ValueError
        If ``text`` is not such a size, or is not positive.
    """
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"expected a size such as 500M, 2G or 1048576 (bytes), got {text!r}")
    size = int(float(found["number"]) * _UNITS[found["unit"].upper()])
    if size < 1:
        raise ValueError(f"expected a size of at least 1 byte, got {text!r}")
    return size
