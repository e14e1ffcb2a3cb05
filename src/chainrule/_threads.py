"""How many BLAS threads training runs on: ``CHAINRULE_NUM_THREADS``, or chosen by timing.

OpenBLAS splits a large matrix product among as many threads as the machine has cores,
and the threads wait for each other by spinning. When other programs keep those cores
busy, every product waits for its last thread to be scheduled again: an epoch of the
benchmark MLP that took 0.26 s on a quiet 2-core machine took 1.8 s beside two programs
multiplying matrices, where one thread took 0.64 s.

So while :func:`chainrule.fit` trains, :func:`training_threads` chooses:

- ``CHAINRULE_NUM_THREADS=N`` (a whole number from 1): exactly N threads, nothing timed;
- otherwise (unset, empty or ``auto``): one thread when a batch's products are too small
  for more to pay (:data:`SMALL_WORK`), else the faster of one thread and the process's
  number, timed on the training's own batches and timed again from time to time
  (:class:`Pacer`); one thread while another fit runs in the same process. Where Linux
  reports how long tasks waited for a CPU (:class:`StallMeter`), many threads are not
  tried while they wait much of the time: the machine is busy, and the threads would
  collapse.

The scikit-learn estimators' predictions go through :func:`prediction_threads`: one thread
for a small one, whose many threads would spin for 0.1 s after a fraction of a millisecond
of work (a grid search's scoring, a notebook's ``predict``), ``CHAINRULE_NUM_THREADS``'s
number when it is set.

The process's thread counts are put back when training ends, also on an error; importing
chainrule changes nothing. threadpoolctl (the ``speed`` extra; scikit-learn installs it
too) sets the counts; it is imported on the first fit, and without it training runs on the
threads the process has.
"""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "ENV_VAR",
    "SMALL_PREDICTION",
    "SMALL_WORK",
    "Pacer",
    "StallMeter",
    "configured",
    "prediction_threads",
    "training_threads",
]

ENV_VAR = "CHAINRULE_NUM_THREADS"

#: Multiply-adds of one batch's forward products (batch size x fan-in x fan-out, summed
#: over the weight matrices) below which training uses one thread without timing: about
#: 0.1 ms of work on one core, where waking a second thread costs as much as it saves.
SMALL_WORK = 1 << 22

#: Multiply-adds of a prediction's products (rows x fan-in x fan-out, summed over the
#: weight matrices) below which the scikit-learn estimators predict on one BLAS thread:
#: about 0.4 ms of work on one core. Many threads would save a fraction of that and then
#: spin for about 0.1 s, keeping a core busy for nothing.
SMALL_PREDICTION = 1 << 23


def configured() -> int | None:
    """The thread count ``CHAINRULE_NUM_THREADS`` fixes, or None to let chainrule choose.

    Raises
    ------
    ValueError
        If the variable holds anything but a whole number from 1, ``auto`` or nothing.
    """
    text = os.environ.get(ENV_VAR, "")
    # Stripped of whitespace as str.strip() sees it, which int() does not all take ("\x1f").
    word = text.strip()
    if word.lower() in ("", "auto"):
        return None
    if word.isascii() and word.isdigit() and int(word) >= 1:
        return int(word)
    raise ValueError(
        f"{ENV_VAR}={text!r} is not a number of threads: set it to a whole number from 1 up "
        "(the BLAS threads chainrule trains and predicts on), or to 'auto' or nothing to let "
        "chainrule choose"
    )


def batch_work(shapes: Iterable[tuple[int, ...]], batch_size: int) -> int:
    """Multiply-adds of one batch's forward products through weight matrices of ``shapes``."""
    return sum(batch_size * shape[0] * shape[1] for shape in shapes if len(shape) == 2)


class StallMeter:
    """The share of the time tasks waited for a CPU, from Linux's pressure stall
    information: the ``some`` line of a ``cpu.pressure`` file, whose ``total`` counts the
    microseconds during which at least one task was ready to run but had no CPU.

    On a quiet machine the share stays near 0, also with every core computing; beside
    programs that keep the cores busy, tasks wait most of the time. :meth:`find` prefers
    the process's own control group where ``/proc/self/cgroup`` names one below the root
    (cgroup v2: a desktop session's terminal, a service, a container as the host sees
    it), where the share says how long this group's tasks waited, and otherwise takes the
    machine's (also inside a container whose own group reads as the root).

    Parameters
    ----------
    path : str
        A ``cpu.pressure`` file (read at once: OSError or ValueError if it cannot be).
    clock : callable, default time.perf_counter
        Seconds, for the length of a window.
    """

    MIN_WINDOW = 0.01  # seconds: a shorter window is too short to judge

    def __init__(self, path: str, clock: Callable[[], float] = time.perf_counter) -> None:
        self.path, self.clock = path, clock
        self.began: tuple[float, float] | None = self._read()

    @classmethod
    def find(cls) -> StallMeter | None:
        """A meter of this process's control group, else of the machine; None where
        neither file can be read (not Linux, an old kernel, pressure accounting off)."""
        for path in _pressure_files():
            try:
                return cls(path)
            except (OSError, ValueError):
                continue
        return None

    def _read(self) -> tuple[float, float]:
        with open(self.path, "rb") as file:
            line = file.readline()
        head, found, total = line.rpartition(b" total=")
        if not (head.startswith(b"some ") and found):
            raise ValueError(f"{self.path} has no 'some ... total=' line")
        stalled = int(total)  # int() refuses what is not a number
        # The kernel's count is an unsigned 64-bit number (and a longer one is no float).
        if not 0 <= stalled < 1 << 64:
            raise ValueError(f"{self.path}: total={stalled} is no count of microseconds")
        return self.clock(), stalled / 1e6

    def start(self) -> None:
        """Begin a window now."""
        try:
            self.began = self._read()
        except (OSError, ValueError):
            self.began = None

    def share(self) -> float | None:
        """The share of the time since the window began during which some task waited,
        from 0 to 1, and a new window from now; None when the window is under
        :attr:`MIN_WINDOW` long (it goes on) or the file could not be read."""
        try:
            now = self._read()
        except (OSError, ValueError):
            self.began = None
            return None
        began = self.began
        if began is None:
            self.began = now
            return None
        wall = now[0] - began[0]
        if wall < self.MIN_WINDOW:
            return None
        self.began = now
        return min(1.0, max(0.0, (now[1] - began[1]) / wall))


def _pressure_files(cgroups: str = "/proc/self/cgroup") -> list[str]:
    """The process's control group's ``cpu.pressure`` (cgroup v2; ``cgroups`` lists the
    process's groups), then the machine's."""
    files = []
    try:
        with open(cgroups, encoding="utf-8", errors="replace") as file:
            for line in file:
                if line.startswith("0::/") and line.strip() != "0::/":
                    files.append(f"/sys/fs/cgroup{line[3:].strip()}/cpu.pressure")
    except OSError:
        pass
    files.append("/proc/pressure/cpu")
    return files


class Pacer:
    """Keeps the faster of one BLAS thread and ``many``, timing the batches themselves.

    Called once per batch, it measures the time between calls. It first *probes*: a slot
    of batches (about :attr:`SLOT_SECONDS` of work) on one thread, then one on ``many``,
    and a second round when the two are within a third of each other; a slot on ``many``
    that already took twice the one-thread slot, or a batch there :attr:`COLLAPSE` times a
    one-thread batch, is cut short, so a busy machine costs little to find. It then
    *runs* on the faster for :attr:`MIN_RUN_SECONDS` or ten times what probing cost,
    whichever is longer, doubling (up to :attr:`MAX_RUN_SECONDS`) while the answer stays
    the same, and probes again; on ``many`` threads, batches taking twice as long as
    probing found (other programs starting) start a probe of one thread at once, weighed
    against the batch that showed it. Ties go to one thread, which also leaves more of
    the machine to others. :meth:`pause` says the time to the next call is no batch's.

    With a ``stalls`` meter (:class:`StallMeter`), ``many`` threads are not tried while
    tasks waited for a CPU more than :attr:`CROWDED` of the time: not after a probe's
    one-thread slot, not after a pause (the machine may have turned busy between
    epochs or fits), and not on, checked once a slot's worth of batches while running.
    One thread chosen that way is probed against ``many`` as soon as the waiting stops.

    Parameters
    ----------
    set_threads : callable
        Sets the BLAS thread count.
    many : int
        The thread count to weigh against one.
    clock : callable, default time.perf_counter
        Seconds, for timing.
    stalls : StallMeter, optional
        Says how busy the machine is (anything with its ``start`` and ``share``).
    """

    SLOT_SECONDS = 0.03
    CROWDED = 0.25
    COLLAPSE = 4.0
    MIN_SLOT = 4
    MIN_RUN_SECONDS = 1.0
    MAX_RUN_SECONDS = 10.0

    def __init__(
        self,
        set_threads: Callable[[int], None],
        many: int,
        clock: Callable[[], float] = time.perf_counter,
        stalls: StallMeter | None = None,
    ) -> None:
        self.set_threads, self.many, self.clock = set_threads, many, clock
        self.stalls = stalls
        self.slot_len = 0  # batches per slot; known after the first few batches
        self.run_for = self.MIN_RUN_SECONDS
        self.chosen: int | None = None  # the last probe's answer
        self.crowded = False  # whether one thread runs because tasks waited for a CPU
        self.last: float | None = None
        self._probe(self.clock())

    @property
    def threads(self) -> int:
        """The thread count batches run on now."""
        return self.plan[0] if self.probing else self.running

    def pause(self) -> None:
        """The time until the next call is no batch's: the loop measures, evaluates, calls
        back or saves between epochs (a long pause would look like a collapse)."""
        self.last = None
        self._new_window()

    def resume(self) -> None:
        """Go on where the last training run left off (``partial_fit`` called again)."""
        self.last = None  # the time between two runs is no batch's
        self.set_threads(self.threads)

    def __call__(self) -> None:
        now = self.clock()
        if self.last is None:
            # After a pause: the machine may have turned busy meanwhile.
            if self.threads != 1 and self._crowded():
                self._leave_many(now)
        elif self.probing:
            self._probe_batch(now - self.last, now)
        else:
            self._run_batch(now - self.last, now)
        self.last = now

    # -- the machine's load ------------------------------------------------------------
    def _crowded(self) -> bool | None:
        """Whether tasks waited for a CPU more than :attr:`CROWDED` of the time since the
        meter's window began (a new window begins); None when it cannot tell."""
        if self.stalls is None:
            return None
        share = self.stalls.share()
        return None if share is None else share > self.CROWDED

    def _new_window(self) -> None:
        """Begin the stall meter's window now (the next look covers the time from here)."""
        if self.stalls is not None:
            self.stalls.start()

    def _leave_many(self, now: float) -> None:
        """Run on one thread, the machine being busy, and look again from time to time."""
        self.chosen = None  # start the waiting afresh
        self.probe_began = now
        self._run(1, now, crowded=True)

    # -- probing -----------------------------------------------------------------------
    def _probe(self, now: float, many_time: float | None = None) -> None:
        """Time a slot on one thread, then one on ``many`` unless ``many_time`` already
        says what a batch takes there."""
        self.probing = True
        self.plan = [1, self.many] if many_time is None else [1]
        self.times: dict[int, list[float]] = {1: [], self.many: []}
        if many_time is not None:
            self.times[self.many].append(many_time)
        self.slot: list[float] = []
        self.probe_began = now
        self._new_window()  # the one-thread slot says how busy the machine is
        self.set_threads(1)

    def _probe_batch(self, seconds: float, now: float) -> None:
        slot, threads = self.slot, self.plan[0]
        slot.append(seconds)
        if not self.slot_len and len(slot) == self.MIN_SLOT:
            batch = statistics.median(slot)
            self.slot_len = max(self.MIN_SLOT, min(50, math.ceil(self.SLOT_SECONDS / batch)))
        one = self.times[1]
        # Many threads collapsing (a busy machine) are cut short: a slot taking twice the
        # one-thread slot, or one batch taking four times a one-thread batch (a collapse
        # is ten times and more; noise is not).
        if threads != 1 and one and (
            sum(slot) > 2 * min(one) * self.slot_len or seconds > self.COLLAPSE * min(one)
        ):
            self._run(1, now)
            return
        if len(slot) < max(self.MIN_SLOT, self.slot_len):
            return
        self.times[threads].append(statistics.median(slot))
        self.slot = []
        self.plan.pop(0)
        if self.plan and self.plan[0] != 1 and self._crowded():
            self._run(1, now, crowded=True)  # many threads would collapse: not tried
            return
        if not self.plan:
            one_time, many_time = min(one), min(self.times[self.many])
            if len(one) == 1 and 0.75 < many_time / one_time < 1.33:
                self.plan = [1, self.many]  # too close to call: a second round
                self._new_window()  # whose one-thread slot is looked at as the first's
            else:
                self._run(self.many if many_time < 0.9 * one_time else 1, now)
                return
        self.set_threads(self.plan[0])

    # -- running -----------------------------------------------------------------------
    def _run(self, threads: int, now: float, crowded: bool = False) -> None:
        # Probing costs at most a tenth of the time between probes.
        cost = now - self.probe_began
        grown = min(self.MAX_RUN_SECONDS, 2 * self.run_for) if threads == self.chosen else 0.0
        self.run_for = max(self.MIN_RUN_SECONDS, 10 * cost, grown)
        self.chosen = self.running = threads
        self.crowded = crowded
        self.probing = False
        self.until = now + self.run_for
        times = self.times.get(threads) or [math.inf]
        self.expected = min(times)
        self.window: list[float] = []
        self.since_look = 0
        self.set_threads(threads)

    def _run_batch(self, seconds: float, now: float) -> None:
        if self.stalls is not None and (self.running != 1 or self.crowded):
            self.since_look += 1
            if self.since_look >= max(self.MIN_SLOT, self.slot_len):
                self.since_look = 0
                crowded = self._crowded()
                if crowded and self.running != 1:
                    self._leave_many(now)
                    return
                if crowded is False and self.crowded:
                    self._probe(now)  # quiet again: weigh many threads at once
                    return
        # On one thread, slower batches mean a busier machine: more threads would not help.
        if self.running != 1:
            # Batches since the last check taking twice what a slot of them took when
            # probing: the machine turned busy, and many threads may be collapsing. The
            # batch that showed it stands for many threads now: only one thread is timed
            # against it (also when the run was due to end: this says more).
            window = self.window
            window.append(seconds)
            batches = max(self.MIN_SLOT, self.slot_len)
            if sum(window) > 2 * self.expected * batches:
                self.chosen = None  # start the waiting afresh
                self._probe(now, many_time=seconds)
                return
            if len(window) >= batches:
                self.window = []
        if now >= self.until:
            self._probe(now)


# -- the process's thread counts ------------------------------------------------------------
class _Blas:
    """The process's BLAS libraries (threadpoolctl's controllers), shared by every fit."""

    def __init__(self, libraries: list[Any]) -> None:
        self.libraries = libraries
        # threadpoolctl ignores OpenBLAS limits set from any thread but the first to set
        # one, while it lives, so that threads do not fight. Fits take turns here instead,
        # and one in a worker thread (a threaded search, the studio's training) must be
        # able to set its count and put the old one back.
        self.setters = [
            getattr(library, "_real_set_num_threads", library.set_num_threads)
            for library in libraries
        ]
        self.lock = threading.Lock()
        self.active = 0  # fits running now, in any thread of this process
        self.saved: list[int] = []
        # The last run's pacer and the work it timed: a run of the same work (partial_fit
        # again, the next fold of a search) goes on from what it found.
        self.pacer: Pacer | None = None
        self.work = 0

    def most(self) -> int:
        return max(library.get_num_threads() for library in self.libraries)

    def set(self, threads: int) -> None:
        for setter in self.setters:
            setter(threads)

    def set_shared(self, threads: int) -> None:
        """Set ``threads``, or one while another fit runs in this process."""
        self.set(threads if self.active == 1 else 1)

    def pacer_for(self, work: int, many: int) -> Pacer:
        pacer = self.pacer
        if pacer is not None and self.work == work and pacer.many == many and self.active == 1:
            pacer.resume()
            return pacer
        pacer = Pacer(self.set_shared, many, stalls=StallMeter.find())
        if self.active == 1:
            self.pacer, self.work = pacer, work
        return pacer

    def enter(self) -> None:
        with self.lock:
            if self.active == 0:
                self.saved = [library.get_num_threads() for library in self.libraries]
            self.active += 1

    def leave(self) -> None:
        with self.lock:
            self.active -= 1
            if self.active == 0:
                for setter, threads in zip(self.setters, self.saved, strict=True):
                    setter(threads)


_blas: _Blas | None = None
_blas_lock = threading.Lock()


def _libraries() -> _Blas | None:
    """The BLAS libraries loaded in this process, found on the first call; None without
    threadpoolctl or when it finds none."""
    global _blas
    with _blas_lock:
        if _blas is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                return None
            found = ThreadpoolController().select(user_api="blas").lib_controllers
            if not found:
                return None
            _blas = _Blas(list(found))
        return _blas


def no_pace() -> None:
    """No thread count to choose."""


@contextmanager
def training_threads(work: int) -> Iterator[Callable[[], None]]:
    """Choose the BLAS threads of a training run; yields the call to make once per batch.

    Parameters
    ----------
    work : int
        Multiply-adds of one batch's forward products (:func:`batch_work`).

    Raises
    ------
    ValueError
        If ``CHAINRULE_NUM_THREADS`` holds no valid value.
    """
    fixed = configured()
    blas = _libraries()
    if blas is None:
        if fixed is not None:
            warnings.warn(
                f"{ENV_VAR}={fixed} has no effect without threadpoolctl (pip install "
                "threadpoolctl); training runs on the BLAS threads the process has",
                RuntimeWarning,
                stacklevel=3,
            )
        yield no_pace
        return
    blas.enter()
    try:
        many = blas.most()
        if fixed is not None:
            blas.set(fixed)
            yield no_pace
        elif blas.active > 1 or work < SMALL_WORK:
            # Two fits in one process (a threaded grid search) would each run on every
            # core; small products gain nothing from more threads.
            blas.set(1)
            yield no_pace
        elif many == 1:
            yield no_pace  # e.g. a joblib worker, or within threadpool_limits(1)
        else:
            yield blas.pacer_for(work, many)
    finally:
        blas.leave()


@contextmanager
def prediction_threads(work: int) -> Iterator[None]:
    """The BLAS threads of one prediction of ``work`` multiply-adds (:func:`batch_work`):
    ``CHAINRULE_NUM_THREADS``'s number when it is set; else one thread for a small
    prediction (:data:`SMALL_PREDICTION`), whose many threads would save a fraction of a
    millisecond and then spin for about 0.1 s, and the process's own threads for a larger
    one, or without threadpoolctl. The counts are put back afterwards, as after a fit; a fit
    running meanwhile in another thread keeps choosing its own.

    Raises
    ------
    ValueError
        If ``CHAINRULE_NUM_THREADS`` holds no valid value.
    """
    fixed = configured()
    blas = _libraries() if fixed is not None or work < SMALL_PREDICTION else None
    if blas is None:
        yield
        return
    blas.enter()
    try:
        blas.set(1 if fixed is None else fixed)
        yield
    finally:
        blas.leave()
