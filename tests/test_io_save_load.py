"""chainrule.save / chainrule.load: identical round trips, preprocessing, atomic writes."""

from __future__ import annotations

import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import Standardizer
from chainrule.io import Preprocessing, atomic_write, load_model_file


def _model(dtype=np.float32) -> cr.nn.Sequential:
    return cr.nn.Sequential(
        cr.nn.Linear(4, 6, rng=0, dtype=dtype),
        cr.nn.LeakyReLU(0.2),
        cr.nn.Linear(6, 5, bias="shared", rng=1, dtype=dtype),
        cr.nn.Sigmoid(),
        cr.nn.Linear(5, 3, bias=False, rng=2, dtype=dtype),
        cr.nn.Softmax(),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_identical(tmp_path, dtype):
    model = _model(dtype)
    path = tmp_path / "model.safetensors"
    cr.save(model, path)
    loaded = cr.load(path)
    assert repr(loaded) == repr(model)
    assert loaded.get_config() == model.get_config()
    original, restored = model.state_dict(), loaded.state_dict()
    assert list(original) == list(restored)
    for name, value in original.items():
        assert restored[name].dtype == value.dtype
        np.testing.assert_array_equal(restored[name], value)
    X = np.random.default_rng(0).normal(size=(7, 4)).astype(dtype)
    np.testing.assert_array_equal(loaded(X).data, model(X).data)
    cr.save(loaded, tmp_path / "again.safetensors")
    assert (tmp_path / "again.safetensors").read_bytes() == path.read_bytes()


def test_preprocessing_is_stored_with_the_model(tmp_path):
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(20, 4))
    prep = Preprocessing(
        feature_names=["a", "b", "c", "d"],
        target_name="kind",
        task="classification",
        classes=["cat", "dog", "eel"],
        scaler=Standardizer().fit(X),
    )
    cr.save(_model(), tmp_path / "m.safetensors", preprocessing=prep)
    loaded = load_model_file(tmp_path / "m.safetensors")
    assert loaded.version == 1
    restored = loaded.preprocessing
    assert restored.feature_names == ["a", "b", "c", "d"] and restored.classes == [
        "cat",
        "dog",
        "eel",
    ]
    assert restored.task == "classification" and restored.target_name == "kind"
    np.testing.assert_array_equal(restored.transform(X), prep.transform(X))
    assert restored.target_scaler is None


def test_no_pickle_anywhere_in_the_file(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save(_model(), path)
    data = path.read_bytes()
    header = data[8 : 8 + int.from_bytes(data[:8], "little")]
    assert header.startswith(b'{"__metadata__":{"chainrule":"{')
    assert b"\x80\x04" not in header and b"pickle" not in header


def test_a_failed_write_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "model.safetensors"
    cr.save(_model(), path)
    before = path.read_bytes()

    def crash_half_way(handle):
        handle.write(b"partial")
        raise RuntimeError("disk unplugged")

    with pytest.raises(RuntimeError, match="disk unplugged"):
        atomic_write(path, crash_half_way)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.safetensors"]  # no temporary file left


def test_a_crash_before_the_rename_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    cr.save(_model(), path)
    before = path.read_bytes()

    def failing_replace(source, target):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", failing_replace)
    bigger = cr.nn.Sequential(cr.nn.Linear(4, 50), cr.nn.Linear(50, 1))
    with pytest.raises(OSError, match="power cut"):
        cr.save(bigger, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.safetensors"]


def test_atomic_write_syncs_file_and_folder(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    atomic_write(tmp_path / "x.bin", lambda handle: handle.write(b"data"))
    assert len(synced) == 2  # the temporary file, then the folder
    assert (tmp_path / "x.bin").read_bytes() == b"data"


def test_new_files_get_the_usual_permissions(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save(_model(), path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        cr.save(_model(), tmp_path / "missing" / "m.safetensors")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        cr.save(_model(), tmp_path)
    with pytest.raises(TypeError, match="takes a chainrule Module"):
        cr.save({"weight": np.zeros(2)}, tmp_path / "m.safetensors")

    class Custom(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = cr.nn.Parameter(np.zeros(2))

    with pytest.raises(TypeError, match="does not describe its architecture"):
        cr.save(Custom(), tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def test_summary_lists_layers_shapes_and_parameters():
    text = _model().summary()
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "(type)", "Output", "shape", "Param", "#"]
    assert "0 (Linear)" in lines[2] and "(N, 6)" in lines[2] and lines[2].endswith("30")
    assert "2 (Linear)" in lines[4] and lines[4].endswith("31")  # 6 * 5 weights + 1 shared bias
    assert "5 (Softmax)" in lines[7] and "(N, 3)" in lines[7]
    assert "Total params: 76" in text and "Trainable params: 76" in text
