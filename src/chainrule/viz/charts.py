"""The gradient-flow chart, drawn with matplotlib (imported only here, only when called)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainrule.explain.explanation import write_atomic

if TYPE_CHECKING:
    from chainrule.viz.vanishing import GradientFlow

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


def gradient_flow_chart(flow: GradientFlow, path: str | os.PathLike[str]) -> Path:
    """Two panels: gradient size per layer (log scale) and activation slope per layer."""
    figure = new_figure(10.5, 4.4)
    sizes_ax, slopes_ax = figure.subplots(1, 2, width_ratios=[1.4, 1])
    layers = list(range(1, flow.depth + 1))
    for activation in flow.activations:
        style = {
            "color": COLORS[activation],
            "label": LABELS[activation],
            "marker": "o",
            "linewidth": 2,
        }
        sizes_ax.plot(layers, flow.sizes[activation], **style)
        slopes_ax.plot(layers, flow.slopes[activation], **style)
    sizes_ax.set_yscale("log")
    sizes_ax.set_xlabel("layer (1 = nearest the input)")
    sizes_ax.set_ylabel("size of dE/dW (root mean square, log scale)")
    sizes_ax.set_title("Gradient size per layer", fontsize=12)
    sizes_ax.set_xticks(layers)
    sizes_ax.grid(True, which="major", alpha=0.3)
    sizes_ax.legend(frameon=False)
    slopes_ax.axhline(0.25, color=COLORS["sigmoid"], linestyle="--", linewidth=1)
    slopes_ax.annotate(
        "sigmoid's slope is at most 0.25",
        (flow.depth, 0.25),
        xytext=(0, -14),
        textcoords="offset points",
        ha="right",
        color=COLORS["sigmoid"],
        fontsize=9,
    )
    slopes_ax.set_xlabel("layer")
    slopes_ax.set_ylabel("mean slope of the activation")
    slopes_ax.set_title("Each layer multiplies the gradient by this", fontsize=12)
    slopes_ax.set_xticks(layers)
    slopes_ax.set_ylim(0, 1.1)
    slopes_ax.grid(True, alpha=0.3)
    figure.suptitle(
        f"Vanishing gradients: {flow.depth} hidden layers of {flow.width} units, same weights",
        fontsize=13,
    )
    return save_figure(figure, path)
