"""A training history as HTML: a summary table and the loss curves as inline SVG.

Jupyter shows a :class:`~chainrule.train.History` this way (``_repr_html_``). The curve
is drawn here, as plain SVG, because training never imports the pictures layer
(:mod:`chainrule.viz`, matplotlib): a notebook shows it with NumPy alone.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainrule.train.history import History

__all__ = ["history_html", "history_svg"]

# Width and height of the drawing, and the margins around the plot area, in pixels.
_W, _H = 560, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 16, 14, 34
# Training and validation curves in the colours of viz.plot_history's.
_COLOURS = {"loss": "#1f77b4", "val_loss": "#d62728"}


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    return [low * (1 - k / count) + high * (k / count) for k in range(count + 1)]


def history_svg(history: History) -> str:
    """The training (and validation) loss per epoch as an SVG line chart.

    Non-finite values are left out (a diverged run's last epoch); the kept epoch, when
    ``EarlyStopping(restore_best_weights=True)`` gave one back, is marked.
    """
    series = {k: history[k] for k in ("loss", "val_loss") if k in history and history[k]}
    points = [v for values in series.values() for v in values if math.isfinite(v)]
    if not points:
        return ""
    epochs = max(len(v) for v in series.values())
    low, high = min(points), max(points)
    if high == low:
        pad = 0.5 * abs(low)
        if not low - pad < low:  # zero, or so small a number that half of it rounds away
            pad = 1.0
        value = low
        low, high = value - pad, value + pad
        if math.isinf(low) or math.isinf(high):  # near the largest float64: toward zero only
            low, high = (value - pad, value) if value > 0 else (value, value + pad)
    # A span wider than the largest float64 (-1e308 to 1e308) is measured in halves; a
    # narrow one (down to 5e-324) as it is, where halving would round it away.
    span = high - low
    halves = not math.isfinite(span)
    if halves:
        span = high * 0.5 - low * 0.5
    width, height = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x_of(epoch: float) -> float:
        return _LEFT + (width * (epoch - 1) / (epochs - 1) if epochs > 1 else width / 2)

    def y_of(value: float) -> float:
        above = high * 0.5 - value * 0.5 if halves else high - value
        return _TOP + height * (above / span)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="loss per epoch" '
        'style="font: 11px sans-serif; max-width: 100%; height: auto">',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{width}" height="{height}" fill="none" '
        'stroke="#bbb"/>',
    ]
    for value in _ticks(low, high):
        y = y_of(value)
        parts.append(
            f'<line x1="{_LEFT - 4}" y1="{y:.1f}" x2="{_LEFT + width}" y2="{y:.1f}" '
            'stroke="#eee"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(value)}</text>'
        )
    for epoch in sorted({1, epochs, *(round(1 + (epochs - 1) * k / 4) for k in range(5))}):
        x = x_of(epoch)
        parts.append(
            f'<text x="{x:.1f}" y="{_TOP + height + 15}" text-anchor="middle">{epoch}</text>'
        )
    parts.append(
        f'<text x="{_LEFT + width / 2}" y="{_H - 4}" text-anchor="middle">epoch</text>'
    )
    for key, values in series.items():
        runs: list[list[str]] = [[]]
        for epoch, value in enumerate(values, 1):
            if math.isfinite(value):
                runs[-1].append(f"{x_of(epoch):.1f},{y_of(value):.1f}")
            elif runs[-1]:
                runs.append([])
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{_COLOURS[key]}"/>')
            elif run:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" '
                    f'stroke="{_COLOURS[key]}" stroke-width="1.8"/>'
                )
    if history.kept_epoch is not None:
        x = x_of(history.kept_epoch)
        parts.append(
            f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{_TOP + height}" stroke="#555" '
            'stroke-dasharray="4 3"/>'
            + (  # the label on the side of the line that has room for it
                f'<text x="{x - 4:.1f}" y="{_TOP + height - 6}" text-anchor="end">kept</text>'
                if x > _LEFT + 0.8 * width
                else f'<text x="{x + 4:.1f}" y="{_TOP + height - 6}">kept</text>'
            )
        )
    for row, key in enumerate(series):
        y = _TOP + 12 + 15 * row
        x = _LEFT + width - 92
        label = "validation loss" if key == "val_loss" else "training loss"
        parts.append(
            f'<line x1="{x}" y1="{y - 4}" x2="{x + 16}" y2="{y - 4}" stroke="{_COLOURS[key]}" '
            f'stroke-width="1.8"/><text x="{x + 20}" y="{y}">{label}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def history_html(history: History) -> str:
    """A summary table (first, best and last value of everything logged) and the curve."""
    if not len(history):
        return "<p><b>History</b>: no epoch completed yet.</p>"
    rows = []
    for key, values in history.history.items():
        finite = [v for v in values if math.isfinite(v)]
        if key == "lr":
            best = ""
        elif finite:
            epoch, value = history.best(key)
            best = f"{_fmt(value)} (epoch {epoch})"
        else:
            best = "no finite value"
        rows.append(
            f"<tr><td>{html.escape(key)}</td><td>{_fmt(values[0])}</td><td>{best}</td>"
            f"<td>{_fmt(values[-1])}</td></tr>"
        )
    notes = [f"{len(history)} epoch" + ("" if len(history) == 1 else "s")]
    if history.stop_reason:
        notes.append(f"stopped: {html.escape(history.stop_reason)}")
    if history.kept_epoch is not None:
        notes.append(f"weights of epoch {history.kept_epoch} kept")
    table = (
        '<table><thead><tr><th style="text-align:left">logged</th><th>first</th>'
        "<th>best</th><th>last</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    return (
        f'<div class="chainrule-history"><p><b>History</b>: {"; ".join(notes)}</p>'
        f"{table}{history_svg(history)}</div>"
    )
