"""Save and load models: weights in safetensors, architecture and preprocessing as JSON.

A model file is a `safetensors <https://github.com/huggingface/safetensors>`_ file: an
8-byte header length, a JSON header naming each tensor's dtype, shape and byte range,
then the raw bytes. chainrule stores the parameters (``model.state_dict()``) as its
tensors and, in the header's ``__metadata__``, one JSON document with the format
version, ``model.get_config()`` and the preprocessing (feature scaling, class labels,
column names). Nothing is pickled and loading executes nothing: the header is checked
by hand (sizes, JSON, dtypes, shapes, byte ranges) before any weight is read, the
architecture is rebuilt only from the layer types in :mod:`chainrule.nn`, and each
weight is then read from the file straight into its parameter, so loading needs about
the file's size in memory, not twice that.

The loader judges the whole model, and :func:`save` refuses to write what it would
refuse: a file may declare at most :data:`MAX_LAYERS` (10,000) layers, counted over
every layer list, and is refused before anything is built if it declares more; its
layer lists hold only layer types (:data:`chainrule.nn.LAYER_TYPES`) and nested
``Sequential`` containers, never a loss; every attribute lies in the range its layer
documents; every weight and every stored scaling statistic is finite (scales > 0);
the layers chain (one sample of zeros runs through them), and the class labels and
target scaling match the model's output width. Every walk over a model's layers is
linear in their number.

Every file is written atomically (:func:`atomic_write`): a crash mid-save leaves the
previous file intact.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule._container import (
    MAX_FILE_BYTES,
    ModelFileError,
    StoredTensors,
    atomic_write,
    open_tensors,
    write_tensors,
)
from chainrule.autograd import no_grad
from chainrule.data.preprocess import Standardizer
from chainrule.nn.config import from_config
from chainrule.nn.module import Module
from chainrule.tensor import all_finite

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_LAYERS",
    "ModelFile",
    "ModelFileError",
    "Preprocessing",
    "atomic_write",
    "load",
    "load_model_file",
    "save",
]

MODEL_FORMAT = "chainrule.model"
_MAX_CONFIG_DEPTH = 32
#: The most layers a model file may declare, counted over all its layer lists (nested
#: ``Sequential`` containers included); :func:`save` and :func:`load` refuse more.
MAX_LAYERS = 10_000
_FINITE_CHUNK = 2**16  # elements checked at a time, so checking allocates almost nothing
PathLike = str | os.PathLike[str]


# -- preprocessing ----------------------------------------------------------------------
@dataclass
class Preprocessing:
    """What turns a raw table into model input and model output into answers.

    Parameters
    ----------
    feature_names : list of str, optional
        The feature columns, in the order the model reads them.
    target_name : str, optional
        The column the model predicts.
    task : {"classification", "regression"}, optional
        Classification models output one logit per class (softmax, cross-entropy).
    classes : list, optional
        Class labels (text or numbers) in the order of the model's outputs.
    scaler : Standardizer, optional
        Feature standardisation fitted on the training split.
    target_scaler : Standardizer, optional
        Target standardisation of a regression model; predictions are mapped back.
        Its mean is the training target's mean, the baseline a regression must beat.
    class_counts : list of int, optional
        How many training rows each class had, in the order of ``classes``: the
        majority class is the baseline a classifier must beat. Files written before
        this field existed load without it.
    """

    feature_names: list[str] | None = None
    target_name: str | None = None
    task: str | None = None
    classes: list[Any] | None = None
    scaler: Standardizer | None = None
    target_scaler: Standardizer | None = None
    class_counts: list[int] | None = None

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scale raw features as during training (unchanged without a scaler)."""
        return X if self.scaler is None else self.scaler.transform(X)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; :meth:`from_dict` reverses it."""
        return {
            "feature_names": self.feature_names,
            "target_name": self.target_name,
            "task": self.task,
            "classes": self.classes,
            "scaler": None if self.scaler is None else self.scaler.to_dict(),
            "target_scaler": None if self.target_scaler is None else self.target_scaler.to_dict(),
            "class_counts": self.class_counts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """Rebuild from :meth:`to_dict` data, checking every field's type."""
        if not isinstance(data, dict):
            raise ValueError(f"preprocessing must be a JSON object, got {type(data).__name__}")
        names = data.get("feature_names")
        if names is not None and not (
            isinstance(names, list) and all(isinstance(n, str) for n in names)
        ):
            raise ValueError("preprocessing.feature_names must be a list of strings")
        target = data.get("target_name")
        if target is not None and not isinstance(target, str):
            raise ValueError("preprocessing.target_name must be a string")
        task = data.get("task")
        if task not in (None, "classification", "regression"):
            raise ValueError(
                f"preprocessing.task must be classification or regression, got {task!r}"
            )
        classes = data.get("classes")
        if classes is not None and not (
            isinstance(classes, list)
            and all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in classes)
        ):
            raise ValueError("preprocessing.classes must be a list of strings or numbers")
        scalers = [data.get(key) for key in ("scaler", "target_scaler")]
        for state in scalers:
            if state is not None and not isinstance(state, dict):
                raise ValueError("a scaler in the preprocessing must be a JSON object")
        scaler, target_scaler = (
            None if state is None else Standardizer.from_dict(state) for state in scalers
        )
        counts = data.get("class_counts")
        if counts is not None and not (
            isinstance(counts, list)
            and all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c < 2**63 for c in counts
            )
            and isinstance(classes, list)
            and len(counts) == len(classes)
        ):
            raise ValueError(
                "preprocessing.class_counts must be one count from 0 to 2**63 - 1 per class "
                "in 'classes'"
            )
        return cls(names, target, task, classes, scaler, target_scaler, counts)


@dataclass
class ModelFile:
    """A loaded model file: the model, its preprocessing and the format version."""

    model: Module
    preprocessing: Preprocessing
    version: int


# -- model files ------------------------------------------------------------------------
def save(model: Module, path: PathLike, *, preprocessing: Preprocessing | None = None) -> None:
    """Save a model's architecture, weights and preprocessing to one file, atomically.

    Parameters
    ----------
    model : Module
        A model whose layers describe themselves (``get_config()``), such as a
        :class:`~chainrule.nn.Sequential` of chainrule layers.
    path : str or os.PathLike
        Usually ``*.safetensors``. Replaced atomically if it exists.
    preprocessing : Preprocessing, optional
        Scaling, labels and column names to store with the model.

    Examples
    --------
    >>> import chainrule as cr, tempfile, os
    >>> model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> cr.save(model, path)
    >>> restored = cr.load(path)
    """
    if not isinstance(model, Module):
        raise TypeError(f"save() takes a chainrule Module, got {type(model).__name__}")
    layers = sum(1 for _ in model.modules()) - 1
    if layers > MAX_LAYERS:
        raise ValueError(
            f"cannot save a model of {layers:,} layers: model files hold at most "
            f"{MAX_LAYERS:,} (chainrule.io.MAX_LAYERS)"
        )
    info = {
        "config": model.get_config(),
        "preprocessing": (preprocessing or Preprocessing()).to_dict(),
    }
    state = model.state_dict()
    try:
        # Everything load() checks, checked here on the model in memory: save never
        # writes a file that load refuses.
        from_config(info["config"], initialize=False)
        prep = Preprocessing.from_dict(info["preprocessing"])
        for name, values in state.items():
            check_finite_parameter(name, values)
        _check_fits(model, prep)
    except ValueError as err:
        raise ValueError(f"cannot save the model: {_one_line(err)}") from None
    write_tensors(path, state, info, MODEL_FORMAT)


def load(path: PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> Module:
    """Load a model saved by :func:`save` (use :func:`load_model_file` for its preprocessing).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ModelFileError
        If the file is not a valid chainrule model file; nothing is built from it.
    """
    return load_model_file(path, max_bytes=max_bytes).model


def load_model_file(path: PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> ModelFile:
    """Load a model file with its preprocessing; see :func:`load` for the errors."""
    with open_tensors(path, MODEL_FORMAT, max_bytes=max_bytes) as stored:
        info = stored.info
        try:
            preprocessing = Preprocessing.from_dict(info.get("preprocessing") or {})
        except (ValueError, TypeError, OverflowError, RecursionError) as err:
            raise ModelFileError(f"{stored.source}: invalid preprocessing: {err}") from None
        model = build_model(info.get("config"), stored)
    try:
        _check_fits(model, preprocessing)
    except ValueError as err:
        raise ModelFileError(f"{stored.source}: {_one_line(err)}") from None
    return ModelFile(model, preprocessing, int(info["version"]))


def build_model(config: Any, stored: StoredTensors) -> Module:
    """Rebuild a model from its stored config, check it against the stored tensors, and
    read each weight from the file straight into its parameter (held in memory once)."""
    source = stored.source
    found = {name: (entry.shape, entry.dtype) for name, entry in stored.entries.items()}
    _check_config_size(config, sum(math.prod(shape) for shape, _ in found.values()), source)
    try:
        # The config is untrusted data: whatever a constructor raises, the file is invalid.
        model = from_config(config, initialize=False)
    except Exception as err:
        raise ModelFileError(f"{source}: the stored architecture cannot be built: {err}") from None
    expected = {name: (p.shape, p.dtype) for name, p in model.named_parameters()}
    if expected != found:
        missing = sorted(set(expected) - set(found))
        unexpected = sorted(set(found) - set(expected))
        wrong = sorted(n for n in set(expected) & set(found) if expected[n] != found[n])
        raise ModelFileError(
            f"{source}: the weights do not match the stored architecture (missing {missing}, "
            f"unexpected {unexpected}, wrong shape or dtype {wrong}); the file is corrupt"
        )
    for name, param in model.named_parameters():
        param.data = stored.read(name)
        try:
            check_finite_parameter(name, param.data)
        except ValueError as err:
            raise ModelFileError(
                f"{source}: {err}; the file is damaged or was saved from a model that diverged"
            ) from None
    return model


def _check_config_size(config: Any, stored_elements: int, source: Path) -> None:
    """Refuse configs whose layers would need more memory than the file's weights hold."""
    pending: list[tuple[Any, int]] = [(config, 0)]
    needed = layers = 0
    while pending:
        node, depth = pending.pop()
        if depth > _MAX_CONFIG_DEPTH:
            raise ModelFileError(f"{source}: the stored architecture is nested too deeply")
        if isinstance(node, dict) and isinstance(node.get("layers"), list):
            layers += len(node["layers"])
            if layers > MAX_LAYERS:  # before the walk descends into them
                raise ModelFileError(
                    f"{source}: the stored architecture declares more than {MAX_LAYERS:,} "
                    "layers, the limit of a model file (chainrule.io.MAX_LAYERS)"
                )
        if isinstance(node, list):
            pending += [(item, depth + 1) for item in node]
        elif isinstance(node, dict):
            sizes = [node.get("in_features"), node.get("out_features")]
            if sizes != [None, None]:
                counts = [s for s in sizes if isinstance(s, int) and 0 < s <= stored_elements]
                if len(counts) != 2:
                    raise ModelFileError(f"{source}: the stored architecture has invalid sizes")
                needed += counts[0] * counts[1]
            pending += [(value, depth + 1) for value in node.values()]
    if needed > stored_elements:
        raise ModelFileError(
            f"{source}: the stored architecture needs {needed} weights but the file holds "
            f"{stored_elements}; the file is corrupt"
        )


def check_finite_parameter(name: str, values: np.ndarray, what: str = "parameter") -> None:
    """Refuse a parameter holding NaN or an infinity, naming it and the first such entry;
    checked in chunks so that a large tensor needs no second copy."""
    flat = values.reshape(-1)
    for start in range(0, flat.size, _FINITE_CHUNK):
        chunk = flat[start : start + _FINITE_CHUNK]
        if not all_finite(chunk):
            offset = start + int(np.flatnonzero(~np.isfinite(chunk))[0])
            index = tuple(int(i) for i in np.unravel_index(offset, values.shape))
            raise ValueError(f"{what} {name!r} holds {float(flat[offset])} at index {index}")


def _check_fits(model: Module, prep: Preprocessing) -> None:
    """Refuse a model whose layers do not chain or whose preprocessing does not fit it:
    feature names and scaling must match its input width, class labels and target
    scaling its output width. One sample of zeros is run through the layers."""
    first = next((m for m in model.modules() if hasattr(m, "in_features")), None)
    n_in = getattr(first, "in_features", None)
    for label, count in (
        ("feature names", None if prep.feature_names is None else len(prep.feature_names)),
        ("scaler features", None if prep.scaler is None else prep.scaler.n_features_in_),
    ):
        if count is None:
            continue
        if n_in is not None and count != n_in:
            raise ValueError(
                f"the model reads {n_in} features but the preprocessing holds {count} {label}"
            )
        n_in = count
    if n_in is None:
        return  # no layer and no preprocessing says how wide an input is
    try:
        with no_grad(), np.errstate(all="ignore"):
            dtype = model.dtype
            output = model(np.zeros((1, n_in), dtype=np.float32 if dtype is None else dtype))
    except Exception as err:  # whatever a layer raises, the layers do not chain
        raise ValueError(f"the layers do not fit together: {err}") from None
    shape = np.shape(getattr(output, "data", output))
    if len(shape) != 2:
        raise ValueError(f"the model's output has shape {shape}, not (samples, outputs)")
    n_out = shape[1]
    if prep.task == "classification" and prep.classes is not None and len(prep.classes) != n_out:
        raise ValueError(
            f"the model has {n_out} output(s) but the preprocessing holds {len(prep.classes)} "
            "class labels; a classifier has one output per class"
        )
    if prep.target_scaler is not None and prep.target_scaler.n_features_in_ != n_out:
        raise ValueError(
            f"the model has {n_out} output(s) but the target scaling is for "
            f"{prep.target_scaler.n_features_in_}"
        )


def _one_line(err: Exception) -> str:
    return " ".join(str(err).splitlines())
