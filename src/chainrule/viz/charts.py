"""What the charts share: a figure on the Agg canvas, an atomic PNG/SVG writer, and each
activation's colour and label. matplotlib is imported only when a figure is made.

The charts themselves live with what they draw (the gradient-flow chart in
:mod:`chainrule.viz.vanishing`), so this module knows none of them.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from chainrule.explain.explanation import write_atomic

COLORS = {"sigmoid": "#c0392b", "tanh": "#e67e22", "relu": "#2a6f97", "leaky_relu": "#27ae60"}
LABELS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU", "leaky_relu": "LeakyReLU"}


def new_figure(width: float, height: float, constrained: bool = True) -> Any:
    """A matplotlib Figure on the Agg canvas (no pyplot, no display needed)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "pictures need matplotlib; install it with: pip install 'chainrule[viz]'"
        ) from None
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained" if constrained else None)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``figure`` as PNG or SVG (by suffix), atomically."""
    target = Path(path)
    kind = target.suffix.lower().lstrip(".") or "png"
    if kind not in ("png", "svg"):
        raise ValueError(f"cannot write a chart as {target.suffix!r}; use .png or .svg")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=kind, dpi=110)
    return write_atomic(target, buffer.getvalue())
