"""Input that is refused, or handled, with bounded memory and time.

Values near the largest float standardise without overflowing; CSV files are read only
up to a size limit, and never from a device or pipe that may not end; networks whose
parameters cannot fit in memory are refused with the figure before anything is
allocated; and ``chainrule vanishing`` is bounded so that its largest run is small.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import tracemalloc
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import chainrule as cr
from chainrule import _cli_bounds
from chainrule._cli_bounds import check_network_memory, parameter_count
from chainrule._memory import format_bytes, format_excess, parse_size
from chainrule.cli import main
from chainrule.data import Standardizer, read_csv
from chainrule.data.csv import MAX_CSV_BYTES
from chainrule.nn import layers
from chainrule.viz.vanishing import MAX_DEPTH, MAX_SAMPLES, MAX_WIDTH, gradient_flow
from csv_engines import engine  # noqa: F401  (a fixture: both CSV readers)

LARGEST = float(np.finfo(np.float64).max)


def run(*argv: str) -> tuple[int, str, str]:
    """Run the command in this process; return its status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse errors
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


# -- the standardiser over the whole float64 range ------------------------------------------
# Columns whose magnitudes span from subnormals to the largest float, with a common
# magnitude drawn per column so that both huge and tiny columns are exercised whole.
MAGNITUDES = st.sampled_from([1e-320, 1e-300, 1e-20, 1.0, 1e150, 1e155, 1e200, 1e300, LARGEST])
UNIT_VALUES = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)


@st.composite
def finite_tables(draw: st.DrawFn) -> np.ndarray:
    rows = draw(st.integers(1, 12))
    columns = draw(st.integers(1, 4))
    unit = draw(arrays(np.float64, (rows, columns), elements=UNIT_VALUES))
    scale = np.array([draw(MAGNITUDES) for _ in range(columns)])
    table = unit * scale
    if draw(st.booleans()):  # the extremes themselves, of both signs
        table[draw(st.integers(0, rows - 1)), 0] = draw(st.sampled_from([LARGEST, -LARGEST]))
    return table


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(finite_tables())
def test_standardizer_is_finite_and_round_trips_on_any_finite_column(table):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        scaler = Standardizer().fit(table)
        standardised = scaler.transform(table)
        restored = scaler.inverse_transform(standardised)
    assert np.isfinite(scaler.mean_).all() and np.isfinite(scaler.scale_).all()
    assert (scaler.scale_ > 0).all()
    assert np.isfinite(standardised).all()
    # A standardised training column lies within sqrt(n) of its mean.
    assert np.abs(standardised).max() <= np.sqrt(len(table)) + 1e-9
    # Back to the original to within a few rounding steps of the column's largest value
    # (plus the smallest subnormal, the resolution of a column of subnormals).
    largest = np.abs(table).max(axis=0)
    tolerance = 1e-13 * largest + 5e-323
    assert (np.abs(restored - table) <= tolerance).all()
    # The state survives the model file's JSON.
    assert Standardizer.from_dict(scaler.to_dict()).scale_.tolist() == scaler.scale_.tolist()


@settings(max_examples=100, deadline=None)
@given(
    training=arrays(np.float64, st.integers(2, 8), elements=st.floats(-1e-31, 1e-31)),
    later=arrays(np.float64, st.integers(1, 4), elements=st.floats(-1e3, 1e3)),
)
def test_a_column_of_negligible_values_standardises_later_data_into_float32(training, later):
    # A training split that saw only 0 and 2e-56 has a spread of 1e-56; dividing by it
    # would send a later 1 to 1e56, beyond float32. Such a spread counts as none.
    scaler = Standardizer().fit(training.reshape(-1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        standardised = scaler.transform(later.reshape(-1, 1))
        assert np.isfinite(standardised.astype(np.float32)).all()


def test_train_reads_a_validation_value_the_training_split_never_came_near(tmp_path):
    # Found by the generated-files test: column a is 0 and 2e-56 in the training split
    # and 1 in the validation split.
    data = tmp_path / "data.csv"
    data.write_text("a,b,y\n1,0.0,no\n0.0,0.0,no\n2e-56,0.0,no\n0.0,0.0,no\n0.0,0.0,no\n0.0,0.0,yes\n")
    for seed in range(6):
        out = tmp_path / f"m{seed}.safetensors"
        code, _, err = run("train", str(data), "--target", "y", "--epochs", "2",
                           "--seed", str(seed), "--out", str(out), "--quiet")  # fmt: skip
        assert code == 0, err
        assert cr.load(out) is not None


def test_standardizer_keeps_the_spread_of_tiny_columns():
    # Relative, not absolute, constancy: a column of 1e-20s has a spread to keep.
    scaler = Standardizer().fit([[1e-20, 5.0], [3e-20, 5.0]])
    assert scaler.scale_.tolist() == pytest.approx([1e-20, 1.0])
    assert scaler.transform([[3e-20, 5.0]]).tolist() == [[1.0, 0.0]]


def _huge_csv(path: Path, feature_scale: float, target_scale: float) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, size=(2, 30))
    lines = ["a,b,y"] + [
        f"{float(x) * feature_scale!r},{float(z)!r},{float(x + z) / 2 * target_scale!r}"
        for x, z in zip(a, b, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("feature_scale", "target_scale"),
    [(1e155, 1.0), (1e200, 1e100), (LARGEST, 1e-300), (1e-300, 1e150), (1e300, 1e140)],
)
def test_train_on_values_near_the_float_limit_writes_a_model_that_loads(
    tmp_path, feature_scale, target_scale
):
    data = tmp_path / "huge.csv"
    _huge_csv(data, feature_scale, target_scale)
    model = tmp_path / "model.safetensors"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out, err = run(
            "train", str(data), "--target", "y", "--epochs", "3", "--quiet", "--out", str(model)
        )
        assert code == 0, err
        loaded = cr.load(model)  # loads: the scaler's statistics are finite
        assert loaded is not None
        code, out, err = run("predict", str(model), str(data))
    assert code == 0, err
    predictions = np.array([float(v) for v in out.splitlines()[1:]])
    assert len(predictions) == 30 and np.isfinite(predictions).all()
    # The predictions are in the target's own units, not standardised ones.
    assert np.abs(predictions).max() > target_scale / 100


@pytest.mark.parametrize("target_scale", [1e151, 1e200, 1e300, LARGEST])
def test_targets_too_large_for_their_squared_errors_are_refused_by_name(
    tmp_path, target_scale
):
    data = tmp_path / "huge.csv"
    _huge_csv(data, 1.0, target_scale)
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"a good model")
    code, _, err = run("train", str(data), "--target", "y", "--epochs", "1", "--out", str(model))
    assert_one_line_error(code, err, "target column 'y'", "up to 1e+150")
    assert model.read_bytes() == b"a good model"


# -- chainrule vanishing --------------------------------------------------------------------
def test_the_largest_vanishing_run_stays_under_500_mb():
    # One BLAS thread: on a busy machine, threads waiting for each other on these small
    # products can make the run ten times slower without changing what it computes.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits: Any = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=1, user_api="blas")
    tracemalloc.start()
    try:
        with limits:
            flow = gradient_flow(depth=MAX_DEPTH, width=MAX_WIDTH, samples=MAX_SAMPLES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 500 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert all(len(sizes) == MAX_DEPTH for sizes in flow.sizes.values())


@pytest.mark.parametrize(
    ("option", "past"),
    [("depth", MAX_DEPTH + 1), ("width", MAX_WIDTH + 1), ("samples", MAX_SAMPLES + 1)],
)
def test_vanishing_refuses_one_step_past_each_bound(option, past):
    with pytest.raises(ValueError, match=f"{option} must be an integer from 1? ?.*to {past - 1}"):
        gradient_flow(**{option: past})
    with pytest.raises(ValueError, match=f"got {past - 1 + 1}"):
        gradient_flow(**{option: np.int64(past)})  # a NumPy integer is shown plainly
    if option != "samples":  # the command has no --samples
        code, _, err = run("vanishing", f"--{option}", str(past))
        assert_one_line_error(code, err, f"--{option}", f"to {past - 1}, got {past}")


# -- CSV files: only regular files, only up to the size limit ------------------------------
def _table(path: Path, rows: int = 20) -> Path:
    lines = ["a,b,y"] + [f"{i / 10},{(i * 7) % 5},{i % 2}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("bounds")
    data = _table(folder / "data.csv", rows=150)
    model = folder / "model.safetensors"
    code, _, err = run("train", str(data), "--target", "y", "--epochs", "1", "--quiet",
                       "--out", str(model))  # fmt: skip
    assert code == 0, err
    return model, data


def _commands(model: Path, data: str) -> dict[str, list[str]]:
    """Every command that reads a CSV file, reading ``data``."""
    return {
        "train": ["train", data, "--target", "y", "--epochs", "1", "--quiet",
                  "--out", str(model.with_name("new.safetensors"))],
        "predict": ["predict", str(model), data],
        "evaluate": ["evaluate", str(model), data],
        "explain": ["explain", "--model", str(model), "--csv", data, "--target", "y"],
    }  # fmt: skip


@pytest.mark.parametrize("command", ["train", "predict", "evaluate", "explain"])
def test_a_device_that_never_ends_is_refused_by_kind(trained, command):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    code, _, err = run(*_commands(trained[0], "/dev/zero")[command])
    assert_one_line_error(code, err, "/dev/zero is a character device, not a regular file")
    assert not trained[0].with_name("new.safetensors").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_nobody_writes_to_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    # Opening a FIFO with no writer blocks forever: run the command in its own process,
    # with a timeout, so that a regression fails this test instead of hanging it.
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", str(fifo), "--target", "y"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert_one_line_error(done.returncode, done.stderr, "is a pipe (FIFO), not a regular file")
    with pytest.raises(ValueError, match="not a regular file"):
        read_csv(fifo, target="y")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.integers(1, 60), margin=st.integers(-40, 40))
@pytest.mark.usefixtures("engine")  # with pandas' parser and the NumPy-only one
def test_a_file_is_read_up_to_the_limit_and_refused_one_byte_past_it(rows, margin):
    with tempfile.TemporaryDirectory() as folder:
        data = _table(Path(folder) / "data.csv", rows)
        size = data.stat().st_size
        limit = max(1, size + margin)
        if size <= limit:
            assert read_csv(data, target="y", max_bytes=limit).n_samples == rows
        else:
            with pytest.raises(ValueError, match=f"over the limit of {limit} bytes"):
                read_csv(data, target="y", max_bytes=limit)
    # Exactly at the limit is read; one byte less is refused.
    with tempfile.TemporaryDirectory() as folder:
        data = _table(Path(folder) / "data.csv", rows)
        size = data.stat().st_size
        assert read_csv(data, target="y", max_bytes=size).n_samples == rows
        if size > 1:
            with pytest.raises(ValueError, match=f"the file is {format_bytes(size)}"):
                read_csv(data, target="y", max_bytes=size - 1)


@pytest.mark.usefixtures("engine")  # with pandas' parser and the NumPy-only one
def test_a_file_larger_than_its_stated_size_is_still_read_only_to_the_limit():
    # Files in /proc say they hold 0 bytes; the read itself stops one byte past the limit.
    status = Path("/proc/self/status")
    if not status.is_file() or status.stat().st_size != 0:
        pytest.skip("no /proc file with a size of 0 here")
    with pytest.raises(ValueError, match="the file is more than 100 bytes"):
        read_csv(status, max_bytes=100)


@pytest.mark.usefixtures("engine")  # with pandas' parser and the NumPy-only one
def test_the_default_limit_is_documented_and_refused_past(tmp_path):
    assert MAX_CSV_BYTES == 256 * 2**20
    assert "MAX_CSV_BYTES (256 MiB)" in (read_csv.__doc__ or "")
    data = tmp_path / "sparse.csv"
    with data.open("wb") as handle:  # a sparse file: its size costs no disk
        handle.truncate(MAX_CSV_BYTES + 1)
    tracemalloc.start()
    try:
        refused = "268,435,457 bytes, over the limit of 268,435,456 bytes"
        with pytest.raises(ValueError, match=refused):
            read_csv(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # refused before reading


@pytest.mark.parametrize("command", ["train", "predict", "evaluate", "explain"])
def test_max_csv_size_raises_and_lowers_the_limit(trained, tmp_path, command):
    model, data = trained
    size = data.stat().st_size
    assert 1024 < size < 2048, size  # so that 1K refuses it and 2K reads it
    argv = _commands(model, str(data))[command]
    code, _, err = run(*argv, "--max-csv-size", "1K")
    assert_one_line_error(code, err, "over the limit of 1 KiB", "--max-csv-size")
    code, _, err = run(*argv, "--max-csv-size", "2k")
    assert code == 0, err
    code, _, err = run(*argv, "--max-csv-size", "lots")
    assert_one_line_error(code, err, "--max-csv-size", "expected a size such as 500M")


@given(
    number=st.integers(1, 10**6),
    unit=st.sampled_from(["", "K", "M", "G", "T"]),
    suffix=st.sampled_from(["", "B", "iB"]),
    lower=st.booleans(),
)
def test_sizes_are_read_in_binary_units(number, unit, suffix, lower):
    text = f"{number}{unit}{suffix if unit else suffix[-1:]}"
    factor = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[unit]
    assert parse_size(text.lower() if lower else text) == number * factor


@pytest.mark.parametrize("text", ["", "M", "-1M", "0", "0.1", "1.5X", "1 2", "nan", "1e3"])
def test_sizes_that_are_not_sizes_are_refused(text):
    with pytest.raises(ValueError, match="expected a size"):
        parse_size(text)


@pytest.mark.usefixtures("engine")  # with pandas' parser and the NumPy-only one
def test_read_csv_refuses_a_limit_that_is_not_a_positive_whole_number(tmp_path):
    data = _table(tmp_path / "data.csv")
    for bad in (0, -5, 1.5, True, "1M"):
        with pytest.raises(ValueError, match="max_bytes must be a positive whole number"):
            read_csv(data, max_bytes=bad)  # type: ignore[arg-type]


# -- networks too large for the machine -----------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=2, max_size=6))
def test_the_parameter_count_is_what_the_network_holds(sizes):
    layers = [cr.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=False)]
    network = cr.nn.Sequential(*layers)
    assert parameter_count(sizes) == sum(p.data.size for p in network.parameters())


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 10**6), min_size=2, max_size=5),
    copies=st.integers(1, 8),
    available=st.integers(1, 2**40),
)
def test_a_network_is_refused_exactly_when_its_copies_exceed_the_free_memory(
    sizes, copies, available
):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_cli_bounds, "available_memory", lambda: available)
        _check_refusal(sizes, copies, available)


def _check_refusal(sizes: list[int], copies: int, available: int) -> None:
    needed = parameter_count(sizes) * 4 * copies
    option = f"--layers {','.join(map(str, sizes))}"
    if needed <= available:
        check_network_memory(sizes, itemsize=4, copies=copies, what=["weights"], option=option)
    else:
        with pytest.raises(ValueError) as refused:
            check_network_memory(sizes, itemsize=4, copies=copies, what=["weights"], option=option)
        message = str(refused.value)
        assert message.startswith(option + ":")
        shown, most = format_excess(needed, available)
        assert shown != most
        assert f"needs {shown}" in message
        assert f"the {most} of memory available" in message


@pytest.mark.parametrize(
    ("optimizer", "figure"), [("adam", "needs 186 GiB"), ("sgd", "needs 112 GiB")]
)
def test_train_refuses_layers_that_cannot_fit_before_building_them(
    trained, monkeypatch, optimizer, figure
):
    model, data = trained
    monkeypatch.setattr(_cli_bounds, "available_memory", lambda: 8 * 2**30)

    def no_building(*args, **kwargs):
        raise AssertionError("a layer was built")

    monkeypatch.setattr(cr.nn, "Linear", no_building)
    out = model.with_name("huge.safetensors")
    code, _, err = run("train", str(data), "--target", "y", "--layers", "100000,100000",
                       "--optimizer", optimizer, "--out", str(out))  # fmt: skip
    assert_one_line_error(code, err, "--layers 100000,100000", figure, "8 GiB", "10,000,500,001")
    assert not out.exists()


def test_explain_refuses_layers_that_cannot_fit(monkeypatch):
    # 16,801,794 parameters in eight float64 copies: 1,075,314,816 bytes. One byte less
    # is available, so both round alike and the message gives them in bytes.
    monkeypatch.setattr(_cli_bounds, "available_memory", lambda: 1_075_314_815)
    code, _, err = run("explain", "--layers", "2,4096,4096,2", "--x", "1,2", "--y", "1")
    assert_one_line_error(
        code, err, "--layers 2,4096,4096,2", "16,801,794 parameters",
        "needs 1,075,314,816 bytes", "more than the 1,075,314,815 bytes of memory available",
    )  # fmt: skip


def test_layers_no_machine_can_hold_are_refused_by_the_console_script(tmp_path):
    data = _table(tmp_path / "data.csv")
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", str(data), "--target", "y",
         "--layers", "10000000,10000000", "--out", str(tmp_path / "m.safetensors")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert_one_line_error(done.returncode, done.stderr, "needs 1.78 PiB")
    assert not (tmp_path / "m.safetensors").exists()


def test_linear_refuses_a_weight_larger_than_the_free_memory(monkeypatch):
    monkeypatch.setattr(layers, "available_memory", lambda: 2**30)
    # 20000 x 20000 float32: 1.49 GiB.
    with pytest.raises(
        ValueError,
        match=r"Linear\(20000, 20000\) needs 1.49 GiB for its float32 weight, more than the "
        "1 GiB of memory available; choose smaller sizes",
    ):
        cr.nn.Linear(20000, 20000)
    with pytest.raises(ValueError, match="2.98 GiB for its float64 weight, more than the 1 GiB"):
        cr.nn.Linear(20000, 20000, dtype=np.float64)
    # 12000 x 12000 float32 (549 MiB) fits: the initializers draw it a piece at a time
    # (see test_init.py), not whole in float64 (1.07 GiB more).
    layers._check_weight_fits(12000, 12000, np.dtype(np.float32))
    assert cr.nn.Linear(100, 100).weight.shape == (100, 100)
    monkeypatch.undo()  # and for real: no machine has 400 TB free
    with pytest.raises(ValueError, match=r"Linear\(10000000, 10000000\) needs 364 TiB"):
        cr.nn.Linear(10**7, 10**7)


@settings(max_examples=100, deadline=None)
@given(
    in_features=st.integers(1, 10**6),
    out_features=st.integers(1, 10**6),
    dtype=st.sampled_from(layers.PARAMETER_DTYPES),
    available=st.integers(2**28, 2**40),
)
def test_linear_is_refused_exactly_when_its_weight_exceeds_the_free_memory(
    in_features, out_features, dtype, available
):
    needed = in_features * out_features * dtype.itemsize
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(layers, "available_memory", lambda: available)
        if needed <= available:
            layers._check_weight_fits(in_features, out_features, dtype)
        else:
            with pytest.raises(ValueError, match=f"needs .* for its {dtype} weight"):
                layers._check_weight_fits(in_features, out_features, dtype)
