"""The ``explain`` command.

``chainrule explain house-prices`` prints a worked example; ``chainrule explain
--layers 2,3,2 --x 0.5,0.1 --y 1`` explains a network described on the command
line; ``chainrule explain --model MODEL --csv DATA.csv --row 0 --target price``
explains one training step of a saved model on one row of a table. Files are
written atomically, so a failed command leaves no partial file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import nn as cr_nn
from chainrule._cli_args import WORKED_EXAMPLES, activation_choices, int_in, positive_float
from chainrule._cli_bounds import add_max_csv_size, check_network_memory
from chainrule._cli_files import declare_files
from chainrule._cli_help import usage_examples

__all__ = ["add_explain_commands"]

_DEFAULT_HIDDEN = cr_nn.Sigmoid.command_name
# The losses that take probabilities, and the output layer that makes them.
_PROBABILITIES = {
    "cross-entropy": cr_nn.CrossEntropyLoss.probabilities_from,
    "bce": cr_nn.BCELoss.probabilities_from,
}
_LOSSES = ["cross-entropy", "mse", "half-sse", "bce"]
_FORMATS = ["text", "markdown", "html"]


def _outputs() -> dict[str, Any]:
    """The layers an output may end in, by command-line name: the hidden ones first
    (and ``linear``: none)."""
    return {**activation_choices(hidden=True), **activation_choices(hidden=False)}


def add_explain_commands(commands: Any) -> None:
    """Add ``explain`` to the ``chainrule`` parser."""
    explain = commands.add_parser(
        "explain",
        help="explain one training step, stage by stage, with its numbers",
        description="Explain one training step stage by stage, with every number: the "
        "forward pass, the loss, each chain-rule factor of the backward pass, the matrix "
        "form and the update. Explain a worked example, a network given by --layers, or a "
        "saved model (--model) on one row of a CSV file.",
        epilog=usage_examples(
            "chainrule explain house-prices --format html --out house-prices.html",
            "chainrule explain --layers 2,3,2 --x 0.5,0.1 --y 1 --lr 0.02",
            "chainrule explain --model model.safetensors --csv houses.csv --row 3",
        ),
    )
    explain.add_argument(
        "example",
        nargs="?",
        choices=WORKED_EXAMPLES,
        metavar="EXAMPLE",
        help=f"a worked example: {', '.join(WORKED_EXAMPLES)}",
    )
    explain.add_argument(
        "--format",
        choices=_FORMATS,
        default=None,
        help="text, markdown or html (default: from --out's suffix, else text)",
    )
    explain.add_argument("--out", metavar="FILE", help="write to FILE (default: print it)")
    explain.add_argument(
        "--weight",
        action="append",
        metavar="NAME[i,j]",
        help="a weight for the scalar view, e.g. Who[2,0] (0-based; repeatable)",
    )
    explain.add_argument(
        "--digits", type=int_in(1, 17), default=4, help="significant digits (default 4)"
    )
    explain.add_argument(
        "--brief",
        action="store_true",
        help="only the numbers: forward values, loss, error signals, gradients with shapes, "
        "the update and what to notice (no derivations)",
    )
    net = explain.add_argument_group("a network described here")
    net.add_argument("--layers", type=_sizes, metavar="N,N,...", help="layer sizes, e.g. 2,3,2")
    net.add_argument(
        "--hidden",
        choices=list(activation_choices(hidden=True)),
        default=_DEFAULT_HIDDEN,
        help=f"hidden activation (default {_DEFAULT_HIDDEN})",
    )
    net.add_argument(
        "--output",
        choices=[*_outputs(), "linear"],
        default=None,
        help=f"output activation (default: {_PROBABILITIES['cross-entropy'].command_name} for "
        f"cross-entropy, else {_DEFAULT_HIDDEN})",
    )
    net.add_argument(
        "--loss",
        choices=_LOSSES,
        default="cross-entropy",
        help="default cross-entropy; half-sse is the textbook E = 1/2 sum (O - Y)^2",
    )
    net.add_argument(
        "--bias",
        choices=["vector", "shared", "none"],
        default="vector",
        help="one bias per unit, one shared per layer, or none (default vector)",
    )
    net.add_argument(
        "--x", type=_rows, metavar="X", help="inputs: 0.5,0.1 (samples separated by ';')"
    )
    net.add_argument("--y", type=_rows, metavar="Y", help="targets: a class label, or values")
    net.add_argument("--lr", type=positive_float, default=None, help="learning rate (default 0.1)")
    net.add_argument(
        "--seed",
        type=int_in(0, 2**32 - 1),
        default=0,
        help="seed of the initial weights (default 0)",
    )
    saved = explain.add_argument_group("a saved model on one CSV row")
    saved.add_argument("--model", metavar="MODEL", help="a model file saved by chainrule")
    saved.add_argument("--csv", metavar="DATA.csv", help="the table to take the row from")
    saved.add_argument(
        "--row", type=int_in(0, 2**63 - 1), default=0, help="0-based data row (default 0)"
    )
    saved.add_argument(
        "--target",
        metavar="COLUMN",
        help="the target column of the table (default: the one the model was trained on)",
    )
    add_max_csv_size(saved)
    explain.set_defaults(run=_explain)
    declare_files(explain, inputs=["model", "csv"], outputs=["out"])


# -- argument types: each raises argparse's error with a readable message -----------------
def _sizes(text: str) -> list[int]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) < 2 or not all(p.isdigit() and 0 < int(p) <= 4096 for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected at least two sizes from 1 to 4096 like 2,3,2, got {text!r}"
        )
    return [int(p) for p in parts]


def _rows(text: str) -> np.ndarray:
    try:
        rows = [[float(cell) for cell in row.split(",")] for row in text.split(";")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers like 0.5,0.1 (rows separated by ';'), got {text!r}"
        ) from None
    if len({len(r) for r in rows}) != 1:
        raise argparse.ArgumentTypeError(f"every row needs the same number of values, got {text!r}")
    array = np.array(rows)
    if not np.isfinite(array).all():
        raise argparse.ArgumentTypeError(f"values must be finite numbers, got {text!r}")
    return array


# -- explain --------------------------------------------------------------------------------
def _network(args: argparse.Namespace) -> tuple[Any, np.ndarray, np.ndarray, Any]:
    from chainrule import nn
    from chainrule.nn.layers import BiasKind

    sizes = args.layers
    # The step is traced in float64 and keeps about eight arrays the size of all the
    # parameters (the model, its traced copy, gradients, updated weights, the derivation).
    check_network_memory(
        sizes,
        itemsize=8,
        copies=8,
        what=["about eight float64 copies of the parameters for the traced step"],
        option=f"--layers {','.join(map(str, sizes))}",
    )
    if args.x is None or args.y is None:
        raise ValueError("--layers needs --x (the inputs) and --y (the targets)")
    x = args.x
    if x.shape[1] != sizes[0]:
        raise ValueError(
            f"--x has {x.shape[1]} values per sample but --layers starts with {sizes[0]} inputs"
        )
    probs_layer = _PROBABILITIES.get(args.loss)
    probs = probs_layer.command_name if probs_layer is not None else None
    output = args.output or probs or _DEFAULT_HIDDEN
    if probs is not None and output not in (probs, "linear"):
        raise ValueError(f"--loss {args.loss} needs --output {probs} or linear, not {output}")
    kinds: dict[str, BiasKind] = {"vector": True, "shared": "shared", "none": False}
    bias = kinds[args.bias]
    rng = np.random.default_rng(args.seed)
    layers: list[Any] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out, bias=bias, dtype=np.float64, rng=rng))
        last = i == len(sizes) - 2
        kind = output if last else args.hidden
        if kind != "linear":
            layers.append(_outputs()[kind]())
    model = nn.Sequential(*layers)
    y = args.y
    if args.loss == "cross-entropy":
        labels = y.reshape(-1)
        if labels.shape[0] != x.shape[0] or (labels != np.round(labels)).any():
            raise ValueError(f"--y must be one class label per sample ({x.shape[0]}), e.g. --y 1")
        if labels.min() < 0 or labels.max() >= sizes[-1]:
            raise ValueError(
                f"--y class labels must be from 0 to {sizes[-1] - 1}, got {labels.tolist()}"
            )
        loss: Any = nn.CrossEntropyLoss(from_probs=output == probs)
        return model, x, labels.astype(np.int64), loss
    if y.size != x.shape[0] * sizes[-1]:
        raise ValueError(
            f"--y needs {sizes[-1]} value(s) per sample for {x.shape[0]} sample(s), got {y.size}"
        )
    y = y.reshape(x.shape[0], sizes[-1])
    if args.loss == "bce":
        loss = nn.BCELoss() if output == probs else nn.BCEWithLogitsLoss()
    elif args.loss == "half-sse":
        loss = nn.MSELoss(reduction="sum", half=True)
    else:
        loss = nn.MSELoss()
    return model, x, y, loss


def _saved_model(args: argparse.Namespace) -> tuple[Any, np.ndarray, np.ndarray, Any, str]:
    """The model, the row as the network sees it, the loss, and a note relating the row's
    raw values to the standardised ones the explanation shows."""
    from chainrule import nn
    from chainrule._cli_scores import row_note
    from chainrule.data import encode_labels
    from chainrule.data.csv import COMMAND_LINE_HINT, read_table
    from chainrule.io import load_model_file

    if not args.csv:
        raise ValueError("--model needs --csv DATA.csv (and --row N)")
    loaded = load_model_file(args.model)
    prep = loaded.preprocessing
    column = args.target or prep.target_name
    if not column:
        raise ValueError(f"{args.model} does not name its target column; pass --target COLUMN")
    data = read_table(
        args.csv,
        column,
        None,
        prep.feature_names,
        (),
        COMMAND_LINE_HINT,
        max_bytes=args.max_csv_size,
    )
    if args.row >= data.n_samples:
        raise ValueError(
            f"{args.csv} has {data.n_samples} data rows (0 to {data.n_samples - 1}); "
            f"--row {args.row} is not one"
        )
    model = loaded.model.double()
    x = prep.transform(data.X[args.row : args.row + 1]).astype(np.float64)
    assert data.y is not None
    label = data.y[args.row : args.row + 1]
    ends_in_probs = (
        isinstance(model, nn.Sequential)
        and len(model)
        and isinstance(model[len(model) - 1], nn.CrossEntropyLoss.probabilities_from)
    )
    raw, where = data.X[args.row], f"Row {args.row} of {args.csv}"
    if prep.task == "classification" and prep.classes:
        codes, _ = encode_labels(label, classes=np.array(prep.classes))
        note = row_note(prep, where, data.feature_names, raw, x[0], (column, label[0], None))
        return model, x, codes, nn.CrossEntropyLoss(from_probs=bool(ends_in_probs)), note
    y = label.astype(np.float64).reshape(1, -1)
    if prep.target_scaler is not None:
        y = prep.target_scaler.transform(y)
    note = row_note(prep, where, data.feature_names, raw, x[0], (column, label[0], float(y[0, 0])))
    return model, x, y, nn.MSELoss(), note


def _explain(args: argparse.Namespace) -> int:
    from chainrule.explain import explain
    from chainrule.explain.examples import example

    sources = [args.example is not None, args.layers is not None, args.model is not None]
    if sum(sources) != 1:
        raise ValueError("give exactly one of: an EXAMPLE name, --layers N,N,..., or --model MODEL")
    fmt = args.format
    if fmt is None and args.out:
        fmt = {".md": "markdown", ".html": "html", ".htm": "html"}.get(
            Path(args.out).suffix.lower(), "text"
        )
    fmt = fmt or "text"
    if args.example:
        options = {"lr": args.lr} if args.lr is not None else {}
        step = example(args.example, **options)
        if args.weight:
            from chainrule.explain.scalar import resolve

            step.scalar_weights = [resolve(w, step.derivation) for w in args.weight]
    elif args.layers:
        model, x, y, loss = _network(args)
        step = explain(model, x, y, loss, lr=args.lr or 0.1, weights=args.weight)
    else:
        model, x, y, loss, note = _saved_model(args)
        step = explain(model, x, y, loss, lr=args.lr or 0.1, weights=args.weight, description=note)
    if args.out:
        written = step.save(args.out, format=fmt, digits=args.digits, brief=args.brief)
        print(f"wrote {written}")
    else:
        print(step.render(fmt, args.digits, brief=args.brief), end="")
    return 0
