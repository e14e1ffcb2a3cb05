"""Run the examples of a Markdown file, and put their output into the page.

The rules (docs/writing-docs.md says them for authors):

- Every ```` ```python ```` fence runs, in order, in one namespace per file, in a fresh
  temporary folder (files an example writes land there).
- A fence in any other language (``sh``, ``text``, ``json``) is shown, not run; a shell
  fence (``sh``) directly after ``<!-- show output -->`` runs with bash, in the same
  folder, and what it prints is put after it.
- A Python fence directly after ``<!-- skip: REASON -->`` is shown, not run.
- A Python fence directly after ``<!-- show output -->`` runs, and what it prints is
  put after it on the site, as a ``text`` block.
- A line ``<!-- embed EXPRESSION -->`` is evaluated in the file's namespace; on the site
  its value (HTML text, or an object with ``_repr_html_``) takes the line's place. On
  GitHub the comment shows nothing.

:func:`run_markdown` does all of it and returns the Markdown with outputs put in; an
example that raises stops it with :class:`ExampleError`, naming the file and line.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<body>.*?)\s*-->\s*$")
_EMBED = re.compile(r"^(?P<indent>[ \t]*)<!--\s*embed\s+(?P<expr>.+?)\s*-->\s*$")


#: The languages of shell fences: shown, and run only after ``<!-- show output -->``.
SHELLS = ("sh", "bash", "console", "shell")

# A shell fence runs under bash -e with `chainrule` meaning this interpreter's chainrule,
# so the docs show the command of the checkout being built.
_CHAINRULE = 'chainrule() { "$CHAINRULE_PYTHON" -m chainrule "$@"; }\n'


class ExampleError(RuntimeError):
    """An example in a Markdown file raised; the message names the file and line."""


@dataclass
class Fence:
    """One fenced block: where it is, its language, its code and the marker before it."""

    start: int  # index of the opening line
    end: int  # index of the closing line
    indent: str
    language: str
    code: str
    marker: str  # the body of the comment on the line before, or ""

    @property
    def runs(self) -> bool:
        if self.language in SHELLS:
            return self.marker == "show output"
        return self.language == "python" and not self.marker.startswith("skip")


def fences(lines: list[str]) -> Iterator[Fence]:
    """The fenced blocks of a Markdown file, in order."""
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        ticks, indent = opening["ticks"], opening["indent"]
        info = opening["info"].strip()
        language = info.split()[0].strip("{.}") if info else ""
        end = i + 1
        while end < len(lines) and not re.match(
            rf"^{re.escape(indent)}{ticks[0]}{{{len(ticks)},}}\s*$", lines[end].rstrip("\n")
        ):
            end += 1
        body = [
            line[len(indent):] if line.startswith(indent) else line for line in lines[i + 1:end]
        ]
        previous = lines[i - 1] if i > 0 else ""
        marker = _MARKER.match(previous)
        yield Fence(i, end, indent, language, "".join(body), marker["body"] if marker else "")
        i = end + 1


def check_markers(lines: list[str], where: str) -> None:
    """Refuse a marker these rules do not know: a misspelt one would silently do nothing."""
    for number, line in enumerate(lines, 1):
        marker = _MARKER.match(line)
        if marker is None or not re.match(r"^(skip|show|embed)\b", marker["body"]):
            continue
        body = marker["body"]
        if body == "show output" or re.match(r"^(skip:|embed)\s+\S", body):
            continue
        raise ExampleError(
            f"{where}:{number}: unknown or incomplete marker <!-- {body} -->; "
            "use <!-- skip: REASON -->, <!-- show output --> or <!-- embed EXPRESSION -->"
        )


@contextlib.contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _failure(where: str, line: int, exc: BaseException, code: str) -> ExampleError:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == where]
    lineno = line + (frames[-1].lineno if frames else 1)
    snippet = code.splitlines()[lineno - line - 1] if frames else ""
    detail = f"{type(exc).__name__}: {exc}"
    return ExampleError(f"{where}:{lineno}: the example raised {detail}\n    {snippet.strip()}")


def _run_shell(fence: Fence, where: str) -> str:
    env = dict(os.environ, CHAINRULE_PYTHON=sys.executable, COLUMNS="100")
    done = subprocess.run(
        ["bash", "-e", "-c", _CHAINRULE + fence.code],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise ExampleError(
            f"{where}:{fence.start + 1}: the commands ended with status {done.returncode}:\n"
            f"{done.stderr.strip()}"
        )
    return done.stdout + done.stderr


def _html(value: Any) -> str:
    if hasattr(value, "_repr_html_"):
        return str(value._repr_html_())
    if isinstance(value, str):
        return value
    raise TypeError(f"an embedded value must be HTML text or have _repr_html_, got {value!r}")


def run_markdown(
    text: str,
    where: str,
    *,
    namespace: dict[str, Any] | None = None,
    on_block: Callable[[Fence], None] | None = None,
) -> str:
    """Run the examples of ``text`` (a Markdown file named ``where`` in messages).

    Returns the Markdown with each shown output after its block and each embedded value
    in place of its comment. ``namespace`` gives the examples names of their own (the
    docs' helpers); ``on_block`` is called before each block runs.
    """
    lines = text.splitlines(keepends=True)
    check_markers(lines, where)
    env: dict[str, Any] = {"__name__": "__docs__"} | (namespace or {})
    inserts: dict[int, str] = {}  # line index -> text that replaces or follows it
    replaced: set[int] = set()
    blocks = {f.start: f for f in fences(lines)}
    inside: set[int] = {i for f in blocks.values() for i in range(f.start, f.end + 1)}
    before_python = {f.start - 1 for f in blocks.values() if f.language == "python"}
    for index, line in enumerate(lines):
        marker = _MARKER.match(line)
        if not marker or not re.match(r"^(skip|show)\b", marker["body"]):
            continue
        if index not in before_python and not (
            marker["body"] == "show output" and index + 1 in blocks
            and blocks[index + 1].language in SHELLS
        ):
            raise ExampleError(
                f"{where}:{index + 1}: <!-- {marker['body']} --> must be the line right "
                "before a ```python block (or, to run it, a ```sh block)"
            )
    with tempfile.TemporaryDirectory(prefix="chainrule-docs-") as folder, _in_folder(
        Path(folder)
    ):
        for index, line in enumerate(lines):
            if index in blocks and blocks[index].runs:
                fence = blocks[index]
                if on_block is not None:
                    on_block(fence)
                printed = io.StringIO()
                if fence.language in SHELLS:
                    printed.write(_run_shell(fence, where))
                else:
                    try:
                        compiled = compile(fence.code, where, "exec")
                        with contextlib.redirect_stdout(printed):
                            exec(compiled, env)  # noqa: S102  (the docs' own examples)
                    except Exception as exc:
                        raise _failure(where, fence.start + 1, exc, fence.code) from exc
                if fence.marker == "show output":
                    shown = printed.getvalue().rstrip("\n")
                    if not shown:
                        raise ExampleError(
                            f"{where}:{fence.start + 1}: <!-- show output --> on an example "
                            "that prints nothing"
                        )
                    block = f'```text title="output"\n{shown}\n```\n'
                    inserts[fence.end] = "\n" + textwrap.indent(block, fence.indent)
            embed = _EMBED.match(line) if index not in inside else None
            if embed is not None:
                try:
                    value = eval(embed["expr"], env)  # noqa: S307  (the docs' own examples)
                    html = _html(value)
                except Exception as exc:
                    raise ExampleError(
                        f"{where}:{index + 1}: <!-- embed {embed['expr']} --> raised "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                # A blank line before and after keeps Markdown from reading into the HTML.
                inserts[index] = f'\n<div class="chainrule-output">\n{html}\n</div>\n\n'
                replaced.add(index)
    out = []
    for index, line in enumerate(lines):
        if index not in replaced:
            out.append(line)
        if index in inserts:
            out.append(inserts[index])
    return "".join(out)


def python_blocks(path: Path) -> list[Fence]:
    """The Python fences of a file that run (for tests that list them)."""
    return [f for f in fences(path.read_text(encoding="utf-8").splitlines(keepends=True)) if f.runs]
