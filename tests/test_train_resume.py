"""Kill a training run mid-epoch, resume it from its checkpoint, get the same weights."""

from __future__ import annotations

import os
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
folder, marker = sys.argv[1], sys.argv[2]

class HangMidEpoch(cr.train.Callback):
    # In epoch 4, after 3 batches (the checkpoint of epoch 3 is on disk): say so and wait
    # to be killed.
    def on_batch_end(self, batch, logs):
        if self.context.epoch == 3 and batch == 2:
            open(marker, "w").close()
            time.sleep(120)

model, optimizer = make()
train(model, optimizer, callbacks=[HangMidEpoch()], checkpoint_dir=folder)
"""


def _namespace() -> dict:
    namespace: dict = {}
    exec(SETUP, namespace)  # the same definitions the child process runs
    return namespace


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only")
def test_killed_run_resumes_to_bit_identical_weights(tmp_path):
    folder, marker = tmp_path / "checkpoints", tmp_path / "mid-epoch"
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(SETUP) + textwrap.dedent(CHILD))
    child = subprocess.Popen([sys.executable, str(script), str(folder), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the training process ended before reaching epoch 4"
            assert time.monotonic() < deadline, "the training process did not reach epoch 4"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert load_checkpoint(folder).epoch == 3

    namespace = _namespace()
    resumed_model, resumed_optimizer = namespace["make"]()
    resumed = namespace["train"](
        resumed_model, resumed_optimizer, checkpoint_dir=folder, resume=True
    )
    straight_model, straight_optimizer = namespace["make"]()
    straight = namespace["train"](straight_model, straight_optimizer)

    assert len(resumed) == EPOCHS and resumed.history == straight.history
    for name, value in straight_model.state_dict().items():
        np.testing.assert_array_equal(resumed_model.state_dict()[name], value, err_msg=name)
    straight_state = straight_optimizer.state_dict()["state"]
    for index, buffers in resumed_optimizer.state_dict()["state"].items():
        for key, value in buffers.items():
            np.testing.assert_array_equal(value, straight_state[index][key])


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
