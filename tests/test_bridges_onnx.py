"""ONNX export, checked with onnx.checker and run with onnxruntime.

Generated networks over every layer type, bias kind and dtype give the outputs
chainrule gives (float32: to 1e-5 relative) for any batch size; a model trained by
``chainrule train`` is exported with its standardisation, so the graph takes the raw
CSV rows and answers as ``chainrule predict`` does. A failed export writes nothing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import chainrule as cr
from bridge_networks import ACTIVATION_TYPES, BIAS_KINDS, inputs_for, networks, relative_error
from chainrule.cli import main

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

nn = cr.nn
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def _run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"features": x})
    return output


def _outputs(model, x):
    with cr.no_grad():
        return model(x).data


@SETTINGS
@given(networks())
def test_exported_networks_compute_chainrules_outputs_for_any_batch_size(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    cr.export_onnx(model, path)
    onnx.checker.check_model(str(path), full_check=True)
    for rows in (1, 7):
        x = inputs_for(model, rows=rows, seed=rows)
        theirs = _run(path, x)
        assert theirs.dtype == model.dtype and theirs.shape == _outputs(model, x).shape
        assert relative_error(_outputs(model, x), theirs) <= TOLERANCE[model.dtype]


@pytest.mark.parametrize("activation", ACTIVATION_TYPES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("bias", BIAS_KINDS, ids=str)
def test_every_layer_type_and_bias_kind_is_exported(tmp_path, activation, bias):
    model = nn.Sequential(nn.Linear(3, 4, bias=bias, rng=0), activation(), nn.Linear(4, 2, rng=1))
    path = cr.export_onnx(model, tmp_path / "m.onnx")
    x = inputs_for(model, rows=5)
    assert relative_error(_outputs(model, x), _run(path, x)) <= 1e-5
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["features"]
    assert [o.name for o in graph.output] == ["output"]
    batch, width = graph.input[0].type.tensor_type.shape.dim
    assert batch.dim_param == "batch" and width.dim_value == 3


def _table(path, rows, classify, seed=0):
    rng = np.random.default_rng(seed)
    area = rng.uniform(40, 250, rows)
    year = rng.integers(1950, 2024, rows)
    price = 2000 * area + 300 * (year - 1950) + rng.normal(0, 5000, rows)
    label = np.where(price > np.median(price), "dear", "cheap")
    target = label if classify else np.round(price, 2)
    lines = ["area,year,price"] + [f"{a:.1f},{y},{t}" for a, y, t in zip(area, year, target)]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("classify", [False, True], ids=["regression", "classification"])
def test_a_trained_model_takes_raw_rows_and_answers_as_predict_does(
    tmp_path, monkeypatch, capsys, classify
):
    monkeypatch.chdir(tmp_path)
    _table(tmp_path / "houses.csv", 60, classify)
    assert main(["train", "houses.csv", "--target", "price", "--epochs", "5", "--quiet"]) == 0
    assert main(["export", "model.safetensors", "--format", "onnx", "--out", "h.onnx"]) == 0
    output = "probabilities" if classify else "prediction"
    assert capsys.readouterr().out.strip().endswith(f"output '{output}'")

    loaded = cr.io.load_model_file("model.safetensors")
    prep = loaded.preprocessing
    raw = cr.data.read_csv("houses.csv", target="price").X.astype(np.float64)
    with cr.no_grad():
        outputs = loaded.model(prep.transform(raw).astype(loaded.model.dtype)).data
    outputs = outputs.astype(np.float64)
    if classify:
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        expected = shifted / shifted.sum(axis=1, keepdims=True)
    else:
        expected = prep.target_scaler.inverse_transform(outputs)
    proto = onnx.load("h.onnx")
    assert [o.name for o in proto.graph.output] == [output]
    assert relative_error(expected, _run("h.onnx", raw)) <= 1e-5
    metadata = {prop.key: json.loads(prop.value) for prop in proto.metadata_props}
    assert metadata["feature_names"] == ["area", "year"]
    assert metadata["target_name"] == "price"
    if classify:
        assert metadata["classes"] == ["cheap", "dear"]


def test_a_path_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cr.save(nn.Sequential(nn.Linear(2, 1)), "model.safetensors")
    (tmp_path / "folder").mkdir()
    for out in ("missing/model.onnx", "folder", "model.safetensors"):
        before = sorted(p.name for p in tmp_path.rglob("*"))
        assert main(["export", "model.safetensors", "--out", out]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("chainrule export: error:")
        assert out in err
        assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_layer_onnx_cannot_express_is_named_and_nothing_is_written(
    tmp_path, monkeypatch, capsys
):
    from chainrule.bridges import equivalents

    # No layer of chainrule lacks an ONNX operator today: pretend that Tanh does.
    monkeypatch.setitem(equivalents.SPELLINGS, "Tanh", ("Tanh", "TanhOfSorts"))
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
    with pytest.raises(TypeError, match="Tanh at position 1 cannot be exported: ONNX has no"):
        cr.export_onnx(model, tmp_path / "m.onnx")
    cr.save(model, tmp_path / "model.safetensors")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "model.safetensors", "--out", "m.onnx"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Tanh at position 1" in err
    assert not (tmp_path / "m.onnx").exists()


def test_what_no_onnx_graph_can_hold_is_refused(tmp_path):
    with pytest.raises(TypeError, match="MSELoss at position 1 is not supported"):
        cr.export_onnx(nn.Sequential(nn.Linear(2, 2), nn.MSELoss()), tmp_path / "m.onnx")
    mixed = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1, dtype=np.float64))
    with pytest.raises(TypeError, match=r"mixes parameter dtypes \(float32, float64\)"):
        cr.export_onnx(mixed, tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())
