"""Training checkpoints: everything needed to continue a run exactly where it stopped.

One file, ``checkpoint.safetensors`` in the checkpoint folder, written atomically
after every epoch: the model's weights, the optimizer's buffers and any callback
arrays as safetensors tensors; the epoch count, the optimizer's hyperparameters, the
shuffling generator's ``bit_generator.state``, the history, the callbacks' other state
and a fingerprint of the training data as JSON metadata. Resuming from it gives
bit-for-bit the weights an uninterrupted run ends with.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule._container import ModelFileError, read_tensors, write_tensors
from chainrule.io import check_finite_parameter
from chainrule.train.callbacks import Callback, TrainingContext
from chainrule.train.history import History

__all__ = [
    "CHECKPOINT_FILE",
    "Checkpoint",
    "CheckpointMismatchError",
    "NonFiniteCheckpointError",
    "load_checkpoint",
    "resume_run",
    "save_checkpoint",
    "save_run",
]

CHECKPOINT_FORMAT = "chainrule.checkpoint"
CHECKPOINT_FILE = "checkpoint.safetensors"


@dataclass
class Checkpoint:
    """The state of a run after ``epoch`` completed epochs."""

    epoch: int
    model_config: dict[str, Any]
    model_state: dict[str, np.ndarray]
    optimizer_type: str
    optimizer_state: dict[str, Any]
    rng_state: dict[str, Any]
    history: History
    # {"type": class name, "state": state_dict(), "settings": settings()} each
    # (checkpoints written before settings() existed hold no settings)
    callbacks: list[dict[str, Any]]
    fingerprint: dict[str, Any]


def save_checkpoint(directory: str | os.PathLike[str], checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` atomically into ``directory`` (created if needed)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{name}": value for name, value in checkpoint.model_state.items()}
    optimizer = checkpoint.optimizer_state
    for index, buffers in optimizer["state"].items():
        for name, value in buffers.items():
            tensors[f"optimizer.{index}.{name}"] = np.asarray(value)
    groups = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in group.items()}
        for group in optimizer["param_groups"]
    ]
    callbacks = [
        _split_arrays(state, f"callbacks.{i}", tensors)
        for i, state in enumerate(checkpoint.callbacks)
    ]
    info = {
        "epoch": checkpoint.epoch,
        "model_config": checkpoint.model_config,
        "optimizer": {"type": checkpoint.optimizer_type, "param_groups": groups},
        "rng_state": checkpoint.rng_state,
        "history": checkpoint.history.to_dict(),
        "callbacks": callbacks,
        "fingerprint": checkpoint.fingerprint,
    }
    path = folder / CHECKPOINT_FILE
    write_tensors(path, tensors, info, CHECKPOINT_FORMAT)
    return path


def load_checkpoint(directory: str | os.PathLike[str]) -> Checkpoint | None:
    """The checkpoint in ``directory``, or None when there is none yet.

    Raises
    ------
    ModelFileError
        If the file exists but is not a valid checkpoint.
    """
    path = Path(directory) / CHECKPOINT_FILE
    if not path.exists():
        return None
    arrays, info = read_tensors(path, CHECKPOINT_FORMAT)
    try:
        model_state = {k[6:]: v for k, v in arrays.items() if k.startswith("model.")}
        state: dict[int, dict[str, np.ndarray]] = {}
        for key, value in arrays.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        groups = [
            {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in g.items()}
            for g in info["optimizer"]["param_groups"]
        ]
        checkpoint = Checkpoint(
            epoch=int(info["epoch"]),
            model_config=info["model_config"],
            model_state=model_state,
            optimizer_type=str(info["optimizer"]["type"]),
            optimizer_state={"state": state, "param_groups": groups},
            rng_state=info["rng_state"],
            history=History.from_dict(info["history"]),
            callbacks=[_callback_entry(entry, arrays) for entry in info["callbacks"]],
            fingerprint=info["fingerprint"],
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as err:
        raise ModelFileError(f"{path}: incomplete training checkpoint ({err!r})") from None
    _refuse_non_finite(path, model_state, state)
    return checkpoint


def _refuse_non_finite(
    path: Path, model_state: dict[str, np.ndarray], state: dict[int, dict[str, np.ndarray]]
) -> None:
    """A weight or optimizer buffer holding NaN or an infinity cannot continue a run: it
    would diverge at once, and a resumed run would then keep nothing it could use."""
    named = [("weight", name, value) for name, value in model_state.items()]
    named += [
        ("optimizer buffer", f"{name} of parameter {index}", value)
        for index, buffers in state.items()
        for name, value in buffers.items()
    ]
    for what, name, value in named:
        if value.dtype.kind != "f":
            continue
        try:
            check_finite_parameter(name, value, what)
        except ValueError as err:
            raise NonFiniteCheckpointError(path, str(err)) from None


def save_run(
    folder: str | os.PathLike[str],
    context: TrainingContext,
    rng: np.random.Generator,
    callbacks: list[Callback],
    epoch: int,
    config: dict[str, Any],
    fingerprint: dict[str, Any],
) -> None:
    """Checkpoint a run of :func:`chainrule.fit` after ``epoch`` completed epochs."""
    save_checkpoint(
        folder,
        Checkpoint(
            epoch=epoch,
            model_config=config,
            model_state=context.model.state_dict(),
            optimizer_type=type(context.optimizer).__name__,
            optimizer_state=context.optimizer.state_dict(),
            rng_state=dict(rng.bit_generator.state),
            history=context.history,
            callbacks=[
                {
                    "type": type(callback).__name__,
                    "state": callback.state_dict(),
                    "settings": callback.settings(),
                }
                for callback in callbacks
            ],
            fingerprint=fingerprint,
        ),
    )


class NonFiniteCheckpointError(ModelFileError):
    """A checkpoint whose weights or optimizer buffers hold NaN or an infinity: resuming
    it would diverge at once. ``path`` is the file, ``problem`` names the first such entry.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(
            self.message("pass resume=False or another checkpoint_dir to start a new run")
        )

    def message(self, restart: str) -> str:
        """What is wrong and what to do, with ``restart`` saying how to start a new run
        (in the words of the interface that resumed: fit's arguments, the CLI's options)."""
        return (
            f"{self.path}: the checkpoint's {self.problem}, so it cannot continue the run; "
            f"delete that folder, or {restart}"
        )


class CheckpointMismatchError(ValueError):
    """A checkpoint that belongs to another run than the one asked to resume it.

    Attributes
    ----------
    folder : str
        The checkpoint folder.
    kind : {"architecture", "optimizer", "settings", "callbacks"}
        What differs, so that a caller such as the command line can say it in its
        own words (its options rather than the library's arguments).
    detail : str
        For ``"settings"``: each changed setting, then and now; for ``"callbacks"`` whose
        settings changed (see :meth:`Callback.settings`), the callback's, then and now.
    settings : (str, dict, dict) or None
        For ``"callbacks"`` whose settings changed: the callback's class name and its
        settings then and now.
    """

    def __init__(
        self,
        message: str,
        *,
        folder: str | os.PathLike[str],
        kind: str,
        detail: str = "",
        settings: tuple[str, dict[str, Any], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.folder = os.fspath(folder)
        self.kind = kind
        self.detail = detail
        self.settings = settings


def resume_run(
    folder: str | os.PathLike[str],
    context: TrainingContext,
    rng: np.random.Generator,
    callbacks: list[Callback],
    fingerprint: dict[str, Any],
) -> int | None:
    """Put the run saved in ``folder`` back into place: model, optimizer, shuffling state,
    callbacks and history. Returns its number of completed epochs, or None when the
    folder holds no checkpoint yet.

    Raises
    ------
    CheckpointMismatchError
        A ValueError: the checkpoint belongs to another architecture, optimizer, data
        set, batch size or set of callbacks; resuming it could not reproduce the
        uninterrupted run.
    """
    checkpoint = load_checkpoint(folder)
    if checkpoint is None:
        return None
    where = f"the checkpoint in {os.fspath(folder)!r}"
    restart = "pass resume=False or another checkpoint_dir to start a new run"
    if checkpoint.model_config != context.model.get_config():
        raise CheckpointMismatchError(
            f"{where} was written for a different model architecture; build the same model "
            f"to resume, or {restart}",
            folder=folder,
            kind="architecture",
        )
    optimizer = type(context.optimizer).__name__
    if checkpoint.optimizer_type != optimizer:
        raise CheckpointMismatchError(
            f"{where} was written with {checkpoint.optimizer_type}, not {optimizer}; {restart}",
            folder=folder,
            kind="optimizer",
        )
    changed = [
        f"{key}: {checkpoint.fingerprint.get(key)!r} then, {value!r} now"
        for key, value in fingerprint.items()
        if checkpoint.fingerprint.get(key) != value
    ]
    if changed:
        raise CheckpointMismatchError(
            f"{where} was written for other training data or settings "
            f"({'; '.join(changed)}); {restart}",
            folder=folder,
            kind="settings",
            detail="; ".join(changed),
        )
    # Callbacks without state (progress printers, schedules) may differ between runs.
    saved = [entry for entry in checkpoint.callbacks if entry["state"]]
    stateful = [callback for callback in callbacks if callback.state_dict()]
    if [entry["type"] for entry in saved] != [type(c).__name__ for c in stateful]:
        raise CheckpointMismatchError(
            f"{where} holds the state of the callbacks "
            f"{[entry['type'] for entry in saved]}, but this run has "
            f"{[type(c).__name__ for c in stateful]}; pass the same callbacks to resume, or "
            f"{restart}",
            folder=folder,
            kind="callbacks",
        )
    changed_settings = _changed_settings(checkpoint.callbacks, callbacks)
    if changed_settings is not None:
        name, then, now = changed_settings
        raise CheckpointMismatchError(
            f"{where} was written with {name} {_settings(then)}, but this run has "
            f"{name} {_settings(now)}; pass the same settings to resume, or {restart}",
            folder=folder,
            kind="callbacks",
            detail=f"{name}: {_settings(then)} then, {_settings(now)} now",
            settings=(name, then, now),
        )
    context.model.load_state_dict(checkpoint.model_state)
    context.optimizer.load_state_dict(checkpoint.optimizer_state)
    rng.bit_generator.state = checkpoint.rng_state
    for callback, entry in zip(stateful, saved, strict=True):
        callback.load_state_dict(entry["state"])
    context.history = checkpoint.history
    return checkpoint.epoch


def _changed_settings(
    saved: list[dict[str, Any]], callbacks: list[Callback]
) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """The first callback whose declared settings differ from those its counterpart in
    the checkpoint was saved with: (class name, then, now), or None. The k-th callback of a
    class is the counterpart of the k-th saved entry of that class; entries saved without
    settings (before settings() existed, or by a callback declaring none then) are not
    compared, nor callbacks without a counterpart (those without state may differ)."""
    entries: dict[str, list[dict[str, Any]]] = {}
    for entry in saved:
        entries.setdefault(entry["type"], []).append(entry)
    seen: dict[str, int] = {}
    for callback in callbacks:
        name = type(callback).__name__
        index = seen[name] = seen.get(name, -1) + 1
        now = callback.settings()
        if not now or index >= len(entries.get(name, ())):
            continue
        then = entries[name][index].get("settings")
        # As the checkpoint holds them: JSON turns tuples into lists, keys into strings.
        now = json.loads(json.dumps(now))
        if then and then != now:
            return name, then, now
    return None


def _settings(settings: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in settings.items())


def _split_arrays(value: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` with every NumPy array moved into ``arrays`` and replaced by a reference."""
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, dict):
        return {str(k): _split_arrays(v, f"{prefix}.{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split_arrays(v, f"{prefix}.{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _callback_entry(entry: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """One callback's entry of a checkpoint, checked: a class name, its state (a dict)
    and, if any, its settings (a dict); else a ValueError, which load_checkpoint reports
    as an incomplete checkpoint."""
    if not (
        isinstance(entry, dict)
        and isinstance(entry.get("type"), str)
        and isinstance(entry.get("state"), dict)
        and isinstance(entry.get("settings", {}), dict)
    ):
        raise ValueError(f"a callback entry is malformed: {entry!r:.200}")
    joined: dict[str, Any] = _join_arrays(entry, arrays)
    return joined


def _join_arrays(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {k: _join_arrays(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_arrays(v, arrays) for v in value]
    return value
