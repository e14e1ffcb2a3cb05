"""Render an explanation's blocks as one self-contained HTML page.

Formulas are MathML (drawn by the browser itself), matrices are HTML tables and
pictures are inline SVG: the page needs no script, no font and no network. Display
formulas are set at full size and cut into pieces that wrap like words, so a long one
never runs off a narrow page; running text sets its small formulas (``h1^T``,
``dE/dWho``, the names of values) as MathML too.
"""

from __future__ import annotations

import html

import numpy as np

from chainrule.explain.document import (
    Block,
    Box,
    Heading,
    Inline,
    MatEq,
    Math,
    Para,
    Table,
    math_names,
    slug,
)
from chainrule.explain.fmt import DIGITS, as_grid
from chainrule.explain.mathml import display_pieces, prose_to_html, to_mathml

STYLE = """
.chainrule { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1d232b; line-height: 1.5; max-width: 1150px; margin: 0 auto; padding: 0 1.2em 3em; }
.chainrule h1 { font-size: 1.7em; border-bottom: 2px solid #2a6f97; padding-bottom: .2em; }
.chainrule h2 { font-size: 1.35em; margin-top: 1.8em; border-bottom: 1px solid #c9d6df; }
.chainrule h3 { font-size: 1.1em; margin-top: 1.4em; color: #2a6f97; }
.chainrule p.note { border-left: 4px solid #e9a23b; background: #fff8ec; padding: .35em .8em; }
.chainrule nav { background: #f3f6f8; padding: .5em 1em; border-radius: 6px; font-size: .95em;
  display: flex; flex-wrap: wrap; gap: .2em 1.1em; }
.chainrule nav a { color: #2a6f97; text-decoration: none; white-space: nowrap; }
.chainrule .eq { display: flex; flex-wrap: wrap; align-items: center; gap: .35em .45em;
  margin: .6em 0 .6em 1.2em; max-width: calc(100% - 1.2em); }
.chainrule .eq > span { max-width: 100%; }
.chainrule math { font-size: 1.08em; }
.chainrule .eq math { margin: 0; }
.chainrule h2 math, .chainrule h3 math { font-size: 1em; }
.chainrule aside { border: 1px solid #c9d6df; border-left: 4px solid #2a6f97;
  border-radius: 6px; background: #f5f9fb; padding: .4em 1em; margin: .9em 0; }
.chainrule aside.erratum { border-color: #e3c58f; border-left-color: #d9822b;
  background: #fffaf0; }
.chainrule aside .title { font-weight: 600; margin: .2em 0; }
.chainrule aside p { margin: .3em 0; }
.chainrule table.mat { border-collapse: separate; border-spacing: .55em .05em;
  border-left: 2px solid #333; border-right: 2px solid #333; border-radius: 7px;
  font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .88em; }
.chainrule table.mat td { text-align: right; padding: 0; }
.chainrule .scroll { overflow-x: auto; }
.chainrule table.grid { border-collapse: collapse; margin: .5em 0 .5em 1.2em; font-size: .92em; }
.chainrule table.grid th, .chainrule table.grid td { border: 1px solid #d5dde3;
  padding: .2em .6em; }
.chainrule table.grid th { background: #eef3f6; }
.chainrule table.grid td.num { text-align: right;
  font-family: ui-monospace, Menlo, Consolas, monospace; }
.chainrule figure { margin: 1em 0; overflow-x: auto; }
.chainrule figure svg { max-width: 100%; height: auto; }
.chainrule figcaption { color: #55606b; font-size: .9em; }
"""


def _inline(part: Inline, names: frozenset[str] = frozenset()) -> str:
    if isinstance(part, Math):
        return to_mathml(part.latex)
    return prose_to_html(part, names)


def _display(math: Math) -> str:
    """A display formula as pieces that wrap like words when the page is narrow."""
    return "".join(
        f"<span>{to_mathml(piece, display=True)}</span>" for piece in display_pieces(math.latex)
    )


def matrix_html(array: np.ndarray, digits: int) -> str:
    """An array as a bracketed HTML table (elided like the text output)."""
    array = np.asarray(array)
    if array.ndim == 0:
        return f"<math><mn>{html.escape(as_grid(array, digits)[0][0])}</mn></math>"
    rows = []
    for row in as_grid(array, digits):
        vertical = all(cell == "..." for cell in row)
        cells = ["⋮" if vertical else ("⋯" if c == "..." else html.escape(c)) for c in row]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return '<table class="mat">' + "".join(rows) + "</table>"


def _block(block: Block, digits: int, names: frozenset[str]) -> str:
    if isinstance(block, Heading):
        tag = f"h{min(block.level, 4)}"
        title = prose_to_html(block.text, names) if block.level > 1 else html.escape(block.text)
        return f'<{tag} id="{slug(block.text)}">{title}</{tag}>'
    if isinstance(block, Para):
        css = ' class="note"' if block.note else ""
        return f"<p{css}>" + "".join(_inline(p, names) for p in block.parts) + "</p>"
    if isinstance(block, Box):
        title = f'<p class="title">{prose_to_html(block.title, names)}</p>'
        text = "".join(_inline(p, names) for p in block.parts)
        return f'<aside class="{html.escape(block.kind)}">{title}<p>{text}</p></aside>'
    if isinstance(block, MatEq):
        items = [
            _display(t) if isinstance(t, Math) else f"<span>{matrix_html(t, digits)}</span>"
            for t in block.terms
        ]
        return '<div class="eq">' + "".join(items) + "</div>"
    if isinstance(block, Table):
        numeric = block.numeric or [False] * len(block.header)
        head = "".join(f"<th>{_inline(c, names)}</th>" for c in block.header)
        body = []
        for row in block.rows:
            cells = [
                f'<td class="num">{_inline(c)}</td>' if n else f"<td>{_inline(c, names)}</td>"
                for c, n in zip(row, numeric)
            ]
            body.append("<tr>" + "".join(cells) + "</tr>")
        rows = "".join(body)
        table = f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        return f'<div class="scroll">{table}</div>'
    return f"<figure>{block.svg}<figcaption>{html.escape(block.caption)}</figcaption></figure>"


def render_html_fragment(blocks: list[Block], digits: int = DIGITS) -> str:
    """The blocks as an HTML ``<div>`` with its own style (for notebooks)."""
    sections = [b.text for b in blocks if isinstance(b, Heading) and b.level == 2]
    nav = "".join(f'<a href="#{slug(s)}">{html.escape(s)}</a>' for s in sections)
    names = math_names(blocks)
    parts = [_block(b, digits, names) for b in blocks]
    if nav and parts:
        parts.insert(1, f"<nav>{nav}</nav>")
    return f'<div class="chainrule"><style>{STYLE}</style>' + "\n".join(parts) + "</div>"


def render_html(blocks: list[Block], title: str, digits: int = DIGITS) -> str:
    """A complete, self-contained HTML page."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
        + render_html_fragment(blocks, digits)
        + "\n</body>\n</html>\n"
    )
