"""Where a session's samples come from: a built-in example or an uploaded CSV file.

Examples come from :func:`chainrule.data.load`; uploads are read by
:func:`chainrule.data.read_csv`, the reader (and the one-line messages) of the
``chainrule`` commands. Uploaded files and ``digits`` have their features standardised
(:class:`chainrule.data.Standardizer`, fitted on the training rows), an uploaded
regression target too; the standardisation is kept as the model file's preprocessing.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import nn
from chainrule.data import (
    Standardizer,
    csv_columns,
    encode_labels,
    load,
    read_csv,
    train_test_split,
)
from chainrule.io import Preprocessing
from chainrule.studio.setups import EXAMPLES, LIMITS, UPLOAD_DEFAULTS, SetupError

#: Examples whose features are standardised (their raw scales differ widely).
_STANDARDISED = frozenset({"digits"})


@dataclass
class Samples:
    """The rows of a session, as the network sees them (after any standardising)."""

    name: str
    source: str  # "example", "dataset" or "upload"
    task: str  # "regression" or "classification"
    features: list[str]
    target: str
    classes: list[Any] | None
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    preprocessing: Preprocessing

    @property
    def n_outputs(self) -> int:
        return 1 if self.classes is None else len(self.classes)

    @property
    def standardized(self) -> bool:
        return self.preprocessing.scaler is not None

    @property
    def n_samples(self) -> int:
        return len(self.X_train) + (0 if self.X_val is None else len(self.X_val))


class UploadError(ValueError):
    """An upload refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """A CSV file a learner sent, kept on disk under a random name."""

    key: str
    name: str
    path: Path
    columns: list[str]


def _display_name(name: str | None) -> str:
    """A file name fit for messages: its last part, printable, at most 80 characters."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = "".join(c for c in base if c.isprintable())[:80]
    return base or "upload.csv"


class Uploads:
    """The uploaded files of one server, the oldest forgotten first beyond the limit."""

    def __init__(self, limit: int = LIMITS["max_uploads"]) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="chainrule-studio-")
        self._files: OrderedDict[str, Upload] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, content: bytes, name: str | None) -> Upload:
        """Keep ``content`` and read its header; a bad file is refused with the CLI's message."""
        if len(content) > LIMITS["max_upload_bytes"]:
            raise UploadError(too_large(len(content)), 413)
        shown = _display_name(name)
        key = "u_" + secrets.token_urlsafe(12)
        path = Path(self._folder.name) / f"{key}.csv"
        path.write_bytes(content)
        try:
            columns = _readable(path, shown, csv_columns)
        except ValueError:
            path.unlink(missing_ok=True)
            raise
        upload = Upload(key, shown, path, columns)
        with self._lock:
            self._files[key] = upload
            while len(self._files) > self._limit:
                _, old = self._files.popitem(last=False)
                old.path.unlink(missing_ok=True)
        return upload

    def get(self, key: Any) -> Upload:
        with self._lock:
            upload = self._files.get(key) if isinstance(key, str) else None
        if upload is None:
            raise UploadError(f"unknown upload {key!r}; upload the CSV file again", 404)
        return upload

    def close(self) -> None:
        self._folder.cleanup()


def too_large(size: int | None) -> str:
    limit = LIMITS["max_upload_bytes"]
    found = "" if size is None else f" ({size:,} bytes)"
    return f"the file is too large{found}; the studio reads CSV files of at most {limit:,} bytes"


def _readable(path: Path, shown: str, read: Any, **options: Any) -> Any:
    """``read(path)``, with the messages naming the file as the learner called it."""
    try:
        return read(path, max_bytes=LIMITS["max_upload_bytes"], **options)
    except (ValueError, OSError) as err:
        message = str(err).replace(str(path), shown).splitlines()[0]
        raise UploadError(message) from None


def example_samples(name: str, seed: int, validation: float) -> Samples:
    """The rows of a built-in example (generated ones drawn with ``seed``)."""
    example = EXAMPLES[name]
    key = "softmax-example" if name == "softmax-classifier" else name
    options = dict(example.load)
    if options:
        options["rng"] = seed
    data = load(key, **options)
    y = data.y
    assert y is not None
    classes: list[Any] | None = None
    if example.task == "classification":
        classes = [int(c) for c in np.unique(y)] if name != "softmax-classifier" else [0, 1]
        y = y.astype(np.int64)
    else:
        y = y.astype(np.float64).reshape(-1, 1)
    kind = "example" if example.kind == "worked" else "dataset"
    return _split(
        name,
        kind,
        example.task,
        list(data.feature_names),
        data.target_name or "label",
        classes,
        data.X.astype(np.float64),
        y,
        seed,
        validation,
        standardise=name in _STANDARDISED,
        standardise_target=False,
    )


def upload_defaults(upload: Upload, target: Any) -> dict[str, Any]:
    """The set-up an upload starts from: cross-entropy for a text target, else mse."""
    data = _read(upload, target)
    assert data.y is not None
    text = data.y.dtype.kind in "US"
    output = nn.Softmax.command_name if text else None
    activations = [nn.Tanh.command_name] * len(UPLOAD_DEFAULTS["hidden"]) + [output]
    return {
        **UPLOAD_DEFAULTS,
        "activations": activations,
        "loss": "cross-entropy" if text else "mse",
    }


def _read(upload: Upload, target: Any) -> Any:
    if not isinstance(target, str) or not target:
        raise SetupError(
            f"target must name one of the columns of {upload.name}: {', '.join(upload.columns)}"
        )
    return _readable(upload.path, upload.name, read_csv, target=target)


def upload_samples(upload: Upload, target: str, setup: dict[str, Any]) -> Samples:
    """The rows of an uploaded CSV file for a normalised set-up."""
    data = _read(upload, target)
    y = data.y
    assert y is not None
    where = f"{upload.name}: target column {target!r}"
    classification = setup["loss"] == "cross-entropy"
    classes: list[Any] | None = None
    if classification:
        codes, known = encode_labels(y)
        if len(known) < 2:
            raise UploadError(f"{where} holds a single class; a classifier needs at least two")
        if len(known) > LIMITS["max_classes"]:
            raise UploadError(
                f"{where} has {len(known)} distinct values, too many classes (at most "
                f"{LIMITS['max_classes']}); choose the loss mse for a numeric target"
            )
        classes = [c.item() if hasattr(c, "item") else c for c in known]
        y = codes.astype(np.int64)
    elif y.dtype.kind in "US":
        raise UploadError(
            f"{where} holds text labels such as {str(y[0])!r}; choose the loss cross-entropy "
            "to learn classes"
        )
    else:
        y = y.astype(np.float64).reshape(-1, 1)
    return _split(
        upload.name,
        "upload",
        "classification" if classification else "regression",
        list(data.feature_names),
        target,
        classes,
        data.X,
        y,
        setup["seed"],
        setup["validation"],
        standardise=True,
        standardise_target=not classification,
    )


def _split(
    name: str,
    source: str,
    task: str,
    features: list[str],
    target: str,
    classes: list[Any] | None,
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    validation: float,
    *,
    standardise: bool,
    standardise_target: bool,
) -> Samples:
    X_val = y_val = None
    if validation > 0 and len(X) >= 10:
        stratify = y if classes is not None else None
        X, X_val, y, y_val = train_test_split(X, y, validation, rng=seed, stratify=stratify)
    scaler = Standardizer().fit(X) if standardise else None
    target_scaler = Standardizer().fit(y) if standardise_target else None
    if scaler is not None:
        X = scaler.transform(X)
        X_val = None if X_val is None else scaler.transform(X_val)
    if target_scaler is not None:
        y = target_scaler.transform(y)
        y_val = None if y_val is None else target_scaler.transform(y_val)
    preprocessing = Preprocessing(
        feature_names=features,
        target_name=target,
        task=task,
        classes=classes,
        scaler=scaler,
        target_scaler=target_scaler,
    )
    return Samples(name, source, task, features, target, classes, X, y, X_val, y_val, preprocessing)
