"""Training plots render headless, as PNG files, without pyplot."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.viz.training import plot_decision_boundary, plot_history, plot_predictions

pytest.importorskip("matplotlib")
PNG = b"\x89PNG\r\n\x1a\n"


def test_curves_boundary_and_predictions_are_written_as_png(tmp_path):
    X, y = cr.data.load("moons", n_samples=80, rng=0)
    model = cr.nn.Sequential(cr.nn.Linear(2, 8, rng=0), cr.nn.Tanh(), cr.nn.Linear(8, 2, rng=1))
    history = cr.fit(
        model,
        X,
        y,
        loss="cross-entropy",
        epochs=3,
        validation_split=0.25,
        metrics=["accuracy"],
        verbose=0,
        rng=0,
    )
    figure = plot_history(history, tmp_path / "curves.png", title="moons")
    assert [axis.get_title() for axis in figure.axes] == ["loss", "accuracy"]
    plot_decision_boundary(
        model, X, np.where(y == 1, "b", "a"), tmp_path / "boundary.png", resolution=50
    )
    plot_predictions(y, y + 0.1, tmp_path / "predictions.png")
    for name in ("curves", "boundary", "predictions"):
        assert (tmp_path / f"{name}.png").read_bytes().startswith(PNG)


def test_each_metric_has_its_own_panel_marked_with_the_kept_epoch():
    # An mse in the target's units and an r2 near 1 on one axis would flatten the r2.
    history = cr.train.History()
    for epoch in range(5):
        history.record(
            epoch,
            {"loss": 1.0 / (epoch + 1), "val_loss": 1.2 / (epoch + 1), "mse": 5000.0 - epoch,
             "val_mse": 5200.0 - epoch, "r2": 0.1 * epoch, "val_r2": 0.09 * epoch},
        )
    history.kept_epoch = 3
    figure = plot_history(history)
    shown = [axis for axis in figure.axes if axis.get_visible()]
    assert [axis.get_title() for axis in shown] == ["loss", "mse", "r2"]
    for axis, name in zip(shown, ["loss", "mse", "r2"]):
        labels = [line.get_label() for line in axis.lines]
        assert labels == [f"training {name}", f"validation {name}", "weights kept (epoch 3)"]
        low, high = axis.get_ylim()
        values = [*history[name], *history[f"val_{name}"]]
        # Each panel is scaled to its own values.
        assert low <= min(values) and max(values) <= high < 2 * max(values) + 1


def test_plot_errors_name_the_problem():
    model = cr.nn.Sequential(cr.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="exactly 2 features"):
        plot_decision_boundary(model, np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="no loss values"):
        plot_history(cr.train.History())
