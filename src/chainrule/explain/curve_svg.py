"""The loss over epochs as a small SVG line chart, written by hand (no matplotlib).

An explanation that carries a training run (the house-prices example) embeds it in
its HTML report. Epoch ticks are whole numbers; the loss axis is linear from 0.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from chainrule.explain.fmt import num

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 16, 48


def nice_ticks(high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round tick values from 0 to at least ``high``: steps of 1, 2 or 5 times a power of ten.

    ``whole`` keeps every tick a whole number (epochs).
    """
    if not math.isfinite(high) or high <= 0:
        return [0.0, 1.0]
    raw = high / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if whole:
        step = max(1.0, float(round(step)))
    ticks = [0.0]
    while ticks[-1] < high - 1e-12 * high:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def loss_curve_svg(epochs: Sequence[int], losses: Sequence[float], digits: int = 3) -> str:
    """An inline SVG of ``losses[k]`` after ``epochs[k]`` epochs."""
    finite = [v for v in losses if math.isfinite(v)]
    x_ticks = nice_ticks(float(max(epochs[-1], 1)), whole=True)
    y_ticks = nice_ticks(max(finite, default=1.0))
    x_high, y_high = x_ticks[-1], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(epoch: float) -> float:
        return LEFT + plot_w * epoch / x_high

    def y(loss: float) -> float:
        return TOP + plot_h * (1 - loss / y_high)

    parts = [f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>']
    for tick in y_ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#e3e8ec" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#55606b">{html.escape(num(tick, digits))}</text>'
        )
    for tick in x_ticks:
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{TOP + plot_h}" '
            f'y2="{TOP + plot_h + 4}" stroke="#55606b"/>'
            f'<text x="{x(tick):.1f}" y="{TOP + plot_h + 17}" font-size="11" '
            f'text-anchor="middle" fill="#55606b">{int(tick)}</text>'
        )
    points = " ".join(
        f"{x(e):.1f},{y(v):.1f}" for e, v in zip(epochs, losses) if math.isfinite(v)
    )
    parts += [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'stroke="#55606b"/>',
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#55606b"/>',
        f'<polyline points="{points}" fill="none" stroke="#2a6f97" stroke-width="2"/>',
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" font-size="12" '
        'text-anchor="middle" fill="#1d232b">epochs done</text>',
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" font-size="12" text-anchor="middle" '
        f'fill="#1d232b" transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">loss E</text>',
    ]
    return (
        f'<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="system-ui, sans-serif" role="img" aria-label="loss over epochs">'
        + "".join(parts)
        + "</svg>"
    )
