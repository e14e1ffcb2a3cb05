"""What the charts share: a figure on the Agg canvas, an atomic PNG/SVG writer, and each
activation's colour and label (from its layer class). matplotlib is imported only when a
figure is made.

The charts themselves live with what they draw (the gradient-flow chart in
:mod:`chainrule.viz.vanishing`), so this module knows none of them.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from chainrule import nn
from chainrule.explain.explanation import write_atomic

# Colours for activation layers that declare none, in order (distinct from the declared ones).
_SPARE_COLORS = ("#8e44ad", "#7f8c8d", "#d35400", "#16a085", "#2c3e50", "#b7950b")


def activation_style(name: str) -> tuple[str, str]:
    """(label, colour) of the activation whose op is ``name``, from its layer class
    (:data:`chainrule.nn.ACTIVATION_LAYERS`); one without a colour gets a spare one."""
    layers = nn.ACTIVATION_LAYERS
    layer = layers[name]
    if layer.color is not None:
        return layer.label(), layer.color
    plain = [op for op, cls in layers.items() if cls.color is None]
    return layer.label(), _SPARE_COLORS[plain.index(name) % len(_SPARE_COLORS)]


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
