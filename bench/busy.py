"""Benchmark 11: one epoch of the large MLP on a quiet machine and beside two busy programs.

OpenBLAS's threads wait for each other by spinning; beside other programs that keep
every core busy, each product waits for its last thread to be scheduled again. The two
background programs multiply 1024 x 1024 float32 matrices in a loop with their default
(all-core) BLAS threads, each in a session of its own, as two terminals or a notebook
kernel would be. Quiet and busy turns alternate; each figure is a median.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import contestants as c
import numpy as np
from racing import timed

import chainrule as cr

Runner = Callable[[], None]

BACKGROUND = """\
import numpy as np
a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
while True:
    a @ a
"""


@contextmanager
def busy_machine(programs: int = 2) -> Iterator[None]:
    """Run ``programs`` background processes of float32 matrix products while inside."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    running = [
        subprocess.Popen(
            [sys.executable, "-c", BACKGROUND],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(programs)
    ]
    try:
        time.sleep(0.5)  # started, with their threads spinning
        yield
    finally:
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def chainrule_fit(X: np.ndarray, y: np.ndarray, batch: int, lr: float) -> Runner:
    """One epoch through ``chainrule.fit``, which chooses the BLAS threads."""
    cr.manual_seed(0)
    model = cr.nn.Sequential(*c.mlp_layers(256, cr.nn.Linear, cr.nn.ReLU))
    optimizer = cr.optim.SGD(model.parameters(), lr=lr)

    def epoch() -> None:
        cr.fit(
            model,
            X,
            y,
            loss="cross-entropy",
            optimizer=optimizer,
            epochs=1,
            batch_size=batch,
            shuffle=False,
            verbose=0,
        )

    return epoch


def bench_busy(repeats: int, samples: int) -> dict[str, object]:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(samples, 784)).astype(np.float32)
    y = rng.integers(0, 10, samples)
    runners = {
        "chainrule": chainrule_fit(X, y, 128, 0.01),
        "numpy": c.numpy_mlp(X, y, 128, 0.01),
    }
    for run in runners.values():
        run()
    times: dict[str, list[float]] = {f"{name} {when}": [] for name in runners for when in "qb"}
    for _ in range(repeats):
        for name, run in runners.items():
            times[f"{name} q"].append(timed(run))
        with busy_machine():
            for name, run in runners.items():
                times[f"{name} b"].append(timed(run))
    medians = {key: statistics.median(ts) for key, ts in times.items()}
    return {
        "samples": samples,
        "quiet": {name: medians[f"{name} q"] for name in runners},
        "busy": {name: medians[f"{name} b"] for name in runners},
    }


if __name__ == "__main__":
    # This row alone: python bench/busy.py [REPEATS]
    result = bench_busy(int(sys.argv[1]) if len(sys.argv) > 1 else 5, 20_000)
    quiet, busy = result["quiet"], result["busy"]
    assert isinstance(quiet, dict) and isinstance(busy, dict)
    for name in quiet:
        print(
            f"{name}: quiet {quiet[name]:.3f} s, busy {busy[name]:.3f} s, "
            f"busy / quiet {busy[name] / quiet[name]:.2f}"
        )
