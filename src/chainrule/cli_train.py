"""The ``train``, ``predict``, ``evaluate`` and ``summary`` commands.

``chainrule train DATA.csv --target COLUMN`` reads the table, splits off a validation
part, standardises the features (statistics from the training part only), trains a
network and saves it with its preprocessing; the other commands load that file.
Every check that can fail runs before anything is written, and files are written
atomically, so a failed command never leaves a new or damaged file behind.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import _cli_model, _cli_scores
from chainrule import nn as cr_nn
from chainrule._cli_args import activation_choices
from chainrule._cli_bounds import add_max_csv_size, check_network_memory, check_target_magnitude
from chainrule._cli_files import declare_files
from chainrule._cli_help import usage_examples
from chainrule.train import metrics
from chainrule.train.checkpoint import CHECKPOINT_FILE

__all__ = ["add_train_commands"]

_DEFAULT_ACTIVATION = cr_nn.ReLU.command_name
_MAX_CLASSES = 100
WEIGHT_DECAY = 0.01


def add_train_commands(commands: Any) -> None:
    """Add ``train``, ``predict``, ``evaluate`` and ``summary`` to the ``chainrule`` parser."""
    train = commands.add_parser(
        "train",
        help="train a network on a CSV file and save it",
        description="Train a multilayer perceptron on a CSV file and save it, with its "
        "preprocessing, to one model file. A validation part is held out, features (and a "
        "numeric target) are standardised with statistics of the training part, and the "
        "weights of the epoch with the lowest validation loss are kept.",
        epilog=usage_examples(
            "chainrule train houses.csv --target price",
            "chainrule train houses.csv --target price --layers 32,16 --early-stopping 20 "
            "--plot curves.png",
            "chainrule train houses.csv --target price --checkpoint-dir run --resume",
        ),
    )
    train.add_argument(
        "data", metavar="DATA.csv", help="a CSV file whose first line names the columns"
    )
    train.add_argument(
        "--target",
        required=True,
        metavar="COLUMN",
        help="the column to predict (required); text labels make a classifier",
    )
    train.add_argument(
        "--layers",
        type=_layer_sizes,
        default=[100],
        metavar="N,N,...",
        help="hidden layer sizes (default 100: one hidden layer of 100 units)",
    )
    train.add_argument(
        "--activation",
        choices=list(activation_choices(hidden=True)),
        default=_DEFAULT_ACTIVATION,
        help=f"activation of the hidden layers (default {_DEFAULT_ACTIVATION})",
    )
    train.add_argument(
        "--loss",
        choices=["mse", "cross-entropy"],
        default=None,
        help="default: cross-entropy for a text target, else mse",
    )
    train.add_argument("--optimizer", choices=["sgd", "adam"], default="adam", help="default adam")
    train.add_argument(
        "--lr", type=_positive(float), default=0.001, help="learning rate (default 0.001)"
    )
    train.add_argument(
        "--epochs",
        type=_positive(int),
        default=200,
        help="passes over the training rows (default 200)",
    )
    train.add_argument(
        "--batch-size", type=_positive(int), default=32, help="rows per update (default 32)"
    )
    train.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.2,
        metavar="FRACTION",
        help="part of the rows held out for validation (default 0.2; 0 for none)",
    )
    train.add_argument(
        "--keep",
        choices=["best", "last"],
        default=None,
        help="which epoch's weights to save: best, the one with the lowest validation loss "
        "(default with a validation split), or last (default without one)",
    )
    train.add_argument(
        "--early-stopping",
        type=_positive(int),
        default=None,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without a lower validation loss "
        "(default: off, every epoch runs)",
    )
    train.add_argument(
        "--weight-decay",
        type=_non_negative,
        default=WEIGHT_DECAY,
        metavar="L2",
        help=f"L2 penalty added to each weight's gradient (default {WEIGHT_DECAY}; 0 for none)",
    )
    train.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the split, weights and shuffling (default 0)",
    )
    train.add_argument(
        "--out",
        default="model.safetensors",
        metavar="MODEL",
        help="where to save the model (default model.safetensors); an existing file is "
        "replaced, and the final line says so",
    )
    train.add_argument("--plot", metavar="PNG", help="also draw the loss curves into this PNG file")
    train.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help=f"save the run into DIR/{CHECKPOINT_FILE} after every epoch",
    )
    train.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --checkpoint-dir"
    )
    train.add_argument("--quiet", action="store_true", help="print only the final result")
    add_max_csv_size(train)
    train.set_defaults(run=_extras_needed(_train))
    declare_files(
        train,
        inputs=["data"],
        outputs=["out", "plot"],
        folders={"checkpoint_dir": [CHECKPOINT_FILE]},
    )

    predict = commands.add_parser(
        "predict",
        help="predict every row of a CSV file",
        description="Predict every row of a CSV file with a saved model and write the "
        "predictions as CSV: the predicted value, or the class and each class's "
        "probability. The file needs the model's feature columns; a target column is ignored.",
        epilog=usage_examples(
            "chainrule predict model.safetensors new-houses.csv",
            "chainrule predict model.safetensors new-houses.csv --out predictions.csv",
        ),
    )
    predict.add_argument("model", metavar="MODEL", help="a model file saved by chainrule train")
    predict.add_argument("data", metavar="DATA.csv", help="the rows to predict, with a header")
    predict.add_argument(
        "--out", metavar="PREDICTIONS.csv", help="write the CSV here (default: print it)"
    )
    add_max_csv_size(predict)
    predict.set_defaults(run=_extras_needed(_cli_model.predict))
    declare_files(predict, inputs=["model", "data"], outputs=["out"])

    evaluate = commands.add_parser(
        "evaluate",
        help="score a model on a labelled CSV file",
        description="Score a saved model on a CSV file that holds the true values: "
        "mse, mae and r2 for a regression; accuracy, log loss and the confusion matrix "
        "for a classifier.",
        epilog=usage_examples(
            "chainrule evaluate model.safetensors test-houses.csv",
            "chainrule evaluate model.safetensors test-houses.csv --target price",
        ),
    )
    evaluate.add_argument("model", metavar="MODEL", help="a model file saved by chainrule train")
    evaluate.add_argument(
        "data", metavar="DATA.csv", help="rows with the model's features and the true values"
    )
    evaluate.add_argument(
        "--target",
        metavar="COLUMN",
        help="the column with the true values (default: the one trained on)",
    )
    add_max_csv_size(evaluate)
    evaluate.set_defaults(run=_extras_needed(_cli_model.evaluate))
    declare_files(evaluate, inputs=["model", "data"])

    summary = commands.add_parser(
        "summary",
        help="show a model's layers and preprocessing",
        description="Show what a model file holds: its layers with their shapes and "
        "parameter counts, the task, the target, the feature columns and their scaling.",
        epilog=usage_examples("chainrule summary model.safetensors"),
    )
    summary.add_argument("model", metavar="MODEL", help="a model file saved by chainrule")
    summary.set_defaults(run=_extras_needed(_cli_model.summary))
    declare_files(summary, inputs=["model"])


# -- argument types -----------------------------------------------------------------------
def _layer_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive layer sizes separated by commas, such as 16,16; got {text!r}"
        )
    return sizes


def _positive(kind: type) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    convert.__name__ = kind.__name__
    return convert


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def _extras_needed(command: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Report a missing optional package in one line, as every other error."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ImportError as err:
            print(f"chainrule {args.command}: error: {err}", file=sys.stderr)
            return 2

    return run


# -- train ---------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule.data import Standardizer, encode_labels, read_csv, train_test_split
    from chainrule.io import Preprocessing

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
        if len(known) > _MAX_CLASSES:
            raise ValueError(
                f"{args.data}: target column {args.target!r} has {len(known)} distinct values, "
                f"too many classes (at most {_MAX_CLASSES}); use --loss mse for a numeric target"
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
        callbacks=[] if keeper is None else [keeper],
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
    """``chainrule.fit``, its divergence reported once: as this command's error line."""
    import chainrule as cr
    from chainrule.train import TrainingDivergedError

    try:
        return cr.fit(*args, nan_guard="raise", **kwargs)
    except TrainingDivergedError as err:
        raise ValueError(f"training failed: {err.reason}; no model was saved") from None


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
