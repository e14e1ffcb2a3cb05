"""Kill a training run mid-epoch, resume it from its checkpoint, get the same weights.

The resumed run trains exactly the epochs that were not checkpointed (none skipped,
none repeated) and ends with weights, optimizer state and history bit-identical to an
uninterrupted run with the same seed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import EarlyStopping
from chainrule.train.checkpoint import load_checkpoint

EPOCHS = 6
SETUP = """
import chainrule as cr

X, y = cr.data.load("moons", n_samples=256, rng=0)

def make():
    model = cr.nn.Sequential(
        cr.nn.Linear(2, 16, rng=0), cr.nn.Tanh(), cr.nn.Linear(16, 2, rng=1)
    )
    return model, cr.optim.Adam(model.parameters(), lr=0.01)

def train(model, optimizer, callbacks=(), **kwargs):
    return cr.fit(
        model, X, y, loss="cross-entropy", optimizer=optimizer, epochs=6, batch_size=32,
        validation_split=0.25, metrics=["accuracy"], verbose=0, rng=7,
        callbacks=[cr.train.EarlyStopping(patience=50, restore_best_weights=True), *callbacks],
        **kwargs,
    )
"""
CHILD = """
import sys, time
folder, marker, hook, epoch, batch = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:])

class Hang(cr.train.Callback):
    # At the chosen point of training: say so and wait to be killed.
    def hang(self):
        open(marker, "w").close()
        time.sleep(120)

    def on_epoch_begin(self, index):
        if hook == "epoch_begin" and index == epoch:
            self.hang()

    def on_batch_end(self, index, logs):
        if hook == "batch" and self.context.epoch == epoch and index == batch:
            self.hang()

model, optimizer = make()
print("training", flush=True)
train(model, optimizer, callbacks=[Hang()] if hook != "never" else [], checkpoint_dir=folder)
"""
# Where the child is killed (6 epochs of 6 batches; epochs and batches 0-based) and how
# many epochs its checkpoint then holds. A checkpoint is written at the end of every epoch.
KILL_POINTS = {
    "first batch, no checkpoint yet": (("batch", 0, 0), 0),
    "last batch of epoch 2": (("batch", 1, 5), 1),
    "mid-epoch 4": (("batch", 3, 2), 3),
    "start of epoch 5, just after a checkpoint": (("epoch_begin", 4, 0), 4),
    "last batch of the last epoch": (("batch", 5, 5), 5),
}


def _namespace() -> dict:
    namespace: dict = {}
    exec(SETUP, namespace)  # the same definitions the child process runs
    return namespace


def _start_child(tmp_path, hook: str, epoch: int, batch: int) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(SETUP) + textwrap.dedent(CHILD))
    folder, marker = tmp_path / "checkpoints", tmp_path / "hanging"
    argv = [str(script), str(folder), str(marker), hook, str(epoch), str(batch)]
    child = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "training\n"
    child.stdout.close()
    return child


class _Epochs(cr.train.Callback):
    """Records the epochs a run trains."""

    def __init__(self) -> None:
        self.started: list[int] = []

    def on_epoch_begin(self, epoch: int) -> None:
        self.started.append(epoch)


@pytest.fixture(scope="module")
def straight() -> tuple[dict, dict, cr.train.History]:
    """Weights, optimizer state and history of the uninterrupted run."""
    namespace = _namespace()
    model, optimizer = namespace["make"]()
    history = namespace["train"](model, optimizer)
    return model.state_dict(), optimizer.state_dict(), history


def _resume_and_compare(folder, straight, completed: int | None) -> None:
    """Resume from ``folder``; the run must train exactly the epochs left and end where
    the uninterrupted run ends, bit for bit."""
    namespace = _namespace()
    model, optimizer = namespace["make"]()
    epochs = _Epochs()
    resumed = namespace["train"](model, optimizer, [epochs], checkpoint_dir=folder, resume=True)
    weights, optimizer_state, history = straight
    assert epochs.started == list(range(completed or 0, EPOCHS))
    assert resumed.epoch == list(range(EPOCHS)) == history.epoch
    assert resumed.history == history.history and resumed.stop_reason is None
    assert model.state_dict().keys() == weights.keys()
    for name, value in weights.items():
        np.testing.assert_array_equal(model.state_dict()[name], value, err_msg=name)
    state = optimizer.state_dict()
    assert state["param_groups"] == optimizer_state["param_groups"]
    assert state["state"].keys() == optimizer_state["state"].keys()
    for index, buffers in optimizer_state["state"].items():
        assert state["state"][index].keys() == buffers.keys()
        for key, value in buffers.items():
            assert state["state"][index][key].dtype == value.dtype
            np.testing.assert_array_equal(state["state"][index][key], value, err_msg=key)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only")
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_run_resumes_to_bit_identical_weights(tmp_path, straight, point):
    (hook, epoch, batch), completed = KILL_POINTS[point]
    child = _start_child(tmp_path, hook, epoch, batch)
    marker = tmp_path / "hanging"
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the training process ended before the kill point"
            assert time.monotonic() < deadline, "the training process did not reach the point"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    checkpoint = load_checkpoint(tmp_path / "checkpoints")
    assert (None if checkpoint is None else checkpoint.epoch) == (completed or None)
    _resume_and_compare(tmp_path / "checkpoints", straight, completed)


def _kill_at_random_moments(tmp_path, straight, trials: int, seed: int) -> list[int | None]:
    """Kill uninstrumented training runs at random moments (some while a checkpoint is
    being written) and resume each; return the epochs their checkpoints held."""
    rng = random.Random(seed)
    completed = []
    for trial in range(trials):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        child = _start_child(folder, "never", 0, 0)
        time.sleep(rng.uniform(0.0, 0.03))  # the whole run takes about 20 ms
        child.kill()
        child.wait()
        checkpoint = load_checkpoint(folder / "checkpoints")  # never a damaged file
        completed.append(None if checkpoint is None else checkpoint.epoch)
        _resume_and_compare(folder / "checkpoints", straight, completed[-1])
    return completed


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only")
def test_runs_killed_at_random_moments_resume_to_bit_identical_weights(tmp_path, straight):
    _kill_at_random_moments(tmp_path, straight, trials=3, seed=0)


@pytest.mark.stress
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only")
def test_30_runs_killed_at_random_moments_resume_to_bit_identical_weights(tmp_path, straight):
    completed = _kill_at_random_moments(tmp_path, straight, trials=30, seed=1)
    print(f"\nepochs checkpointed when the 30 runs were killed: {completed}")
    assert len(set(completed)) >= 3  # the kills landed all over the run


def test_resuming_a_finished_run_changes_nothing(tmp_path):
    namespace = _namespace()
    model, optimizer = namespace["make"]()
    first = namespace["train"](model, optimizer, checkpoint_dir=tmp_path)
    again_model, again_optimizer = namespace["make"]()
    again = namespace["train"](again_model, again_optimizer, checkpoint_dir=tmp_path, resume=True)
    assert again.history == first.history
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(again_model.state_dict()[name], value)


def test_resume_without_a_checkpoint_starts_fresh(tmp_path, capsys):
    namespace = _namespace()
    model, optimizer = namespace["make"]()
    history = cr.fit(
        model,
        namespace["X"],
        namespace["y"],
        loss="cross-entropy",
        optimizer=optimizer,
        epochs=2,
        checkpoint_dir=tmp_path / "new",
        resume=True,
        verbose=2,
        rng=0,
    )
    assert len(history) == 2
    assert "no checkpoint in" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "new").epoch == 2


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    namespace = _namespace()
    X, y = namespace["X"], namespace["y"]
    model, optimizer = namespace["make"]()
    cr.fit(
        model,
        X,
        y,
        loss="cross-entropy",
        optimizer=optimizer,
        epochs=1,
        checkpoint_dir=tmp_path,
        verbose=0,
        rng=0,
    )
    bigger = cr.nn.Sequential(cr.nn.Linear(2, 32), cr.nn.Tanh(), cr.nn.Linear(32, 2))
    with pytest.raises(ValueError, match="different model architecture"):
        cr.fit(
            bigger,
            X,
            y,
            loss="cross-entropy",
            epochs=2,
            checkpoint_dir=tmp_path,
            resume=True,
            verbose=0,
        )
    model, optimizer = namespace["make"]()
    with pytest.raises(ValueError, match="batch_size: 32 then, 16 now"):
        cr.fit(
            model,
            X,
            y,
            loss="cross-entropy",
            optimizer=optimizer,
            epochs=2,
            batch_size=16,
            checkpoint_dir=tmp_path,
            resume=True,
            verbose=0,
        )
    with pytest.raises(ValueError, match="n_samples: 256 then, 100 now"):
        cr.fit(
            model,
            X[:100],
            y[:100],
            loss="cross-entropy",
            optimizer=optimizer,
            epochs=2,
            checkpoint_dir=tmp_path,
            resume=True,
            verbose=0,
        )
    with pytest.raises(ValueError, match=r"state of the callbacks \[\], but this run has"):
        cr.fit(
            model,
            X,
            y,
            loss="cross-entropy",
            optimizer=optimizer,
            epochs=2,
            callbacks=[EarlyStopping(monitor="loss")],
            checkpoint_dir=tmp_path,
            resume=True,
            verbose=0,
        )


def _poison(folder, key: str, index: int) -> None:
    """Write NaN into one entry of a stored tensor of the checkpoint in ``folder``."""
    from chainrule.train.checkpoint import save_checkpoint

    checkpoint = load_checkpoint(folder)
    assert checkpoint is not None
    if key.startswith("model."):
        target = checkpoint.model_state[key[6:]]
    else:
        _, param, name = key.split(".", 2)
        target = checkpoint.optimizer_state["state"][int(param)][name]
    target.reshape(-1)[index] = np.nan
    save_checkpoint(folder, checkpoint)


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("model.0.weight", "weight '0.weight' holds nan at index (0, 1)"),
        ("optimizer.3.exp_avg_sq", "optimizer buffer 'exp_avg_sq of parameter 3' holds nan"),
    ],
)
def test_resume_refuses_a_checkpoint_holding_nan(tmp_path, key, said):
    namespace = _namespace()
    model, optimizer = namespace["make"]()
    namespace["train"](model, optimizer, checkpoint_dir=tmp_path)
    _poison(tmp_path, key, 1)
    again_model, again_optimizer = namespace["make"]()
    before = {k: v.copy() for k, v in again_model.state_dict().items()}
    with pytest.raises(cr.io.ModelFileError, match="cannot continue the run") as caught:
        namespace["train"](again_model, again_optimizer, checkpoint_dir=tmp_path, resume=True)
    assert said in str(caught.value)
    # Refused before anything was loaded into the model.
    for name, value in again_model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
