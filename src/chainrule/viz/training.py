"""Training pictures: loss curves, decision boundaries, predicted against actual.

Each function returns a matplotlib ``Figure`` and, given a path, also writes it as a
PNG (atomically). Figures are made without pyplot, on the Agg renderer, so they
work on machines without a display and leave pyplot's global state alone.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from chainrule.autograd import no_grad

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from chainrule.io import Preprocessing
    from chainrule.nn.module import Module
    from chainrule.train.history import History

__all__ = ["plot_decision_boundary", "plot_history", "plot_predictions"]

PathLike = str | os.PathLike[str]


def _figure(width: float = 6.4, height: float = 4.4) -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plots need matplotlib; install it with: pip install matplotlib"
        ) from None
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _write(figure: Figure, path: PathLike | None) -> Figure:
    if path is not None:
        from chainrule.io import atomic_write

        atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=120))
    return figure


def plot_history(
    history: History, path: PathLike | None = None, *, title: str | None = None
) -> Figure:
    """Training and validation loss per epoch, and each metric on a panel of its own.

    Metrics get their own panels because their scales differ by orders of magnitude
    (an mse in the target's units beside an r2 near 1). A vertical line on every panel
    marks the epoch whose weights the model holds: the last one, or the one
    ``EarlyStopping(restore_best_weights=True)`` put back (``history.kept_epoch``).

    Parameters
    ----------
    history : History
        As returned by :func:`chainrule.fit`.
    path : str or os.PathLike, optional
        Write the figure there as a PNG.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if "loss" not in history or not history["loss"]:
        raise ValueError("the history has no loss values yet; train for at least one epoch")
    metrics = [
        k
        for k in history.history
        if k not in ("loss", "val_loss", "lr") and not k.startswith("val_")
    ]
    panels = 1 + len(metrics)
    columns = min(panels, 2)
    rows = -(-panels // columns)
    figure = _figure(5.0 * columns, 3.6 * rows + 0.4)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[panels:]:
        unused.set_visible(False)
    epochs = np.arange(1, len(history["loss"]) + 1)
    kept = history.kept_epoch or len(epochs)
    for axis, name in zip(axes, ["loss", *metrics]):
        axis.plot(epochs, history[name], color="C0", label=f"training {name}")
        validation = history.history.get(f"val_{name}", [])
        if validation:
            axis.plot(epochs, validation, color="C1", label=f"validation {name}")
        axis.axvline(kept, color="grey", linestyle=":", label=f"weights kept (epoch {kept})")
        if history.stop_reason:
            axis.axvline(len(epochs), color="red", alpha=0.4, label="stopped")
        values = np.array([v for v in [*history[name], *validation] if np.isfinite(v)])
        if len(values) and values.min() > 0 and values.max() / values.min() > 100:
            axis.set_yscale("log")
        axis.set(xlabel="epoch", ylabel=name, title=name)
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.legend(fontsize="small")
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return _write(figure, path)


def plot_decision_boundary(
    model: Module,
    X: ArrayLike,
    y: ArrayLike,
    path: PathLike | None = None,
    *,
    preprocessing: Preprocessing | None = None,
    threshold: float = 0.5,
    resolution: int = 200,
    title: str | None = None,
) -> Figure:
    """The class a 2-feature classifier predicts over the plane, with the samples on top.

    Parameters
    ----------
    model : Module
        A classifier with 2 inputs: several outputs (the class is the argmax) or
        one (class 1 where the output exceeds ``threshold``: 0.5 for a sigmoid
        output, 0 for logits).
    X : array-like of shape (n_samples, 2)
        Raw features (before ``preprocessing``), plotted as they are.
    y : array-like of shape (n_samples,)
        Class labels (numbers or text).
    path : str or os.PathLike, optional
        Write the figure there as a PNG.
    preprocessing : Preprocessing, optional
        Applied to the grid points before the model sees them.
    threshold : float, default 0.5
    resolution : int, default 200
        Grid points per axis.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    points = np.asarray(X, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(
            f"a decision boundary needs exactly 2 features, got X of shape {points.shape}; "
            "plot two features or a 2-D projection"
        )
    classes, codes = np.unique(np.asarray(y), return_inverse=True)
    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.1 * np.maximum(high - low, 1e-9)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    if preprocessing is not None:
        grid = preprocessing.transform(grid)
    with no_grad():
        outputs = np.asarray(model(grid.astype(model.dtype or np.float32)).data)
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        predicted = outputs.argmax(axis=1)
    else:
        predicted = (outputs.reshape(-1) > threshold).astype(int)
    n_colors = max(len(classes), int(predicted.max()) + 1, 2)
    figure = _figure()
    axes = figure.subplots()
    levels = np.arange(n_colors + 1) - 0.5
    axes.contourf(
        grid_x,
        grid_y,
        predicted.reshape(grid_x.shape),
        levels=levels,
        cmap="tab10",
        vmin=0,
        vmax=9,
        alpha=0.3,
    )
    for code, label in enumerate(classes):
        chosen = codes == code
        axes.scatter(
            points[chosen, 0],
            points[chosen, 1],
            s=14,
            color=f"C{code % 10}",
            edgecolors="black",
            linewidths=0.3,
            label=str(label),
        )
    axes.set(xlabel="feature 1", ylabel="feature 2", title=title or "decision boundary")
    axes.legend(title="class", fontsize="small")
    return _write(figure, path)


def plot_predictions(
    y_true: ArrayLike, y_pred: ArrayLike, path: PathLike | None = None, *, title: str | None = None
) -> Figure:
    """Predicted against actual values of a regression, with the line of perfect predictions.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from chainrule.train.metrics import r2_score

    true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} values but y_pred has {pred.size}")
    figure = _figure(5.2, 5.0)
    axes = figure.subplots()
    axes.scatter(true, pred, s=12, alpha=0.7)
    low, high = min(true.min(), pred.min()), max(true.max(), pred.max())
    axes.plot([low, high], [low, high], color="grey", linestyle="--", label="perfect prediction")
    axes.set(
        xlabel="actual",
        ylabel="predicted",
        title=title or f"predicted vs actual (R\N{SUPERSCRIPT TWO} = {r2_score(true, pred):.3f})",
    )
    axes.set_aspect("equal", adjustable="datalim")
    axes.legend()
    axes.grid(alpha=0.3)
    return _write(figure, path)
