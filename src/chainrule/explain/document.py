"""The building blocks of an explanation, independent of the output format.

:mod:`chainrule.explain.compose` writes an explanation as a list of blocks;
``render_text``, ``render_markdown`` and ``render_html`` each turn the same list
into their format, so the three outputs always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Math:
    """A formula written twice: plain text (``dE/dO``) and LaTeX."""

    text: str
    latex: str

    def __add__(self, other: Math) -> Math:
        return Math(self.text + other.text, self.latex + other.latex)


Inline = str | Math


@dataclass
class Heading:
    """A section title; ``level`` 1 is the document title."""

    level: int
    text: str


@dataclass
class Para:
    """Running text with inline formulas; ``note`` marks an aside."""

    parts: list[Inline]
    note: bool = False


@dataclass
class MatEq:
    """A displayed equation whose terms are formulas or arrays shown as matrices."""

    terms: list[Math | np.ndarray]


@dataclass
class Table:
    """Rows of cells under a header; ``numeric`` columns are right-aligned."""

    header: list[Inline]
    rows: list[list[Inline]]
    numeric: list[bool] = field(default_factory=list)


@dataclass
class Picture:
    """An SVG picture (HTML output only) and its caption."""

    svg: str
    caption: str


@dataclass
class Box:
    """A titled aside set apart from the text: an erratum, a translation of notation.

    ``kind`` names what it is (``"erratum"`` or ``"note"``); every renderer frames it.
    """

    title: str
    parts: list[Inline]
    kind: str = "note"


Block = Heading | Para | MatEq | Table | Picture | Box


def plain(part: Inline) -> str:
    """The text form of an inline part."""
    return part.text if isinstance(part, Math) else part


def math_names(blocks: list[Block]) -> frozenset[str]:
    """The names the blocks write as formulas (``Wih``, ``h1``, ``O``): values, not words."""
    names: set[str] = set()
    for block in blocks:
        parts: list[Inline] = []
        if isinstance(block, (Para, Box)):
            parts = block.parts
        elif isinstance(block, Table):
            parts = [*block.header, *(cell for row in block.rows for cell in row)]
        for part in parts:
            if isinstance(part, Math) and part.text.isidentifier():
                names.add(part.text)
    return frozenset(names)


def slug(text: str) -> str:
    """An HTML anchor for a heading."""
    kept = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(filter(None, kept.split("-")))
