"""The loader judges the whole model, and save refuses what the loader would refuse.

Files that are well-formed containers can still describe a model that cannot work: a
loss in the layer list, NaN or infinite weights, attributes outside their range, class
labels that do not match the outputs, layers that do not chain, or hundreds of
thousands of layers. Each is refused by ``load`` with one ``ModelFileError`` naming the
problem, and by ``save`` with a ValueError before anything is written. ``predict`` and
``evaluate`` never print a non-finite number: a row whose values overflow is named and
the command ends with status 2. Files that :func:`chainrule.save` would refuse are
written here with the container writer directly.
"""

from __future__ import annotations

import inspect
import io
import re
import tempfile
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule._container import write_tensors
from chainrule.cli import main
from chainrule.data import Standardizer
from chainrule.io import MAX_LAYERS, ModelFileError, Preprocessing

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write(path: Path, config: dict, state: dict[str, np.ndarray], prep: dict | None = None):
    """A model file as save() would write it, without save()'s checks."""
    info = {"config": config, "preprocessing": prep or Preprocessing().to_dict()}
    write_tensors(path, state, info, "chainrule.model")


def _write_model(path: Path, model: nn.Module, prep: Preprocessing | None = None) -> None:
    _write(path, model.get_config(), model.state_dict(), (prep or Preprocessing()).to_dict())


def _refused(path: Path, *fragments: str) -> str:
    with pytest.raises(ModelFileError) as caught:
        cr.load(path)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning fails the test
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


# -- only layer types in a layer list ---------------------------------------------------
def _exported_classes() -> dict[str, type]:
    return {name: getattr(nn, name) for name in nn.__all__ if isinstance(getattr(nn, name), type)}


def _layer_config(cls: type) -> dict[str, Any]:
    """The config of a default instance of a layer type (Linear needs its sizes)."""
    needed = [
        p for p in inspect.signature(cls).parameters.values() if p.default is p.empty
    ]
    layer = cls(2, 2) if needed else cls()
    return layer.get_config()


def test_the_layer_types_are_the_layer_classes_and_no_loss_is_one():
    classes = _exported_classes()
    layers = {
        n for n, c in classes.items()
        if c.__module__ in ("chainrule.nn.layers", "chainrule.nn.activations")
    }
    losses = {n for n, c in classes.items() if c.__module__ == "chainrule.nn.loss"}
    assert {"MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss"} <= losses
    assert set(nn.LAYER_TYPES) == layers - {"Layer"}
    assert not losses & set(nn.LAYER_TYPES)
    assert all(issubclass(cls, nn.Layer) for cls in nn.LAYER_TYPES.values())


@pytest.mark.parametrize("name", sorted(set(_exported_classes()) - {"Sequential"}))
def test_a_layer_list_holds_layer_types_only(tmp_path, name):
    """Every class nn exports, put in a file's layer list after a Linear layer: the
    layer types load and compute; losses, base classes and the rest are refused."""
    linear = nn.Linear(2, 2, rng=0)
    cls = _exported_classes()[name]
    entry = _layer_config(cls) if name in nn.LAYER_TYPES else {"type": name}
    config = {"type": "Sequential", "layers": [linear.get_config(), entry]}
    state = {f"0.{k}": v for k, v in linear.state_dict().items()}
    if name == "Linear":
        state |= {f"1.{k}": v for k, v in nn.from_config(entry).state_dict().items()}
    path = tmp_path / "m.safetensors"
    _write(path, config, state)
    if name in nn.LAYER_TYPES:
        model = cr.load(path)
        assert isinstance(model[1], cls)
        assert model(np.ones((3, 2), np.float32)).shape[0] == 3
        return
    what = "is a loss, not a layer type" if cls.__module__.endswith(".loss") else (
        "is not a layer type"
    )
    _refused(path, repr(name), what, "Sequential and the layer types Identity")
    code, out, err = _cli("summary", path)
    assert code == 2 and out == "" and err.count("\n") == 1 and what in err


def test_nested_sequential_containers_load():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU()), nn.Linear(3, 1))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.safetensors"
        cr.save(model, path)
        assert cr.load(path).get_config() == model.get_config()


def test_save_refuses_a_loss_among_the_layers(tmp_path):
    model = nn.Sequential(nn.Linear(2, 1), nn.MSELoss())
    with pytest.raises(ValueError, match="'MSELoss' in config is a loss, not a layer type"):
        cr.save(model, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


# -- non-finite parameters ----------------------------------------------------------------
@st.composite
def models(draw: st.DrawFn) -> nn.Sequential:
    """Sequentials of 1-4 Linear layers (any bias kind, float16/32/64) with activations."""
    dtype = draw(st.sampled_from(["float16", "float32", "float64"]))
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=5))
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        bias = draw(st.sampled_from([True, False, "shared"]))
        layers.append(nn.Linear(n_in, n_out, bias=bias, dtype=dtype, rng=draw(st.integers(0, 9))))
        activation = draw(st.sampled_from(["ReLU", "Tanh", "Sigmoid", "LeakyReLU", None]))
        if activation:
            layers.append(getattr(nn, activation)())
    return nn.Sequential(*layers)


@SETTINGS
@given(model=models(), data=st.data())
def test_non_finite_parameters_are_refused_by_save_and_load(model, data):
    names = [name for name, _ in model.named_parameters()]
    name = data.draw(st.sampled_from(names))
    param = dict(model.named_parameters())[name]
    index = data.draw(st.tuples(*(st.integers(0, n - 1) for n in param.shape)))
    bad = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    param.data[index] = bad
    shown = f"parameter {name!r} holds {float(bad)} at index {index}"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.safetensors"
        with pytest.raises(ValueError, match="cannot save the model") as caught:
            cr.save(model, path)
        assert shown in str(caught.value)
        assert not path.exists()
        _write_model(path, model)
        message = _refused(path, shown, "the file is damaged or was saved from a model")
        assert message.startswith(str(path))


def test_a_large_parameter_is_checked_without_a_second_copy(tmp_path):
    import tracemalloc

    weight = np.zeros((1000, 1000), np.float32)
    weight[999, 998] = np.nan
    model = nn.Linear(1000, 1000, bias=False)
    model.weight.data = weight
    path = tmp_path / "m.safetensors"
    _write_model(path, model)
    tracemalloc.start()
    try:
        _refused(path, "parameter 'weight' holds nan at index (999, 998)")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < weight.nbytes + 2**20


# -- attributes in range ------------------------------------------------------------------
OUT_OF_RANGE = [
    ({"type": "LeakyReLU", "negative_slope": 1e308}, "negative_slope"),
    ({"type": "LeakyReLU", "negative_slope": -0.5}, "negative_slope"),
    ({"type": "LeakyReLU", "negative_slope": 1.5}, "negative_slope"),
    ({"type": "LeakyReLU", "negative_slope": "0.1"}, "negative_slope"),
    ({"type": "LeakyReLU", "negative_slope": True}, "negative_slope"),
    ({"type": "LeakyReLU", "negative_slope": None}, "negative_slope"),
    ({"type": "Softmax", "axis": 1.5}, "axis"),
    ({"type": "Softmax", "axis": 10**6}, "axis"),
    ({"type": "Softmax", "axis": True}, "axis"),
    ({"type": "Softmax", "axis": "1"}, "axis"),
    ({"type": "ReLU", "slope": 2}, "unexpected keyword"),
]


@pytest.mark.parametrize(("entry", "attribute"), OUT_OF_RANGE)
def test_out_of_range_attributes_are_refused_in_code_in_files_and_by_save(
    tmp_path, entry, attribute
):
    kind = getattr(nn, entry["type"])
    args = {k: v for k, v in entry.items() if k != "type"}
    with pytest.raises((ValueError, TypeError), match=attribute):
        kind(**args)
    linear = nn.Linear(2, 2, rng=0)
    path = tmp_path / "m.safetensors"
    _write(path, {"type": "Sequential", "layers": [linear.get_config(), entry]},
           {f"0.{k}": v for k, v in linear.state_dict().items()})  # fmt: skip
    _refused(path, "cannot be built", attribute)
    if entry["type"] == "LeakyReLU" and isinstance(args["negative_slope"], float):
        model = nn.Sequential(linear, nn.LeakyReLU())
        model[1].negative_slope = args["negative_slope"]  # changed after construction
        with pytest.raises(ValueError, match="cannot save the model: LeakyReLU: negative_slope"):
            cr.save(model, tmp_path / "saved.safetensors")
        assert not (tmp_path / "saved.safetensors").exists()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 2), "in_features must be a positive integer, got 0"),
        ((2, 2**31), "out_features must be a positive integer, got 2147483648"),
        ((2.0, 2), "in_features must be a positive integer, got 2.0"),
        ((True, 2), "in_features must be a positive integer, got True"),
        ((np.int64(-3), 2), "in_features must be a positive integer, got -3"),
    ],
)
def test_linear_sizes_are_positive_and_bounded(args, match):
    with pytest.raises(ValueError, match=match):
        nn.Linear(*args)


@pytest.mark.parametrize(("bias", "dtype"), [(1, "float32"), ("yes", "float32"),
                                             (True, "int32"), (True, "complex64")])  # fmt: skip
def test_linear_bias_kind_and_dtype_are_checked(bias, dtype):
    with pytest.raises((ValueError, TypeError), match="bias must be|dtype must be"):
        nn.Linear(2, 2, bias=bias, dtype=dtype)


@pytest.mark.parametrize("slope", [0, 0.01, 0.3, 1, np.float32(0.2)])
def test_leaky_relu_takes_every_slope_in_its_range(slope):
    assert nn.LeakyReLU(slope).negative_slope == pytest.approx(float(slope))


# -- preprocessing ------------------------------------------------------------------------
def _scaler(mean: float, scale: float) -> Standardizer:
    scaler = Standardizer()
    scaler.mean_, scaler.scale_ = np.array([0.0, mean]), np.array([1.0, scale])
    return scaler


@pytest.mark.parametrize("field", ["scaler", "target_scaler"])
@pytest.mark.parametrize(
    ("mean", "scale"), [(np.nan, 1.0), (np.inf, 1.0), (0.0, np.inf), (0.0, 0.0), (0.0, -1.0)]
)
def test_scaling_statistics_must_be_finite_with_positive_scales(tmp_path, field, mean, scale):
    model = nn.Linear(2, 2, rng=0)
    prep = Preprocessing(task="regression", **{field: _scaler(mean, scale)})
    path = tmp_path / "m.safetensors"
    with pytest.raises(ValueError, match="cannot save the model: .*finite means and scales > 0"):
        cr.save(model, path, preprocessing=prep)
    assert not path.exists()
    _write_model(path, model, prep)
    _refused(path, "invalid preprocessing", "finite means and scales > 0")


# -- the model's width against its preprocessing ------------------------------------------
@pytest.mark.parametrize(("outputs", "classes"), [(1, ["no", "yes"]), (3, ["a", "b"]),
                                                  (2, ["a", "b", "c"])])  # fmt: skip
def test_class_labels_must_match_the_output_width(tmp_path, outputs, classes):
    model = nn.Sequential(nn.Linear(2, 4, rng=0), nn.ReLU(), nn.Linear(4, outputs, rng=1))
    prep = Preprocessing(feature_names=["a", "b"], target_name="y",
                         task="classification", classes=classes)  # fmt: skip
    path = tmp_path / "m.safetensors"
    expected = f"the model has {outputs} output(s) but the preprocessing holds {len(classes)}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        cr.save(model, path, preprocessing=prep)
    _write_model(path, model, prep)
    _refused(path, expected)
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    code, out, err = _cli("predict", path, tmp_path / "d.csv")
    assert (code, out) == (2, "") and err.count("\n") == 1 and expected in err
    assert "Traceback" not in err


def test_layers_that_do_not_chain_are_refused(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Tanh(), nn.Linear(4, 1, rng=1))
    path = tmp_path / "m.safetensors"
    with pytest.raises(ValueError, match="do not fit together: Linear.4, 1. expects 4 input"):
        cr.save(model, path)
    _write_model(path, model)
    _refused(path, "the layers do not fit together", "expects 4 input features")


def test_a_target_scaler_must_match_the_output_width(tmp_path):
    model = nn.Linear(2, 3, rng=0)
    prep = Preprocessing(task="regression", target_scaler=Standardizer().fit([[1.0], [2.0]]))
    path = tmp_path / "m.safetensors"
    _write_model(path, model, prep)
    _refused(path, "the model has 3 output(s) but the target scaling is for 1")


# -- the number of layers and linear walks -------------------------------------------------
def _identity_file(path: Path, counts: list[int]) -> None:
    """A model of one Linear layer and then Sequentials of ``counts`` Identity layers."""
    linear = nn.Linear(2, 2, rng=0)
    blocks = [{"type": "Sequential", "layers": [{"type": "Identity"}] * n} for n in counts]
    config = {"type": "Sequential", "layers": [linear.get_config(), *blocks]}
    _write(path, config, {f"0.{k}": v for k, v in linear.state_dict().items()})


def test_a_file_may_declare_up_to_max_layers(tmp_path):
    path = tmp_path / "m.safetensors"
    _identity_file(path, [MAX_LAYERS - 4, 1])  # + the Linear and the two Sequentials
    model = cr.load(path)
    assert sum(1 for _ in model.modules()) - 1 == MAX_LAYERS
    cr.save(model, tmp_path / "again.safetensors")
    assert cr.load(tmp_path / "again.safetensors").get_config() == model.get_config()


@pytest.mark.parametrize("counts", [[MAX_LAYERS], [MAX_LAYERS // 2, MAX_LAYERS // 2],
                                    [500_000]])  # fmt: skip
def test_a_file_declaring_more_layers_is_refused_before_building(tmp_path, counts):
    path = tmp_path / "m.safetensors"
    _identity_file(path, counts)
    _refused(path, f"declares more than {MAX_LAYERS:,} layers", "MAX_LAYERS")
    code, _, err = _cli("summary", path)
    assert code == 2 and "MAX_LAYERS" in err and err.count("\n") == 1


def test_save_refuses_more_than_max_layers(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2), *[nn.Identity() for _ in range(MAX_LAYERS)])
    with pytest.raises(ValueError, match=f"{MAX_LAYERS + 1:,} layers: model files hold at most"):
        cr.save(model, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


WIDE = 100_000  # walks that popped from a list's front took minutes at this width


@pytest.fixture(scope="module")
def wide_model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 2, rng=0), *[nn.Identity() for _ in range(WIDE)])


@pytest.mark.parametrize(
    "walk",
    [
        lambda m: sum(1 for _ in m.named_modules()),
        lambda m: sum(1 for _ in m.modules()),
        lambda m: list(m.named_parameters()),
        lambda m: m.state_dict(),
        lambda m: m.load_state_dict(m.state_dict()),
        lambda m: m.eval().train(),
        lambda m: m.zero_grad(),
        lambda m: m.num_parameters(),
        lambda m: nn.from_config(m.get_config(), initialize=False),
        lambda m: m.summary(),
    ],
    ids=["named_modules", "modules", "named_parameters", "state_dict", "load_state_dict",
         "train_eval", "zero_grad", "num_parameters", "get_config_from_config", "summary"],
)  # fmt: skip
def test_walks_over_a_hundred_thousand_layers_finish(wide_model, walk):
    walk(wide_model)


def test_named_modules_keeps_its_order():
    inner = nn.Sequential(nn.Linear(1, 2), nn.ReLU())
    model = nn.Sequential(nn.Linear(2, 1), inner, nn.Sequential(nn.Tanh()), nn.Identity())
    names = [name for name, _ in model.named_modules()]
    assert names == ["", "0", "1", "1.0", "1.1", "2", "2.0", "3"]
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.0.weight",
                                                        "1.0.bias"]  # fmt: skip


# -- predict and evaluate print finite numbers or name the row ------------------------------
CASES = {  # case: (dtype, weight, target scale, the bad cell's column and value)
    "input": ("float32", 1.0, None, (0, 1e300)),  # overflows float32 when scaled
    "output": ("float64", 1e10, None, (1, 1e300)),  # the output overflows
    "unscaled": ("float64", 1.0, 1e200, (0, 1e150)),  # the unscaled prediction overflows
    "score": ("float64", 1.0, None, (2, 1e300)),  # the squared error overflows (evaluate)
}


@st.composite
def overflowing_tables(draw: st.DrawFn) -> tuple[str, int, str]:
    """(case, 1-based bad row, CSV text): rows of small values, one of them holding a
    value that makes the model's input, output, unscaled prediction or error overflow."""
    case = draw(st.sampled_from(sorted(CASES)))
    n_rows = draw(st.integers(1, 6))
    bad = draw(st.integers(1, n_rows))
    rows = [[draw(st.floats(-3, 3)) for _ in range(3)] for _ in range(n_rows)]
    column, value = CASES[case][3]
    rows[bad - 1][column] = value
    text = "a,b,y\n" + "".join(",".join(repr(v) for v in row) + "\n" for row in rows)
    return case, bad, text


def _overflow_model(folder: Path, case: str) -> Path:
    dtype, weight, target_scale, _ = CASES[case]
    model = nn.Linear(2, 1, rng=0, dtype=dtype)
    model.weight.data[...] = weight
    scaler = None
    if target_scale is not None:
        scaler = Standardizer()
        scaler.mean_, scaler.scale_ = np.zeros(1), np.array([target_scale])
    prep = Preprocessing(feature_names=["a", "b"], target_name="y", task="regression",
                         target_scaler=scaler)  # fmt: skip
    path = folder / f"{case}.safetensors"
    cr.save(model, path, preprocessing=prep)
    return path


@SETTINGS
@given(table=overflowing_tables())
def test_predict_and_evaluate_name_the_row_that_overflows(table):
    case, bad, text = table
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        model = _overflow_model(folder, case)
        (folder / "d.csv").write_text(text)
        commands = ["evaluate"] if case == "score" else ["predict", "evaluate"]
        for command in commands:
            code, out, err = _cli(command, model, folder / "d.csv")
            assert code == 2, (command, out, err)
            assert err.count("\n") == 1 and f"row {bad}:" in err and "Traceback" not in err
            assert not {"nan", "inf"} & set(out.replace(",", " ").split())


def test_predict_prints_finite_values_for_ordinary_rows(tmp_path):
    model = _overflow_model(tmp_path, "output")
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,3\n-1,0.5,2\n")
    code, out, err = _cli("predict", model, tmp_path / "d.csv")
    assert code == 0 and err == ""
    values = [float(line) for line in out.splitlines()[1:]]
    assert len(values) == 2 and np.isfinite(values).all()
