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

# Width and height of the drawing, and the margins around the plot area, in pixels (the
# left and right ones at least: they widen to fit the longest labels).
_W, _H = 560, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 16, 14, 34
# The labels' font size, and the most one character of a number ("0"-"9", "e", "-", ".")
# spans at that size in common sans-serif fonts (DejaVu Sans' digits, the widest: 0.636 em).
_FONT = 11
_CHAR = 0.66 * _FONT
# Training and validation curves in the colours of viz.plot_history's.
_COLOURS = {"loss": "#1f77b4", "val_loss": "#d62728"}


def _tick_label(value: float, digits: int) -> str:
    """A number to ``digits`` significant digits, its exponent without a plus sign or
    leading zeros: ``1.7e308``, ``2.5e-5``; ``nan``, ``inf`` as Python writes them."""
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.{digits}g}"
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if e else text


def _labels(values: list[float]) -> list[str]:
    """The values as :func:`_tick_label` writes them, with four significant digits or as
    many more as it takes for different values to read differently (a loss that moved
    in its sixth digit)."""
    # Seventeen digits tell every two floats apart, and write every NaN alike.
    distinct = len({_tick_label(value, 17) for value in values})
    for digits in range(4, 18):
        labels = [_tick_label(value, digits) for value in values]
        if len(set(labels)) == distinct:
            break
    return labels


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    return [low * (1 - k / count) + high * (k / count) for k in range(count + 1)]


def _epoch_ticks(epochs: int) -> list[int]:
    """The epochs to number under the chart: every one up to 12; beyond, the first, the
    multiples of an even step (1, 2, 2.5 or 5 times a power of ten, whole: at most five
    multiples) and the last, leaving out a multiple within half a step of the last."""
    if epochs <= 12:
        return list(range(1, epochs + 1))
    power = 10 ** math.floor(math.log10((epochs - 1) / 5))
    factors = (1, 2, 2.5, 5, 10) if power >= 10 else (1, 2, 5, 10)
    step = next(int(power * m) for m in factors if power * m * 5 >= epochs - 1)
    ticks = [1, *range(step, epochs, step)]
    if epochs - ticks[-1] < step / 2:
        ticks.pop()
    return [*ticks, epochs]


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
    values = _ticks(low, high)
    ticks = list(zip(values, _labels(values)))
    # Room for the longest value label left of the plot, 6 px from it, and for half the
    # last epoch's number right of it (the labels are centred on their epochs).
    left = max(_LEFT, math.ceil(max(len(label) for _, label in ticks) * _CHAR) + 8)
    right = max(_RIGHT, math.ceil(len(str(epochs)) * _CHAR / 2) + 2)
    width, height = _W - left - right, _H - _TOP - _BOTTOM

    def x_of(epoch: float) -> float:
        return left + (width * (epoch - 1) / (epochs - 1) if epochs > 1 else width / 2)

    def y_of(value: float) -> float:
        above = high * 0.5 - value * 0.5 if halves else high - value
        return _TOP + height * (above / span)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="loss per epoch" '
        f'style="font: {_FONT}px sans-serif; max-width: 100%; height: auto">',
        f'<rect x="{left}" y="{_TOP}" width="{width}" height="{height}" fill="none" '
        'stroke="#bbb"/>',
    ]
    for value, label in ticks:
        y = y_of(value)
        parts.append(
            f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" '
            'stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
        )
    for epoch in _epoch_ticks(epochs):
        x = x_of(epoch)
        parts.append(
            f'<text x="{x:.1f}" y="{_TOP + height + 15}" text-anchor="middle">{epoch}</text>'
        )
    parts.append(
        f'<text x="{left + width / 2}" y="{_H - 4}" text-anchor="middle">epoch</text>'
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
                if x > left + 0.8 * width
                else f'<text x="{x + 4:.1f}" y="{_TOP + height - 6}">kept</text>'
            )
        )
    for row, key in enumerate(series):
        y = _TOP + 12 + 15 * row
        x = left + width - 92
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
        best_value = history.best(key) if key != "lr" and finite else None
        shown = [values[0], values[-1], *(best_value[1:] if best_value else ())]
        first, last, *rest = _labels(shown)
        if key == "lr":
            best = ""
        elif best_value is not None:
            best = f"{rest[0]} (epoch {best_value[0]})"
        else:
            best = "no finite value"
        rows.append(
            f"<tr><td>{html.escape(key)}</td><td>{first}</td><td>{best}</td>"
            f"<td>{last}</td></tr>"
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
