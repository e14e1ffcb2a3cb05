"""The file container under model files and checkpoints: safetensors plus JSON, checked.

:func:`write_tensors` writes NumPy arrays as safetensors tensors and one JSON document
in the header's ``__metadata__``, atomically (:func:`atomic_write`). :func:`open_tensors`
checks everything before a tensor is read: the file size, the header length, the
header's UTF-8 and JSON, every tensor's dtype, shape and byte range (they must tile the
data exactly), and the JSON's format name and version. The tensors are then read
straight from the open file into their arrays, so loading needs the file's size in
memory plus the header, never a second copy. Every failure is one
:class:`ModelFileError`; nothing in a file is ever executed.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "ModelFileError",
    "StoredTensors",
    "TensorEntry",
    "atomic_write",
    "open_tensors",
    "read_tensors",
    "write_tensors",
]

FORMAT_VERSION = 1
#: Files larger than this are refused before reading (pass ``max_bytes`` to raise it).
MAX_FILE_BYTES = 2**31
_MAX_HEADER_BYTES = 2**24
#: The safetensors dtypes chainrule writes; safetensors stores little-endian bytes.
_DTYPES = {
    name: np.dtype(code)
    for name, code in (("F16", "<f2"), ("F32", "<f4"), ("F64", "<f8"), ("I64", "<i8"))
}
_PREFIX_BYTES = 16  # enough to recognise the formats in _FOREIGN_SIGNATURES
_FOREIGN_SIGNATURES = (
    (
        b"\x80",
        "a Python pickle (e.g. a PyTorch or joblib file); chainrule never loads "
        "pickles because they can run code",
    ),
    (b"PK\x03\x04", "a zip archive (e.g. a PyTorch .pt or NumPy .npz file)"),
    (b"\x89HDF", "an HDF5 file (e.g. a Keras .h5 model)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x1f\x8b", "a gzip-compressed file"),
)
_KINDS = {"chainrule.model": "a model file", "chainrule.checkpoint": "a training checkpoint"}
PathLike = str | os.PathLike[str]


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be loaded: malformed, truncated, too big,
    foreign or inconsistent. Loading stops before anything is built from it."""


# -- atomic writes ----------------------------------------------------------------------
def atomic_write(path: PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Write a file so that readers see either the old contents or the new, never a mix.

    ``write`` fills a temporary file in the same folder; it is flushed and fsynced,
    renamed over ``path`` with :func:`os.replace`, and the folder is fsynced so the
    rename survives a power cut. If ``write`` raises (or the process dies), ``path``
    keeps its previous contents and the temporary file is removed.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace. Its folder must exist.
    write : callable
        Called with the open binary file; writes the new contents into it.

    Raises
    ------
    OSError
        If the folder is missing or not writable; the message names it.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot write {str(target)!r}: the folder {str(folder)!r} does not exist; create "
            "it first or choose another path"
        )
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {str(target)!r}: it is a folder; add a file name")
    mode = target.stat().st_mode & 0o777 if target.exists() else _default_file_mode()
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except PermissionError:
        raise PermissionError(
            f"cannot write {str(target)!r}: no permission to create files in {str(folder)!r}"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    # Folders cannot be opened for fsync on every platform (Windows); the rename
    # itself is still atomic there.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


# -- the container ---------------------------------------------------------------------
def write_tensors(
    path: PathLike, tensors: dict[str, np.ndarray], info: dict[str, Any], kind: str
) -> None:
    """Atomically write ``tensors`` and the JSON ``info`` as a safetensors file of ``kind``."""
    try:
        from safetensors.numpy import save as save_safetensors
    except ImportError:
        raise ImportError(
            "saving needs the safetensors package; install it with: pip install safetensors"
        ) from None
    document = json.dumps({"format": kind, "version": FORMAT_VERSION, **info})
    # np.ascontiguousarray would turn 0-d arrays (Adam's step count) into shape (1,)
    arrays = {name: np.require(value, requirements="C") for name, value in tensors.items()}
    payload = save_safetensors(arrays, metadata={"chainrule": document})
    atomic_write(path, lambda handle: handle.write(payload))


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies in a container file, as its validated header says."""

    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    begin: int  # byte offsets into the data that follows the header
    end: int


class StoredTensors:
    """A container file whose header has been validated, open to read its tensors.

    Made by :func:`open_tensors`; use it in a ``with`` block. ``info`` is the JSON
    document and ``entries`` says each tensor's dtype and shape; :meth:`read` reads
    one tensor into a new array, so that loading a file needs the memory of its
    tensors once, plus the header. Everything comes from one open file handle: a file
    replaced while it is read cannot mix two versions.
    """

    def __init__(
        self,
        handle: io.BufferedReader,
        source: Path,
        entries: dict[str, TensorEntry],
        info: dict[str, Any],
        data_start: int,
    ) -> None:
        self.source = source
        self.entries = entries
        self.info = info
        self._handle = handle
        self._data_start = data_start

    def read(self, name: str) -> np.ndarray:
        """The tensor ``name`` as a new, writable array in native byte order."""
        entry = self.entries[name]
        array = np.empty(entry.shape, dtype=entry.dtype)
        self._handle.seek(self._data_start + entry.begin)
        wanted = entry.end - entry.begin
        if wanted and self._handle.readinto(array.reshape(-1).data.cast("B")) != wanted:
            raise ModelFileError(
                f"{self.source}: the file ended while tensor {name!r} was read; it was "
                "truncated or replaced during loading"
            )
        if not array.dtype.isnative:  # big-endian machines
            array = array.byteswap(inplace=True).view(array.dtype.newbyteorder("="))
        return array

    def read_all(self) -> dict[str, np.ndarray]:
        """Every tensor, by name."""
        return {name: self.read(name) for name in self.entries}

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> StoredTensors:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_tensors(path: PathLike, kind: str, *, max_bytes: int = MAX_FILE_BYTES) -> StoredTensors:
    """Open a file written by :func:`write_tensors` and validate its header.

    Only the 8-byte length and the JSON header are read here; the tensors' bytes are
    read by :meth:`StoredTensors.read`. The header's entries must tile the rest of
    the file exactly, so no entry can make the reader allocate more than the file holds.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ModelFileError
        If the file is not a valid container of ``kind``.
    """
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no such model file: {str(source)!r}; check the path")
    if source.is_dir():
        raise ModelFileError(f"{source} is a folder, not a model file")
    if not source.is_file():
        raise ModelFileError(f"{source} is not a regular file (a device or a pipe?)")
    handle = open(source, "rb")  # noqa: SIM115  (closed by StoredTensors or below)
    try:
        stored = _validate(handle, source, kind, max_bytes)
    except BaseException:
        handle.close()
        raise
    return stored


def read_tensors(
    path: PathLike, kind: str, *, max_bytes: int = MAX_FILE_BYTES
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read and validate a file written by :func:`write_tensors`: (arrays, JSON info)."""
    with open_tensors(path, kind, max_bytes=max_bytes) as stored:
        return stored.read_all(), stored.info


def _validate(handle: io.BufferedReader, source: Path, kind: str, max_bytes: int) -> StoredTensors:
    size = os.fstat(handle.fileno()).st_size
    if size > max_bytes:
        raise ModelFileError(
            f"{source} is {size} bytes, more than the limit of {max_bytes}; pass a larger "
            "max_bytes if you trust this file"
        )
    prefix = handle.read(_PREFIX_BYTES)
    header_length = int.from_bytes(prefix[:8], "little") if len(prefix) >= 8 else -1
    if header_length > _MAX_HEADER_BYTES and header_length <= size - 8:
        raise ModelFileError(
            f"{source}: the header is {header_length} bytes, more than the limit of "
            f"{_MAX_HEADER_BYTES}; this is not a file chainrule wrote"
        )
    if not 2 <= header_length <= min(_MAX_HEADER_BYTES, size - 8):
        raise ModelFileError(f"{source}: {_not_safetensors(prefix, size)}")
    handle.seek(8)
    raw = handle.read(header_length)
    if len(raw) != header_length:
        raise ModelFileError(f"{source}: the file ended inside its header; it was truncated")
    header = _parse_header(raw, source, prefix, size)
    metadata = header.pop("__metadata__", None)
    entries = _check_entries(header, size - 8 - header_length, source)
    info = _parse_info(metadata, kind, source)
    return StoredTensors(handle, source, entries, info, 8 + header_length)


def _not_safetensors(prefix: bytes, size: int) -> str:
    length = int.from_bytes(prefix[:8], "little") if len(prefix) >= 8 else 0
    if prefix[8:9] == b"{" and length > size - 8 and length <= _MAX_HEADER_BYTES:
        return (
            f"the file is truncated: its header alone should be {length} bytes, but only "
            f"{size - 8} bytes follow; save the model again"
        )
    for signature, what in _FOREIGN_SIGNATURES:
        if prefix.startswith(signature):
            return f"this is {what}, not a chainrule model file"
    if size < 10:
        return f"only {size} bytes long: the file is truncated or not a chainrule model file"
    return (
        "not a safetensors file (its first 8 bytes do not give a header length that fits "
        "the file): it is truncated, damaged or some other format"
    )


def _parse_header(raw: bytes, source: Path, prefix: bytes, size: int) -> dict[str, Any]:
    if not raw.startswith(b"{"):
        raise ModelFileError(f"{source}: {_not_safetensors(prefix, size)}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ModelFileError(
            f"{source}: the safetensors header is not UTF-8 text (byte 0x{raw[err.start]:02x} "
            f"at offset {8 + err.start}); the file is damaged"
        ) from None
    try:
        header = json.loads(text)
    except (ValueError, RecursionError):
        raise ModelFileError(
            f"{source}: the safetensors header is not valid JSON; the file is damaged or truncated"
        ) from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{source}: the safetensors header is not a JSON object")
    return header


def _check_entries(
    header: dict[str, Any], buffer_size: int, source: Path
) -> dict[str, TensorEntry]:
    """Every tensor entry is sane and the byte ranges tile the data buffer exactly."""
    entries = {}
    for name, entry in header.items():
        where = f"{source}: tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(f"{where} has a malformed header entry")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise ModelFileError(
                f"{where} has dtype {dtype!r}; chainrule files hold {', '.join(_DTYPES)}"
            )
        if not (isinstance(shape, list) and len(shape) <= 8 and all(_is_count(n) for n in shape)):
            raise ModelFileError(f"{where} has an invalid shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
            raise ModelFileError(f"{where} has invalid data offsets {offsets!r}")
        begin, end = offsets
        expected = math.prod(shape) * _DTYPES[dtype].itemsize
        if end - begin != expected:
            raise ModelFileError(
                f"{where}: shape {shape} needs {expected} bytes but its byte range holds "
                f"{end - begin}; the file is damaged"
            )
        entries[name] = TensorEntry(_DTYPES[dtype], tuple(shape), begin, end)
    position = 0
    for entry in sorted(entries.values(), key=lambda e: (e.begin, e.end)):
        if entry.begin != position:
            raise ModelFileError(f"{source}: the tensors' byte ranges overlap or leave gaps")
        position = entry.end
    if position != buffer_size:
        raise ModelFileError(
            f"{source}: the header describes {position} bytes of weights but the file holds "
            f"{buffer_size}; the file is truncated or has extra data"
        )
    return entries


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _parse_info(metadata: Any, kind: str, source: Path) -> dict[str, Any]:
    text = metadata.get("chainrule") if isinstance(metadata, dict) else None
    if not isinstance(text, str):
        raise ModelFileError(
            f"{source}: a safetensors file without chainrule metadata (no architecture is "
            "stored); save models with chainrule.save()"
        )
    try:
        info = json.loads(text)
    except (ValueError, RecursionError):
        raise ModelFileError(f"{source}: the chainrule metadata is not valid JSON") from None
    if not isinstance(info, dict) or not isinstance(info.get("format"), str):
        raise ModelFileError(f"{source}: the chainrule metadata has no format name")
    if info["format"] != kind:
        what = _KINDS
        raise ModelFileError(
            f"{source} is {what.get(info['format'], repr(info['format']))}, not "
            f"{what.get(kind, kind)}"
        )
    version = info.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{source}: the chainrule metadata has no valid format version")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{source} was written in format version {version} by a newer chainrule; this one "
            f"reads up to version {FORMAT_VERSION}: upgrade chainrule"
        )
    return info
