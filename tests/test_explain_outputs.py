"""The renderings: self-contained, well-formed HTML; Markdown math; 100-column text; SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

from chainrule.explain.examples import house_prices, softmax_classifier
from chainrule.explain.mathml import to_mathml

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}
SVG_EMPTY = {"line", "rect", "path", "circle", "mspace"}


class Checker(HTMLParser):
    """Records unbalanced tags and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data") and value:
                self.urls.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()


@pytest.fixture(scope="module", params=["house-prices", "softmax-classifier"])
def step(request):
    return house_prices(epochs=50) if request.param == "house-prices" else softmax_classifier()


def test_html_is_well_formed_and_self_contained(step):
    page = step.to_html()
    assert page.startswith("<!DOCTYPE html>")
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    # No network: no URL at all, only in-page anchors.
    assert "http://" not in page and "https://" not in page
    assert all(url.startswith("#") for url in checker.urls), checker.urls
    assert "script" not in checker.tags and "link" not in checker.tags
    # Math is MathML, the graph an inline SVG, matrices tables.
    assert {"math", "mfrac", "svg", "table"} <= checker.tags


def test_notebook_display_is_a_fragment(step):
    fragment = step._repr_html_()
    assert fragment.startswith('<div class="chainrule">') and "<html" not in fragment


def test_markdown_has_latex(step):
    markdown = step.to_markdown()
    assert "\\begin{bmatrix}" in markdown
    assert "$$" in markdown and "\\frac{\\partial E}" in markdown
    assert markdown.count("$$") % 2 == 0


def test_text_fits_100_columns(step):
    text = step.to_text()
    assert max(len(line) for line in text.splitlines()) <= 100


def test_svg_graph_is_valid_xml_with_values_and_gradients(step):
    svg = step.graph_svg(standalone=True)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    for name in ("X", "Z1", "h1", "O", "E", "Wih", "Who"):
        assert re.search(rf"\b{name}\b", texts), name
    assert "grad" in texts and "value" in texts


def test_save_picks_the_format_and_writes_atomically(step, tmp_path):
    for suffix, marker in (
        (".txt", "Backward pass"),
        (".md", "$$"),
        (".html", "<math"),
        (".svg", "<svg"),
    ):
        path = step.save(tmp_path / f"report{suffix}")
        assert marker in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "report.html",
        "report.md",
        "report.svg",
        "report.txt",
    ]
    with pytest.raises(ValueError, match="suffix"):
        step.save(tmp_path / "report.pdf")
    with pytest.raises(OSError):
        step.save(tmp_path / "missing" / "report.html")


def test_digits_are_validated_and_used(step):
    with pytest.raises(ValueError, match="digits"):
        step.to_text(digits=0)
    value = float(step.trace.loss.data)
    assert f"    = {value:.6g}\n" in step.to_text(digits=6)


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        ("\\frac{\\partial E}{\\partial W_{ho}}", "<mfrac>"),
        ("O\\,(1 - O)", "<mo>−</mo>"),
        ("\\operatorname{diag}(O) - O\\,O^\\top", "<msup>"),
        ("\\mathbb{1}[x > 0]", 'mathvariant="double-struck"'),
        ("1 \\text{ if } x > 0", "<mtext>&#160;if&#160;</mtext>"),
        ("\\sum_n x", "<mo>∑</mo>"),
        ("\\unknown", "<mtext>\\unknown</mtext>"),
    ],
)
def test_mathml_translation(latex, expected):
    out = to_mathml(latex, display=True)
    assert expected in out
    checker = Checker()
    checker.feed(out)
    assert checker.errors == [] and checker.stack == []


def test_gradients_and_updated_are_copies():
    step = softmax_classifier()
    grads = step.gradients
    grads["0.weight"][...] = 0
    assert not np.array_equal(step.gradients["0.weight"], grads["0.weight"])
