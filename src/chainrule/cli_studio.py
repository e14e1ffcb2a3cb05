"""The ``studio`` command: a local web page to step through backpropagation and train live.

Prints the URL to open (with its token) on its first line, opens the browser unless
``--no-browser``, and serves until Ctrl-C. Needs the ``studio`` extra (FastAPI, uvicorn).
"""

from __future__ import annotations

import argparse
import sys
import threading
import webbrowser
from typing import Any

from chainrule._cli_args import int_in
from chainrule._cli_files import declare_files
from chainrule._cli_help import usage_examples

__all__ = ["add_studio_commands"]

DEFAULT_HOST = "127.0.0.1"
PORT_HINT = 8765


def add_studio_commands(commands: Any) -> None:
    """Add ``studio`` to the ``chainrule`` parser."""
    studio = commands.add_parser(
        "studio",
        help="open an interactive page: step through backpropagation, train live",
        description="Start a local web server and open its page: pick an example or your own "
        "CSV file, edit the network, step through one training step stage by stage with the "
        "real numbers and formulas, click a parameter for its gradient and chain, train live "
        "and watch the loss, the decision boundary and the gradient sizes. The first line "
        "printed is the URL to open (with its access token). Ctrl-C stops the server.",
        epilog=usage_examples(
            "chainrule studio",
            "chainrule studio --example house-prices",
            "chainrule studio --csv houses.csv --target price --port 8765 --no-browser",
        ),
    )
    studio.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"the address to listen on (default {DEFAULT_HOST}, this computer only; "
        "0.0.0.0 lets other computers connect and prints a warning)",
    )
    studio.add_argument(
        "--port",
        type=int_in(0, 65535),
        default=None,
        help=f"the port to listen on (default {PORT_HINT}, or a free one if it is taken; "
        "0 picks a free one)",
    )
    studio.add_argument(
        "--example",
        metavar="NAME",
        default=None,
        help="the example the page opens with (default: none, the page's own first choice): "
        "softmax-classifier, house-prices, moons, circles, xor, spirals or digits",
    )
    studio.add_argument(
        "--csv", metavar="FILE", default=None, help="a CSV file the page opens with (default none)"
    )
    studio.add_argument(
        "--target",
        metavar="COLUMN",
        default=None,
        help="the target column of --csv (default none; required with --csv)",
    )
    studio.add_argument(
        "--no-browser",
        action="store_true",
        help="only print the URL; do not open a browser (default: open one)",
    )
    studio.set_defaults(run=_studio)
    declare_files(studio, inputs=["csv"])


def _studio(args: argparse.Namespace) -> int:
    try:
        from chainrule.studio import server
        from chainrule.studio.setups import EXAMPLES
        from chainrule.studio.sources import Uploads
    except ImportError as err:
        raise ValueError(
            f"the studio needs FastAPI and uvicorn ({err}); install them with: "
            'pip install "chainrule[studio]"'
        ) from None
    start, uploads = _start(args, EXAMPLES, Uploads)
    sock = server.bind(args.host, args.port)
    port = sock.getsockname()[1]
    token = server.new_token()
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    shown = f"[{shown}]" if ":" in shown else shown
    url = f"http://{shown}:{port}/?token={token}"
    print(url, flush=True)
    print("chainrule studio: open the URL above; Ctrl-C stops the server", flush=True)
    if args.host in ("0.0.0.0", "::"):
        print(
            f"warning: listening on every address ({args.host}): other computers can reach "
            "this server (the token still guards it); use --host 127.0.0.1 to keep it local",
            file=sys.stderr,
            flush=True,
        )
    app = server.create_app(
        token, server.allowed_hosts(args.host, port), start=start, uploads=uploads
    )
    if not args.no_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.serve(app, sock)
    except KeyboardInterrupt:  # uvicorn stops gracefully, then passes Ctrl-C on
        pass
    finally:
        sock.close()
        uploads.close()
    print("chainrule studio: stopped", flush=True)
    return 0


def _start(args: argparse.Namespace, examples: Any, uploads_class: Any) -> tuple[Any, Any]:
    """The set-up the page opens with, checked before the server starts."""
    if args.target is not None and args.csv is None:
        raise ValueError("--target names a column of --csv FILE; give the file too")
    if args.csv is not None and args.example is not None:
        raise ValueError("give either --example or --csv, not both")
    uploads = uploads_class()
    if args.example is not None:
        name = args.example.strip().lower().replace("_", "-")
        if name not in examples:
            raise ValueError(
                f"unknown example {args.example!r}; choose one of {', '.join(examples)}"
            )
        return {"example": name}, uploads
    if args.csv is None:
        return None, uploads
    if args.target is None:
        raise ValueError("--csv needs --target COLUMN, the column to predict")
    from pathlib import Path

    from chainrule.data import read_csv
    from chainrule.studio.setups import LIMITS

    # The CLI's reader and messages, on the file as named; then the studio keeps a copy.
    read_csv(args.csv, target=args.target, max_bytes=LIMITS["max_upload_bytes"])
    kept = uploads.add(Path(args.csv).read_bytes(), Path(args.csv).name)
    return {"upload": kept.key, "target": args.target}, uploads
