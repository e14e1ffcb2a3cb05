"""Messages that say what is wrong, as the user would say it.

A hint never suggests a different number; values are shown as written, never as NumPy
reprs; column lists stay a few names long however wide the file; names that differ only
in Unicode normalisation match; sparse, categorical, missing and too-large input is named
for what it is; every ``fit`` argument of the wrong kind is refused by name; and a
prediction CSV never holds a cell that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import re
import unicodedata
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule._cli_model import _FORMULA_STARTS, _cell
from chainrule.cli import main
from chainrule.data import encode_labels, one_hot, read_csv
from chainrule.io import Preprocessing
from chainrule.sklearn import MLPClassifier, MLPRegressor
from csv_engines import engine  # noqa: F401  (a fixture: both CSV readers)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NUMPY_REPR = re.compile(r"np\.|dtype\(|dtype=|<U\d|array\(")


def _error(call: Callable[[], Any]) -> BaseException:
    """The ValueError/TypeError ``call`` raises (anything else fails the test)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError)) as info:
            call()
    return info.value


# -- numbers written with separators ----------------------------------------------------
def _group(digits: str, sep: str) -> str:
    head = len(digits) % 3 or 3
    return sep.join([digits[:head], *(digits[i : i + 3] for i in range(head, len(digits), 3))])


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(a number as a person writes it with separators, the same number plainly)."""
    sign = draw(st.sampled_from(["", "-"]))
    style = draw(st.sampled_from(["1,234.5", "1.234,5", "1 234,5", "1'234.5", "0,5"]))
    fraction = draw(st.sampled_from(["", "5", "25", "125", "0625"]))
    if style == "0,5":  # a decimal comma without grouping
        whole = str(draw(st.integers(0, 10**6)))
        fraction = fraction or "5"
        return f"{sign}{whole},{fraction}", f"{sign}{whole}.{fraction}"
    whole = str(draw(st.integers(1000, 10**10)))
    sep, mark = style[1], style[5]
    if sep == "." and len(whole) < 7:
        fraction = fraction or "5"  # 1.234 alone is a number (1.234), not a bad cell
    written = _group(whole, sep) + (mark + fraction if fraction else "")
    return sign + written, sign + whole + ("." + fraction if fraction else "")


@SETTINGS
@given(number=written_numbers())
@pytest.mark.usefixtures("engine")  # with pandas' parser and the NumPy-only one
def test_number_hints_never_change_the_value(tmp_path_factory, number):
    written, meant = number
    path = tmp_path_factory.mktemp("hint") / "data.csv"
    path.write_text(f'a;y\n"{written}";1\n2;3\n', encoding="utf-8")
    message = str(_error(lambda: read_csv(path, target="y", delimiter=";")))
    suggestions = re.findall(r"(?:write it|or) as (\S+)", message)
    if re.fullmatch(r"-?[1-9]\d{0,2},\d{3}", written):
        # 1,234 may be a thousand or a decimal comma: both readings, and the word.
        assert "ambiguous" in message, message
        assert {Decimal(s) for s in suggestions} == {
            Decimal(written.replace(",", "")),
            Decimal(written.replace(",", ".")),
        }
    else:
        assert "ambiguous" not in message, message
        assert [Decimal(s) for s in suggestions] == [Decimal(meant)], message


@pytest.mark.parametrize(
    ("cell", "meant"),
    [("1,234", None), ("12,345,678", "12345678"), ("1.234,5", "1234.5"), ("1 234", "1234"),
     ("0,5", "0.5"), ("3,25", "3.25"), ("1.234.567", "1234567"), ("1,234.5", "1234.5")],
)  # fmt: skip
@pytest.mark.usefixtures("engine")  # with pandas' parser and the NumPy-only one
def test_the_examples_get_the_right_hint(tmp_path, cell, meant):
    path = tmp_path / "data.csv"
    path.write_text(f'a;y\n"{cell}";1\n', encoding="utf-8")
    message = str(_error(lambda: read_csv(path, target="y")))
    if meant is None:
        assert "ambiguous: write it as 1234 if ',' separates thousands, or as 1.234" in message
    else:
        assert f"write it as {meant} " in message, message


# -- values as written ------------------------------------------------------------------
def _model() -> cr.nn.Module:
    return cr.nn.Sequential(cr.nn.Linear(2, 1, rng=0))


def _fit(**overrides: Any) -> Callable[[], Any]:
    arguments: dict[str, Any] = {
        "X": np.ones((4, 2)),
        "y": np.ones(4),
        "loss": "mse",
        "epochs": 1,
        "verbose": 0,
    }
    arguments.update(overrides)
    model = arguments.pop("model") if "model" in arguments else _model()
    return lambda: cr.fit(model, **arguments)


NUMPY_TYPED_CALLS: dict[str, Callable[[], Any]] = {
    "encode_labels unknown label": lambda: encode_labels(
        np.array(["a", "b"]), classes=np.array(["a", "c"])
    ),
    "encode_labels kinds": lambda: encode_labels(np.array([1.5]), classes=np.array(["a"])),
    "encode_labels repeated classes": lambda: encode_labels([1], classes=np.array([1, 1])),
    "one_hot text": lambda: one_hot(np.array(["a"]), 2),
    "one_hot fraction": lambda: one_hot(np.array([0.5]), 2),
    "fit epochs": _fit(epochs=np.float64(2.5)),
    "fit batch_size": _fit(batch_size=np.int64(0)),
    "fit validation_split": _fit(validation_split=np.float64(1.5)),
    "fit verbose": _fit(verbose=np.int64(7)),
    "fit rng": _fit(rng=np.float64(1.0)),
    "fit shuffle": _fit(shuffle=np.str_("no")),
    "fit loss": _fit(loss=np.str_("hinge")),
    "fit optimizer": _fit(optimizer=np.str_("lbfgs")),
    "fit text X": _fit(X=np.array([["a", "b"]] * 4)),
    "fit object X": _fit(X=np.array([[1, "b"]] * 4, dtype=object)),
    "fit text y": _fit(y=np.array(["a", "b", "a", "b"])),
    "fit complex X": _fit(X=np.ones((4, 2), dtype=complex)),
    "SGD lr": lambda: cr.optim.SGD(_model().parameters(), lr=np.str_("fast")),
    "Adam lr": lambda: cr.optim.Adam(_model().parameters(), lr=np.float64(-1.0)),
    "classifier one class": lambda: MLPClassifier(max_iter=1).fit(
        np.ones((3, 2)), np.array(["only"] * 3)
    ),
    "classifier hidden sizes": lambda: MLPClassifier(hidden_layer_sizes=np.int64(0)).fit(
        np.ones((3, 2)), [0, 1, 0]
    ),
    "regressor alpha": lambda: MLPRegressor(alpha=np.float64(-1)).fit(np.ones((3, 2)), [0, 1, 0]),
    "regressor max_iter": lambda: MLPRegressor(max_iter=np.int64(0)).fit(
        np.ones((3, 2)), [0, 1, 0]
    ),
    "regressor random_state": lambda: MLPRegressor(random_state=np.float64(1)).fit(
        np.ones((3, 2)), [0, 1, 0]
    ),
    "regressor float32 inf": lambda: MLPRegressor().fit(
        np.array([[np.inf, 1]] * 3, dtype=np.float32), [0, 1, 0]
    ),
    "train_test_split": lambda: cr.data.train_test_split(
        np.ones((4, 2)), np.ones(4), test_size=np.float64(7.5)
    ),
}


@pytest.mark.parametrize("case", NUMPY_TYPED_CALLS)
def test_messages_show_numpy_typed_values_as_written(case):
    message = str(_error(NUMPY_TYPED_CALLS[case]))
    assert not NUMPY_REPR.search(message), message
    assert "\n" not in message


def test_the_train_command_shows_labels_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("one.csv").write_text("a,b,y\n1,2,only\n3,4,only\n")
    Path("two.csv").write_text("a,b,y\n1,2,cat\n3,4,dog\n")
    for argv in (
        ["train", "one.csv", "--target", "y", "--quiet"],
        ["train", "two.csv", "--target", "y", "--loss", "mse", "--quiet"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert not NUMPY_REPR.search(err), err
        assert ("'only'" in err) or ("'cat'" in err), err


# -- wide files --------------------------------------------------------------------------
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.sampled_from([6, 40, 400]),
    n_missing=st.integers(0, 12),
    n_extra=st.integers(0, 12),
    data=st.data(),
)
@pytest.mark.usefixtures("engine")  # with pandas' parser and the NumPy-only one
def test_column_messages_of_wide_files_stay_short(
    tmp_path_factory, width, n_missing, n_extra, data
):
    if n_missing + n_extra == 0:
        n_extra = 1
    expected = [f"feature_{i}" for i in range(width)]
    dropped = data.draw(st.permutations(expected))[: min(n_missing, width - 1)]
    added = [f"surprise_{i}" for i in range(n_extra)]
    header = [name for name in expected if name not in dropped] + added
    path = tmp_path_factory.mktemp("wide") / "wide.csv"
    path.write_text(",".join(header) + "\n" + ",".join("1" * len(header)) + "\n")

    message = str(_error(lambda: read_csv(path, feature_names=expected)))
    assert len(message) < 300 + len(str(path)), message
    if dropped:
        first = next(name for name in expected if name in dropped)
        assert "missing" in message and repr(first) in message
        assert (f"and {len(dropped) - 3} more" in message) == (len(dropped) > 3)
    if added:
        assert "unexpected" in message and repr(added[0]) in message
        assert (f"and {len(added) - 3} more" in message) == (len(added) > 3)

    message = str(_error(lambda: read_csv(path, target="price")))
    assert len(message) < 300 + len(str(path)), message


def test_the_predict_command_bounds_the_feature_count_message(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cr.save(_model(), "bare.safetensors")
    header = [f"feature_{i}" for i in range(600)]
    Path("wide.csv").write_text(",".join(header) + "\n" + ",".join("1" * 600) + "\n")
    assert main(["predict", "bare.safetensors", "wide.csv"]) == 2
    err = capsys.readouterr().err.strip()
    assert "reads 2 features" in err and "and 597 more" in err
    assert len(err) < 300, err


# -- Unicode normalisation and the caller's hint -----------------------------------------
@SETTINGS
@given(
    name=st.text(
        alphabet="abcéèüñçåøÅÉ\u0301\u0308", min_size=1, max_size=6
    ).filter(lambda s: not unicodedata.combining(s[0])),
    form=st.sampled_from(["NFC", "NFD"]),
)
@pytest.mark.usefixtures("engine")  # with pandas' parser and the NumPy-only one
def test_names_that_differ_only_in_normalisation_match(tmp_path_factory, name, form):
    other = "NFD" if form == "NFC" else "NFC"
    in_file, asked = unicodedata.normalize(form, name), unicodedata.normalize(other, name)
    path = tmp_path_factory.mktemp("nfc") / "data.csv"
    path.write_text(f"{in_file},target_{in_file}\n1,2\n3,4\n", encoding="utf-8")
    data = read_csv(path, target=f"target_{asked}", feature_names=[asked])
    assert data.X.tolist() == [[1.0], [3.0]]
    assert data.feature_names == [unicodedata.normalize("NFC", name)]


def test_the_hint_for_unexpected_columns_fits_the_caller(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("data.csv").write_text("a,b,extra,price\n1,2,3,4\n")
    library = str(_error(lambda: read_csv("data.csv", feature_names=["a", "b"])))
    assert "pass target=" in library and "ignore=" in library
    model = cr.nn.Sequential(cr.nn.Linear(2, 1, rng=0))
    prep = Preprocessing(feature_names=["a", "b"], target_name="price", task="regression")
    cr.save(model, "m.safetensors", preprocessing=prep)
    assert main(["predict", "m.safetensors", "data.csv"]) == 2
    err = capsys.readouterr().err
    assert "unexpected 'extra'" in err
    assert "target=" not in err and "ignore=" not in err
    assert "'price' is left out already" in err and "delete the unexpected columns" in err
    argv = ["explain", "--model", "m.safetensors", "--csv", "data.csv", "--target", "price"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "unexpected 'extra'" in err and "delete the unexpected columns" in err
    assert "target=" not in err and "ignore=" not in err


# -- input named for what it is ----------------------------------------------------------
FRAME = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.2, 0.3]})
ODD_INPUTS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "sparse csr": (sp.csr_matrix(np.eye(4, 2)), ("sparse", ".toarray()")),
    "sparse coo array": (sp.coo_array(np.eye(4, 2)), ("sparse", ".toarray()")),
    "categorical column": (
        FRAME.assign(b=pd.Categorical(["x", "y", "x", "y"])),
        ("column 'b' is categorical", "encode"),
    ),
    "pd.NA": (FRAME.assign(b=pd.array([1, 2, None, 4], dtype="Int64")), ("pd.NA", "row 2")),
    "None in an object array": (
        np.array([[1.0, 2.0], [3.0, None], [1.0, 1.0], [2.0, 2.0]], dtype=object),
        ("missing value (None)", "row 1, column 1"),
    ),
}


@pytest.mark.parametrize("case", ODD_INPUTS)
@pytest.mark.parametrize("caller", ["fit", "MLPClassifier", "MLPRegressor"])
def test_odd_input_is_named_for_what_it_is(case, caller):
    X, fragments = ODD_INPUTS[case]
    y = np.array([0, 1, 0, 1])
    call = {
        "fit": _fit(X=X, y=y.astype(float)),
        "MLPClassifier": lambda: MLPClassifier(max_iter=1).fit(X, y),
        "MLPRegressor": lambda: MLPRegressor(max_iter=1).fit(X, y),
    }[caller]
    if caller != "fit" and case == "None in an object array":
        pytest.skip("scikit-learn reads None in an object array as NaN itself")
    message = str(_error(call))
    for fragment in fragments:
        assert fragment in message, message
    assert "object" not in message and "non-finite" not in message, message


def test_valid_nullable_columns_train():
    frame = FRAME.assign(b=pd.array([1, 2, 3, 4], dtype="Int64"))
    history = _fit(X=frame)()
    assert np.isfinite(history["loss"]).all()


@SETTINGS
@given(
    value=st.floats(3.5e38, 1e300),
    sign=st.sampled_from([1, -1]),
    row=st.integers(0, 4),
    column=st.integers(0, 1),
    where=st.sampled_from(["X", "y"]),
)
def test_finite_values_beyond_float32_are_named_not_called_non_finite(
    value, sign, row, column, where
):
    X, y = np.ones((5, 2)), np.ones(5)
    if where == "X":
        X[row, column] = sign * value
    else:
        y[row] = sign * value
    message = str(_error(_fit(X=X, y=y)))
    position = f"row {row}, column {column}" if where == "X" else f"row {row}"
    assert f"{where} value {sign * value:g} at {position} is too large" in message, message
    assert "float32" in message and "model.double()" in message
    assert "non-finite" not in message
    _fit(X=X, y=y, model=_model().double(), epochs=0)()  # a float64 model takes it


# -- every fit argument of the wrong kind is refused by name ------------------------------
class _NotACallback:
    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        pass


WRONG = st.one_of(
    st.sampled_from([None, "x", b"x", 1.5, -3, object(), [1], {"a": 1}, np.float64(2.5)]),
    st.text(max_size=3),
    st.integers(-5, -1),
)
WRONG_ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from([None, "mlp", 3, [cr.nn.Linear(2, 1)], np.ones((2, 1))]),
    "loss": st.sampled_from([None, 3, "hinge", np.ones(2), "mse "]),
    "optimizer": st.sampled_from([None, 3, "lbfgs", cr.optim.SGD]),
    "epochs": st.sampled_from([None, -1, 2.5, "3", np.float64(1)]),
    "batch_size": st.sampled_from([0, -1, 2.5, "3", np.float64(1)]),
    "shuffle": st.sampled_from(["no", 2, None, 0.5, [True]]),
    "validation_split": st.sampled_from(["0.2", 1.5, -0.1, [0.2], 1]),
    "validation_data": st.sampled_from([3, "data", (np.ones((2, 2)),), [1, 2, 3]]),
    "metrics": st.sampled_from([None, 3, [3], ["accurate"], [None]]),
    "callbacks": st.sampled_from([None, 1, "early", [1], [_NotACallback()], [None]]),
    "verbose": st.sampled_from([3, -1, "loud", None, np.int64(5)]),
    "rng": st.sampled_from(["seed", -1, 1.5, [1], np.float64(1)]),
    "checkpoint_dir": st.sampled_from([3, 1.5, ["dir"], b"dir"]),
    "resume": st.sampled_from(["yes", 2, None, 0.5]),
    "nan_guard": st.sampled_from(["no", 2, None, 0.5]),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), argument=st.sampled_from(sorted(WRONG_ARGUMENTS)))
def test_every_fit_argument_of_the_wrong_kind_is_refused_by_name(data, argument):
    value = data.draw(WRONG_ARGUMENTS[argument])
    error = _error(_fit(**{argument: value}))
    message = str(error)
    named = {"validation_data": "validation_data", "metrics": "metric"}.get(argument, argument)
    assert named in message, (argument, value, message)
    assert not NUMPY_REPR.search(message), message
    if argument == "nan_guard":
        # Every accepted value is named, "raise" included.
        assert "'raise'" in message, message


def test_a_loss_that_returns_no_tensor_is_named():
    for returned in (1.0, np.float32(1.0), np.ones(1), None):
        message = str(_error(_fit(loss=lambda pred, target, r=returned: r)))
        assert message.startswith("loss must return a Tensor"), message
    message = str(_error(_fit(loss=lambda pred, target: pred)))
    assert "loss must return a single number" in message


def test_an_optimizer_over_another_models_parameters_is_refused():
    other = _model()
    message = str(_error(_fit(optimizer=cr.optim.Adam(other.parameters()))))
    assert "optimizer holds none of the model's parameters" in message
    model = _model()
    before = [p.data.copy() for p in model.parameters()]
    _fit(model=model, optimizer=cr.optim.SGD(model.parameters(), lr=0.1))()
    assert any((p.data != b).any() for p, b in zip(model.parameters(), before, strict=True))


# -- prediction CSVs and spreadsheets ----------------------------------------------------
@SETTINGS
@given(text=st.text(max_size=8))
def test_no_text_cell_starts_a_formula(text):
    cell = _cell(text)
    assert not cell.startswith(_FORMULA_STARTS)
    assert cell in (text, "'" + text)
    assert (cell == text) == (not text.startswith(_FORMULA_STARTS))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    labels=st.lists(
        st.tuples(st.sampled_from(_FORMULA_STARTS + ("", "x")), st.text("ab1(|!", max_size=5)),
        min_size=2,
        max_size=4,
        unique_by=lambda pair: "".join(pair),
    ).map(lambda pairs: ["".join(pair) for pair in pairs])
)
def test_prediction_csvs_hold_no_formula(tmp_path_factory, labels):
    folder = tmp_path_factory.mktemp("labels")
    model = cr.nn.Sequential(cr.nn.Linear(2, len(labels), rng=0))
    prep = Preprocessing(
        feature_names=["a", "b"], target_name="=target", task="classification", classes=labels
    )
    cr.save(model, folder / "m.safetensors", preprocessing=prep)
    (folder / "data.csv").write_text("a,b\n" + "\n".join(f"{i},{-i}" for i in range(12)) + "\n")
    out = folder / "out.csv"
    assert main(["predict", str(folder / "m.safetensors"), str(folder / "data.csv"),
                 "--out", str(out)]) == 0  # fmt: skip
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    cells = rows[0] + [row[0] for row in rows[1:]]
    assert not [cell for cell in cells if cell.startswith(_FORMULA_STARTS)], cells
    assert rows[0][0] == "'=target"
    assert {row[0] for row in rows[1:]} <= {_cell(label) for label in labels}


def test_regression_outputs_stay_numbers(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = cr.nn.Sequential(cr.nn.Linear(1, 1, rng=0))
    model[0].weight.data[...] = -1.5
    model[0].bias.data[...] = 0
    prep = Preprocessing(feature_names=["a"], target_name="-price", task="regression")
    cr.save(model, "m.safetensors", preprocessing=prep)
    Path("data.csv").write_text("a\n1\n2\n")
    assert main(["predict", "m.safetensors", "data.csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["'-price", "-1.5", "-3"]
