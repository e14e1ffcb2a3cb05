"""chainrule train / predict / evaluate / summary, and every bad-input case.

Bad input ends with exit status 2 and exactly one line on stderr that names the problem
(and the row and column where there is one), never a traceback, and no output file is
created or changed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.io import load_model_file

FAST = ["--epochs", "5", "--quiet"]


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    X, y = cr.data.load("moons", n_samples=120, rng=0)
    lines = ["x1,x2,shape"] + [
        f"{a:.5f},{b:.5f},{'top' if label == 0 else 'bottom'}"
        for (a, b), label in zip(X, y, strict=True)
    ]
    (tmp_path / "moons.csv").write_text("\n".join(lines) + "\n")
    houses = cr.data.house_prices()
    rows = [",".join([*houses.feature_names, "price"])] + [
        ",".join(map(str, [*row, target])) for row, target in zip(houses.X, houses.y, strict=True)
    ]
    (tmp_path / "houses.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def _fails(capsys, argv: list[str], *fragments: str) -> str:
    """Run the command; check status 2 and one stderr line containing every fragment."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert lines[0].startswith(f"chainrule {argv[0]}: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_train_predict_evaluate_summary_for_classification(workdir, capsys):
    assert (
        main(
            [
                "train",
                "moons.csv",
                "--target",
                "shape",
                "--layers",
                "8,8",
                "--epochs",
                "60",
                "--lr",
                "0.05",
                "--out",
                "moons.safetensors",
                "--plot",
                "curves.png",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "epoch 60/60" in out and "saved moons.safetensors (2 -> 8 -> 8 -> 2)" in out
    assert (workdir / "curves.png").read_bytes().startswith(b"\x89PNG")

    loaded = load_model_file(workdir / "moons.safetensors")
    prep = loaded.preprocessing
    assert prep.task == "classification" and prep.classes == ["bottom", "top"]
    assert prep.feature_names == ["x1", "x2"] and prep.target_name == "shape"
    assert prep.scaler is not None

    assert main(["predict", "moons.safetensors", "moons.csv", "--out", "predictions.csv"]) == 0
    rows = (workdir / "predictions.csv").read_text().splitlines()
    assert rows[0] == "shape,probability_bottom,probability_top" and len(rows) == 121
    truth = [line.split(",")[2] for line in (workdir / "moons.csv").read_text().splitlines()[1:]]
    predicted = [row.split(",")[0] for row in rows[1:]]
    assert np.mean(np.array(truth) == np.array(predicted)) > 0.9
    capsys.readouterr()

    assert main(["evaluate", "moons.safetensors", "moons.csv"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy ")[1].split()[0])
    assert accuracy > 0.9 and "confusion matrix" in out

    assert main(["summary", "moons.safetensors"]) == 0
    out = capsys.readouterr().out
    assert "0 (Linear)" in out and "(N, 8)" in out and "Total params: 114" in out
    assert "task: classification (2 classes: bottom, top)" in out


def test_train_and_predict_regression(workdir, capsys):
    assert (
        main(
            [
                "train",
                "houses.csv",
                "--target",
                "price",
                "--layers",
                "4",
                "--epochs",
                "200",
                "--batch-size",
                "6",
                "--validation-split",
                "0",
                # Memorising six rows: a faster rate and no weight decay, unlike the defaults.
                "--lr",
                "0.01",
                "--weight-decay",
                "0",
                *FAST[2:],
            ]
        )
        == 0
    )
    assert "saved model.safetensors (4 -> 4 -> 1)" in capsys.readouterr().out
    assert load_model_file(workdir / "model.safetensors").preprocessing.target_scaler is not None
    assert main(["predict", "model.safetensors", "houses.csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "price" and len(lines) == 7
    predictions = np.array([float(v) for v in lines[1:]])
    assert np.abs(predictions - cr.data.house_prices().y).max() < 0.2
    assert main(["evaluate", "model.safetensors", "houses.csv", "--target", "price"]) == 0
    assert "r2 " in capsys.readouterr().out
    # New data to predict may carry the target column with blank cells: it is left unread.
    blank = [line.rsplit(",", 1)[0] + "," for line in (workdir / "houses.csv").read_text().split()]
    blank[0] = blank[0] + "price"
    (workdir / "new.csv").write_text("\n".join(blank) + "\n")
    assert main(["predict", "model.safetensors", "new.csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == lines[1:]


def test_train_resumes_from_its_checkpoint(workdir, capsys):
    common = ["train", "moons.csv", "--target", "shape", "--checkpoint-dir", "ckpt", "--quiet"]
    assert main([*common, "--epochs", "4", "--out", "half.safetensors"]) == 0
    assert main([*common, "--epochs", "8", "--resume", "--out", "resumed.safetensors"]) == 0
    assert (
        main(
            [
                "train",
                "moons.csv",
                "--target",
                "shape",
                "--quiet",
                "--epochs",
                "8",
                "--out",
                "straight.safetensors",
            ]
        )
        == 0
    )
    resumed = cr.load("resumed.safetensors").state_dict()
    for name, value in cr.load("straight.safetensors").state_dict().items():
        np.testing.assert_array_equal(resumed[name], value)


@pytest.mark.parametrize(
    ("changed", "said"),
    [
        (["--layers", "8"], "other --layers or --activation"),
        (["--optimizer", "sgd"], "another --optimizer"),
        (["--batch-size", "16"], "batch_size: 32 then, 16 now"),
        (["--keep", "last"], "other --keep, --early-stopping or --clip-grad-norm options"),
        (["--clip-grad-norm", "1"], "other --keep, --early-stopping or --clip-grad-norm options"),
    ],
)
def test_resuming_a_checkpoint_of_another_run_is_said_in_the_commands_words(
    workdir, capsys, changed, said
):
    common = ["train", "moons.csv", "--target", "shape", "--checkpoint-dir", "ckpt", "--quiet"]
    assert main([*common, "--epochs", "2", "--out", "first.safetensors"]) == 0
    capsys.readouterr()
    line = _fails(
        capsys,
        [*common, "--epochs", "4", "--resume", "--out", "second.safetensors", *changed],
        "the checkpoint in 'ckpt' was written by a run with",
        said,
        "leave out --resume (or choose another --checkpoint-dir)",
    )
    # fit's own argument names mean nothing on the command line.
    assert "resume=False" not in line and "checkpoint_dir" not in line
    assert not (workdir / "second.safetensors").exists()


def test_the_console_script_reports_errors_in_one_line(workdir):
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "missing.csv", "--target", "y"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "missing.csv" in done.stderr
    # A diverging run: the guard's one line, no NumPy overflow warnings around it.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chainrule",
            "train",
            "moons.csv",
            "--target",
            "shape",
            "--lr",
            "1e30",
            "--optimizer",
            "sgd",
            "--epochs",
            "3",
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "the loss became" in done.stderr and not (workdir / "model.safetensors").exists()


# -- bad input -------------------------------------------------------------------------------
def test_missing_file(workdir, capsys):
    _fails(capsys, ["train", "nothing.csv", "--target", "y"], "no such file", "nothing.csv")
    assert not (workdir / "model.safetensors").exists()


def test_empty_csv(workdir, capsys):
    (workdir / "empty.csv").write_text("")
    _fails(capsys, ["train", "empty.csv", "--target", "y"], "empty.csv", "empty")
    (workdir / "header.csv").write_text("a,b,y\n")
    _fails(capsys, ["train", "header.csv", "--target", "y"], "no data rows")
    assert not (workdir / "model.safetensors").exists()


def test_missing_target_column(workdir, capsys):
    _fails(
        capsys,
        ["train", "moons.csv", "--target", "shap"],
        "target column 'shap' not found",
        "did you mean 'shape'",
    )


def test_non_numeric_value_names_row_and_column(workdir, capsys):
    text = (workdir / "moons.csv").read_text().splitlines()
    text[5] = "0.1,abc," + text[5].split(",")[2]
    (workdir / "bad.csv").write_text("\n".join(text) + "\n")
    _fails(
        capsys,
        ["train", "bad.csv", "--target", "shape"],
        "non-numeric value 'abc'",
        "column 'x2'",
        "row 5",
    )


def test_missing_value_names_row_and_column(workdir, capsys):
    text = (workdir / "moons.csv").read_text().splitlines()
    text[3] = ",0.5," + text[3].split(",")[2]
    (workdir / "gap.csv").write_text("\n".join(text) + "\n")
    _fails(
        capsys, ["train", "gap.csv", "--target", "shape"], "missing value", "column 'x1'", "row 3"
    )


def test_wrong_feature_count_for_the_model(workdir, capsys):
    assert main(["train", "moons.csv", "--target", "shape", *FAST]) == 0
    (workdir / "three.csv").write_text("x1,x2,x3\n0.1,0.2,0.3\n")
    _fails(
        capsys, ["predict", "model.safetensors", "three.csv", "--out", "p.csv"], "unexpected 'x3'"
    )
    (workdir / "one.csv").write_text("x1\n0.1\n")
    _fails(
        capsys, ["evaluate", "model.safetensors", "one.csv", "--target", "x1"], "no feature columns"
    )
    (workdir / "x1only.csv").write_text("x1,shape\n0.1,top\n")
    _fails(capsys, ["evaluate", "model.safetensors", "x1only.csv"], "missing 'x2'")
    assert not (workdir / "p.csv").exists()
    # A model saved without column names is checked by its number of inputs.
    cr.save(cr.nn.Sequential(cr.nn.Linear(2, 1)), workdir / "bare.safetensors")
    _fails(
        capsys,
        ["predict", "bare.safetensors", "three.csv"],
        "reads 2 features",
        "has 3 feature columns",
    )


def test_unwritable_output_path(workdir, capsys):
    _fails(
        capsys,
        ["train", "moons.csv", "--target", "shape", "--out", "no/such/m.safetensors"],
        "--out no/such/m.safetensors",
        "does not exist",
    )
    (workdir / "folder").mkdir()
    _fails(capsys, ["train", "moons.csv", "--target", "shape", "--out", "folder"], "is a folder")
    _fails(
        capsys,
        ["train", "moons.csv", "--target", "shape", "--plot", "no/c.png", *FAST],
        "--plot no/c.png",
    )
    assert not (workdir / "model.safetensors").exists()
    assert main(["train", "moons.csv", "--target", "shape", *FAST]) == 0
    _fails(
        capsys, ["predict", "model.safetensors", "moons.csv", "--out", "no/p.csv"], "does not exist"
    )


def test_failures_leave_an_existing_output_untouched(workdir, capsys):
    assert main(["train", "moons.csv", "--target", "shape", *FAST]) == 0
    before = (workdir / "model.safetensors").read_bytes()
    (workdir / "empty.csv").write_text("")
    _fails(capsys, ["train", "empty.csv", "--target", "y"], "empty")
    _fails(capsys, ["train", "moons.csv", "--target", "nope"], "not found")
    _fails(capsys, ["train", "moons.csv", "--target", "shape", "--loss", "mse"], "holds text")
    _fails(
        capsys,
        ["train", "moons.csv", "--target", "shape", "--lr", "1e30", "--optimizer", "sgd", *FAST],
        "training failed",
        "no model was saved",
    )
    assert (workdir / "model.safetensors").read_bytes() == before
    (workdir / "predictions.csv").write_text("keep me\n")
    _fails(
        capsys, ["predict", "model.safetensors", "empty.csv", "--out", "predictions.csv"], "empty"
    )
    assert (workdir / "predictions.csv").read_text() == "keep me\n"


def test_bad_model_files(workdir, capsys):
    (workdir / "fake.safetensors").write_bytes(b"\x80\x04\x95 not really a model")
    (workdir / "data.csv").write_text("x1,x2\n1,2\n")
    _fails(capsys, ["predict", "fake.safetensors", "data.csv"], "pickle")
    _fails(capsys, ["summary", "fake.safetensors"], "pickle")
    _fails(capsys, ["evaluate", "missing.safetensors", "data.csv"], "no such model file")


def test_bad_arguments(workdir, capsys):
    for argv, fragment in (
        (["train", "moons.csv", "--target", "shape", "--layers", "16,x"], "--layers"),
        (["train", "moons.csv", "--target", "shape", "--lr", "-1"], "positive float"),
        (["train", "moons.csv", "--target", "shape", "--epochs", "0"], "positive int"),
        (["train", "moons.csv", "--target", "shape", "--loss", "hinge"], "invalid choice"),
        (["train", "moons.csv"], "--target"),
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fragment in err
    _fails(capsys, ["train", "moons.csv", "--target", "shape", "--resume"], "--checkpoint-dir")


def test_resuming_a_checkpoint_holding_nan_is_one_line(workdir, capsys):
    from chainrule.train.checkpoint import load_checkpoint, save_checkpoint

    common = ["train", "moons.csv", "--target", "shape", "--checkpoint-dir", "ckpt", "--quiet"]
    assert main([*common, "--epochs", "2", "--out", "first.safetensors"]) == 0
    checkpoint = load_checkpoint(workdir / "ckpt")
    assert checkpoint is not None
    next(iter(checkpoint.model_state.values())).reshape(-1)[0] = np.inf
    save_checkpoint(workdir / "ckpt", checkpoint)
    capsys.readouterr()
    _fails(
        capsys,
        [*common, "--epochs", "4", "--resume", "--out", "second.safetensors"],
        "holds inf at index (0,)",
        "cannot continue the run",
        "leave out --resume",
    )
    assert not (workdir / "second.safetensors").exists()
