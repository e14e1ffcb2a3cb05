"""SIGKILL a process at random moments while it saves a model: the file afterwards holds
either the old or the new state, whole, every time.

A child process saves two states A and B of a model in turns to the same path, as
fast as it can, and is killed after a random delay. The file then loads and equals A
or B exactly. When the child was killed during its very first save, before any file
existed, there is no file at all: never a partial one. A killed save can leave its
hidden temporary file (``.NAME.*.tmp``) beside the model; the model file itself is
never touched until the new one is complete. ``make test`` runs 12 trials; ``make
stress`` runs 100.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only")

SAVER = """
import sys
import chainrule as cr

def state(seed):
    # about 1 MiB of weights, so that a save takes long enough to be interrupted
    return cr.nn.Sequential(
        cr.nn.Linear(64, 1024, rng=seed), cr.nn.Tanh(), cr.nn.Linear(1024, 192, rng=seed + 1)
    )

if __name__ == "__main__":
    path = sys.argv[1]
    states = [state(0), state(2)]
    print("ready", flush=True)
    saves = 0
    while True:
        cr.save(states[(saves + 1) % 2], path)  # B, A, B, A...
        saves += 1
"""


def _kill_while_saving(folder: Path, trials: int, seed: int) -> dict[str, int]:
    """Run the trials; return how often each outcome was seen."""
    script = folder / "saver.py"
    script.write_text(textwrap.dedent(SAVER))
    namespace: dict = {}
    exec(SAVER, namespace)  # the same two states, in this process
    states = {"A": namespace["state"](0).state_dict(), "B": namespace["state"](2).state_dict()}
    rng = random.Random(seed)
    seen = {"A": 0, "B": 0, "absent": 0, "temporary file left": 0}
    for trial in range(trials):
        run = folder / f"trial{trial}"
        run.mkdir()
        path = run / "model.safetensors"
        if trial % 4:  # one trial in four starts without a file
            cr.save(namespace["state"](0), path)
        child = subprocess.Popen(
            [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
            time.sleep(rng.uniform(0.0, 0.04))  # a save takes a few milliseconds
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
            assert child.stdout is not None
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        leftovers = [p for p in run.iterdir() if p.name != "model.safetensors"]
        assert all(p.name.startswith(".model.safetensors.") for p in leftovers), leftovers
        seen["temporary file left"] += bool(leftovers)
        if not path.exists():
            assert trial % 4 == 0, "the old model file disappeared"
            seen["absent"] += 1
            continue
        loaded = cr.load(path).state_dict()
        matches = [
            name
            for name, state in states.items()
            if all(np.array_equal(loaded[key], value) for key, value in state.items())
        ]
        assert len(matches) == 1, f"trial {trial}: the file holds neither state"
        seen[matches[0]] += 1
    return seen


def test_killed_saves_leave_the_old_or_the_new_model(tmp_path):
    seen = _kill_while_saving(tmp_path, trials=12, seed=0)
    assert seen["A"] + seen["B"] + seen["absent"] == 12


@pytest.mark.stress
def test_100_killed_saves_leave_the_old_or_the_new_model(tmp_path):
    seen = _kill_while_saving(tmp_path, trials=100, seed=1)
    print(f"\noutcomes of 100 killed saves: {seen}")
    assert seen["A"] + seen["B"] + seen["absent"] == 100
    # The kills really landed at different moments: both states were seen, and some
    # kills came in the middle of writing a file.
    assert seen["A"] > 0 and seen["B"] > 0 and seen["temporary file left"] > 0
