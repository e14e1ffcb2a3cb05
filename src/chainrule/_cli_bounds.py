"""Limits the commands check before they allocate: CSV file size and network memory.

Part of the command line: :mod:`chainrule.cli_train` and :mod:`chainrule.cli_explain`
add the ``--max-csv-size`` option with :func:`add_max_csv_size` and refuse networks too
large for the machine with :func:`check_network_memory`, before building them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule._memory import available_memory, format_excess, parse_size
from chainrule.data.csv import MAX_CSV_BYTES

__all__ = [
    "MAX_TARGET_MAGNITUDE",
    "add_max_csv_size",
    "check_network_memory",
    "check_target_magnitude",
    "parameter_count",
]

#: The largest target value ``train`` learns: its squared errors, reported as the mse in
#: the target's units, must stay within float64 (about 1.8e308) even when they are 10,000
#: times the target's size. Features have no such bound: they are only standardised.
MAX_TARGET_MAGNITUDE = 1e150


def _csv_size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_max_csv_size(parser: Any) -> None:
    """Add ``--max-csv-size SIZE`` (default 256M) to a command that reads CSV files."""
    default = f"{MAX_CSV_BYTES // 2**20}M"  # as a user writes it; argparse parses it
    parser.add_argument(
        "--max-csv-size",
        type=_csv_size,
        default=default,
        metavar="SIZE",
        help=f"refuse CSV files larger than this, such as 500M or 2G "
        f"(default {default}; reading a file with a bad cell can take 15 times its size "
        "in memory)",
    )


def parameter_count(sizes: Sequence[int], bias: bool = True) -> int:
    """Weights and biases of a stack of Linear layers of these sizes (input first)."""
    return sum(
        fan_in * fan_out + (fan_out if bias else 0)
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=False)
    )


def check_network_memory(
    sizes: Sequence[int], *, itemsize: int, copies: int, what: Sequence[str], option: str
) -> None:
    """Refuse a network whose parameters, held ``copies`` times, exceed the free memory.

    Building the network holds its weights and, besides, at most one piece of the
    initializers' draw (:data:`chainrule.init.DRAW_CHUNK` float64 numbers, 512 KiB): less
    than the copies every command counts (the weights and their gradients at least), so
    the copies are the whole need.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes, input first.
    itemsize : int
        Bytes per number (4 for float32).
    copies : int
        How many arrays the size of all parameters the command holds at once: the
        weights, their gradients, the optimizer's state, and so on.
    what : sequence of str
        What those copies are, for the message.
    option : str
        The option that set the sizes, as given, e.g. ``"--layers 100000,100000"``.

    Raises
    ------
    ValueError
        Naming the parameter count, the memory needed and the memory available.
    """
    count = parameter_count(sizes)
    needed = count * itemsize * copies
    available = available_memory()
    if needed > available:
        shown, most = format_excess(needed, available)
        raise ValueError(
            f"{option}: a {' -> '.join(map(str, sizes))} "
            f"network has {count:,} parameters and needs {shown} "
            f"({_listed(what)}), "
            f"more than the {most} of memory available; "
            "choose smaller layers"
        )


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def check_target_magnitude(y: np.ndarray, column: str, path: str) -> None:
    """Refuse a numeric target whose squared errors could not be represented.

    Raises
    ------
    ValueError
        Naming the column, its largest value and the bound.
    """
    largest = float(np.abs(y).max()) if len(y) else 0.0
    if largest > MAX_TARGET_MAGNITUDE:
        raise ValueError(
            f"{path}: target column {column!r} holds values as large as {largest:.3g}; "
            f"chainrule train learns targets up to {MAX_TARGET_MAGNITUDE:.0e} in size, so "
            "that their squared errors fit in a float64; divide the column by a power of ten"
        )
