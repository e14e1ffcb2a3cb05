"""``chainrule.fit``: the training loop, with validation, metrics, callbacks and checkpoints.

The arguments are checked here; :mod:`chainrule.train.loop` runs the epochs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from chainrule._threads import batch_work, training_threads
from chainrule.nn.loss import CrossEntropyLoss
from chainrule.nn.module import Module
from chainrule.optim.optimizer import Optimizer
from chainrule.random import RandomState, get_rng
from chainrule.tensor import DEFAULT_DTYPE
from chainrule.train import inputs
from chainrule.train.callbacks import Callback
from chainrule.train.history import History
from chainrule.train.loop import Loop, TrainingDivergedError
from chainrule.train.metrics import resolve_metric

__all__ = ["TrainingDivergedError", "fit"]


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
    sample_weight: ArrayLike | None = None,
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
        cast to the model's dtype (integer class indices for the cross-entropy loss stay
        integers). Text labels must be encoded first
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
    sample_weight : array-like of shape (n_samples,), optional
        A non-negative weight per sample, passed to the loss as
        ``loss(output, target, sample_weight=batch_weights)``. With a loss of
        ``reduction="mean"`` each batch descends on the weighted mean of its samples'
        losses, ``sum(w_i l_i) / sum(w_i)`` over the batch (scikit-learn's convention),
        not ``sum(w_i l_i) / batch_size``: multiplying every weight by a constant changes
        nothing, and a sample of weight 2 counts as that sample twice in its batch. A
        batch whose weights are all zero is skipped (no update). The epoch's ``loss`` is
        the weighted mean over the epoch; validation losses and metrics are unweighted.
        With ``validation_split`` the held-out samples' weights are not used.

    Returns
    -------
    History
        Loss, validation loss, metrics and learning rate per epoch.

    Notes
    -----
    While it trains, ``fit`` chooses how many BLAS threads NumPy's products run on, and
    puts the process's numbers back afterwards; the environment variable
    ``CHAINRULE_NUM_THREADS`` fixes the number (a whole number from 1; ``auto`` or unset:
    chainrule chooses; anything else raises ValueError). See the training guide's Threads
    section.

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
    labels = isinstance(inputs.inner_loss(loss_fn), CrossEntropyLoss)
    X_all = inputs.features(X, dtype, "X")
    y_all = inputs.targets(y, dtype, len(X_all), "y", labels=labels)
    n_epochs = inputs.count("epochs", epochs, minimum=0)
    weights = inputs.sample_weights(sample_weight, len(X_all))
    X_train, y_train, validation = inputs.split(
        X_all, y_all, validation_split, validation_data, dtype, labels
    )
    if weights is not None:
        weights = inputs.training_weights(weights, len(X_train), loss_fn)
    size = len(X_train) if batch_size is None else inputs.count("batch_size", batch_size, minimum=1)
    loop = Loop(
        model=model,
        loss_fn=loss_fn,
        optimizer=inputs.optimizer_for(optimizer, model),
        metrics=[resolve_metric(m) for m in inputs.metric_list(metrics)],
        callbacks=inputs.callbacks(callbacks),
        rng=get_rng(rng),
        nan_guard=nan_guard
        if _raises(nan_guard)
        else inputs.flag("nan_guard", nan_guard, also="'raise'"),
        weights=weights,
    )
    shuffle = inputs.flag("shuffle", shuffle)
    folder = inputs.folder("checkpoint_dir", checkpoint_dir)
    # Hashing the data costs a pass over it: done only when a checkpoint will hold it.
    fingerprint = {}
    if folder is not None:
        held_out = 0 if validation is None else len(validation[0])
        fingerprint = _fingerprint(X_train, y_train, weights, size, shuffle, held_out, dtype)
    # The guard reports overflow itself, in one line; NumPy's warnings would only repeat it.
    quiet = {"over": "ignore", "invalid": "ignore"} if nan_guard else {}
    batch = min(size, len(X_train))
    work = batch_work((p.data.shape for p in loop.params), batch)
    with np.errstate(**quiet), training_threads(work) as pace:  # type: ignore[arg-type]
        loop.pace = pace
        return loop.run(
            X_train,
            y_train,
            validation,
            n_epochs,
            batch,
            shuffle,
            verbose,
            folder,
            inputs.flag("resume", resume),
            fingerprint,
        )


def _fingerprint(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    batch_size: int,
    shuffle: bool,
    validation_samples: int,
    dtype: Any,
) -> dict[str, Any]:
    """What a checkpoint records of the training data, to resume only on the same data.

    Class labels are hashed in the model's dtype, as they were held before integer
    labels were kept as integers, so older checkpoints still resume."""
    y = y.astype(dtype, copy=False)
    arrays = (X, y) if weights is None else (X, y, weights)
    return {
        "n_samples": len(X),
        "n_features": int(X.shape[1]),
        "batch_size": batch_size,
        "shuffle": shuffle,
        "validation_samples": validation_samples,
        "data_sha256": inputs.digest(*arrays),
    }


def _raises(nan_guard: object) -> bool:
    return isinstance(nan_guard, str) and nan_guard == "raise"
