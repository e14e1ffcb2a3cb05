"""The ``chainrule`` command.

Every subcommand is a thin face over the library. Bad input ends with exit
status 2 and one readable line on stderr, never a traceback. Before a command does any
work, its output files are checked: none may be one of its inputs or another of its
outputs (:mod:`chainrule._cli_files`). Standard output and error are pipe-safe: a reader
that goes away (``| head``) silences the output, never the work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule._cli_files import check_files, declare_files
from chainrule._cli_help import HelpFormatter, usage_examples
from chainrule._streams import pipe_safe_stdio
from chainrule.cli_explain import add_explain_commands
from chainrule.cli_export import add_export_commands
from chainrule.cli_studio import add_studio_commands
from chainrule.cli_train import add_train_commands
from chainrule.cli_viz import DEMO_FILES, FIRST_DEMO_FILE, add_viz_commands, write_demo_outputs

_DESCRIPTION = (
    "Train multilayer perceptrons on CSV files, use the saved models, and explain "
    "backpropagation step by step with real numbers."
)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _demo(args: argparse.Namespace) -> int:
    """Train a small network on the XOR problem and print the loss going down."""
    cr.manual_seed(args.seed)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = cr.nn.Sequential(cr.nn.Linear(2, 8), cr.nn.Tanh(), cr.nn.Linear(8, 2))
    loss_fn = cr.nn.CrossEntropyLoss()
    optimizer = cr.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    print("chainrule demo: a 2-8-2 tanh network learns XOR")
    print(model)
    for epoch in range(1, args.epochs + 1):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        if epoch == 1 or epoch % max(1, args.epochs // 10) == 0:
            print(f"epoch {epoch:4d}  loss {loss.item():.6f}")
    with cr.no_grad():
        predicted = model(X).data.argmax(axis=1)
    accuracy = float((predicted == y).mean())
    print(f"predictions {predicted.tolist()} for targets {y.tolist()}: accuracy {accuracy:.0%}")
    print(f"\nworked examples, explained step by step, written to {args.out_dir}/:")
    for path in write_demo_outputs(args.out_dir):
        print(f"  {path}")
    first = Path(args.out_dir) / FIRST_DEMO_FILE
    print(
        f"\nstart here: open {first} in a browser (one training step of a small "
        "house-price network, every gradient worked out with its numbers)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``chainrule`` argument parser, with every subcommand."""
    parser = _Parser(
        prog="chainrule",
        description=_DESCRIPTION,
        epilog=usage_examples(
            "chainrule demo",
            "chainrule train houses.csv --target price",
            "chainrule explain house-prices",
        ),
    )
    parser.add_argument("--version", action="version", version=f"chainrule {cr.__version__}")
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        parser_class=_Parser,
        metavar="COMMAND",
        help="one of these; 'chainrule COMMAND --help' shows its options and examples",
    )
    demo = commands.add_parser(
        "demo",
        help="train a small network on XOR and write the worked examples",
        description="Train a 2-8-2 tanh network on XOR, printing the loss as it falls, then "
        "write both worked examples (HTML reports and graphs), the descent animation and the "
        "vanishing-gradient chart into a folder.",
        epilog=usage_examples("chainrule demo", "chainrule demo --epochs 1000 --out-dir reports"),
    )
    demo.add_argument(
        "--epochs", type=int, default=300, help="training epochs on XOR (default 300)"
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the initial weights (default 0)")
    demo.add_argument(
        "--out-dir",
        default="chainrule-out",
        metavar="DIR",
        help="where to write the worked examples' reports (default chainrule-out)",
    )
    demo.set_defaults(run=_demo)
    declare_files(demo, folders={"out_dir": DEMO_FILES})
    add_train_commands(commands)
    add_explain_commands(commands)
    add_viz_commands(commands)
    add_export_commands(commands)
    add_studio_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chainrule`` console script."""
    with pipe_safe_stdio():
        args = build_parser().parse_args(argv)
        try:
            check_files(args)
            return int(args.run(args))
        except (ValueError, TypeError, OSError) as err:
            print(f"chainrule {args.command}: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("chainrule: interrupted", file=sys.stderr)
            return 130
