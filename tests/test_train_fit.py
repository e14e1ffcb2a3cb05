"""chainrule.fit: the loop, validation, metrics, dtypes, progress output and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import History


def _moons(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    X, y = cr.data.load("moons", n_samples=n, rng=0)
    return X, y


def _classifier(hidden: int = 16) -> cr.nn.Sequential:
    return cr.nn.Sequential(
        cr.nn.Linear(2, hidden, rng=0), cr.nn.Tanh(), cr.nn.Linear(hidden, 2, rng=1)
    )


def test_fit_learns_moons_and_records_history():
    X, y = _moons()
    model = _classifier()
    optimizer = cr.optim.Adam(model.parameters(), lr=0.05)
    history = cr.fit(
        model,
        X,
        y,
        loss="cross-entropy",
        optimizer=optimizer,
        epochs=40,
        batch_size=32,
        validation_split=0.25,
        metrics=["accuracy"],
        verbose=0,
        rng=0,
    )
    assert isinstance(history, History)
    assert sorted(history.history) == ["accuracy", "loss", "lr", "val_accuracy", "val_loss"]
    assert len(history) == 40 and history.epoch == list(range(40))
    assert history.loss[-1] < history.loss[0] / 4
    assert history["val_accuracy"][-1] > 0.95
    assert history.stop_reason is None
    assert history["lr"] == [0.05] * 40


def test_validation_split_holds_out_the_last_samples_before_shuffling():
    X, y = _moons(100)
    runs = []
    for kwargs in ({"validation_split": 0.2}, {"validation_data": (X[80:], y[80:])}):
        data = (X, y) if "validation_split" in kwargs else (X[:80], y[:80])
        runs.append(
            cr.fit(_classifier(), *data, loss="cross-entropy", epochs=3, verbose=0, rng=1, **kwargs)
        )
    assert runs[0].history == runs[1].history


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses():
    X, y = _moons(10)
    model = _classifier()
    batch_losses = []

    class Record(cr.train.Callback):
        def on_batch_end(self, batch, logs):
            batch_losses.append((logs["loss"], logs["size"]))

    history = cr.fit(
        model,
        X,
        y,
        loss="cross-entropy",
        optimizer=cr.optim.SGD(model.parameters(), lr=0.0),
        epochs=1,
        batch_size=4,
        callbacks=[Record()],
        verbose=0,
        rng=0,
    )
    assert [size for _, size in batch_losses] == [4, 4, 2]
    expected = sum(loss * size for loss, size in batch_losses) / 10
    assert history.loss[0] == pytest.approx(expected)


def test_full_batch_epoch_is_one_gradient_step():
    X = np.array([[0.5, 0.1], [0.2, 0.9], [0.7, 0.3]])
    y = np.array([[1.0], [0.0], [0.5]])
    manual = cr.nn.Sequential(cr.nn.Linear(2, 3, rng=0), cr.nn.Sigmoid(), cr.nn.Linear(3, 1, rng=1))
    fitted = cr.nn.Sequential(cr.nn.Linear(2, 3, rng=0), cr.nn.Sigmoid(), cr.nn.Linear(3, 1, rng=1))
    optimizer = cr.optim.SGD(manual.parameters(), lr=0.5)
    optimizer.zero_grad()
    cr.nn.MSELoss()(manual(X.astype(np.float32)), y).backward()
    optimizer.step()
    cr.fit(
        fitted,
        X,
        y,
        loss=cr.nn.MSELoss(),
        optimizer=cr.optim.SGD(fitted.parameters(), lr=0.5),
        epochs=1,
        batch_size=None,
        shuffle=False,
        verbose=0,
    )
    for (name, a), b in zip(manual.state_dict().items(), fitted.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_inputs_are_cast_to_the_model_dtype():
    X, y = _moons(40)
    model = _classifier()
    cr.fit(model, X.astype(np.float64), y, loss="cross-entropy", epochs=1, verbose=0, rng=0)
    assert all(p.dtype == np.float32 for p in model.parameters())
    double = _classifier().double()
    cr.fit(double, X.astype(np.float32), y, loss="cross-entropy", epochs=1, verbose=0, rng=0)
    assert all(p.dtype == np.float64 for p in double.parameters())


def test_same_seed_gives_identical_runs():
    X, y = _moons(64)
    weights = []
    for _ in range(2):
        model = _classifier()
        cr.fit(model, X, y, loss="cross-entropy", epochs=3, batch_size=8, verbose=0, rng=5)
        weights.append(model.state_dict())
    for name in weights[0]:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])


def test_regression_metrics_and_binary_accuracy_thresholds():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1
    model = cr.nn.Sequential(cr.nn.Linear(3, 1, rng=0))
    history = cr.fit(
        model,
        X,
        y,
        loss="mse",
        optimizer=cr.optim.Adam(model.parameters(), lr=0.1),
        epochs=60,
        metrics=["mse", "mae", "r2"],
        validation_split=0.25,
        verbose=0,
        rng=0,
    )
    assert history["r2"][-1] > 0.99 and history["val_mae"][-1] < 0.1
    assert history["mse"][-1] == pytest.approx(history.loss[-1], rel=0.3)

    labels = (X[:, 0] > 0).astype(float)
    logits = cr.nn.Sequential(cr.nn.Linear(3, 1, rng=0))
    history = cr.fit(
        logits,
        X,
        labels,
        loss="bce-with-logits",
        epochs=80,
        metrics=["accuracy"],
        optimizer=cr.optim.Adam(logits.parameters(), lr=0.1),
        verbose=0,
        rng=0,
    )
    assert history["accuracy"][-1] > 0.95


def test_verbose_levels(capsys, monkeypatch):
    X, y = _moons(40)
    cr.fit(_classifier(), X, y, loss="cross-entropy", epochs=2, verbose=0, rng=0)
    assert capsys.readouterr().out == ""
    cr.fit(_classifier(), X, y, loss="cross-entropy", epochs=2, verbose=1, rng=0)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  loss ")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    cr.fit(_classifier(), X, y, loss="cross-entropy", epochs=2, verbose=1, rng=0)
    assert "epoch 2/2" in capsys.readouterr().out  # the rich bar leaves the epoch lines


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"X": np.array([[0.0, np.nan]])}, ValueError, "row 0, column 1"),
        ({"X": np.zeros(3)}, ValueError, "reshape(-1, 1)"),
        ({"y": np.array(["a", "b", "a", "b"])}, TypeError, "encode_labels"),
        ({"y": np.array([0, 1])}, ValueError, "one target per sample"),
        ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'"),
        ({"metrics": ["f1"]}, ValueError, "unknown metric 'f1'"),
        ({"epochs": -1}, ValueError, "epochs must be an integer >= 0"),
        ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
        ({"validation_split": 1.5}, ValueError, "validation_split must be in (0, 1)"),
        ({"verbose": 3}, ValueError, "verbose must be 0"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be"),
    ],
)
def test_argument_errors_name_the_problem(kwargs, error, message):
    arguments = {
        "X": np.zeros((4, 2)),
        "y": np.array([0, 1, 0, 1]),
        "loss": "cross-entropy",
        "verbose": 0,
    }
    arguments.update(kwargs)
    model = _classifier()
    with pytest.raises(error, match=None) as info:
        cr.fit(model, arguments.pop("X"), arguments.pop("y"), **arguments)
    assert message in str(info.value)


def test_history_helpers():
    history = History()
    history.record(0, {"loss": 1.0, "val_accuracy": 0.5})
    history.record(1, {"loss": 0.5, "val_accuracy": 0.75})
    assert history.best("loss") == (2, 0.5)
    assert history.best("val_accuracy") == (2, 0.75)
    assert History.from_dict(history.to_dict()).history == history.history
    with pytest.raises(KeyError, match="it has 'loss', 'val_accuracy'"):
        history["accuracy"]
    assert "loss=0.5" in repr(history)
