"""Argument types shared by the commands: each refuses a bad value with a readable message.

argparse turns the :class:`argparse.ArgumentTypeError` into one usage line and exit
status 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["WORKED_EXAMPLES", "int_in", "positive_float"]

# The worked examples of chainrule.explain.examples, by the names the commands take.
WORKED_EXAMPLES = ["softmax-classifier", "house-prices"]


def int_in(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def positive_float(text: str) -> float:
    """A finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value
