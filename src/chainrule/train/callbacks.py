"""Callbacks: code that :func:`chainrule.fit` runs at the start and end of epochs and batches.

Subclass :class:`Callback` and override the hooks you need. Each callback sees a
:class:`TrainingContext` (the model, optimizer and history) as ``self.context`` and
can end training with ``self.context.stop(reason)``. Callbacks that keep state across
epochs return it from :meth:`Callback.state_dict`, so a resumed run continues
exactly where the interrupted one stopped.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from chainrule.nn.utils import clip_norm, norm_clipping
from chainrule.optim._flat import trainable
from chainrule.train.history import History, higher_is_better

if TYPE_CHECKING:
    from chainrule.io import Preprocessing
    from chainrule.nn.module import Module
    from chainrule.optim.optimizer import Optimizer

__all__ = ["Callback", "ClipGradNorm", "EarlyStopping", "ModelCheckpoint", "TrainingContext"]


@dataclass
class TrainingContext:
    """What callbacks can see and change while :func:`chainrule.fit` runs.

    Attributes
    ----------
    model, optimizer, history
        The objects being trained and recorded.
    epochs : int
        The total number of epochs asked for.
    epoch : int
        The 0-based index of the current epoch.
    stop_training : bool
        Set by :meth:`stop`; fit ends after the current batch.
    """

    model: Module
    optimizer: Optimizer
    history: History = field(default_factory=History)
    epochs: int = 1
    epoch: int = 0
    stop_training: bool = False

    def stop(self, reason: str) -> None:
        """End training after the current batch, recording ``reason`` in the history."""
        self.stop_training = True
        self.history.stop(self.epoch + 1, reason)


class Callback:
    """Base class: every hook does nothing until overridden.

    Hooks, in the order fit calls them: :meth:`on_train_begin`, then per epoch
    :meth:`on_epoch_begin`, per batch :meth:`on_backward_end` between the gradients
    and the update and :meth:`on_batch_end` after the update, and
    :meth:`on_epoch_end` with the epoch's logs (``loss``, ``val_loss``, metrics,
    ``lr``); finally :meth:`on_train_end`. Epoch indices are 0-based. fit calls only
    the hooks a callback overrides, so an unused per-batch hook costs nothing.
    """

    context: TrainingContext

    #: Whether the per-batch hooks (:meth:`on_backward_end`, :meth:`on_batch_end`) may
    #: change the weights. fit's divergence guard then copies the weights again before
    #: each update, to put back the ones the hook left; a callback whose batch hooks
    #: leave the weights alone (one that clips gradients, say) sets it False and saves
    #: that copy.
    changes_weights: ClassVar[bool] = True

    def set_context(self, context: TrainingContext) -> None:
        """Called by fit before training starts."""
        self.context = context

    def on_train_begin(self) -> None:
        """Training starts (also when resuming; saved state is loaded afterwards)."""

    def on_epoch_begin(self, epoch: int) -> None:
        """Epoch ``epoch`` starts."""

    def on_backward_end(self, batch: int) -> None:
        """The batch's gradients are in the parameters' ``.grad`` and the update is not
        made yet: the place to change gradients in place (clip them, add a penalty's)."""

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        """A batch was used for one update; ``logs["loss"]`` is its loss."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Epoch ``epoch`` ended; ``logs`` holds its loss, metrics and learning rate."""

    def on_train_end(self) -> None:
        """Training ended, by finishing or stopping early."""

    def state_dict(self) -> dict[str, Any]:
        """State that checkpoints must keep: JSON values and NumPy arrays."""
        return {}

    def settings(self) -> dict[str, Any]:
        """The settings that decide what this callback does, as JSON values (none by
        default). A checkpoint keeps them beside the state, and resuming with other
        settings is refused: the saved state would not mean the same, and the resumed
        run could not be the uninterrupted one."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class _Monitor:
    """Tracks the best value of one logged quantity."""

    def __init__(self, owner: str, monitor: str, mode: str, min_delta: float) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f'{owner}: mode must be "auto", "min" or "max", got {mode!r}')
        if not min_delta >= 0:
            raise ValueError(f"{owner}: min_delta must be >= 0, got {min_delta!r}")
        self.owner, self.monitor, self.min_delta = owner, monitor, float(min_delta)
        self.maximize = higher_is_better(monitor) if mode == "auto" else mode == "max"
        self.best: float | None = None

    def value(self, logs: dict[str, float]) -> float:
        if self.monitor not in logs:
            hint = (
                "; pass validation_split or validation_data to fit, or monitor='loss'"
                if self.monitor.startswith("val_")
                else ""
            )
            raise ValueError(
                f"{self.owner} monitors {self.monitor!r}, which fit does not log; it logs "
                f"{', '.join(sorted(logs))}{hint}"
            )
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta


class EarlyStopping(Callback):
    """Stop when a monitored quantity has stopped improving (Keras's ``EarlyStopping``).

    Parameters
    ----------
    monitor : str, default "val_loss"
        A key of the epoch logs: ``"loss"``, ``"val_loss"``, ``"val_accuracy"``...
    patience : int, default 10
        Epochs without improvement before stopping.
    min_delta : float, default 0
        Smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}, default "auto"
        "auto" maximises accuracy and R^2 and minimises everything else.
    restore_best_weights : bool, default False
        At the end of training, put back the weights of the best epoch.

    Attributes
    ----------
    best : float or None
        The best value seen.
    best_epoch : int or None
        Its 0-based epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 0, got {patience!r}")
        self._tracker = _Monitor("EarlyStopping", monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = patience
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self._tracker.best = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.best_weights: dict[str, np.ndarray] | None = None

    @property
    def best(self) -> float | None:
        return self._tracker.best

    def on_train_begin(self) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        value = self._tracker.value(logs)
        if self._tracker.improved(value):
            self._tracker.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.context.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            best = "none finite" if self.best is None else f"{self.best:.6g}"
            where = "" if self.best_epoch is None else f" in epoch {self.best_epoch + 1}"
            self.context.stop(
                f"early stopping: {self.monitor} has not improved for {self.wait} epochs "
                f"(best {best}{where})"
            )

    def on_train_end(self) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.context.model.load_state_dict(self.best_weights)
            if self.best_epoch is not None:
                self.context.history.kept_epoch = self.best_epoch + 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "best_weights": self.best_weights,
        }

    def settings(self) -> dict[str, Any]:
        # Not the patience: a resumed run may wait longer (chainrule train's patience is
        # its number of epochs when it only keeps the best epoch).
        tracker = self._tracker
        return {
            "monitor": tracker.monitor,
            "maximize": tracker.maximize,
            "min_delta": tracker.min_delta,
            "restore_best_weights": self.restore_best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._tracker.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.wait = int(state["wait"])
        self.best_weights = state["best_weights"]


class ModelCheckpoint(Callback):
    """Save the model with :func:`chainrule.save` after each epoch, or after the best ones.

    Parameters
    ----------
    path : str or os.PathLike
        The file; ``{epoch}`` and log keys are filled in, e.g.
        ``"model-{epoch:03d}-{val_loss:.3f}.safetensors"``.
    monitor : str, default "val_loss"
        The quantity compared when ``save_best_only``.
    save_best_only : bool, default False
        Save only when ``monitor`` improves on every earlier epoch. A non-finite
        value never counts as an improvement, so a diverging run never replaces
        the best file. The best value is kept across calls of fit, as in Keras.
    mode : {"auto", "min", "max"}, default "auto"
    preprocessing : Preprocessing, optional
        Stored with the model (see :func:`chainrule.save`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        preprocessing: Preprocessing | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.preprocessing = preprocessing
        self._tracker = _Monitor("ModelCheckpoint", monitor, mode, 0.0)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        from chainrule.io import save

        if self.save_best_only:
            value = self._tracker.value(logs)
            if not self._tracker.improved(value):
                return
            self._tracker.best = value
        path = self.path.format(epoch=epoch + 1, **logs)
        save(self.context.model, path, preprocessing=self.preprocessing)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self._tracker.best}

    def settings(self) -> dict[str, Any]:
        tracker = self._tracker
        return {
            "monitor": tracker.monitor,
            "maximize": tracker.maximize,
            "save_best_only": self.save_best_only,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._tracker.best = state["best"]


class ClipGradNorm(Callback):
    """Clip the gradients at every batch, between ``backward()`` and the update, with
    :func:`chainrule.nn.utils.clip_grad_norm_`: the gradients of the parameters the
    optimizer updates keep, together, a p-norm of at most ``max_norm``, in the direction
    they had.

    With plain SGD (no momentum, no weight decay) that caps the length of every step at
    ``lr * max_norm``. Adam divides each gradient by its own running size, so scaling all
    of them by one factor changes its steps little.

    Parameters
    ----------
    max_norm : float
        The largest norm the gradients keep, >= 0.
    norm_type : float or "inf", default 2
        The p of the p-norm (2: the Euclidean length).

    Attributes
    ----------
    clipped : int
        How many batches of this training run had their gradients scaled down (those
        whose norm was over ``max_norm``, less PyTorch's 1e-6).
    last_norm : float or None
        The last batch's norm, before clipping.
    """

    changes_weights = False  # only the gradients

    def __init__(self, max_norm: float, norm_type: float | str = 2.0) -> None:
        self.max_norm, self.norm_type = norm_clipping("ClipGradNorm", max_norm, norm_type)
        self.clipped = 0
        self.last_norm: float | None = None

    def on_train_begin(self) -> None:
        self.clipped, self.last_norm = 0, None  # a resumed run then loads its count

    def on_backward_end(self, batch: int) -> None:
        # The optimizer's parameters, as it steps them: another parameter's gradient is
        # never reset by its zero_grad(), and would pile up in the norm.
        groups = self.context.optimizer.param_groups
        grads: Any = [p.grad for group in groups for p in trainable(group)]  # none is None
        self.last_norm, scaled = clip_norm(grads, self.max_norm, self.norm_type, False, "")
        self.clipped += int(scaled)

    def state_dict(self) -> dict[str, Any]:
        return {"clipped": self.clipped}

    def settings(self) -> dict[str, Any]:
        # norm_type is a float; infinity is kept as "inf", which JSON has no number for.
        norm_type = "inf" if math.isinf(self.norm_type) else self.norm_type
        return {"max_norm": self.max_norm, "norm_type": norm_type}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.clipped = int(state["clipped"])
