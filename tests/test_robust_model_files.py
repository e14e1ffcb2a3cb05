"""Malformed model files, one named error each; loading's memory; nothing in a file runs.

Each class of damage below is refused with :class:`chainrule.io.ModelFileError` (a
ValueError) whose one-line message names the problem, by the library and by the
``chainrule summary`` command (exit status 2). A pickle canary proves that no pickled
code runs, and tracemalloc that loading needs the file's size plus a constant.
"""

from __future__ import annotations

import gc
import io
import json
import pickle
import random
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.io import ModelFileError, Preprocessing

CANARY = "canary-the-pickle-ran"
MiB = 2**20


class Canary:
    """Unpickling this creates the file ``path``: proof that pickled code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return (open, (self.path, "w"))


def _valid(folder: Path) -> bytes:
    model = cr.nn.Sequential(cr.nn.Linear(2, 3, rng=0), cr.nn.ReLU(), cr.nn.Linear(3, 1, rng=1))
    prep = Preprocessing(feature_names=["size", "rooms"], target_name="price", task="regression")
    cr.save(model, folder / "valid.safetensors", preprocessing=prep)
    return (folder / "valid.safetensors").read_bytes()


def _header(data: bytes) -> tuple[dict, bytes]:
    length = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def _with_header(data: bytes, change: Callable[[dict], object]) -> bytes:
    header, rest = _header(data)
    change(header)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + rest


def _offsets(name: str, begin: int, end: int, shape: list[int]) -> Callable[[dict], object]:
    def change(header: dict) -> None:
        header[name].update(data_offsets=[begin, end], shape=shape)

    return change


def _non_utf8_header(data: bytes) -> bytes:
    # A feature name's "z" (in "size") becomes the byte 0xff; the length stays the same.
    length = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + length].replace(b"size", b"si\xffe", 1)
    assert len(header) == length
    return data[:8] + header + data[8 + length :]


def _pickle(folder: Path) -> bytes:
    return pickle.dumps({"0.weight": Canary(str(folder / CANARY))})


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # the layout of a PyTorch .pt file
        archive.writestr("archive/data.pkl", _pickle(folder))
        archive.writestr("archive/version", "3\n")
    return buffer.getvalue()


def _oversized_header(data: bytes) -> bytes:
    # A header of 16 MiB + 2 bytes that the file really holds: more than the 16 MiB limit.
    text = b"{" + b" " * (16 * MiB) + b"}"
    return struct.pack("<Q", len(text)) + text


# name: (make the file from a valid one and the folder, words in the error). The valid
# file's tensors: 0.bias bytes [0, 12), 0.weight [12, 36), 2.bias [36, 40), 2.weight [40, 52).
MALFORMED: dict[str, tuple[Callable[[bytes, Path], bytes], str]] = {
    "empty file": (lambda data, folder: b"", "only 0 bytes long"),
    "header length only": (lambda data, folder: data[:8], "only 8 bytes long"),
    "header length larger than the file": (
        lambda data, folder: data[:8] + data[8:60],
        "truncated: its header alone should be",
    ),
    "oversized header": (lambda data, folder: _oversized_header(data), "more than the limit"),
    "non-UTF-8 header": (lambda data, folder: _non_utf8_header(data), "not UTF-8 text"),
    "invalid JSON": (
        lambda data, folder: data[:8] + b"{'" + data[10:],
        "header is not valid JSON",
    ),
    "overlapping offsets": (
        lambda data, folder: _with_header(data, _offsets("0.weight", 0, 24, [2, 3])),
        "byte ranges overlap or leave gaps",
    ),
    "out-of-file offsets": (
        lambda data, folder: _with_header(data, _offsets("2.weight", 40, 1040, [250])),
        "header describes 1040 bytes of weights but the file holds 52",
    ),
    "offsets that do not match shape x dtype": (
        lambda data, folder: _with_header(data, _offsets("0.weight", 12, 36, [2, 2])),
        "shape [2, 2] needs 16 bytes but its byte range holds 24",
    ),
    "trailing bytes": (lambda data, folder: data + b"\0" * 7, "truncated or has extra data"),
    "pickle payload renamed": (lambda data, folder: _pickle(folder), "a Python pickle"),
    "zip file": (lambda data, folder: _zip(folder), "a zip archive"),
    "random bytes": (
        lambda data, folder: random.Random(0).randbytes(len(data)),
        "not a safetensors file",
    ),
}


def test_the_canary_is_live(tmp_path):
    """Unpickling the payloads really would create the canary file."""
    pickle.loads(_pickle(tmp_path))
    assert (tmp_path / CANARY).exists()
    (tmp_path / CANARY).unlink()
    with zipfile.ZipFile(io.BytesIO(_zip(tmp_path))) as archive:
        pickle.loads(archive.read("archive/data.pkl"))
    assert (tmp_path / CANARY).exists()


@pytest.mark.parametrize("damage", list(MALFORMED))
def test_malformed_files_are_refused_with_a_named_error(tmp_path, damage):
    make, words = MALFORMED[damage]
    path = tmp_path / "model.safetensors"
    path.write_bytes(make(_valid(tmp_path), tmp_path))
    with pytest.raises(ModelFileError) as info:
        cr.load(path)
    message = str(info.value)
    assert type(info.value) is ModelFileError and isinstance(info.value, ValueError)
    assert words in message and "\n" not in message, message
    assert message.startswith(str(path)), message

    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        assert main(["summary", str(path)]) == 2
    assert err.getvalue() == f"chainrule summary: error: {message}\n"
    assert not (tmp_path / CANARY).exists()


def test_at_least_twelve_classes_are_covered():
    assert len(MALFORMED) >= 12


def _large_model() -> cr.nn.Sequential:
    # 2 x 1024 x 1024 float32 weights: an 8 MiB file
    return cr.nn.Sequential(
        cr.nn.Linear(1024, 1024, rng=0), cr.nn.Tanh(), cr.nn.Linear(1024, 1024, rng=1)
    )


def _peak_while(call: Callable[[], object]) -> tuple[object, int]:
    """``call()``'s result and the most memory allocated at once while it ran."""
    gc.collect()
    tracemalloc.start()
    try:
        result = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def test_loading_needs_the_file_size_plus_a_constant(tmp_path):
    model = _large_model()
    path = tmp_path / "large.safetensors"
    cr.save(model, path)
    size = path.stat().st_size
    assert size > 8 * MiB
    cr.load(path)  # once before measuring, so that lazy imports are not counted
    loaded, peak = _peak_while(lambda: cr.load(path))
    assert peak <= size + 1 * MiB, f"loading a {size}-byte file allocated {peak} bytes at peak"
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value)
    # the loaded weights are ordinary, writable arrays
    assert all(p.data.flags.writeable and p.data.flags.owndata for p in loaded.parameters())


def test_loading_a_damaged_large_file_allocates_almost_nothing(tmp_path):
    path = tmp_path / "large.safetensors"
    cr.save(_large_model(), path)
    data = path.read_bytes()
    path.write_bytes(data[:-1])
    with pytest.raises(ModelFileError, match="truncated or has extra data"):
        cr.load(path)
    _, peak = _peak_while(lambda: pytest.raises(ModelFileError, cr.load, path))
    assert peak < 1 * MiB


def test_loading_draws_no_random_numbers(tmp_path):
    cr.save(_large_model(), tmp_path / "m.safetensors")
    before = cr.get_rng().bit_generator.state
    cr.load(tmp_path / "m.safetensors")
    assert cr.get_rng().bit_generator.state == before
