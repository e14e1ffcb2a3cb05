"""Vanishing gradients: how big each layer's gradient is, for several activations.

The same deep network (same initial weights, same data) is run with each
elementwise activation layer (:func:`chainrule.nn.activation_layers`). For every
layer the report gives the size of ``dE/dW`` (its root mean square) from a real
``backward()`` and the mean slope of the activation after that layer, read from
the op registry. The sigmoid's
slope is at most 0.25, so its gradients shrink by that factor or more at every
layer on their way back to the input.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import init, nn
from chainrule.explain.derive import derive
from chainrule.explain.fmt import num
from chainrule.explain.trace import trace_step
from chainrule.ops import get_op
from chainrule.viz.charts import activation_style, new_figure, save_figure

# The run traces and derives one full training step per activation, so its memory grows
# with depth * width * (width + samples), its time with depth * width**2 * samples. These
# bounds keep the largest run (50 layers of 256 units, 64 samples) to a few seconds and
# under 500 MB; beyond them it took minutes and gigabytes without showing anything that
# a smaller network does not.
MAX_DEPTH = 50
MAX_WIDTH = 256
MAX_SAMPLES = 64


def activation_names() -> tuple[str, ...]:
    """The activations a gradient-flow run may use: every elementwise activation layer's op."""
    return tuple(cls.op_name for cls in nn.activation_layers(elementwise=True))


def steepest_slope(activation: str) -> float:
    """The largest local derivative of an activation (its layer's default attributes),
    over inputs from -8 to 8, from its op's registered VJP: 0.25 for the sigmoid."""
    op = get_op(activation)
    attrs = dict(nn.ACTIVATION_LAYERS[activation]().activation_attrs or {})
    x = np.arange(-800, 801) / 100.0  # holds 0 exactly, where the sigmoid is steepest
    out = op.forward(x, **attrs)
    if op.saves:
        out, saved = out
        attrs.update(saved)
    vjp: Any = op.vjps[0]
    return float(np.max(vjp(np.ones_like(x), out, x, **attrs)))


def _shrinking(activations: Sequence[str]) -> list[tuple[str, float]]:
    """The activations whose slope is below 1 everywhere, with their steepest slope:
    each layer of them shrinks the gradient."""
    bounds = [(a, steepest_slope(a)) for a in activations]
    return [(a, bound) for a, bound in bounds if bound < 1]


@dataclass(frozen=True)
class GradientFlow:
    """Per-layer gradient sizes of one deep network under several activations.

    Attributes
    ----------
    activations : tuple of str
        Activation op names, e.g. ``("sigmoid", "tanh", "relu", "leaky_relu")``.
    sizes : dict of str to ndarray
        RMS of ``dE/dW`` of each hidden layer, layer 1 (nearest the input) first.
    slopes : dict of str to ndarray
        Mean local derivative of the activation after each hidden layer.
    depth, width : int
        Number of hidden layers and units per layer.
    """

    activations: tuple[str, ...]
    sizes: dict[str, np.ndarray]
    slopes: dict[str, np.ndarray]
    depth: int
    width: int

    def to_text(self, digits: int = 3) -> str:
        """The table of gradient sizes (and activation slopes) by layer."""
        header = ["layer", *(activation_style(a)[0] for a in self.activations)]
        rows = [header]
        for layer in range(self.depth):
            rows.append(
                [str(layer + 1), *(num(self.sizes[a][layer], digits) for a in self.activations)]
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [
            f"Size of dE/dW (root mean square) per layer, {self.depth} hidden layers of "
            f"{self.width} units,",
            "the same initial weights and data for every activation (layer 1 is nearest the "
            "input):",
            "",
        ]
        for i, row in enumerate(rows):
            lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths)))
            if i == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        lines += ["", "Mean slope of the activation after each layer (its local derivative):", ""]
        for a in self.activations:
            values = ", ".join(num(v, 2) for v in self.slopes[a])
            lines.append(f"  {activation_style(a)[0]:<10} {values}")
        for a, bound in _shrinking(self.activations):
            sizes = self.sizes[a]
            if sizes[-1] > 0:
                lines += [
                    "",
                    f"With {activation_style(a)[0]}, whose slope is at most {num(bound, 2)}, the "
                    f"gradient at layer 1 is {num(float(sizes[0]) / float(sizes[-1]), 2)} times "
                    f"the one at layer {self.depth}.",
                ]
        return "\n".join(lines) + "\n"

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Draw the chart (PNG, or SVG by suffix) and write it atomically."""
        return gradient_flow_chart(self, path)


def _network(activation: str, depth: int, width: int, features: int, seed: int) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    size = features
    for _ in range(depth):
        layers += [
            nn.Linear(size, width, init=init.xavier_normal(), dtype=np.float64, rng=rng),
            nn.ACTIVATION_LAYERS[activation](),
        ]
        size = width
    layers.append(nn.Linear(size, 1, init=init.xavier_normal(), dtype=np.float64, rng=rng))
    return nn.Sequential(*layers)


def _measure(
    activation: str, depth: int, width: int, X: np.ndarray, y: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """RMS of each hidden layer's dE/dW and the activation's mean slope after it.

    A function of its own so that each network's trace is freed before the next is
    built: only one activation's step is held in memory at a time.
    """
    model = _network(activation, depth, width, width, seed)
    trace = trace_step(model, X, y, nn.MSELoss(), lr=0.0)
    derivation = derive(trace)
    grads = [trace.gradients[f"{2 * k}.weight"] for k in range(depth)]
    sizes = np.array([np.sqrt(np.mean(g * g)) for g in grads])
    local = [
        s.local for s in derivation.stages if s.kind == "pointwise" and s.op.name == activation
    ]
    # Stages run from the output back; reverse to put layer 1 first.
    slopes = np.array([float(np.mean(a)) for a in reversed(local) if a is not None])
    return sizes, slopes


def gradient_flow(
    activations: Sequence[str] | None = None,
    depth: int = 8,
    width: int = 16,
    samples: int = 32,
    seed: int = 0,
) -> GradientFlow:
    """Measure each layer's gradient in one deep network, per activation.

    Parameters
    ----------
    activations : sequence of str, optional
        Op names of elementwise activations (:func:`activation_names`: ``"sigmoid"``,
        ``"tanh"``, ``"relu"``, ``"leaky_relu"``...); default every one.
    depth : int, default 8
        Hidden layers (2 to 50).
    width : int, default 16
        Units per hidden layer (1 to 256).
    samples : int, default 32
        Random inputs in the batch (1 to 64).
    seed : int, default 0
        Seeds the weights (the same for every activation) and the data.

    Raises
    ------
    ValueError
        If ``depth``, ``width`` or ``samples`` is outside its range, or an activation
        is unknown.
    """
    for label, value, low, high in (
        ("depth", depth, 2, MAX_DEPTH),
        ("width", width, 1, MAX_WIDTH),
        ("samples", samples, 1, MAX_SAMPLES),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or not low <= value <= high
        ):
            shown = value.item() if isinstance(value, np.generic) else value
            raise ValueError(
                f"gradient_flow: {label} must be an integer from {low} to {high}, got {shown!r}; "
                "the bounds keep a run to a few seconds and under 500 MB"
            )
    known = activation_names()
    activations = known if activations is None else tuple(activations)
    unknown = [a for a in activations if a not in known]
    if unknown or not activations:
        raise ValueError(
            f"gradient_flow: activations must be among {', '.join(known)}, got {unknown}"
        )
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, width))
    y = rng.normal(size=(samples, 1))
    sizes: dict[str, np.ndarray] = {}
    slopes: dict[str, np.ndarray] = {}
    for activation in activations:
        sizes[activation], slopes[activation] = _measure(activation, depth, width, X, y, seed)
    return GradientFlow(tuple(activations), sizes, slopes, depth, width)


def gradient_flow_chart(flow: GradientFlow, path: str | os.PathLike[str]) -> Path:
    """Two panels: gradient size per layer (log scale) and activation slope per layer."""
    figure = new_figure(10.5, 4.4)
    sizes_ax, slopes_ax = figure.subplots(1, 2, width_ratios=[1.4, 1])
    layers = list(range(1, flow.depth + 1))
    for activation in flow.activations:
        label, color = activation_style(activation)
        style = {
            "color": color,
            "label": label,
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
    for activation, bound in _shrinking(flow.activations):
        label, color = activation_style(activation)
        slopes_ax.axhline(bound, color=color, linestyle="--", linewidth=1)
        slopes_ax.annotate(
            f"{label}'s slope is at most {bound:.2g}",
            (flow.depth, bound),
            xytext=(0, -14),
            textcoords="offset points",
            ha="right",
            color=color,
            fontsize=9,
        )
    slopes_ax.set_xlabel("layer")
    slopes_ax.set_ylabel("mean slope of the activation (its local derivative)")
    slopes_ax.set_title("Activation slope per layer", fontsize=12)
    # What is multiplied: each unit's gradient by its own slope (then by the weights). The
    # mean alone misleads for ReLU, whose slope is 1 or 0 and whose mean is a share of units.
    slopes_ax.text(
        0.02,
        0.98,
        "Going back one layer, each unit's gradient is multiplied by\n"
        "its own slope, then by the weights. ReLU's slope is 1 where\n"
        "the unit is on and 0 where it is off: its mean is the share\n"
        "of units on, not a factor every gradient shrinks by.",
        transform=slopes_ax.transAxes,
        va="top",
        fontsize=8,
        color="#3a444d",
        bbox={"facecolor": "white", "edgecolor": "#c9d6df", "alpha": 0.9},
    )
    slopes_ax.set_xticks(layers)
    slopes_ax.set_ylim(0, 1.45)
    slopes_ax.grid(True, alpha=0.3)
    figure.suptitle(
        f"Vanishing gradients: {flow.depth} hidden layers of {flow.width} units, same weights",
        fontsize=13,
    )
    return save_figure(figure, path)
