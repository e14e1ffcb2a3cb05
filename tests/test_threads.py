"""The BLAS threads of training: ``CHAINRULE_NUM_THREADS`` honoured and checked, the
process's thread counts put back after every fit (also a failed one), nothing changed by
importing chainrule, training without threadpoolctl, and the timing choice (Pacer)
keeping the faster of one thread and many on simulated machines."""

from __future__ import annotations

import importlib
import math
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info, threadpool_limits

import chainrule as cr
from chainrule import _threads
from chainrule._threads import ENV_VAR, SMALL_WORK, Pacer, configured
from chainrule.tensor import ONE_THREAD_DOT, all_finite
from chainrule.train.callbacks import Callback

# The module (chainrule.tensor, the attribute, is the function that makes a tensor).
tensor_module = importlib.import_module("chainrule.tensor")


def blas_threads() -> int:
    """The thread count of the BLAS NumPy's products run on."""
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    numpys = [info for info in blas if "numpy" in info["filepath"]] or blas
    return max(info["num_threads"] for info in numpys)


class Watch(Callback):
    """Records the BLAS thread count at every batch; can fail at a chosen batch."""

    def __init__(self, fail_at: int | None = None, error: type[BaseException] = RuntimeError):
        super().__init__()
        self.seen: list[int] = []
        self.fail_at, self.error = fail_at, error

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        self.seen.append(blas_threads())
        if batch == self.fail_at:
            raise self.error("stop here")


def train(callbacks: list[Callback] = (), features: int = 4, width: int = 8, **kwargs) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, features)).astype(np.float32)
    y = rng.integers(0, 2, 64)
    model = cr.nn.Sequential(cr.nn.Linear(features, width, rng=0), cr.nn.ReLU(),
                             cr.nn.Linear(width, 2, rng=1))
    cr.fit(model, X, y, loss="cross-entropy", epochs=2, batch_size=16, verbose=0,
           callbacks=list(callbacks), rng=0, **kwargs)


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    if _threads._blas is not None:
        monkeypatch.setattr(_threads._blas, "pacer", None)


# -- the setting ---------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "auto", "AUTO", " auto ", "  "])
def test_unset_empty_or_auto_lets_chainrule_choose(monkeypatch, text):
    monkeypatch.setenv(ENV_VAR, text)
    assert configured() is None


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=8))
@example("0\x1f")  # str.strip() takes "\x1f" off; int() alone does not
@example("5\x1f")
def test_any_text_is_a_whole_number_from_one_or_one_clear_error(text):
    os.environ[ENV_VAR] = text
    try:
        try:
            value = configured()
        except ValueError as err:
            message = str(err)
            assert message.startswith(f"{ENV_VAR}={text!r} is not a number of threads")
            assert "whole number from 1" in message and "'auto'" in message
            assert "\n" not in message
            word = text.strip()
            assert not (word.isascii() and word.isdigit() and int(word) >= 1)
        else:
            if value is None:
                assert text.strip().lower() in ("", "auto")
            else:
                assert value == int(text.strip()) >= 1
    finally:
        del os.environ[ENV_VAR]


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5", "2x", "+2", "٣", "1e3"])
def test_fit_refuses_a_bad_setting_before_training(monkeypatch, text):
    monkeypatch.setenv(ENV_VAR, text)
    watch = Watch()
    with pytest.raises(ValueError, match=f"^{ENV_VAR}=.* is not a number of threads"):
        train([watch])
    assert watch.seen == []


@pytest.mark.parametrize("fixed", [1, 3])
def test_fit_trains_on_the_threads_the_setting_fixes_then_puts_them_back(monkeypatch, fixed):
    monkeypatch.setenv(ENV_VAR, str(fixed))
    with threadpool_limits(2, user_api="blas"):
        watch = Watch()
        train([watch])
        assert set(watch.seen) == {fixed}
        assert blas_threads() == 2


def test_small_products_train_on_one_thread_and_the_count_comes_back():
    with threadpool_limits(3, user_api="blas"):
        watch = Watch()
        train([watch])
        assert set(watch.seen) == {1}
        assert blas_threads() == 3


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("fixed", [None, "1"])
def test_threads_are_put_back_when_training_fails(monkeypatch, error, fixed):
    if fixed:
        monkeypatch.setenv(ENV_VAR, fixed)
    with threadpool_limits(3, user_api="blas"):
        watch = Watch(fail_at=1, error=error)
        with pytest.raises(error):
            train([watch])
        assert watch.seen == [1, 1]
        assert blas_threads() == 3
    assert _threads._blas is not None and _threads._blas.active == 0


def test_large_products_are_timed_and_the_count_comes_back():
    """Above SMALL_WORK the pacer chooses; whatever it chose, the count comes back."""
    width = 1 + SMALL_WORK // (16 * 64)
    with threadpool_limits(2, user_api="blas"):
        watch = Watch()
        train([watch], features=64, width=width)
        assert set(watch.seen) <= {1, 2} and watch.seen[0] == 1  # probing starts on one
        assert blas_threads() == 2
    assert isinstance(_threads._blas.pacer, Pacer)


def test_an_explicit_limit_around_fit_is_kept():
    """Within threadpool_limits(1) (or a joblib worker), auto never adds threads."""
    width = 1 + SMALL_WORK // (16 * 64)
    with threadpool_limits(1, user_api="blas"):
        watch = Watch()
        train([watch], features=64, width=width)
        assert set(watch.seen) == {1}


def test_two_fits_at_once_in_one_process_run_on_one_thread_each():
    width = 1 + SMALL_WORK // (16 * 64)  # large enough to be timed when alone
    both_running = threading.Barrier(2, timeout=30)
    seen: list[int] = []
    errors: list[BaseException] = []

    class Meet(Callback):
        def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
            if batch == 0 and self.context.epoch == 0:
                both_running.wait()
            seen.append(blas_threads())

    def run() -> None:
        try:
            train([Meet()], features=64, width=width)
        except BaseException as err:  # noqa: BLE001  (reported by the test thread)
            errors.append(err)

    with threadpool_limits(2, user_api="blas"):
        runs = [threading.Thread(target=run) for _ in range(2)]
        for thread in runs:
            thread.start()
        for thread in runs:
            thread.join()
        assert not errors
        assert blas_threads() == 2
    assert seen and set(seen[:2]) == {1}


def test_the_estimators_and_the_command_go_through_the_setting(monkeypatch, tmp_path: Path):
    from chainrule.sklearn import MLPClassifier

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    monkeypatch.setenv(ENV_VAR, "0")
    with pytest.raises(ValueError, match=f"^{ENV_VAR}='0'"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
    monkeypatch.setenv(ENV_VAR, "auto")
    with threadpool_limits(3, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
        assert blas_threads() == 3

    data = tmp_path / "data.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    out = tmp_path / "model.crm"
    env = {**os.environ, ENV_VAR: "many"}
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", str(data), "--target", "y", "--out",
         str(out), "--epochs", "1", "--quiet"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"chainrule train: error: {ENV_VAR}='many' is not a number of threads: set it to a "
        "whole number from 1 up (the BLAS threads chainrule trains and predicts on), or to "
        "'auto' or nothing to let chainrule choose"
    ]
    assert not out.exists()


# -- predictions -----------------------------------------------------------------------------
class Recording:
    """A model stand-in that records the BLAS thread count each time it is called."""

    def __init__(self, model):
        self.model, self.seen = model, []

    def __call__(self, x):
        self.seen.append(blas_threads())
        return self.model(x)


def fitted_classifier():
    from chainrule.sklearn import MLPClassifier

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
    estimator.model_ = Recording(estimator.model_)
    return estimator, X


def test_small_predictions_run_on_one_thread_and_the_count_comes_back(monkeypatch):
    # 40 rows through 3x4 and 4x1 weights (two classes: one output unit):
    # 40 * (12 + 4) = 640 multiply-adds.
    estimator, X = fitted_classifier()
    with threadpool_limits(3, user_api="blas"):
        estimator.predict(X)
        estimator.predict_proba(X)
        assert estimator.score(X, estimator.predict(X)) == 1.0
        assert estimator.model_.seen == [1, 1, 1, 1]
        assert blas_threads() == 3
        monkeypatch.setattr(_threads, "SMALL_PREDICTION", 640)  # now a large prediction
        estimator.predict(X)
        assert estimator.model_.seen[-1] == 3
        monkeypatch.setattr(_threads, "SMALL_PREDICTION", 641)
        estimator.predict(X)
        assert estimator.model_.seen[-1] == 1 and blas_threads() == 3


def test_predictions_follow_the_setting(monkeypatch):
    estimator, X = fitted_classifier()
    monkeypatch.setattr(_threads, "SMALL_PREDICTION", 0)  # every prediction is large
    with threadpool_limits(3, user_api="blas"):
        monkeypatch.setenv(ENV_VAR, "2")
        estimator.predict(X)
        assert estimator.model_.seen == [2] and blas_threads() == 3
        monkeypatch.setenv(ENV_VAR, "two")
        with pytest.raises(ValueError, match=f"^{ENV_VAR}='two' is not a number of threads"):
            estimator.predict(X)
        assert blas_threads() == 3


# -- the process around chainrule ----------------------------------------------------------
def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**os.environ, **env},
    )


def test_importing_chainrule_changes_no_thread_count_and_reads_no_setting():
    code = (
        "import sys\n"
        "import chainrule, chainrule.train, chainrule.cli\n"
        "assert 'threadpoolctl' not in sys.modules, 'threadpoolctl imported'\n"
        "from threadpoolctl import threadpool_info\n"
        "print(sorted(i['num_threads'] for i in threadpool_info()))\n"
    )
    plain = run_python("from threadpoolctl import threadpool_info\n"
                       "import numpy\n"
                       "print(sorted(i['num_threads'] for i in threadpool_info()))\n")
    imported = run_python(code, **{ENV_VAR: "not a number"})
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == plain.stdout


def test_training_works_without_threadpoolctl():
    code = (
        "import sys, warnings\n"
        "sys.modules['threadpoolctl'] = None  # as if not installed\n"
        "import numpy as np, chainrule as cr\n"
        "X = np.random.default_rng(0).normal(size=(32, 64)).astype(np.float32)\n"
        "y = np.arange(32) % 2\n"
        "model = cr.nn.Sequential(cr.nn.Linear(64, 600, rng=0), cr.nn.ReLU(),\n"
        "                         cr.nn.Linear(600, 2, rng=1))\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    h = cr.fit(model, X, y, loss='cross-entropy', epochs=2, verbose=0, rng=0)\n"
        "print(len(h), [str(w.message) for w in caught])\n"
    )
    auto = run_python(code)
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout == "2 []\n"
    fixed = run_python(code, **{ENV_VAR: "2"})
    assert fixed.returncode == 0, fixed.stderr
    assert f"{ENV_VAR}=2 has no effect without threadpoolctl" in fixed.stdout
    bad = run_python(code, **{ENV_VAR: "-2"})
    assert bad.returncode == 1 and f"ValueError: {ENV_VAR}='-2'" in bad.stderr


def test_joblib_workers_train_on_one_thread():
    """A grid search's loky workers get one BLAS thread each (joblib sets it); fit keeps it."""
    from joblib import Parallel, delayed

    width = 1 + SMALL_WORK // (16 * 64)

    def seen_in_worker() -> list[int]:
        watch = Watch()
        train([watch], features=64, width=width)
        return watch.seen

    for seen in Parallel(n_jobs=2)(delayed(seen_in_worker)() for _ in range(2)):
        assert set(seen) == {1}


# -- the pacer on simulated machines -------------------------------------------------------
class Machine:
    """A clock and a BLAS whose batches cost ``one`` or ``many`` seconds, as set."""

    def __init__(self) -> None:
        self.now = 0.0
        self.threads = 0
        self.sets = 0

    def clock(self) -> float:
        return self.now

    def set_threads(self, threads: int) -> None:
        self.threads = threads
        self.sets += 1


def simulate(
    pacer: Pacer,
    machine: Machine,
    costs: list[tuple[float, float]],
    threads: list[int] | None = None,
) -> float:
    """Run one batch per (one-thread cost, many-thread cost); the seconds it all took.
    ``threads``, if given, gets the thread count of each batch."""
    began = machine.now
    for one, many in costs:
        pacer()
        if threads is not None:
            threads.append(machine.threads)
        machine.now += one if machine.threads == 1 else many
    return machine.now - began


@settings(max_examples=60, deadline=None)
@given(
    batch=st.floats(1e-4, 0.05),
    speedup=st.one_of(st.floats(1.3, 4.0), st.floats(1 / 30, 1 / 1.3)),
    batches=st.integers(2000, 5000),
)
def test_the_pacer_keeps_the_faster_at_a_small_cost(batch, speedup, batches):
    """Many threads `speedup` times faster than one (or slower: a busy machine): the run
    costs at most 15% more than always using the faster, plus a few batches."""
    machine = Machine()
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock)
    costs = [(batch, batch / speedup)] * batches
    taken = simulate(pacer, machine, costs)
    best = batches * min(batch, batch / speedup)
    worst = max(batch, batch / speedup)
    assert taken <= 1.15 * best + 20 * worst
    assert pacer.chosen == (2 if speedup > 1 else 1)


@settings(max_examples=30, deadline=None)
@given(batch=st.floats(1e-3, 0.02), collapse=st.floats(3, 400), switch=st.integers(100, 3000))
def test_the_pacer_follows_a_machine_that_turns_busy_and_quiet_again(batch, collapse, switch):
    """Quiet (two threads 1.5x faster), busy (one thread 2x slower, two `collapse` x
    slower), quiet again: each phase ends on its faster choice, and the busy phase costs
    at most 1.5x its best plus what a few probes on the collapsed threads cost."""
    machine = Machine()
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock)
    quiet = [(batch, batch / 1.5)] * switch
    busy = [(2 * batch, collapse * batch)] * 4000
    simulate(pacer, machine, quiet)
    assert pacer.chosen == 2
    taken = simulate(pacer, machine, busy)
    assert pacer.chosen == 1
    probes = 1 + taken / (Pacer.MIN_RUN_SECONDS)
    assert taken <= 1.5 * len(busy) * 2 * batch + probes * 2 * collapse * batch
    # Quiet again: found at the next probe, at most run_for seconds away.
    simulate(pacer, machine, [(batch, batch / 1.5)] * int(2 * (pacer.run_for + 1) / batch))
    assert pacer.chosen == 2


@settings(max_examples=40, deadline=None)
@given(batch=st.floats(1e-3, 0.02), collapse=st.floats(3, 400), switch=st.integers(100, 3000))
def test_a_machine_turning_busy_is_left_without_timing_the_collapsed_threads_again(
    batch, collapse, switch
):
    """Running on two threads when the machine turns busy: the slow batches that show it
    (one, when they collapse badly) are what the probe weighs one thread against, so no
    further batch runs on the collapsed threads."""
    machine = Machine()
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock)
    quiet = batch / 1.5
    simulate(pacer, machine, [(batch, quiet)] * switch)
    while not pacer.probing:  # to the start of a run on two threads, as a probe ends
        simulate(pacer, machine, [(batch, quiet)])
    while pacer.probing:
        simulate(pacer, machine, [(batch, quiet)])
    assert pacer.threads == 2
    collapsed = collapsed_while_probing = 0
    while pacer.probing or pacer.threads != 1:
        pacer()
        if machine.threads != 1:
            collapsed += 1
            collapsed_while_probing += pacer.probing
        machine.now += 2 * batch if machine.threads == 1 else collapse * batch
    assert collapsed_while_probing == 0
    # The batches it takes for their time to pass twice a quiet slot's (one more when
    # the check's window began with quiet batches); one when a collapsed batch alone does.
    needed = 2 * quiet * pacer.slot_len / (collapse * batch)
    assert collapsed <= (1 if needed < 1 else math.ceil(needed) + 1)
    assert pacer.chosen == 1


@settings(max_examples=40, deadline=None)
@given(batch=st.floats(1e-3, 0.02), collapse=st.floats(Pacer.COLLAPSE * 1.01, 400))
def test_each_probe_of_a_busy_machine_costs_one_batch_on_collapsed_threads(batch, collapse):
    """Many threads `collapse` times slower than one: every probe (the first, and those
    that look again from time to time) runs one batch on them and no more."""
    machine = Machine()
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock)
    probes, collapsed, was_probing = 1, 0, True
    for _ in range(3000):
        pacer()
        probes += pacer.probing and not was_probing
        was_probing = pacer.probing
        collapsed += machine.threads != 1
        machine.now += batch if machine.threads == 1 else collapse * batch
    assert collapsed <= probes


def test_the_pauses_between_epochs_are_no_batches():
    """Evaluation, callbacks and checkpoints between epochs take far longer than a batch;
    fit pauses the pacer there, so a quiet machine is not taken for a busy one."""
    machine = Machine()
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock)
    for _ in range(300):  # epochs of 50 batches, two threads twice as fast, then 1 s apart
        simulate(pacer, machine, [(0.002, 0.001)] * 50)
        pacer.pause()
        machine.now += 1.0
    assert pacer.chosen == 2
    # Without the pauses the same gaps look like collapses, and one thread gets chosen.
    machine = Machine()
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock)
    for _ in range(300):
        simulate(pacer, machine, [(0.002, 0.001)] * 50)
        machine.now += 1.0
    assert pacer.chosen == 1


def test_fit_pauses_the_pacer_once_an_epoch(monkeypatch):
    pytest.importorskip("threadpoolctl")
    paused = []
    monkeypatch.setattr(Pacer, "pause", lambda self: paused.append(1))
    monkeypatch.setattr(_threads, "SMALL_WORK", 0)  # time even this small network
    monkeypatch.delenv(ENV_VAR, raising=False)
    X = np.random.default_rng(0).normal(size=(64, 3))
    y = X.sum(axis=1, keepdims=True)
    model = cr.nn.Sequential(cr.nn.Linear(3, 4, rng=0), cr.nn.ReLU(), cr.nn.Linear(4, 1, rng=1))
    cr.fit(model, X, y, loss="mse", epochs=3, batch_size=16, verbose=0)
    assert len(paused) == 3


def test_a_noisy_machine_settles_on_the_faster_choice():
    rng = np.random.default_rng(0)
    machine = Machine()
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock)
    noise = rng.lognormal(0, 0.3, size=(6000, 2))
    costs = [(0.004 * a, 0.0025 * b) for a, b in noise]
    taken = simulate(pacer, machine, costs)
    assert taken < 1.1 * sum(b for _, b in costs)
    assert pacer.chosen == 2


# -- how long tasks waited for a CPU ---------------------------------------------------------
def pressure(path: Path, stalled_us: int) -> None:
    path.write_text(
        f"some avg10=0.00 avg60=0.00 avg300=0.00 total={stalled_us}\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    )


def test_the_stall_meter_gives_the_share_of_each_window_tasks_waited(tmp_path: Path):
    path, machine = tmp_path / "cpu.pressure", Machine()  # its clock, set by hand
    pressure(path, 1_000_000)
    meter = _threads.StallMeter(str(path), clock=machine.clock)
    machine.now, stalled = 0.2, 1_000_000 + 150_000  # 0.15 s of 0.2 s waited
    pressure(path, stalled)
    assert meter.share() == pytest.approx(0.75)
    # A window under MIN_WINDOW says nothing and goes on.
    machine.now += _threads.StallMeter.MIN_WINDOW / 2
    pressure(path, stalled + 1000)
    assert meter.share() is None
    machine.now += _threads.StallMeter.MIN_WINDOW
    assert meter.share() == pytest.approx(1000 / 1e6 / (1.5 * _threads.StallMeter.MIN_WINDOW))
    # start() begins a window now: nothing waited since.
    meter.start()
    machine.now += 1.0
    assert meter.share() == 0.0
    # A file that cannot be read any more: no answer, and no error.
    path.unlink()
    machine.now += 1.0
    assert meter.share() is None
    meter.start()
    assert meter.share() is None


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("some avg10=0.00 avg60=0.00 avg300=0.00 total=17\n", True),
        ("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", False),
        ("some avg10=0.00\n", False),
        ("", False),
        (None, False),
    ],
)
def test_a_stall_meter_is_found_only_where_a_pressure_file_reads(
    monkeypatch, tmp_path: Path, text, found
):
    path = tmp_path / "cpu.pressure"
    if text is not None:
        path.write_text(text)
    monkeypatch.setattr(_threads, "_pressure_files", lambda: [str(path)])
    meter = _threads.StallMeter.find()
    assert (meter is not None) == found
    if found:
        assert meter.path == str(path)


@pytest.mark.parametrize(
    ("groups", "own"),
    [
        ("0::/user.slice/session-2.scope\n", "/user.slice/session-2.scope"),
        ("12:cpu,cpuacct:/docker/abc\n0::/docker/abc\n", "/docker/abc"),
        ("0::/\n", None),  # the root group: the machine's file is the group's
        ("4:cpu:/user.slice\n", None),  # cgroup v1 keeps no pressure per group
    ],
)
def test_the_process_group_s_pressure_file_comes_before_the_machine_s(tmp_path: Path, groups, own):
    listed = tmp_path / "cgroup"
    listed.write_text(groups)
    files = _threads._pressure_files(str(listed))
    assert files[-1] == "/proc/pressure/cpu"
    assert files[:-1] == ([] if own is None else [f"/sys/fs/cgroup{own}/cpu.pressure"])
    assert _threads._pressure_files(str(tmp_path / "missing")) == ["/proc/pressure/cpu"]


class Stalls:
    """A meter whose share is set by the test (None: it cannot tell)."""

    def __init__(self, share: float | None = 0.0) -> None:
        self.value = share
        self.starts = 0

    def start(self) -> None:
        self.starts += 1

    def share(self) -> float | None:
        return self.value


def on_many(pacer: Pacer, machine: Machine, costs: list[tuple[float, float]]) -> int:
    """Run the batches; how many ran on more than one thread."""
    threads: list[int] = []
    simulate(pacer, machine, costs, threads)
    return sum(count != 1 for count in threads)


@settings(max_examples=30, deadline=None)
@given(batch=st.floats(1e-3, 0.02), collapse=st.floats(3, 400))
def test_a_machine_where_tasks_wait_for_a_cpu_is_never_tried_on_many_threads(batch, collapse):
    """Tasks waiting for a CPU most of the time: many threads would collapse, and not one
    batch runs on them, from the first probe on and at every later one."""
    machine, stalls = Machine(), Stalls(0.9)
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock, stalls=stalls)
    assert on_many(pacer, machine, [(2 * batch, collapse * batch)] * 3000) == 0
    assert pacer.chosen == 1 and pacer.crowded


@settings(max_examples=30, deadline=None)
@given(batch=st.floats(1e-3, 0.02), switch=st.integers(100, 2000))
def test_a_machine_turned_busy_during_a_pause_runs_on_one_thread_from_the_first_batch(
    batch, switch
):
    """Quiet (two threads 1.5x faster), a pause between epochs or fits while other
    programs start: the next batch already runs on one thread."""
    machine, stalls = Machine(), Stalls(0.0)
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock, stalls=stalls)
    simulate(pacer, machine, [(batch, batch / 1.5)] * switch)
    while pacer.probing:
        simulate(pacer, machine, [(batch, batch / 1.5)])
    assert pacer.threads == 2
    began = stalls.starts
    pacer.pause()  # the window the next batch looks at begins here
    assert stalls.starts == began + 1
    machine.now += 1.0
    stalls.value = 1.0
    assert on_many(pacer, machine, [(2 * batch, 50 * batch)] * 500) == 0


@settings(max_examples=30, deadline=None)
@given(batch=st.floats(1e-3, 0.02), switch=st.integers(100, 2000))
def test_many_threads_are_left_within_a_slot_once_tasks_wait(batch, switch):
    """Running on two threads, other programs start: tasks waiting for a CPU are seen at
    the next look, a slot's worth of batches later at most, before any batch times show
    it."""
    machine, stalls = Machine(), Stalls(0.0)
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock, stalls=stalls)
    simulate(pacer, machine, [(batch, batch / 1.5)] * switch)
    while pacer.probing:
        simulate(pacer, machine, [(batch, batch / 1.5)])
    stalls.value = 0.8
    slot = max(Pacer.MIN_SLOT, pacer.slot_len)
    assert on_many(pacer, machine, [(batch, batch / 1.5)] * 1000) <= slot
    assert pacer.threads == 1 and pacer.crowded


@settings(max_examples=30, deadline=None)
@given(batch=st.floats(1e-3, 0.02))
def test_one_thread_taken_for_a_busy_machine_is_weighed_again_once_tasks_stop_waiting(batch):
    """Busy, then quiet (two threads 1.5x faster): many threads are back within a few
    slots, long before the run on one thread would have ended."""
    machine, stalls = Machine(), Stalls(1.0)
    pacer = Pacer(machine.set_threads, 2, clock=machine.clock, stalls=stalls)
    simulate(pacer, machine, [(2 * batch, 50 * batch)] * 2000)
    assert pacer.chosen == 1
    stalls.value = 0.0
    began = machine.now
    while pacer.chosen != 2:
        simulate(pacer, machine, [(batch, batch / 1.5)])
    slot = max(Pacer.MIN_SLOT, pacer.slot_len)
    assert machine.now - began <= 4 * slot * batch
    assert machine.now - began < Pacer.MIN_RUN_SECONDS


def test_a_meter_that_cannot_tell_leaves_the_timing_to_decide():
    """A meter answering None behaves as no meter: the same choices, batch for batch."""
    costs = [(0.004, 0.002)] * 1500 + [(0.008, 0.1)] * 1500 + [(0.004, 0.002)] * 3000
    runs = []
    for stalls in (None, Stalls(None)):
        machine = Machine()
        pacer = Pacer(machine.set_threads, 2, clock=machine.clock, stalls=stalls)
        chosen: list[int] = []
        simulate(pacer, machine, costs, chosen)
        runs.append(chosen)
    assert runs[0] == runs[1]
    assert 2 in runs[0][-500:] and 1 in runs[0][1500:3000]


def test_fit_s_pacer_reads_the_machine_s_stalls_where_linux_has_them(monkeypatch):
    """On this machine: the pacer fit makes gets a meter exactly when a pressure file
    reads."""
    pytest.importorskip("threadpoolctl")
    made = []
    original = Pacer.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Pacer, "__init__", spy)
    monkeypatch.setattr(_threads, "SMALL_WORK", 0)
    with threadpool_limits(2):
        train()
    if _threads._libraries() is None or _threads._libraries().most() < 2:
        pytest.skip("one BLAS thread here: no pacer")
    assert made
    readable = any(os.access(path, os.R_OK) for path in _threads._pressure_files())
    assert (made[0].stalls is not None) == readable


# -- the finite check stays on one thread ------------------------------------------------
def recorded_dots(monkeypatch) -> list[int]:
    """The lengths of the dot products ``all_finite`` makes from now on."""
    lengths: list[int] = []
    original = tensor_module._vdot

    def spy(a, b):
        lengths.append(a.size)
        return original(a, b)

    monkeypatch.setattr(tensor_module, "_vdot", spy)
    return lengths


@settings(max_examples=80, deadline=None)
@given(
    size=st.integers(1, 3 * ONE_THREAD_DOT + 5),
    bad=st.sampled_from([np.nan, np.inf, -np.inf, None]),
    where=st.floats(0.0, 1.0, exclude_max=True),
    huge=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
@example(size=ONE_THREAD_DOT + 1, bad=np.nan, where=0.9999, huge=False, dtype=np.float64)
@example(size=2 * ONE_THREAD_DOT, bad=np.inf, where=0.5, huge=True, dtype=np.float32)
@example(size=2 * ONE_THREAD_DOT + 3, bad=None, where=0.0, huge=True, dtype=np.float64)
def test_all_finite_answers_from_dot_products_no_longer_than_one_thread_computes(
    size, bad, where, huge, dtype
):
    """In pieces, every piece is checked (the last, short one too), squares that overflow
    are not taken for infinities, and no dot product is longer than ONE_THREAD_DOT:
    OpenBLAS computes longer ones on several threads, which then spin beside one-thread
    training."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        lengths = recorded_dots(monkeypatch)
        array = np.full(size, np.finfo(dtype).max / 4 if huge else 0.5, dtype=dtype)
        if bad is not None:
            array[int(where * size)] = bad
        matrix = array.reshape(1, -1) if size % 2 else array.reshape(2, -1)
        assert all_finite(matrix, pieces=True) is (bad is None)
        assert lengths and max(lengths) <= ONE_THREAD_DOT
        if bad is None:  # nothing found: every entry was in some piece
            assert sum(lengths) == size


def test_fit_checks_a_large_training_set_in_one_thread_pieces(monkeypatch):
    """fit's check of X (here 150,000 entries, before it chooses the threads) makes no dot
    product longer than ONE_THREAD_DOT (the batches' checks, on the chosen threads, may)."""
    lengths = recorded_dots(monkeypatch)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 50))
    y = rng.integers(0, 3, 3000)
    model = cr.nn.Sequential(cr.nn.Linear(50, 4, rng=0), cr.nn.ReLU(), cr.nn.Linear(4, 3, rng=1))
    cr.fit(model, X, y, loss="cross-entropy", epochs=1, batch_size=100, verbose=0, rng=0)
    assert sum(lengths) >= X.size
    assert max(lengths) <= ONE_THREAD_DOT
