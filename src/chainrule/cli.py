"""The ``chainrule`` command.

Every subcommand is a thin face over the library. Bad input ends with exit
status 2 and one readable line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

import chainrule as cr
from chainrule.cli_explain import add_explain_commands, write_demo_outputs
from chainrule.cli_train import add_train_commands


class _Parser(argparse.ArgumentParser):
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
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chainrule", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"chainrule {cr.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = commands.add_parser("demo", help="train a small network on built-in data")
    demo.add_argument("--epochs", type=int, default=300)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out-dir", default="chainrule-out", metavar="DIR",
                      help="where to write the worked examples' reports (default chainrule-out)")
    demo.set_defaults(run=_demo)
    add_train_commands(commands)
    add_explain_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chainrule`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, TypeError, OSError) as err:
        print(f"chainrule {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
