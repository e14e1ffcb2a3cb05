"""Generated bad CSV files for ``chainrule.data.read_csv`` and the command line.

``read_csv`` reads every clean table and raises one ValueError naming the file and the
problem for everything else. ``chainrule train/predict/evaluate`` end with exit status 0,
or with status 2 and exactly one stderr line naming the problem: no traceback, and the
``--out`` file neither created nor changed.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.cli import main
from chainrule.data import read_csv
from csv_engines import engine  # noqa: F401  (a fixture: both CSV readers)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NUMBER = st.floats(-1e6, 1e6).map(repr) | st.integers(-100, 100).map(str)
JUNK = st.one_of(
    NUMBER,
    st.sampled_from(["", " ", "NA", "nan", "inf", "-Infinity", "abc", "1,5", '"2"', "1e400"]),
    st.text(alphabet='ab1.;,\t|" é\n', max_size=4),
)
DAMAGES = [
    "none", "none", "none", "bom", "missing cell", "text cell", "infinite cell",
    "duplicated header", "empty column name", "no rows", "wrong delimiter", "non-UTF-8",
    "ragged row", "random bytes", "junk cells", "junk names",
]  # fmt: skip
OLD_OUTPUT = b"an earlier output that a failed command must leave alone\n"


CELL_DAMAGES = ("missing cell", "text cell", "infinite cell")


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    """CSV bytes: a valid table of features (a, b, c) and target y, then one kind of damage:
    a missing or text cell, duplicated or empty column names, no rows, a delimiter that is
    not , ; tab or |, bytes that are not UTF-8, a row of the wrong length, and so on."""
    columns = [["a", "b", "y"], ["a", "b", "y"], ["a", "b", "c", "y"], ["b", "y"], ["a", "b"]]
    names = draw(st.permutations(draw(st.sampled_from(columns))))
    text_target = draw(st.booleans()) and "y" in names
    label = st.sampled_from(["no", "yes"]) if text_target else NUMBER
    rows = [
        [draw(label if name == "y" else NUMBER) for name in names]
        for _ in range(draw(st.integers(1, 6)))
    ]
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    damage = draw(st.sampled_from(DAMAGES))
    row = draw(st.integers(0, len(rows) - 1))
    column = draw(st.integers(0, len(names) - 1))
    if damage == "missing cell":
        rows[row][column] = draw(st.sampled_from(["", " ", "NA", "nan", "?", "null"]))
    elif damage == "text cell":
        if names[column] == "y":  # text is a valid label
            column = (column + 1) % len(names)
        rows[row][column] = draw(st.sampled_from(["abc", "1,5", "1.2.3", "one", "0x10"]))
    elif damage == "infinite cell":
        rows[row][column] = draw(st.sampled_from(["inf", "-Infinity", "1e400"]))
    elif damage == "duplicated header":
        names[column] = names[column - 1]
    elif damage == "empty column name":
        names[column] = ""
    elif damage == "no rows":
        rows = []
    elif damage == "wrong delimiter":
        delimiter = draw(st.sampled_from([" ", ":", "  "]))
    elif damage == "ragged row":
        rows[row].append(draw(NUMBER))
    elif damage == "junk cells":
        rows = [[draw(JUNK) for _ in names] for _ in rows]
    elif damage == "junk names":
        names = draw(st.lists(st.sampled_from(["a", "b", "y", "", "a b", "é", "x"]), min_size=1))
        rows = [[draw(JUNK) for _ in names] for _ in rows]
    lines = [delimiter.join(cells) for cells in [names, *rows]]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if damage == "bom":
        data = b"\xef\xbb\xbf" + data
    elif damage == "non-UTF-8":
        data += draw(st.sampled_from([b"caf\xe9\n", b"\xff\xfe\n", b"1,\x80\n"]))
    elif damage == "random bytes":
        data = draw(st.binary(max_size=40))
    damaged_column = names[column] if damage in CELL_DAMAGES and names else None
    plan = {
        "names": names,
        "rows": rows,
        "damage": damage,
        "text_target": text_target,
        "column": damaged_column,  # the column of a damaged cell
    }
    return data, plan


def _clean(plan: dict[str, Any]) -> bool:
    """Whether the generated file is a valid table, so reading it must work."""
    return plan["damage"] in ("none", "bom")


def _fresh_folder() -> tempfile.TemporaryDirectory[str]:
    """A new folder per generated example (pytest's tmp_path is one per test)."""
    return tempfile.TemporaryDirectory()


# -- read_csv ---------------------------------------------------------------------------
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(file=csv_files(), target=st.sampled_from(["y", "y", None]))
@pytest.mark.usefixtures("engine")  # with pandas' parser and the NumPy-only one
def test_read_csv_reads_clean_tables_and_names_every_problem(file, target):
    data, plan = file
    has_y = "y" in plan["names"]
    readable = _clean(plan) and (has_y if target == "y" else not plan["text_target"])
    event(f"readable {readable}")
    with _fresh_folder() as name:
        path = Path(name) / "table.csv"
        path.write_bytes(data)
        try:
            dataset = read_csv(path, target=target)
        except ValueError as err:
            message = str(err)
            assert "\n" not in message and "table.csv" in message, message
            assert not readable, (plan, message)
            return
    assert dataset.X.dtype == np.float64 and np.isfinite(dataset.X).all()
    assert dataset.X.ndim == 2 and dataset.X.shape[0] > 0 and dataset.X.shape[1] > 0
    if readable:
        assert len(dataset.X) == len(plan["rows"])
        assert sorted(dataset.feature_names) == sorted(set(plan["names"]) - {target})


# -- the command line -------------------------------------------------------------------
def _run(argv: list[str]) -> tuple[int, str]:
    """``chainrule ARGV`` in this process: (exit status, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse's own errors
            code = int(stop.code or 0)
    return code, err.getvalue()


def _check_failure(code: int, err: str, command: str) -> None:
    assert code == 2, (code, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith(f"chainrule {command}: error: "), err
    assert len(lines[0]) > len(f"chainrule {command}: error: ") + 10, err


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A classifier trained on columns a, b (features) and y (text labels)."""
    folder = tmp_path_factory.mktemp("model")
    rows = [f"{i % 5 / 4:.2f},{i % 3 / 2:.2f},{'yes' if i % 2 else 'no'}" for i in range(20)]
    (folder / "train.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    path = folder / "model.safetensors"
    code, err = _run(
        ["train", str(folder / "train.csv"), "--target", "y", "--layers", "3", "--epochs", "2"]
        + ["--quiet", "--out", str(path)]
    )
    assert code == 0, err
    return path


@SETTINGS
@given(file=csv_files(), target=st.sampled_from(["y"] * 3 + ["a", "missing"]), keep=st.booleans())
def test_train_on_generated_files(file, target, keep):
    data, plan = file
    with _fresh_folder() as name:
        folder = Path(name)
        (folder / "data.csv").write_bytes(data)
        out = folder / "model.safetensors"
        if keep:
            out.write_bytes(OLD_OUTPUT)
        before = _files(folder)
        code, err = _run(
            ["train", str(folder / "data.csv"), "--target", target, "--layers", "2"]
            + ["--epochs", "1", "--quiet", "--out", str(out)]
        )
        event(f"exit status {code}")
        if code != 0:
            _check_failure(code, err, "train")
            assert _files(folder) == before
            trainable = _clean(plan) and target == "y" and "y" in plan["names"]
            if trainable and plan["text_target"]:
                y = plan["names"].index("y")
                trainable = len({row[y] for row in plan["rows"]}) > 1
            assert not trainable, (plan, err)
            return
        assert cr.load(out).num_parameters() > 0
        assert set(_files(folder)) == {"data.csv", "model.safetensors"}


@SETTINGS
@given(file=csv_files(), command=st.sampled_from(["predict", "evaluate"]))
def test_predict_and_evaluate_on_generated_files(model_file, file, command):
    data, plan = file
    with _fresh_folder() as name:
        folder = Path(name)
        (folder / "data.csv").write_bytes(data)
        out = folder / "predictions.csv"
        out.write_bytes(OLD_OUTPUT)
        before = _files(folder)
        argv = [command, str(model_file), str(folder / "data.csv")]
        argv += ["--out", str(out)] if command == "predict" else ["--target", "y"]
        code, err = _run(argv)
        event(f"exit status {code}")
        features = set(plan["names"]) - {"y"}
        usable = _clean(plan) and features == {"a", "b"}
        usable = usable and (command == "predict" or plan["text_target"])  # text classes
        if code != 0:
            _check_failure(code, err, command)
            assert _files(folder) == before
            assert not usable, (plan, err)
            return
        # predict does not read the target column, so a damaged cell there is no error
        target_only = command == "predict" and plan["column"] == "y"
        assert _clean(plan) or target_only or plan["damage"] in ("junk cells", "junk names")
        if command == "predict":
            lines = out.read_text().splitlines()
            assert lines[0].startswith("y,probability_") and len(lines) == 1 + len(plan["rows"])


# Each named problem, in train, predict and evaluate: (file content, words in the error).
PROBLEMS = {
    "missing cell": (b"a,b,y\n1,2,no\n3,,yes\n", ["missing value", "'b'", "row 2"]),
    "text column": (b"a,b,y\n1,2,no\n3,four,yes\n", ["non-numeric value 'four'", "'b'"]),
    "duplicated header": (b"a,a,y\n1,2,no\n3,4,yes\n", ["duplicated column name", "'a'"]),
    "no rows": (b"a,b,y\n", ["no data rows"]),
    "empty file": (b"", ["empty"]),
    "wrong delimiter": (b"a b y\n1 2 no\n3 4 yes\n", ["single column", "delimiter"]),
    "non-UTF-8 bytes": (b"a,b,y\n1,2,no\n3,4,caf\xe9\n", ["not valid UTF-8", "0xe9", "line 3"]),
    "wrong feature count": (b"a,b,c,y\n1,2,3,no\n3,4,5,yes\n", ["'c'"]),
}


@pytest.mark.parametrize("command", ["train", "predict", "evaluate"])
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_each_named_csv_problem_is_one_line_with_status_2(model_file, tmp_path, problem, command):
    content, words = PROBLEMS[problem]
    if problem == "wrong feature count" and command == "train":
        content, words = b"y\nno\nyes\n", ["no feature columns"]
    (tmp_path / "data.csv").write_bytes(content)
    out = tmp_path / ("model.safetensors" if command == "train" else "predictions.csv")
    out.write_bytes(OLD_OUTPUT)
    argv = {
        "train": ["train", "data.csv", "--target", "y", "--epochs", "1", "--quiet"],
        "predict": ["predict", str(model_file), "data.csv"],
        "evaluate": ["evaluate", str(model_file), "data.csv"],
    }[command]
    if command != "evaluate":
        argv += ["--out", out.name]
    before = _files(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        code, err = _run(argv)
    _check_failure(code, err, command)
    for word in words:
        assert word in err, err
    assert _files(tmp_path) == before


def test_the_console_script_reports_bad_csv_files_in_one_line(model_file, tmp_path):
    (tmp_path / "latin1.csv").write_bytes(PROBLEMS["non-UTF-8 bytes"][0])
    (tmp_path / "dup.csv").write_bytes(PROBLEMS["duplicated header"][0])
    for argv in (
        ["train", "latin1.csv", "--target", "y", "--quiet"],
        ["predict", str(model_file), "dup.csv", "--out", "p.csv"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "chainrule", *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dup.csv", "latin1.csv"]
