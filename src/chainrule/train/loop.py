"""The epoch loop behind :func:`chainrule.fit`: batches, updates, the divergence guard,
validation, metrics, callbacks and checkpoints."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from chainrule._threads import no_pace
from chainrule.autograd import no_grad
from chainrule.nn.loss import BCEWithLogitsLoss
from chainrule.nn.module import Module
from chainrule.optim.optimizer import Optimizer
from chainrule.train import inputs
from chainrule.train.callbacks import Callback, TrainingContext
from chainrule.train.checkpoint import resume_run, save_run
from chainrule.train.guard import WeightGuard
from chainrule.train.history import History
from chainrule.train.lean import LeanBatch, lean_batch
from chainrule.train.metrics import LABEL_METRICS, predicted_labels, true_labels
from chainrule.train.progress import Progress, make_progress

__all__ = ["Loop", "TrainingDivergedError"]


class TrainingDivergedError(ValueError):
    """Raised by :func:`fit` with ``nan_guard="raise"`` when the guard stopped training.

    ``reason`` says what became non-finite, where, and what to try; ``epoch`` is the
    1-based epoch it happened in. The model holds the last good weights.
    """

    def __init__(self, epoch: int, reason: str) -> None:
        super().__init__(f"training stopped in epoch {epoch}: {reason}")
        self.epoch, self.reason = epoch, reason


_EVAL_CHUNK = 4096


class Loop:
    """One call of :func:`fit`: the objects it trains with and the epoch loop."""

    def __init__(
        self,
        model: Module,
        loss_fn: Callable[..., Any],
        optimizer: Optimizer,
        metrics: list[tuple[str, Callable[..., float]]],
        callbacks: list[Callback],
        rng: np.random.Generator,
        nan_guard: bool | Literal["raise"],
        weights: np.ndarray | None = None,
    ) -> None:
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.metrics, self.callbacks, self.rng = metrics, callbacks, rng
        self.params = list(model.parameters())
        # A penalized loss (see inputs.penalty_of): its data term is what is backpropagated.
        self.penalty = inputs.penalty_of(loss_fn)
        self.data_loss = loss_fn if self.penalty is None else self.penalty.loss
        self.lean: LeanBatch | None = None  # set by run() for the training data
        self.guard = WeightGuard(self.params) if nan_guard else None
        self.raise_on_stop = nan_guard == "raise"
        self.weights = weights
        logits = isinstance(inputs.inner_loss(loss_fn), BCEWithLogitsLoss)
        self.threshold = 0.0 if logits else 0.5
        self.context = TrainingContext(model, optimizer)
        self.progress: Progress = make_progress(0, 1, 1)
        # Called at each batch: fit's choice of BLAS threads times the batches.
        self.pace: Callable[[], None] = no_pace

    def run(
        self,
        X: np.ndarray,
        y: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None,
        epochs: int,
        batch_size: int,
        shuffle: bool,
        verbose: int,
        checkpoint_dir: str | os.PathLike[str] | None,
        resume: bool,
        fingerprint: dict[str, Any],
    ) -> History:
        context = self.context
        context.epochs = epochs
        self.lean = lean_batch(self.model, self.data_loss, X, y, weighted=self.weights is not None)
        config = self.model.get_config() if checkpoint_dir is not None else None
        for callback in self.callbacks:
            callback.set_context(context)
        for callback in self.callbacks:
            callback.on_train_begin()
        start = 0
        self.progress = make_progress(verbose, epochs, math.ceil(len(X) / batch_size))
        if checkpoint_dir is not None and resume:
            found = resume_run(checkpoint_dir, context, self.rng, self.callbacks, fingerprint)
            folder = repr(os.fspath(checkpoint_dir))
            self.progress.message(
                f"resuming from {folder} after epoch {found}"
                if found is not None
                else f"no checkpoint in {folder} yet; starting at epoch 1"
            )
            start = found or 0

        def save(epochs_done: int) -> None:
            if checkpoint_dir is not None and config is not None:
                save_run(
                    checkpoint_dir, context, self.rng, self.callbacks, epochs_done, config,
                    fingerprint,
                )  # fmt: skip

        try:
            for epoch in range(start, epochs):
                if context.history.stop_reason is not None:
                    break  # the resumed run had already stopped by itself
                context.epoch = epoch
                began = time.perf_counter()
                for callback in self.callbacks:
                    callback.on_epoch_begin(epoch)
                self.progress.epoch_begin(epoch)
                logs = self._train_epoch(X, y, batch_size, shuffle)
                if logs is None:
                    break
                if validation is not None:
                    logs.update(self._evaluate(*validation, prefix="val_"))
                logs["lr"] = float(self.optimizer.param_groups[0]["lr"])
                context.history.record(epoch, logs)
                for callback in self.callbacks:
                    callback.on_epoch_end(epoch, logs)
                save(epoch + 1)
                self.progress.epoch_end(epoch, logs, time.perf_counter() - began)
                if context.stop_training:
                    break
            diverged = None
            if context.history.stop_reason is not None:
                epoch_stopped = context.history.stopped_epoch or len(context.history) + 1
                # Also a resumed run whose checkpoint holds a divergence: reported once.
                if context.history.diverged and self.raise_on_stop:
                    diverged = TrainingDivergedError(epoch_stopped, context.history.stop_reason)
                else:
                    self.progress.message(
                        f"training stopped in epoch {epoch_stopped}: {context.history.stop_reason}"
                    )
                save(len(context.history))
            for callback in self.callbacks:
                callback.on_train_end()
            if diverged is not None:
                raise diverged
        finally:
            self.progress.close()
        return context.history

    def _train_epoch(
        self, X: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool
    ) -> dict[str, float] | None:
        """One pass over the data; None if training stopped inside it."""
        order = self.rng.permutation(len(X)) if shuffle else None
        total = 0.0
        outputs: list[np.ndarray] = []
        weights = self.weights
        # Looked up once per epoch rather than per batch: the hooks that do something.
        after_backward = _overriding(self.callbacks, "on_backward_end")
        after_batch = _overriding(self.callbacks, "on_batch_end")
        progress = self.progress if _overrides(self.progress, Progress, "batch_end") else None
        context, model, optimizer = self.context, self.model, self.optimizer
        data_loss, penalty, lean, guard = self.data_loss, self.penalty, self.lean, self.guard
        if guard is not None:
            # Callbacks between epochs (or a resumed checkpoint) may have set the weights;
            # those of a batch hook may at any batch.
            guard.outdated()
        hooks_between = any(c.changes_weights for c in (*after_backward, *after_batch))
        pace = self.pace
        for batch, start in enumerate(range(0, len(X), batch_size)):
            pace()
            if order is None:
                rows = slice(start, start + batch_size)
                X_batch, y_batch = X[rows], y[rows]
                batch_weights = None if weights is None else weights[rows]
            else:
                # take() gathers rows faster than fancy indexing and makes the same batch.
                indices = order[start : start + batch_size]
                X_batch, y_batch = X.take(indices, axis=0), y.take(indices, axis=0)
                batch_weights = None if weights is None else weights.take(indices)
            share: float = len(X_batch)
            if batch_weights is not None:
                share = float(batch_weights.sum())
                if share == 0.0:  # no weighted mean to descend on
                    if self.metrics:
                        with no_grad():
                            outputs.append(model(X_batch).data)
                    continue
            optimizer.zero_grad()
            found = None if lean is None else lean.forward(X_batch, y_batch)
            if found is not None:
                output, loss_data = found
                backward = lean.backward  # type: ignore[union-attr]
            else:
                output_tensor = model(X_batch)
                if batch_weights is None:
                    loss = inputs.loss_tensor(data_loss(output_tensor, y_batch))
                else:
                    loss = inputs.loss_tensor(
                        data_loss(output_tensor, y_batch, sample_weight=batch_weights)
                    )
                output, loss_data, backward = output_tensor.data, loss.data, loss.backward
            if penalty is None:
                value = float(loss_data.item())
            else:
                value = _plus(loss_data, penalty.penalty(share))
            if guard is not None and not math.isfinite(value):
                self._trip(f"the loss became {value}", batch, guard.restore_before_last())
                return None
            backward()
            if penalty is not None:
                penalty.add_gradients()
            for callback in after_backward:
                callback.on_backward_end(batch)
            if guard is not None:
                if hooks_between:
                    guard.outdated()
                guard.before_update()
            optimizer.step()
            if guard is not None and not guard.after_update():
                self._trip("an update made a weight NaN or infinite", batch, True)
                return None
            total += value * share
            if self.metrics:
                outputs.append(output)
            if after_batch:
                logs = {"loss": value, "size": float(len(X_batch))}
                for callback in after_batch:
                    callback.on_batch_end(batch, logs)
            if progress is not None:
                progress.batch_end(batch, value)
            if context.stop_training:
                return None
        # What follows (metrics, validation, callbacks, checkpoints) is no batch's time.
        getattr(pace, "pause", no_pace)()
        logs = {"loss": total / (len(X) if weights is None else float(weights.sum()))}
        if self.metrics:
            targets = y if order is None else y[order]
            logs.update(self._metric_logs(np.concatenate(outputs), targets, ""))
        return logs

    def _trip(self, what: str, batch: int, restored: bool) -> None:
        """The guard, once the last good weights are back (``restored``: from before the
        last update): stop, saying why."""
        if restored:
            kept = "the weights from before the last update were restored"
        else:
            kept = "no update had been made, so the weights are unchanged"
        where = f"epoch {self.context.epoch + 1}, batch {batch + 1}"
        self.context.history.diverged = True
        self.context.stop(
            f"{what} in {where}; {kept}. Lower the learning rate, standardise the inputs "
            "or check the data for extreme values"
        )

    def _evaluate(self, X: np.ndarray, y: np.ndarray, prefix: str) -> dict[str, float]:
        total = 0.0
        outputs = []
        with no_grad():
            for start in range(0, len(X), _EVAL_CHUNK):
                output = self.model(X[start : start + _EVAL_CHUNK])
                loss = inputs.loss_tensor(self.loss_fn(output, y[start : start + _EVAL_CHUNK]))
                total += loss.item() * len(output)
                outputs.append(output.data)
        logs = {f"{prefix}loss": total / len(X)}
        logs.update(self._metric_logs(np.concatenate(outputs), y, prefix))
        return logs

    def _metric_logs(
        self, outputs: np.ndarray, targets: np.ndarray, prefix: str
    ) -> dict[str, float]:
        logs = {}
        for name, metric in self.metrics:
            if name in LABEL_METRICS:
                value = metric(true_labels(targets), predicted_labels(outputs, self.threshold))
            else:
                value = metric(targets, outputs)
            logs[prefix + name] = float(value)
        return logs


def _plus(data: np.ndarray, extra: float) -> float:
    """``(loss + extra).item()`` for a loss of value ``data`` (a one-element array): the
    same number in the loss's dtype, with no graph node."""
    if not extra:
        return float(data.item())
    if data.dtype == np.float64:
        return float(data.item() + extra)
    return float((data + data.dtype.type(extra)).item())


def _overriding(callbacks: list[Callback], hook: str) -> list[Callback]:
    """The callbacks whose class overrides ``hook``, so that a no-op costs no call."""
    return [c for c in callbacks if _overrides(c, Callback, hook)]


def _overrides(instance: object, base: type, method: str) -> bool:
    return getattr(type(instance), method) is not getattr(base, method)
