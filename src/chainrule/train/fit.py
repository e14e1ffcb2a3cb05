"""``chainrule.fit``: the training loop, with validation, metrics, callbacks and checkpoints."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from chainrule.autograd import no_grad
from chainrule.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss
from chainrule.nn.module import Module
from chainrule.optim.optimizer import Optimizer
from chainrule.random import RandomState, get_rng
from chainrule.tensor import DEFAULT_DTYPE
from chainrule.train import inputs
from chainrule.train.callbacks import Callback, TrainingContext
from chainrule.train.checkpoint import resume_run, save_run
from chainrule.train.history import History
from chainrule.train.metrics import LABEL_METRICS, predicted_labels, resolve_metric, true_labels
from chainrule.train.progress import Progress, make_progress

__all__ = ["TrainingDivergedError", "fit"]


class TrainingDivergedError(ValueError):
    """Raised by :func:`fit` with ``nan_guard="raise"`` when the guard stopped training.

    ``reason`` says what became non-finite, where, and what to try; ``epoch`` is the
    1-based epoch it happened in. The model holds the last good weights.
    """

    def __init__(self, epoch: int, reason: str) -> None:
        super().__init__(f"training stopped in epoch {epoch}: {reason}")
        self.epoch, self.reason = epoch, reason


_EVAL_CHUNK = 4096


def fit(
    model: Module,
    X: ArrayLike,
    y: ArrayLike,
    *,
    loss: Module | str | Callable[..., Any],
    optimizer: Optimizer | str = "adam",
    epochs: int = 10,
    batch_size: int | None = 32,
    shuffle: bool = True,
    validation_split: float = 0.0,
    validation_data: tuple[ArrayLike, ArrayLike] | None = None,
    metrics: Sequence[str | Callable[..., float]] = (),
    callbacks: Sequence[Callback] = (),
    verbose: int = 1,
    rng: RandomState = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    nan_guard: bool | Literal["raise"] = True,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batch gradient descent.

    Each epoch visits every training sample once, in batches; each batch runs the
    forward pass, the loss, ``backward()`` and one optimizer step.

    Parameters
    ----------
    model : Module
        The network; trained in place.
    X : array-like of shape (n_samples, n_features)
        Features. They are cast to the model's dtype (float32 unless the model was
        built or converted otherwise), so a float64 array trains a float32 model; a
        value too large for that dtype is refused. Sparse matrices, categorical
        columns and missing values (``None``, ``pd.NA``) are refused by name.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets: numbers, class indices or one-hot rows, as ``loss`` expects; also
        cast to the model's dtype. Text labels must be encoded first
        (:func:`chainrule.data.encode_labels`).
    loss : Module or str
        A loss module such as ``nn.CrossEntropyLoss()``, or ``"mse"``,
        ``"cross-entropy"``, ``"bce"``, ``"bce-with-logits"``.
    optimizer : Optimizer or str, default "adam"
        An optimizer over ``model.parameters()``, or ``"adam"`` (lr 0.001) or
        ``"sgd"`` (lr 0.01).
    epochs : int, default 10
        Passes over the training data (the total, also when resuming).
    batch_size : int or None, default 32
        Samples per update; None uses the whole training set (full-batch descent).
    shuffle : bool, default True
        Visit the samples in a new random order each epoch.
    validation_split : float, default 0
        Hold out this fraction of the samples, taken from the end of ``X`` before
        any shuffling (as Keras does), to compute ``val_loss`` and metrics.
    validation_data : (X_val, y_val), optional
        Validation samples given explicitly (instead of ``validation_split``).
    metrics : sequence of str or callable
        ``"accuracy"``, ``"mse"``, ``"mae"``, ``"r2"`` or ``f(y_true, y_pred)``;
        computed on each epoch's training batches and on the validation data.
        Accuracy compares classes: the argmax of several outputs, or a single output
        above 0 (logits, with ``BCEWithLogitsLoss``) or above 0.5 (otherwise).
    callbacks : sequence of Callback
        E.g. :class:`~chainrule.train.EarlyStopping`, a learning-rate schedule.
    verbose : {0, 1, 2}, default 1
        0 silent; 1 a progress bar per epoch on a terminal, else one line per epoch;
        2 one line per epoch.
    rng : int or numpy.random.Generator, optional
        Source of the shuffling order; default: chainrule's global generator
        (:func:`chainrule.manual_seed`).
    checkpoint_dir : path, optional
        Save the model, optimizer state, epoch, shuffling state, history and
        callback state there after every epoch (atomically).
    resume : bool, default False
        With ``checkpoint_dir``: continue from its checkpoint if there is one. The
        run then ends with exactly the weights an uninterrupted run would have.
    nan_guard : bool, default True
        Stop as soon as a batch's loss (or an updated weight) is NaN or infinite,
        put back the weights from before the last update, and record why in
        ``History.stop_reason``; no error is raised, and with ``verbose`` the reason is
        printed. ``"raise"``: the same, then raise :class:`TrainingDivergedError` instead of
        printing (for callers that report the failure themselves).

    Returns
    -------
    History
        Loss, validation loss, metrics and learning rate per epoch.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> X, y = cr.data.xor()
    >>> model = cr.nn.Sequential(cr.nn.Linear(2, 8, rng=0), cr.nn.Tanh(), cr.nn.Linear(8, 2, rng=1))
    >>> history = cr.fit(model, X, y, loss="cross-entropy", optimizer=cr.optim.Adam(
    ...     model.parameters(), lr=0.05), epochs=200, batch_size=4, verbose=0, rng=0)
    >>> history["loss"][-1] < 0.05
    True
    """
    model = inputs.model(model)
    dtype = model.dtype or DEFAULT_DTYPE
    loss_fn = inputs.loss_function(loss)
    labels = isinstance(loss_fn, CrossEntropyLoss)
    X_all = inputs.features(X, dtype, "X")
    y_all = inputs.targets(y, dtype, len(X_all), "y", labels=labels)
    n_epochs = inputs.count("epochs", epochs, minimum=0)
    X_train, y_train, validation = inputs.split(
        X_all, y_all, validation_split, validation_data, dtype, labels
    )
    size = len(X_train) if batch_size is None else inputs.count("batch_size", batch_size, minimum=1)
    loop = _Loop(
        model=model,
        loss_fn=loss_fn,
        optimizer=inputs.optimizer_for(optimizer, model),
        metrics=[resolve_metric(m) for m in inputs.metric_list(metrics)],
        callbacks=inputs.callbacks(callbacks),
        rng=get_rng(rng),
        nan_guard=nan_guard
        if _raises(nan_guard)
        else inputs.flag("nan_guard", nan_guard, also="'raise'"),
    )
    fingerprint = {
        "n_samples": len(X_train),
        "n_features": int(X_train.shape[1]),
        "batch_size": size,
        "shuffle": inputs.flag("shuffle", shuffle),
        "validation_samples": 0 if validation is None else len(validation[0]),
        "data_sha256": inputs.digest(X_train, y_train),
    }
    # The guard reports overflow itself, in one line; NumPy's warnings would only repeat it.
    quiet = {"over": "ignore", "invalid": "ignore"} if nan_guard else {}
    with np.errstate(**quiet):  # type: ignore[arg-type]
        return loop.run(
            X_train,
            y_train,
            validation,
            n_epochs,
            min(size, len(X_train)),
            bool(shuffle),
            verbose,
            inputs.folder("checkpoint_dir", checkpoint_dir),
            inputs.flag("resume", resume),
            fingerprint,
        )


def _raises(nan_guard: object) -> bool:
    return isinstance(nan_guard, str) and nan_guard == "raise"


class _Loop:
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
    ) -> None:
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.metrics, self.callbacks, self.rng = metrics, callbacks, rng
        self.params = list(model.parameters())
        self.snapshot = [np.empty_like(p.data) for p in self.params] if nan_guard else None
        self.raise_on_stop = nan_guard == "raise"
        self.has_snapshot = False
        self.threshold = 0.0 if isinstance(loss_fn, BCEWithLogitsLoss) else 0.5
        self.context = TrainingContext(model, optimizer)
        self.progress: Progress = make_progress(0, 1, 1)

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
                if checkpoint_dir is not None and config is not None:
                    save_run(
                        checkpoint_dir,
                        context,
                        self.rng,
                        self.callbacks,
                        epoch + 1,
                        config,
                        fingerprint,
                    )
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
                if checkpoint_dir is not None and config is not None:
                    save_run(
                        checkpoint_dir,
                        context,
                        self.rng,
                        self.callbacks,
                        len(context.history),
                        config,
                        fingerprint,
                    )
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
        for batch, start in enumerate(range(0, len(X), batch_size)):
            rows: Any = (
                slice(start, start + batch_size)
                if order is None
                else order[start : start + batch_size]
            )
            X_batch, y_batch = X[rows], y[rows]
            self.optimizer.zero_grad()
            output = self.model(X_batch)
            loss = inputs.loss_tensor(self.loss_fn(output, y_batch))
            value = loss.item()
            if self.snapshot is not None and not math.isfinite(value):
                self._trip(f"the loss became {value}", batch)
                return None
            loss.backward()
            self._take_snapshot()
            self.optimizer.step()
            if self.snapshot is not None and not all(
                np.isfinite(p.data).all() for p in self.params
            ):
                self._trip("an update made a weight NaN or infinite", batch)
                return None
            total += value * len(X_batch)
            if self.metrics:
                outputs.append(output.data)
            for callback in self.callbacks:
                callback.on_batch_end(batch, {"loss": value, "size": float(len(X_batch))})
            self.progress.batch_end(batch, value)
            if self.context.stop_training:
                return None
        logs = {"loss": total / len(X)}
        if self.metrics:
            targets = y if order is None else y[order]
            logs.update(self._metric_logs(np.concatenate(outputs), targets, ""))
        return logs

    def _take_snapshot(self) -> None:
        if self.snapshot is not None:
            for buffer, param in zip(self.snapshot, self.params, strict=True):
                np.copyto(buffer, param.data)
            self.has_snapshot = True

    def _trip(self, what: str, batch: int) -> None:
        """The guard: put back the last good weights and stop."""
        assert self.snapshot is not None
        if self.has_snapshot:
            for buffer, param in zip(self.snapshot, self.params, strict=True):
                param.data[...] = buffer
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
