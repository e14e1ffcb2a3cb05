"""The ``export`` command: a saved model as an ONNX graph, to run where chainrule is not.

The output is checked before any work (:mod:`chainrule._cli_files`) and written
atomically, so a failed export leaves no new or damaged file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chainrule._cli_files import declare_files
from chainrule._cli_help import usage_examples

__all__ = ["add_export_commands"]

FORMATS = ("onnx",)


def add_export_commands(commands: Any) -> None:
    """Add ``export`` to the ``chainrule`` parser."""
    export = commands.add_parser(
        "export",
        help="write a saved model as an ONNX graph",
        description="Write a saved model as an ONNX graph (ONNX Runtime and most deployment "
        "tools run it) with a dynamic batch size. A model trained by chainrule train keeps "
        "its standardisation as graph nodes: the graph takes raw feature rows (float64) and "
        "gives predictions in the target's units, or each class's probability.",
        epilog=usage_examples(
            "chainrule export model.safetensors",
            "chainrule export model.safetensors --format onnx --out houses.onnx",
        ),
    )
    export.add_argument("model", metavar="MODEL", help="a model file saved by chainrule")
    export.add_argument(
        "--format", choices=FORMATS, default="onnx", help="the file format (default onnx)"
    )
    export.add_argument(
        "--out", metavar="FILE", default="model.onnx", help="the file to write (default model.onnx)"
    )
    export.set_defaults(run=_export)
    declare_files(export, inputs=["model"], outputs=["out"])


def _export(args: argparse.Namespace) -> int:
    from chainrule.io import load_model_file

    try:
        from chainrule.bridges.onnx_export import (
            INPUT_NAME,
            export_onnx,
            graph_output,
            import_onnx,
        )

        import_onnx()
    except ImportError as err:
        print(f"chainrule {args.command}: error: {err}", file=sys.stderr)
        return 2
    loaded = load_model_file(args.model)
    export_onnx(loaded, args.out)
    prep = loaded.preprocessing
    what = "raw feature rows, standardised inside" if prep.scaler is not None else "input rows"
    print(f"wrote {args.out}: input '{INPUT_NAME}' ({what}), output '{graph_output(prep)}'")
    return 0
