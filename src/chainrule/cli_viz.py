"""The ``vanishing`` and ``animate`` commands, and the files ``chainrule demo`` writes.

``chainrule vanishing`` measures the gradient's size layer by layer for four
activations; ``chainrule animate`` draws gradient descent on a worked example as a GIF.
Files are written atomically, so a failed command leaves no partial file.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from chainrule._cli_args import WORKED_EXAMPLES, int_in, positive_float
from chainrule._cli_files import declare_files
from chainrule._cli_help import usage_examples
from chainrule.nn import activation_layers
from chainrule.viz.vanishing import MAX_DEPTH, MAX_WIDTH

__all__ = ["DEMO_FILES", "FIRST_DEMO_FILE", "add_viz_commands", "write_demo_outputs"]

# What write_demo_outputs writes, in order; the report to read first is the house prices'.
DEMO_FILES = (
    "softmax-classifier.html",
    "softmax-classifier-graph.svg",
    "house-prices.html",
    "house-prices-graph.svg",
    "house-prices-descent.gif",
    "vanishing-gradients.png",
)
FIRST_DEMO_FILE = "house-prices.html"
_ANIMATION_WEIGHTS = {
    "house-prices": "2.weight[1,0],2.weight[2,0]",
    "softmax-classifier": "2.weight[0,1],2.weight[1,1]",
}


def _activation_labels() -> list[str]:
    """The labels of the activations ``vanishing`` compares (every elementwise one)."""
    return [cls.label() for cls in activation_layers(elementwise=True)]


def _in_words(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def add_viz_commands(commands: Any) -> None:
    """Add ``vanishing`` and ``animate`` to the ``chainrule`` parser."""
    vanishing = commands.add_parser(
        "vanishing",
        help="gradient size per layer for each activation",
        description="Show how the gradient's size changes from layer to layer in a deep "
        f"network with {_in_words(_activation_labels())}: the vanishing-gradient problem, "
        "measured. Prints a table; --out also draws the chart.",
        epilog=usage_examples(
            "chainrule vanishing", "chainrule vanishing --depth 12 --out vanishing.png"
        ),
    )
    vanishing.add_argument(
        "--depth",
        type=int_in(2, MAX_DEPTH),
        default=8,
        help=f"hidden layers, 2 to {MAX_DEPTH} (default 8)",
    )
    vanishing.add_argument(
        "--width",
        type=int_in(1, MAX_WIDTH),
        default=16,
        help=f"units per layer, 1 to {MAX_WIDTH} (default 16)",
    )
    vanishing.add_argument(
        "--seed", type=int_in(0, 2**32 - 1), default=0, help="seed of the weights (default 0)"
    )
    vanishing.add_argument("--out", metavar="CHART", help="also draw the chart (.png or .svg)")
    vanishing.set_defaults(run=_vanishing)
    declare_files(vanishing, outputs=["out"])

    animate = commands.add_parser(
        "animate",
        help="a GIF of gradient descent on a worked example",
        description="Animate gradient descent on a worked example: the loss surface over two "
        "of its weights and the path the weights take, written as a GIF.",
        epilog=usage_examples(
            "chainrule animate", "chainrule animate softmax-classifier --out softmax.gif"
        ),
    )
    animate.add_argument(
        "example",
        nargs="?",
        choices=WORKED_EXAMPLES,
        default="house-prices",
        metavar="EXAMPLE",
        help=f"{' or '.join(WORKED_EXAMPLES)} (default house-prices)",
    )
    animate.add_argument(
        "--out", metavar="FILE.gif", default="descent.gif", help="the GIF (default descent.gif)"
    )
    animate.add_argument(
        "--epochs",
        type=int_in(1, 100_000),
        default=None,
        help="descent steps (default: the example's own)",
    )
    animate.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help="learning rate (default: the example's own)",
    )
    animate.add_argument(
        "--frames", type=int_in(2, 300), default=30, help="frames of the GIF (default 30)"
    )
    animate.add_argument(
        "--weights",
        metavar="A,B",
        default=None,
        help="the two weights of the surface, e.g. 2.weight[1,0],2.weight[2,0] "
        "(default: two chosen for the example)",
    )
    animate.set_defaults(run=_animate)
    declare_files(animate, outputs=["out"])


# -- vanishing and animate ----------------------------------------------------------------
def _vanishing(args: argparse.Namespace) -> int:
    from chainrule.viz.vanishing import gradient_flow

    flow = gradient_flow(depth=args.depth, width=args.width, seed=args.seed)
    print(flow.to_text(), end="")
    if args.out:
        print(f"wrote {flow.plot(args.out)}")
    return 0


def _animate(args: argparse.Namespace) -> int:
    from chainrule.explain import examples
    from chainrule.viz.animate import animate_descent

    if Path(args.out).suffix.lower() != ".gif":
        raise ValueError(f"--out must name a .gif file, got {args.out}")
    setup = (
        examples.house_prices_setup
        if args.example == "house-prices"
        else examples.softmax_classifier_setup
    )
    model, X, y, loss = setup()
    lr = args.lr or (examples.HOUSE_LR if args.example == "house-prices" else 0.5)
    spec = args.weights or _ANIMATION_WEIGHTS[args.example]
    weights = re.findall(r"[^,\[\]\s]+\s*\[\s*\d+\s*,\s*\d+\s*\]", spec)
    if len(weights) != 2:
        raise ValueError(
            f"--weights needs two weights like 2.weight[1,0],2.weight[2,0], got {spec!r}"
        )
    epochs = args.epochs or examples.HOUSE_EPOCHS
    path = animate_descent(
        model,
        X,
        y,
        loss,
        args.out,
        lr=lr,
        epochs=epochs,
        weights=(weights[0], weights[1]),
        frames=args.frames,
        title=f"{args.example}: gradient descent",
    )
    print(f"wrote {path}")
    return 0


def write_demo_outputs(out_dir: str | Path) -> list[Path]:
    """Both worked examples as HTML and SVG, the descent GIF and the gradient-flow chart."""
    from chainrule.explain.examples import house_prices, softmax_classifier
    from chainrule.viz.animate import house_prices_animation

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    softmax_html, softmax_svg, house_html, house_svg, descent, chart = (
        folder / name for name in DEMO_FILES
    )
    written = []
    for html, svg, make in (
        (softmax_html, softmax_svg, softmax_classifier),
        (house_html, house_svg, house_prices),
    ):
        step = make()
        written += [step.save(html), step.save(svg)]
    try:
        import matplotlib  # noqa: F401
        import PIL  # noqa: F401
    except ImportError:
        print(
            "(matplotlib and pillow are not installed: skipping the animation and chart; "
            "pip install 'chainrule[viz]')"
        )
        return written
    from chainrule.viz.vanishing import gradient_flow

    written.append(house_prices_animation(descent))
    written.append(gradient_flow().plot(chart))
    return written
