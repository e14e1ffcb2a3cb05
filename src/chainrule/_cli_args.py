"""Argument types shared by the commands: each refuses a bad value with a readable message.

argparse turns the :class:`argparse.ArgumentTypeError` into one usage line and exit
status 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from chainrule.nn import activation_layers

__all__ = ["WORKED_EXAMPLES", "activation_choices", "int_in", "positive_float"]

# The worked examples of chainrule.explain.examples, by the names the commands take.
WORKED_EXAMPLES = ["softmax-classifier", "house-prices"]


def activation_choices(*, hidden: bool) -> dict[str, Any]:
    """The activation layer classes by their command-line names (``leaky-relu``), sorted:
    those a hidden layer may use (elementwise) with ``hidden``, else every one."""
    layers = activation_layers(elementwise=True if hidden else None)
    return {cls.command_name: cls for cls in sorted(layers, key=lambda c: c.command_name)}


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
