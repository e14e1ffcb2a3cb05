"""Loading damaged, truncated, oversized or foreign files: one clear error, nothing run."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile

import numpy as np
import pytest
from safetensors.numpy import save as save_safetensors

import chainrule as cr
from chainrule.io import ModelFileError

SIDE_EFFECT = "pickle-payload-ran"


class _Payload:
    """Unpickling this would create a file: loading must never do that."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _valid(tmp_path) -> bytes:
    model = cr.nn.Sequential(cr.nn.Linear(2, 3, rng=0), cr.nn.ReLU(), cr.nn.Linear(3, 1, rng=1))
    cr.save(model, tmp_path / "valid.safetensors")
    return (tmp_path / "valid.safetensors").read_bytes()


def _with_header(data: bytes, change) -> bytes:
    """The file with its JSON header edited by ``change`` (offsets kept)."""
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    change(header)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data[8 + length :]


def _with_info(data: bytes, change) -> bytes:
    def edit(header):
        info = json.loads(header["__metadata__"]["chainrule"])
        change(info)
        header["__metadata__"]["chainrule"] = json.dumps(info)

    return _with_header(data, edit)


def _expect(tmp_path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message) as info:
        cr.load(path)
    assert "\n" not in str(info.value)
    assert not (tmp_path / SIDE_EFFECT).exists()


def test_a_renamed_pickle_is_refused_without_running_it(tmp_path):
    content = pickle.dumps({"weight": _Payload(str(tmp_path / SIDE_EFFECT))})
    _expect(tmp_path, content, "a Python pickle .*never loads pickles")


def test_a_zip_archive_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.pkl", pickle.dumps([1, 2, 3]))
    _expect(tmp_path, buffer.getvalue(), "a zip archive")


@pytest.mark.parametrize("size", [0, 5, 64, 4096])
def test_random_bytes_and_tiny_files_are_refused(tmp_path, size):
    content = np.random.default_rng(size).integers(0, 256, size).astype(np.uint8).tobytes()
    _expect(tmp_path, content, "truncated|not a safetensors file|not a chainrule model")


def test_truncated_files_are_refused(tmp_path):
    data = _valid(tmp_path)
    for cut in (3, 8, 40, len(data) - 1):
        _expect(tmp_path, data[:cut], "truncated|not a safetensors file|not valid JSON")


def test_extra_bytes_are_refused(tmp_path):
    _expect(tmp_path, _valid(tmp_path) + b"\0\0\0\0", "truncated or has extra data")


def test_an_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.safetensors"
    path.write_bytes(_valid(tmp_path))
    with pytest.raises(ModelFileError, match="more than the limit of 100"):
        cr.load(path, max_bytes=100)


def test_a_huge_header_length_is_refused(tmp_path):
    data = _valid(tmp_path)
    _expect(tmp_path, struct.pack("<Q", 2**62) + data[8:], "not a safetensors file")


def test_header_problems_are_refused(tmp_path):
    data = _valid(tmp_path)
    length = int.from_bytes(data[:8], "little")
    broken = data[:8] + b"{" + b"x" * (length - 1) + data[8 + length :]
    _expect(tmp_path, broken, "header is not valid JSON")

    def bad_dtype(header):
        header["0.weight"]["dtype"] = "U8"

    _expect(tmp_path, _with_header(data, bad_dtype), "dtype 'U8'")

    def bad_shape(header):
        header["0.weight"]["shape"] = [3, 3]

    _expect(tmp_path, _with_header(data, bad_shape), "needs 36 bytes")

    def overlapping(header):
        header["0.bias"]["data_offsets"] = header["0.weight"]["data_offsets"][:]
        header["0.bias"]["shape"] = [2, 3]

    _expect(tmp_path, _with_header(data, overlapping), "overlap or leave gaps")

    def negative_shape(header):
        header["0.weight"]["shape"] = [-2, 3]

    _expect(tmp_path, _with_header(data, negative_shape), "invalid shape")


def test_a_plain_safetensors_file_is_not_a_model(tmp_path):
    _expect(
        tmp_path, save_safetensors({"w": np.zeros(3, np.float32)}), "without chainrule metadata"
    )


def test_metadata_problems_are_refused(tmp_path):
    data = _valid(tmp_path)
    _expect(tmp_path, _with_info(data, lambda info: info.update(version=99)), "newer chainrule")
    _expect(tmp_path, _with_info(data, lambda info: info.update(format="x")), "is 'x', not a model")

    def unknown_layer(info):
        info["config"]["layers"][1] = {"type": "Popen", "args": ["rm", "-rf", "/"]}

    _expect(tmp_path, _with_info(data, unknown_layer), "cannot be built: unknown module type")

    def memory_bomb(info):
        info["config"]["layers"][0].update(in_features=100000, out_features=100000)

    _expect(tmp_path, _with_info(data, memory_bomb), "invalid sizes|needs .* weights")

    def deep(info):
        config = {"type": "Sequential", "layers": []}
        for _ in range(200):
            config = {"type": "Sequential", "layers": [config]}
        info["config"] = config

    _expect(tmp_path, _with_info(data, deep), "nested too deeply")

    def bad_classes(info):
        info["preprocessing"]["classes"] = [{"__class__": "os.system"}]

    _expect(tmp_path, _with_info(data, bad_classes), "invalid preprocessing")

    def bad_scaler(info):
        info["preprocessing"]["scaler"] = {"type": "Standardizer", "mean": [0, 0], "scale": [0, 1]}

    _expect(tmp_path, _with_info(data, bad_scaler), "invalid preprocessing")


def test_weights_that_do_not_match_the_architecture_are_refused(tmp_path):
    data = _valid(tmp_path)

    def wider(info):
        info["config"]["layers"][2]["out_features"] = 2

    _expect(tmp_path, _with_info(data, wider), r"do not match the stored architecture")


def test_a_checkpoint_is_not_a_model_file(tmp_path):
    X, y = cr.data.xor()
    model = cr.nn.Sequential(cr.nn.Linear(2, 2))
    cr.fit(model, X, y, loss="cross-entropy", epochs=1, checkpoint_dir=tmp_path / "c", verbose=0)
    with pytest.raises(ModelFileError, match="is a training checkpoint, not a model file"):
        cr.load(tmp_path / "c" / "checkpoint.safetensors")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        cr.load(tmp_path / "nothing.safetensors")
    with pytest.raises(ModelFileError, match="is a folder"):
        cr.load(tmp_path)
