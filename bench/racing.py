"""How the benchmarks time their contestants: in turns, medians, on one thread if asked.

Contestants alternate within each repetition, so drifts in the machine's speed hit all of
them alike; each figure is a median over the repetitions.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

Runner = Callable[[], object]


def timed(run: Runner, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds one call of ``run`` takes on ``clock``."""
    start = clock()
    run()
    return clock() - start


def race(
    runners: dict[str, Runner | None],
    repeats: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median seconds per run of each contestant (None: not installed, left out), the
    contestants taking turns after ``warmup`` runs each. Wall-clock seconds by default;
    single-threaded races pass ``time.process_time``, the CPU time, which other processes
    on a busy machine disturb less."""
    present = {name: run for name, run in runners.items() if run is not None}
    for run in present.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in present}
    for _ in range(repeats):
        for name, run in present.items():
            times[name].append(timed(run, clock))
    return {name: statistics.median(ts) for name, ts in times.items()}


@contextlib.contextmanager
def single_threaded() -> Iterator[bool]:
    """One thread for every contestant's arithmetic inside the block: BLAS through
    threadpoolctl and PyTorch's own pool, each where installed. Yields whether the BLAS
    was limited (False without threadpoolctl)."""
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            limited = False
        else:
            stack.enter_context(threadpool_limits(limits=1))
            limited = True
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            stack.callback(torch.set_num_threads, torch.get_num_threads())
            torch.set_num_threads(1)
        yield limited
