"""Callbacks: early stopping, model checkpoints, learning-rate schedules and the NaN guard."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import (
    CosineAnnealingLR,
    EarlyStopping,
    ExponentialLR,
    LambdaLR,
    ModelCheckpoint,
    StepLR,
)


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(n, 3))
    return X, X @ np.array([1.0, -1.0, 0.5])


def _model() -> cr.nn.Sequential:
    return cr.nn.Sequential(cr.nn.Linear(3, 8, rng=0), cr.nn.ReLU(), cr.nn.Linear(8, 1, rng=1))


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = _data()
    model = _model()
    snapshots = []

    class Snapshot(cr.train.Callback):
        def on_epoch_end(self, epoch, logs):
            snapshots.append(self.context.model.state_dict())

    stopper = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    # A learning rate this high makes the validation loss rise after a few epochs.
    history = cr.fit(
        model,
        X,
        y,
        loss="mse",
        optimizer=cr.optim.SGD(model.parameters(), lr=0.9),
        epochs=100,
        validation_split=0.25,
        callbacks=[stopper, Snapshot()],
        verbose=0,
        rng=0,
    )
    assert history.stop_reason is not None and "early stopping" in history.stop_reason
    assert len(history) < 100
    best_epoch, best_value = history.best("val_loss")
    assert stopper.best == pytest.approx(best_value) and stopper.best_epoch == best_epoch - 1
    assert len(history) == best_epoch + 3
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, snapshots[best_epoch - 1][name])


def test_early_stopping_without_validation_data_says_how_to_fix_it():
    X, y = _data()
    with pytest.raises(ValueError, match="monitors 'val_loss'.*validation_split"):
        cr.fit(_model(), X, y, loss="mse", epochs=2, callbacks=[EarlyStopping()], verbose=0)


def test_model_checkpoint_saves_only_improvements(tmp_path):
    X, y = _data()
    saved_epochs = []

    class Watch(cr.train.Callback):
        def on_epoch_end(self, epoch, logs):
            path = tmp_path / "best.safetensors"
            if path.exists():
                saved_epochs.append((epoch, path.stat().st_mtime_ns, path.read_bytes()))

    model = _model()
    checkpoint = ModelCheckpoint(tmp_path / "best.safetensors", monitor="loss", save_best_only=True)
    history = cr.fit(
        model,
        X,
        y,
        loss="mse",
        optimizer=cr.optim.SGD(model.parameters(), lr=0.1),
        epochs=5,
        callbacks=[checkpoint, Watch()],
        verbose=0,
        rng=0,
    )
    assert checkpoint.state_dict()["best"] == pytest.approx(min(history.loss))
    best = cr.load(tmp_path / "best.safetensors")
    model_state, best_state = model.state_dict(), best.state_dict()
    if history.loss[-1] == min(history.loss):
        for name in model_state:
            np.testing.assert_array_equal(model_state[name], best_state[name])
    every = ModelCheckpoint(tmp_path / "model-{epoch:02d}.safetensors")
    cr.fit(_model(), X, y, loss="mse", epochs=3, callbacks=[every], verbose=0, rng=0)
    assert sorted(p.name for p in tmp_path.glob("model-*")) == [
        "model-01.safetensors",
        "model-02.safetensors",
        "model-03.safetensors",
    ]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (StepLR(step_size=2, gamma=0.5), [0.1, 0.1, 0.05, 0.05, 0.025]),
        (ExponentialLR(gamma=0.5), [0.1, 0.05, 0.025, 0.0125, 0.00625]),
        (
            CosineAnnealingLR(T_max=4),
            [
                0.1,
                0.1 * (1 + math.cos(math.pi / 4)) / 2,
                0.05,
                0.1 * (1 + math.cos(3 * math.pi / 4)) / 2,
                0.0,
            ],
        ),
        (LambdaLR(lambda epoch: 1 / (epoch + 1)), [0.1, 0.05, 0.1 / 3, 0.025, 0.02]),
    ],
)
def test_schedules_set_the_learning_rate_each_epoch(schedule, expected):
    X, y = _data()
    model = _model()
    history = cr.fit(
        model,
        X,
        y,
        loss="mse",
        optimizer=cr.optim.SGD(model.parameters(), lr=0.1),
        epochs=5,
        callbacks=[schedule],
        verbose=0,
        rng=0,
    )
    np.testing.assert_allclose(history["lr"], expected, rtol=1e-12)


def test_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        StepLR(step_size=0)
    with pytest.raises(ValueError, match="gamma must be a positive number"):
        ExponentialLR(gamma=-1)
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        EarlyStopping(patience=-2)


def test_nan_guard_stops_in_the_first_epoch_and_keeps_the_last_good_weights(tmp_path, capsys):
    X, y = _data()
    best = tmp_path / "best.safetensors"
    model = cr.nn.Sequential(cr.nn.Linear(3, 8), cr.nn.LeakyReLU(0.1), cr.nn.Linear(8, 1))
    keep_best = ModelCheckpoint(best, monitor="loss", save_best_only=True)
    cr.fit(model, X, y, loss="mse", epochs=3, verbose=0, rng=0, callbacks=[keep_best])
    saved = best.read_bytes()

    # The same network with every weight 1e5: the first update makes the loss overflow.
    for param in model.parameters():
        param.data[...] = 1e5
    updates = []

    class Count(cr.train.Callback):
        def on_batch_end(self, batch, logs):
            updates.append(self.context.model.state_dict())

    history = cr.fit(
        model,
        X,
        y,
        loss="mse",
        optimizer=cr.optim.SGD(model.parameters(), lr=0.1),
        epochs=5,
        batch_size=16,
        verbose=1,
        rng=0,
        # A fresh checkpoint callback would save any finite epoch: none may complete.
        callbacks=[ModelCheckpoint(best, monitor="loss", save_best_only=True), Count()],
    )
    assert history.stopped_epoch == 1 and len(history) == 0
    assert history.stop_reason.startswith("the loss became inf in epoch 1, batch 2;")
    assert "weights from before the last update were restored" in history.stop_reason
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("training stopped in epoch 1:")
    # The weights are those from before the update that made the loss non-finite.
    state = model.state_dict()
    assert all(np.isfinite(value).all() for value in state.values())
    assert len(updates) == 1
    for value in state.values():
        np.testing.assert_array_equal(value, np.full_like(value, 1e5))
    assert best.read_bytes() == saved


def test_divergence_keeps_the_best_file_of_the_same_checkpoint_callback(tmp_path):
    """The same ModelCheckpoint across both fits (it keeps its best value, as in Keras):
    a run from weights 1e5 with MSE stops in its first epoch and never saves."""
    X, y = _data()
    best = tmp_path / "best.safetensors"
    keep_best = ModelCheckpoint(best, monitor="loss", save_best_only=True)
    # leaky, so that the huge first update cannot silence the network by killing every unit
    model = cr.nn.Sequential(cr.nn.Linear(3, 8), cr.nn.LeakyReLU(0.1), cr.nn.Linear(8, 1))
    cr.fit(model, X, y, loss="mse", epochs=4, verbose=0, rng=0, callbacks=[keep_best])
    saved, best_loss = best.read_bytes(), keep_best.state_dict()["best"]
    for param in model.parameters():
        param.data[...] = 1e5
    sgd = cr.optim.SGD(model.parameters(), lr=0.1)  # Adam's bounded steps would not diverge
    history = cr.fit(
        model, X, y, loss="mse", optimizer=sgd, epochs=5, verbose=0, rng=0, callbacks=[keep_best]
    )
    assert history.stopped_epoch == 1 and len(history) == 0
    assert history.stop_reason.startswith(("the loss became inf in epoch 1", "the loss became nan"))
    assert best.read_bytes() == saved and keep_best.state_dict()["best"] == best_loss


def test_nan_guard_can_be_switched_off():
    X, y = _data()
    model = cr.nn.Sequential(cr.nn.Linear(3, 8), cr.nn.Linear(8, 1))
    for param in model.parameters():
        param.data[...] = 1e5
    with np.errstate(all="ignore"):
        history = cr.fit(
            model,
            X,
            y,
            loss="mse",
            optimizer=cr.optim.SGD(model.parameters(), lr=0.1),
            epochs=2,
            batch_size=16,
            verbose=0,
            rng=0,
            nan_guard=False,
        )
    assert len(history) == 2 and not math.isfinite(history.loss[-1])


def test_a_callback_can_stop_training():
    X, y = _data()

    class StopAfterTwo(cr.train.Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                self.context.stop("enough")

    history = cr.fit(
        _model(), X, y, loss="mse", epochs=10, callbacks=[StopAfterTwo()], verbose=0, rng=0
    )
    assert len(history) == 2 and history.stop_reason == "enough" and history.stopped_epoch == 2
