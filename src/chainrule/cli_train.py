"""The ``train``, ``predict``, ``evaluate`` and ``summary`` commands: their options.

``chainrule train DATA.csv --target COLUMN`` reads the table, splits off a validation
part, standardises the features (statistics from the training part only), trains a
network and saves it with its preprocessing; the other commands load that file. The
work itself is in :mod:`chainrule._cli_training` and :mod:`chainrule._cli_model`.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import Any

from chainrule import _cli_model, _cli_training
from chainrule import nn as cr_nn
from chainrule._cli_args import activation_choices
from chainrule._cli_bounds import add_max_csv_size
from chainrule._cli_files import declare_files
from chainrule._cli_help import usage_examples
from chainrule.train.checkpoint import CHECKPOINT_FILE

__all__ = ["add_train_commands"]

_DEFAULT_ACTIVATION = cr_nn.ReLU.command_name
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
        "--clip-grad-norm",
        type=_positive(float),
        default=None,
        metavar="MAX",
        help="scale each batch's gradients down to a total L2 norm of MAX when theirs is "
        "larger (default: off)",
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
    train.set_defaults(run=_extras_needed(_cli_training.train))
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
