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
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import _cli_model
from chainrule._cli_model import check_output

__all__ = ["add_train_commands"]

_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky-relu": "LeakyReLU"}
_MAX_CLASSES = 100


def add_train_commands(commands: Any) -> None:
    """Add ``train``, ``predict``, ``evaluate`` and ``summary`` to the ``chainrule`` parser."""
    train = commands.add_parser("train", help="train a network on a CSV file and save it")
    train.add_argument(
        "data", metavar="DATA.csv", help="a CSV file whose first line names the columns"
    )
    train.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    train.add_argument(
        "--layers",
        type=_layer_sizes,
        default=[16, 16],
        metavar="N,N,...",
        help="hidden layer sizes (default 16,16)",
    )
    train.add_argument("--activation", choices=sorted(_ACTIVATIONS), default="relu")
    train.add_argument(
        "--loss",
        choices=["mse", "cross-entropy"],
        default=None,
        help="default: cross-entropy for a text target, else mse",
    )
    train.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    train.add_argument("--lr", type=_positive(float), default=0.01, help="learning rate")
    train.add_argument("--epochs", type=_positive(int), default=200)
    train.add_argument("--batch-size", type=_positive(int), default=32)
    train.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.2,
        metavar="FRACTION",
        help="part of the rows held out for validation (default 0.2; 0 for none)",
    )
    train.add_argument(
        "--seed", type=int, default=0, help="seed of the split, weights and shuffling"
    )
    train.add_argument(
        "--out",
        default="model.safetensors",
        metavar="MODEL",
        help="where to save the model (default model.safetensors)",
    )
    train.add_argument("--plot", metavar="PNG", help="also draw the loss curves into this file")
    train.add_argument("--checkpoint-dir", metavar="DIR", help="save a checkpoint every epoch")
    train.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --checkpoint-dir"
    )
    train.add_argument("--quiet", action="store_true", help="print only the final result")
    train.set_defaults(run=_extras_needed(_train))

    predict = commands.add_parser("predict", help="predict every row of a CSV file")
    predict.add_argument("model", metavar="MODEL")
    predict.add_argument("data", metavar="DATA.csv")
    predict.add_argument("--out", metavar="PREDICTIONS.csv", help="default: print to the screen")
    predict.set_defaults(run=_extras_needed(_cli_model.predict))

    evaluate = commands.add_parser("evaluate", help="score a model on a labelled CSV file")
    evaluate.add_argument("model", metavar="MODEL")
    evaluate.add_argument("data", metavar="DATA.csv")
    evaluate.add_argument(
        "--target",
        metavar="COLUMN",
        help="the column with the true values (default: the one trained on)",
    )
    evaluate.set_defaults(run=_extras_needed(_cli_model.evaluate))

    summary = commands.add_parser("summary", help="show a model's layers and preprocessing")
    summary.add_argument("model", metavar="MODEL")
    summary.set_defaults(run=_extras_needed(_cli_model.summary))


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
    check_output(args.out, "--out")
    if args.plot:
        check_output(args.plot, "--plot")
        import matplotlib  # noqa: F401  (fail now, not after training)
    data = read_csv(args.data, target=args.target)
    y = data.y
    assert y is not None
    text_target = y.dtype.kind in "US"
    loss_name = args.loss or ("cross-entropy" if text_target else "mse")
    classification = loss_name == "cross-entropy"
    if not classification and text_target:
        raise ValueError(
            f"{args.data}: target column {args.target!r} holds text labels such as {y[0]!r}; "
            "use --loss cross-entropy to learn classes"
        )
    classes: list[Any] | None = None
    if classification:
        codes, known = encode_labels(y)
        if len(known) < 2:
            raise ValueError(
                f"{args.data}: target column {args.target!r} holds a single class ({known[0]!r}); "
                "a classifier needs at least two"
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

    def targets(values: np.ndarray) -> np.ndarray:
        return values if target_scaler is None else target_scaler.transform(values.reshape(-1, 1))

    generator = np.random.default_rng(args.seed)
    sizes = [data.n_features, *args.layers, len(classes) if classes else 1]
    layers: list[cr.nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [
            cr.nn.Linear(fan_in, fan_out, rng=generator),
            getattr(cr.nn, _ACTIVATIONS[args.activation])(),
        ]
    model = cr.nn.Sequential(*layers[:-1])
    optimizer = (cr.optim.Adam if args.optimizer == "adam" else cr.optim.SGD)(
        model.parameters(), lr=args.lr
    )
    history = cr.fit(
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
        metrics=["accuracy"] if classification else ["r2"],
        verbose=0 if args.quiet else 1,
        rng=args.seed,
        checkpoint_dir=args.checkpoint_dir,
        resume=args.resume,
    )
    if history.stop_reason:
        raise ValueError(f"training failed: {history.stop_reason}; no model was saved")
    preprocessing = Preprocessing(
        feature_names=data.feature_names,
        target_name=args.target,
        task="classification" if classification else "regression",
        classes=classes,
        scaler=scaler,
        target_scaler=target_scaler,
    )
    cr.save(model, args.out, preprocessing=preprocessing)
    if args.plot:
        from chainrule.viz.training import plot_history

        plot_history(history, args.plot)
    last = {k: v[-1] for k, v in history.history.items() if k != "lr" and v}
    scores = "  ".join(f"{k} {v:.4f}" for k, v in last.items())
    print(f"saved {args.out} ({' -> '.join(map(str, sizes))}){'  ' + scores if scores else ''}")
    return 0


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
