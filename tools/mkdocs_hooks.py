"""MkDocs hooks: run the pages' examples and generate the pages read from the code.

- Every page's ```python blocks run while the site builds (tools/markdown_examples.py),
  so what a page shows is what chainrule computes today; a failing example fails the build.
- ``reference/*.md``, one page per public module, are generated from the modules'
  ``__all__`` (mkdocstrings renders the docstrings), and ``ops.md`` from the op registry
  (tools/op_reference.py): neither can drift from the code.
- The studio's guide is in the navigation once ``docs/studio.md`` exists.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("MPLBACKEND", "Agg")

from markdown_examples import ExampleError, run_markdown  # noqa: E402
from mkdocs.exceptions import PluginError  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402
from op_reference import op_reference_markdown  # noqa: E402
from page_helpers import HELPERS  # noqa: E402
from reference_pages import REFERENCE, reference_markdown  # noqa: E402


def on_config(config: Any) -> Any:
    """Fill in the API pages; leave the studio's page out until it is written."""
    docs = Path(config["docs_dir"])
    if not (docs / "studio.md").exists():
        config["nav"] = _without(config["nav"], "studio.md")
    pages = [{title: f"reference/{module}.md"} for module, title, _ in REFERENCE]
    config["nav"] = _with_api(config["nav"], pages)
    return config


def _with_api(nav: Any, pages: list[dict[str, str]]) -> Any:
    if isinstance(nav, list):
        return [_with_api(item, pages) for item in nav]
    if isinstance(nav, dict):
        return {k: pages if k == "API" else _with_api(v, pages) for k, v in nav.items()}
    return nav


def _without(nav: Any, target: str) -> Any:
    if isinstance(nav, list):
        return [item for item in (_without(n, target) for n in nav) if item is not None]
    if isinstance(nav, dict):
        kept = {k: _without(v, target) for k, v in nav.items()}
        return None if any(v is None for v in kept.values()) else kept
    return None if nav == target else nav


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages: the API reference and the op registry."""
    for module, _title, _names in REFERENCE:
        files.append(
            File.generated(config, f"reference/{module}.md", content=reference_markdown(module))
        )
    files.append(File.generated(config, "ops.md", content=op_reference_markdown()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Run the page's examples; put in what they print and embed."""
    try:
        return run_markdown(markdown, f"docs/{page.file.src_uri}", namespace=dict(HELPERS))
    except ExampleError as exc:
        raise PluginError(str(exc)) from exc


# numpydoc docstrings use Sphinx roles (:class:`~chainrule.nn.Linear`); mkdocstrings
# leaves them as text, so the reference shows the name alone, as code.
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):<code>(~?)([\w.]+)</code>")


def on_page_content(html: str, page: Any, config: Any, files: Files) -> str:
    return _ROLE.sub(lambda m: f"<code>{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}</code>", html)
