"""An animated GIF of gradient descent: the loss surface over two weights, and the loss curve.

Every parameter learns. Each frame shows the loss as a function of the two
chosen weights, with every other parameter at its value at that moment (so the
surface moves as the rest of the network learns), the path the two weights
have taken so far, and the loss curve with the current epoch marked. The colours
keep one scale for the whole run, so frames can be compared; white contour lines
follow each frame's own range, so a late frame, whose losses all sit near the
bottom of that scale, still shows its shape.
"""

from __future__ import annotations

import copy
import io
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.autograd import enable_grad, no_grad
from chainrule.explain.examples import HOUSE_EPOCHS, HOUSE_LR, house_prices_setup
from chainrule.explain.explanation import write_atomic
from chainrule.explain.trace import LossFunction, trace_step
from chainrule.nn.module import Module, Parameter
from chainrule.optim import SGD

_SPEC = re.compile(r"^\s*(?P<name>[^\[\]\s]+)\s*\[\s*(?P<i>\d+)\s*,\s*(?P<j>\d+)\s*\]\s*$")


def _weight(
    spec: str, params: dict[str, Parameter], display: dict[str, str]
) -> tuple[str, tuple[int, int]]:
    match = _SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(
            f"weight {spec!r} is not of the form NAME[i,j], e.g. 2.weight[1,0] or Who[1,0]"
        )
    key = display.get(match["name"], match["name"])
    if key not in params:
        known = ", ".join(f"{k} ({n})" for n, k in display.items())
        raise ValueError(f"no parameter {match['name']!r}; parameters: {known}")
    index = (int(match["i"]), int(match["j"]))
    shape = params[key].shape
    if len(shape) != 2 or index[0] >= shape[0] or index[1] >= shape[1]:
        raise ValueError(f"{spec} is out of range: {match['name']} has shape {shape}")
    return key, index


def _loss(model: Module, X: np.ndarray, y: Any, loss_fn: LossFunction) -> float:
    with no_grad():
        return float(loss_fn(model(X), y).data.reshape(()))


def animate_descent(
    model: Module,
    X: Any,
    y: Any,
    loss_fn: LossFunction,
    path: str | os.PathLike[str],
    *,
    lr: float = 0.1,
    epochs: int = 100,
    weights: tuple[str, str] = ("0.weight[0,0]", "0.weight[1,0]"),
    frames: int = 30,
    grid: int = 25,
    title: str = "gradient descent",
) -> Path:
    """Train a copy of ``model`` and write the animation of it as a GIF.

    Parameters
    ----------
    model : Module
        The network (copied; the model itself is not changed).
    X, y : array_like
        The training data (full batch).
    loss_fn : loss module
    path : path
        Where to write the GIF (atomically).
    lr : float, default 0.1
    epochs : int, default 100
    weights : pair of str
        The two weights of the surface, as ``"2.weight[1,0]"`` or with display
        names from :func:`chainrule.explain` (``"Who[1,0]"``).
    frames : int, default 30
    grid : int, default 25
        Surface resolution (grid x grid points per frame).
    title : str

    Returns
    -------
    Path of the written GIF.
    """
    for label, value, low in (("epochs", epochs, 1), ("frames", frames, 2), ("grid", grid, 5)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"animate_descent: {label} must be an integer >= {low}, got {value!r}")
    work = copy.deepcopy(model)
    X = np.asarray(X, dtype=work.dtype or np.float64)
    params = dict(work.named_parameters())
    trace = trace_step(work, X, y, loss_fn, lr, dtype=None)
    display = {v.name: v.param_key for v in trace.parameters() if v.param_key}
    (key_a, ia), (key_b, ib) = (_weight(w, params, display) for w in weights)
    names = {v: k for k, v in display.items()}
    labels = [f"{names.get(key_a, key_a)}{list(ia)}", f"{names.get(key_b, key_b)}{list(ib)}"]

    optimizer = SGD(work.parameters(), lr=lr)
    path_a, path_b, losses, snapshots = [], [], [], []
    keep = set(np.linspace(0, epochs, frames).round().astype(int).tolist())
    for epoch in range(epochs + 1):
        path_a.append(float(params[key_a].data[ia]))
        path_b.append(float(params[key_b].data[ib]))
        if epoch in keep:
            snapshots.append((epoch, work.state_dict()))
        if epoch == epochs:
            losses.append(_loss(work, X, y, loss_fn))
            break
        optimizer.zero_grad()
        with enable_grad():
            loss = loss_fn(work(X), y)
        loss.backward()
        losses.append(float(loss.data.reshape(())))
        optimizer.step()

    span_a, span_b = _span(path_a), _span(path_b)
    surfaces = [
        _surface(work, X, y, loss_fn, state, (key_a, ia, span_a), (key_b, ib, span_b), grid)
        for _, state in snapshots
    ]
    images = _draw(
        [epoch for epoch, _ in snapshots],
        surfaces,
        span_a,
        span_b,
        (path_a, path_b, losses),
        labels,
        title,
    )
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=120, loop=0
    )
    return write_atomic(path, buffer.getvalue())


def _span(values: list[float]) -> np.ndarray:
    low, high = min(values), max(values)
    margin = max(0.5 * (high - low), 0.25)
    return np.array([low - margin, high + margin])


def _surface(
    work: Module,
    X: np.ndarray,
    y: Any,
    loss_fn: LossFunction,
    state: dict[str, np.ndarray],
    first: tuple[str, tuple[int, int], np.ndarray],
    second: tuple[str, tuple[int, int], np.ndarray],
    grid: int,
) -> np.ndarray:
    """The loss over a grid of the two weights, every other parameter as in ``state``."""
    work.load_state_dict(state)
    params = dict(work.named_parameters())
    (key_a, ia, span_a), (key_b, ib, span_b) = first, second
    surface = np.empty((grid, grid))
    for r, b in enumerate(np.linspace(span_b[0], span_b[1], grid)):
        params[key_b].data[ib] = b
        for c, a in enumerate(np.linspace(span_a[0], span_a[1], grid)):
            params[key_a].data[ia] = a
            surface[r, c] = _loss(work, X, y, loss_fn)
    work.load_state_dict(state)
    return surface


def _draw(
    epochs: list[int],
    surfaces: list[np.ndarray],
    span_a: np.ndarray,
    span_b: np.ndarray,
    history: tuple[list[float], list[float], list[float]],
    labels: list[str],
    title: str,
) -> list[Any]:
    """One GIF frame per snapshot; the figure is built once and updated."""
    from PIL import Image

    from chainrule.viz.charts import new_figure

    path_a, path_b, losses = history
    grid = surfaces[0].shape[0]
    axis_a = np.linspace(span_a[0], span_a[1], grid)
    axis_b = np.linspace(span_b[0], span_b[1], grid)
    low = max(min(float(s.min()) for s in surfaces), 1e-12)
    high = max(float(s.max()) for s in surfaces) * 1.0001
    levels = np.geomspace(low, max(high, low * 1.01), 18)

    figure = new_figure(9.6, 4.2, constrained=False)
    figure.subplots_adjust(left=0.07, right=0.97, bottom=0.13, top=0.84, wspace=0.32)
    left, right = figure.subplots(1, 2, width_ratios=[1.2, 1])
    filled = left.contourf(axis_a, axis_b, surfaces[0], levels=levels, cmap="viridis")
    bar = figure.colorbar(filled, ax=left, format="%.3g")
    # Above the bar, not beside it: beside, it ran into the loss curve's axis label.
    bar.ax.set_title("loss E", fontsize=9)
    (trail,) = left.plot([], [], color="white", linewidth=1.8)
    (start,) = left.plot(path_a[0], path_b[0], "o", color="white", markersize=5)
    (head,) = left.plot([], [], "o", color="#e74c3c", markersize=8, markeredgecolor="white")
    left.set_xlabel(labels[0])
    left.set_ylabel(labels[1])
    steps = np.arange(len(losses))
    right.plot(steps, losses, color="#b8c4cc", linewidth=1.5)
    (done,) = right.plot([], [], color="#2a6f97", linewidth=2)
    (now,) = right.plot([], [], "o", color="#e74c3c", markersize=7)
    right.set_yscale("log")
    right.set_xlabel("epoch")
    right.xaxis.get_major_locator().set_params(integer=True)
    right.set_ylabel("loss E (log scale)")
    right.grid(True, alpha=0.3)
    figure.suptitle(title, fontsize=13)
    note = "other parameters at their values at this epoch"
    left.set_title(" \n ", fontsize=10)
    right.set_title(" ", fontsize=11)
    moving = [trail, start, head, done, now, left.title, right.title]
    for artist in moving:
        artist.set_animated(True)
    filled.set_animated(True)
    # Draw everything that stays the same once; each frame redraws only what moves.
    figure.canvas.draw()
    background = figure.canvas.copy_from_bbox(figure.bbox)
    images = []
    lines = None
    for epoch, surface in zip(epochs, surfaces):
        figure.canvas.restore_region(background)
        filled.remove()
        filled = left.contourf(axis_a, axis_b, surface, levels=levels, cmap="viridis")
        filled.set_animated(True)
        if lines is not None:
            lines.remove()
        lines = left.contour(
            axis_a,
            axis_b,
            surface,
            levels=_frame_levels(surface),
            colors="white",
            linewidths=0.7,
            alpha=0.75,
        )
        lines.set_animated(True)
        trail.set_data(path_a[: epoch + 1], path_b[: epoch + 1])
        head.set_data([path_a[epoch]], [path_b[epoch]])
        done.set_data(steps[: epoch + 1], losses[: epoch + 1])
        now.set_data([epoch], [losses[epoch]])
        left.title.set_text(f"loss over two weights, epoch {epoch}\n({note})")
        right.title.set_text(f"loss {losses[epoch]:.4g} at epoch {epoch}")
        for axes, artist in (
            (left, filled),
            (left, lines),
            (left, trail),
            (left, start),
            (left, head),
            (right, done),
            (right, now),
        ):
            axes.draw_artist(artist)
        for spine in left.spines.values():
            left.draw_artist(spine)
        figure.draw_artist(left.title)
        figure.draw_artist(right.title)
        rgba = np.asarray(figure.canvas.buffer_rgba())
        images.append(
            Image.fromarray(rgba[..., :3].copy()).convert(
                "P", palette=Image.Palette.ADAPTIVE, colors=192
            )
        )
    return images


def _frame_levels(surface: np.ndarray, count: int = 9) -> np.ndarray:
    """Contour levels spread over one frame's own losses (log-spaced: losses span decades)."""
    low, high = max(float(surface.min()), 1e-12), float(surface.max())
    if not high > low * 1.0001:
        return np.array([low])
    return np.geomspace(low, high, count + 2)[1:-1]


def house_prices_animation(
    path: str | os.PathLike[str],
    seed: int = 0,
    lr: float = HOUSE_LR,
    epochs: int = HOUSE_EPOCHS,
    weights: tuple[str, str] = ("2.weight[1,0]", "2.weight[2,0]"),
    frames: int = 30,
) -> Path:
    """A GIF of gradient descent on the house-prices network (needs matplotlib and pillow)."""
    model, X, y, loss = house_prices_setup(seed)
    return animate_descent(
        model,
        X,
        y,
        loss,
        path,
        lr=lr,
        epochs=epochs,
        weights=weights,
        frames=frames,
        title="house prices: gradient descent",
    )
