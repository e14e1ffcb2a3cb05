"""The ``train`` command's work: read, split, standardise, train, keep the best epoch, save.

Registered by :mod:`chainrule.cli_train`, which declares the options. Every check that
can fail runs before anything is written, and the model file is written atomically.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

import numpy as np

from chainrule import _cli_scores, _threads
from chainrule._cli_args import activation_choices
from chainrule._cli_bounds import check_network_memory, check_target_magnitude
from chainrule.train import metrics
from chainrule.train.callbacks import ClipGradNorm

__all__ = ["MAX_CLASSES", "train"]

#: The most distinct target values ``train`` learns as classes.
MAX_CLASSES = 100


def train(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule.data import Standardizer, encode_labels, read_csv, train_test_split
    from chainrule.io import Preprocessing

    _threads.configured()  # a bad CHAINRULE_NUM_THREADS is refused before any work
    if args.resume and not args.checkpoint_dir:
        raise ValueError("--resume needs --checkpoint-dir DIR (the folder of the earlier run)")
    if args.validation_split == 0 and (args.keep == "best" or args.early_stopping):
        flag = "--keep best" if args.keep == "best" else "--early-stopping"
        raise ValueError(f"{flag} needs a validation split; drop --validation-split 0")
    if args.plot:
        import matplotlib  # noqa: F401  (fail now, not after training)
    data = read_csv(args.data, target=args.target, max_bytes=args.max_csv_size)
    y = data.y
    assert y is not None
    text_target = y.dtype.kind in "US"
    loss_name = args.loss or ("cross-entropy" if text_target else "mse")
    classification = loss_name == "cross-entropy"
    if not classification and text_target:
        raise ValueError(
            f"{args.data}: target column {args.target!r} holds text labels such as "
            f"{_plain(y[0])!r}; use --loss cross-entropy to learn classes"
        )
    if not classification:
        check_target_magnitude(y, args.target, args.data)
    classes: list[Any] | None = None
    if classification:
        codes, known = encode_labels(y)
        if len(known) < 2:
            raise ValueError(
                f"{args.data}: target column {args.target!r} holds a single class "
                f"({_plain(known[0])!r}); a classifier needs at least two"
            )
        if len(known) > MAX_CLASSES:
            raise ValueError(
                f"{args.data}: target column {args.target!r} has {len(known)} distinct values, "
                f"too many classes (at most {MAX_CLASSES}); use --loss mse for a numeric target"
            )
        classes = [_plain(label) for label in known]
        y = codes
    X_train, y_train, validation = _split(data.X, y, args, classification, train_test_split)
    scaler = Standardizer().fit(X_train)
    target_scaler = None if classification else Standardizer().fit(y_train.reshape(-1, 1))
    preprocessing = Preprocessing(
        feature_names=data.feature_names,
        target_name=args.target,
        task="classification" if classification else "regression",
        classes=classes,
        scaler=scaler,
        target_scaler=target_scaler,
        class_counts=None
        if classes is None
        else np.bincount(y_train.astype(np.int64), minlength=len(classes)).tolist(),
    )

    def targets(values: np.ndarray) -> np.ndarray:
        return values if target_scaler is None else target_scaler.transform(values.reshape(-1, 1))

    sizes = [data.n_features, *args.layers, len(classes) if classes else 1]
    adam = args.optimizer == "adam"
    keeper = _keeper(args, validation is not None)
    clipper = None if args.clip_grad_norm is None else ClipGradNorm(args.clip_grad_norm)
    keeps_best = keeper is not None and keeper.restore_best_weights
    check_network_memory(
        sizes,
        itemsize=4,
        copies=2 + 2 * adam + keeps_best,
        what=["float32 weights", "their gradients"]
        + (["Adam's two moment estimates"] if adam else [])
        + (["a copy of the best epoch's weights"] if keeps_best else []),
        option=f"--layers {','.join(map(str, args.layers))}",
    )
    generator = np.random.default_rng(args.seed)
    layers: list[cr.nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [
            cr.nn.Linear(fan_in, fan_out, rng=generator),
            activation_choices(hidden=True)[args.activation](),
        ]
    model = cr.nn.Sequential(*layers[:-1])
    optimizer = (cr.optim.Adam if args.optimizer == "adam" else cr.optim.SGD)(
        model.parameters(), lr=args.lr, weight_decay=args.weight_decay
    )
    if not args.quiet:
        for line in _cli_scores.standardisation_lines(preprocessing):
            print(line)
        if target_scaler is not None:
            print("loss: on the standardised target; mse and mae: in the target's units")
    history = _fit(
        model,
        scaler.transform(X_train),
        targets(y_train),
        loss=loss_name,
        optimizer=optimizer,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=None
        if validation is None
        else (scaler.transform(validation[0]), targets(validation[1])),
        metrics=["accuracy"] if classification else _unit_metrics(target_scaler),
        callbacks=[c for c in (keeper, clipper) if c is not None],
        verbose=0 if args.quiet else 1,
        rng=args.seed,
        checkpoint_dir=args.checkpoint_dir,
        resume=args.resume,
    )
    stopped_early = keeper is not None and keeper.wait >= keeper.patience
    if history.stop_reason and not stopped_early:
        raise ValueError(f"training failed: {history.stop_reason}; no model was saved")
    replacing = os.path.lexists(args.out)
    cr.save(model, args.out, preprocessing=preprocessing)
    kept = history.kept_epoch or len(history)
    if args.plot:
        from chainrule.viz.training import plot_history

        plot_history(history, args.plot)
    verb = "replaced" if replacing else "saved"
    print(f"{verb} {args.out} ({' -> '.join(map(str, sizes))})")
    print(_kept_line(kept, history, keeper, args.epochs))
    if clipper is not None:
        batches = len(history) * math.ceil(len(X_train) / args.batch_size)
        print(_clipped_line(clipper, batches))
    parts = [("training", (X_train, y_train))]
    if validation is not None:
        parts.append(("validation", validation))
    for name, (X_part, y_part) in parts:
        scores = _scores(model, preprocessing, X_part, y_part)
        print(f"{name} ({len(X_part)} rows): {_cli_scores.format_scores(scores)}")
    return 0


def _keeper(args: argparse.Namespace, has_validation: bool) -> Any:
    """The EarlyStopping callback that keeps the best epoch and stops early, or None."""
    from chainrule.train import EarlyStopping

    keep = args.keep or ("best" if has_validation else "last")
    if not has_validation or (keep == "last" and not args.early_stopping):
        return None
    # Without --early-stopping the patience outlasts the run: it never stops, only keeps.
    return EarlyStopping(
        monitor="val_loss",
        patience=args.early_stopping or args.epochs,
        restore_best_weights=keep == "best",
    )


def _kept_line(kept: int, history: Any, keeper: Any, epochs: int) -> str:
    ran = len(history)
    why = ""
    if keeper is not None and keeper.wait >= keeper.patience:
        why = f"; stopped early after epoch {ran}, {keeper.wait} epochs without improvement"
    if keeper is not None and keeper.restore_best_weights:
        return (
            f"kept the weights of epoch {kept} of {ran}, the lowest validation loss{why} "
            "(--keep last keeps the final epoch)"
        )
    return f"kept the weights of the last epoch, {kept} of {epochs}{why}"


def _bound(max_norm: float) -> str:
    """``--clip-grad-norm``'s value as given, not rounded: 1.0000001 stays itself."""
    text = repr(float(max_norm))
    return text[:-2] if text.endswith(".0") else text


def _clipped_line(clipper: Any, batches: int) -> str:
    line = (
        f"clipped the gradients of {clipper.clipped:,} of {batches:,} batches to norm "
        f"{_bound(clipper.max_norm)} (--clip-grad-norm)"
    )
    if batches and clipper.clipped == batches:
        # Clipping meant as a guard against rare spikes has become part of every step.
        # A resumed run that had no epoch left to train measured no norm this time.
        last = clipper.last_norm
        seen = "" if last is None else f" (the last one's norm was {last:.3g})"
        line += (
            f"; every batch was clipped{seen}, so it shaped every step, not only the rare "
            "large ones: a MAX above the usual norm clips only those"
        )
    return line


def _unit_metrics(target_scaler: Any) -> list[Any]:
    """mse and mae in the target's units (the network sees it standardised), and r2."""
    scale = float(target_scaler.scale_[0])

    def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return metrics.mean_squared_error(y_true, y_pred) * scale**2

    def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return metrics.mean_absolute_error(y_true, y_pred) * scale

    return [mse, mae, "r2"]


def _scores(model: Any, prep: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The saved model's scores on raw rows, in the target's units."""
    from chainrule.autograd import no_grad

    with no_grad():
        outputs = np.asarray(model(prep.transform(X).astype(model.dtype)).data, np.float64)
    if prep.task == "classification":
        return {"accuracy": metrics.accuracy(y, outputs.argmax(axis=1))}
    predicted = prep.target_scaler.inverse_transform(outputs)[:, 0]
    return _cli_scores.regression_scores(y, predicted)


def _fit(*args: Any, **kwargs: Any) -> Any:
    """``chainrule.fit``, its divergence and a checkpoint of another run each reported once,
    as this command's error line."""
    import chainrule as cr
    from chainrule.train import TrainingDivergedError
    from chainrule.train.checkpoint import CheckpointMismatchError, NonFiniteCheckpointError

    try:
        return cr.fit(*args, nan_guard="raise", **kwargs)
    except TrainingDivergedError as err:
        raise ValueError(f"training failed: {err.reason}; no model was saved") from None
    except CheckpointMismatchError as err:
        raise ValueError(_mismatch_message(err)) from None
    except NonFiniteCheckpointError as err:
        raise ValueError(
            err.message(
                "leave out --resume (or choose another --checkpoint-dir) to start a new run"
            )
        ) from None


#: What differs between a checkpoint's run and this one, in this command's options.
_DIFFERENCES = {
    "architecture": "other --layers or --activation, or a table with other columns",
    "optimizer": "another --optimizer",
    "callbacks": "other --keep, --early-stopping or --clip-grad-norm options, or another "
    "--validation-split",
}


def _mismatch_message(err: Any) -> str:
    """The checkpoint mismatch said with this command's options, not fit's arguments."""
    difference = _DIFFERENCES.get(err.kind) or f"other data or options ({err.detail})"
    if err.settings is not None:
        name, then, now = err.settings
        if name == "ClipGradNorm":
            then_bound, now_bound = _bound(then["max_norm"]), _bound(now["max_norm"])
            difference = f"--clip-grad-norm {then_bound} (now {now_bound})"
        elif name == "EarlyStopping":
            difference = "other --keep or --early-stopping options"
    return (
        f"the checkpoint in {err.folder!r} was written by a run with {difference}; resume "
        "with that run's options, or leave out --resume (or choose another "
        "--checkpoint-dir) to start a new run"
    )


def _split(
    X: np.ndarray, y: np.ndarray, args: argparse.Namespace, classification: bool, split: Any
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    if args.validation_split == 0 or len(X) < 2:
        return X, y, None
    stratify = None
    if classification and np.unique(y, return_counts=True)[1].min() >= 2:
        stratify = y
    X_train, X_val, y_train, y_val = split(
        X, y, test_size=args.validation_split, rng=args.seed, stratify=stratify
    )
    return X_train, y_train, (X_val, y_val)


def _plain(label: Any) -> Any:
    value = label.item() if isinstance(label, np.generic) else label
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
