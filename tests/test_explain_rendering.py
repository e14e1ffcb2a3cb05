"""How explanations are set: MathML, wrapping, the loss written out, the article notes,
the graph and the loss curve."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.explain.articles import TITLE
from chainrule.explain.document import Math
from chainrule.explain.examples import house_prices, softmax_classifier
from chainrule.explain.fmt import latex_numbers, num
from chainrule.explain.mathml import display_pieces, prose_to_html, to_mathml
from chainrule.explain.render_text import WIDTH, wrap_parts


@pytest.fixture(scope="module")
def houses():
    return house_prices(epochs=40)


@pytest.fixture(scope="module")
def classifier():
    return softmax_classifier()


# -- MathML ----------------------------------------------------------------------------


@pytest.mark.parametrize("latex", ["(O - Y)^2", "\\left(a + b\\right)^{2}", "[x]_i"])
def test_a_script_after_a_parenthesis_applies_to_the_whole_group(latex):
    out = to_mathml(latex)
    script = re.search(r"<msu[bp]><mrow>(.*?)</mrow><m[nior]", out)
    assert script is not None, out
    assert script[1].startswith(("<mo>(</mo>", "<mo>[</mo>")), out
    assert "<msup><mo>)</mo>" not in out and "<msub><mo>]</mo>" not in out


def test_display_fractions_are_full_size_and_inline_ones_never_script_size():
    assert to_mathml("\\frac{\\partial E}{\\partial W_{ho}}", display=True).startswith(
        '<math display="block">'
    )
    inline = to_mathml("\\frac{\\partial E}{\\partial W_{ho}}")
    assert "<mfrac" not in inline and ">/</mo>" in inline
    # A fraction that is not two single terms keeps its full size inline too.
    assert '<mfrac displaystyle="true">' in to_mathml("\\frac{1}{2N}")


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(lambda v: v != 0))
def test_numbers_in_latex_are_written_as_powers_of_ten(value):
    latex = latex_numbers(f"x = {num(value)}")
    assert not re.search(r"\de[-+]", latex), latex
    if "e" in num(value):
        mantissa, exponent = num(value).split("e")
        assert f"{mantissa} \\times 10^{{{int(exponent)}}}" in latex


def test_long_display_formulas_are_cut_between_terms():
    latex = "E = \\frac{1}{2}((a - b)^2 + (c - d)^2) + f \\cdot g"
    pieces = display_pieces(latex)
    assert pieces == ["E =", "\\frac{1}{2}((a - b)^2 + (c - d)^2) +", "f \\cdot", "g"]
    assert display_pieces("x^{a + b}") == ["x^{a + b}"]


class _Text(HTMLParser):
    """The text of a page outside its <math>, <style> and <svg> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("math", "style", "svg"):
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in ("math", "style", "svg"):
            self.depth -= 1

    def handle_data(self, data):
        if self.depth == 0:
            self.chunks.append(data)


# ASCII formulas that must be set as math in HTML.
RAW_ASCII = re.compile(r"\w\^T\b|\b[A-Za-z][0-9]?_[a-z0-9]+\b|\bd[A-Z]\w*/d\w+|\bsum_|\bdelta")


@pytest.mark.parametrize("which", ["houses", "classifier"])
def test_html_running_text_has_no_ascii_formulas(which, request):
    step = request.getfixturevalue(which)
    reader = _Text()
    reader.feed(step.to_html())
    text = " ".join(reader.chunks)
    assert RAW_ASCII.findall(text) == []
    # The value names the document uses are math too, not plain words.
    for name in step.names.values():
        assert not re.search(rf"\b{name}\b", text), name


def test_prose_sets_names_indices_and_partials_as_math():
    html = prose_to_html("dE/dWho[2,0] and h1^T and O_i (delta_ij - O_j) via Who", {"Who"})
    assert html.count("<math>") == 6
    assert "dE/d" not in html and "^T" not in html
    assert prose_to_html("A 2 -> 3 map") == "A 2 → 3 map"


# -- text wrapping ---------------------------------------------------------------------

NAMES = st.sampled_from(["O", "Y", "h1", "Wih", "Z2", "O_i", "O_j", "delta_ij", "X"])
NUMBERS = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda v: num(v))
ATOMS = st.one_of(NAMES, NUMBERS)
OPERATORS = st.sampled_from(["-", "+", "*", "@", "⊙", "=", "/"])


@st.composite
def formulas(draw):
    """``O_i (delta_ij - O_j)``, ``h1 * (1 - h1)``, ``X = 0.5 - -1.2e-05``..."""
    terms = [draw(ATOMS)]
    for _ in range(draw(st.integers(1, 3))):
        terms += [draw(OPERATORS), draw(ATOMS)]
    body = " ".join(terms)
    if draw(st.booleans()):
        body = f"{draw(NAMES)} ({body})"
    return body


WORDS = st.sampled_from(
    ["the", "gradient", "of", "each", "layer", "is", "cross-entropy", "summed", "over", "rows"]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(WORDS, formulas(), NUMBERS), min_size=5, max_size=40),
    st.booleans(),
    st.sampled_from([40, 60, WIDTH]),
)
def test_text_never_breaks_inside_a_formula_or_a_number(pieces, as_math, width):
    parts: list = []
    for piece in pieces:
        formula = " " in piece
        parts.append(Math(piece, piece) if formula and as_math else piece)
        parts.append(" ")
    lines = wrap_parts(parts, width)
    assert all(len(line) <= width for line in lines) or any(len(p) > width - 10 for p in pieces)
    for piece in pieces:
        if len(piece) < width - 10:
            assert any(piece in line for line in lines), (piece, lines)


# -- the loss --------------------------------------------------------------------------


def test_loss_fills_in_n_and_adds_a_negative_target():
    model = nn.Sequential(nn.Linear(2, 1, dtype=np.float64, rng=0))
    X, Y = np.array([[0.5, 0.1]]), np.array([[-0.6655]])
    text = cr.explain(model, X, Y, nn.MSELoss(), lr=0.1).to_text()
    out = float(model(X).data.reshape(()))
    loss = text.split("Loss\n")[1].split("Backward pass")[0]
    assert f"= 1/1 * ({num(out)} + 0.6655)^2" in loss
    assert "- -" not in loss
    step = cr.explain(model, X, np.array([[-1.2e-7]]), nn.MSELoss(), lr=0.1)
    markdown = step.to_markdown()
    assert "1.2 \\times 10^{-7})^2" in markdown
    maths = re.findall(r"\$\$?([^$]+)\$\$?", markdown)
    assert not any(re.search(r"\de[-+]\d", m) for m in maths)


def test_cross_entropy_of_one_sample_says_n_is_1(classifier):
    text = classifier.to_text()
    assert "-1/N *" in text and "= -1/1 * log(" in text


def test_the_introduction_writes_the_loss_as_its_section_does(houses):
    text = houses.to_text()
    assert "E = 1/2 * sum((O - Y)^2) and" in text.split("Names")[0]
    assert text.count("E = 1/2 * sum((O - Y)^2)") == 2


def test_one_hot_targets_have_the_shape_the_formulas_use(classifier):
    text = classifier.to_text()
    assert re.search(r"\bY\s+target, one-hot rows of the class labels\s+\(1, 2\)", text)
    assert "Y (1, 2), the class labels as one-hot rows" in text
    assert "one bias per output unit" in text


# -- Coming from the article -----------------------------------------------------------


@pytest.mark.parametrize("which", ["houses", "classifier"])
def test_article_section_in_every_rendering(which, request):
    step = request.getfixturevalue(which)
    text, markdown, html = step.to_text(), step.to_markdown(), step.to_html()
    for page in (text, markdown, html):
        assert TITLE in page and "Erratum" in page
    trace = step.trace
    x = trace.input.data
    # The shapes come from the arrays: both layouts of X, every layer's product.
    assert f"{x.shape[1]}×{x.shape[0]}" in text and f"{x.shape[0]}×{x.shape[1]}" in text
    for v in trace.values:
        node = v.tensor.node
        if node is not None and node.op.name == "linear":
            a, w = node.inputs[0].shape, node.inputs[1].shape
            here = f"{a[0]}×{a[1]} @ {w[0]}×{w[1]} → {v.shape[0]}×{v.shape[1]}"
            there = f"{w[1]}×{w[0]} @ {a[1]}×{a[0]} → {v.shape[1]}×{v.shape[0]}"
            assert here in text and there in text
    assert html.count('<aside class="erratum">') == (3 if which == "houses" else 1)
    assert markdown.count("> **Erratum") == (3 if which == "houses" else 1)


def _boxed(text: str) -> str:
    """The text with the boxes' line starts ("  | ") joined back into running text."""
    return re.sub(r"\n *\| ", " ", text)


def test_house_prices_errata_use_the_step_numbers(houses):
    text = _boxed(houses.to_text())
    grads = houses.gradients
    assert f"here {num(grads['2.bias'][0])}" in text
    assert f"sums all of them: {num(grads['0.bias'][0])}" in text
    assert "4×6 (6×4 here" in text and "5×6 there (6×5 here)" in text
    assert '"converges faster"' in text


def test_classifier_erratum_compares_with_the_real_gradient(classifier):
    text = _boxed(classifier.to_text())
    match = re.search(r"would give dE/dWih\[(\d),(\d)\] = (\S+) instead of\s+(\S+)\.", text)
    assert match is not None
    i, j = int(match[1]), int(match[2])
    assert match[4] == num(classifier.gradients["0.weight"][i, j], 6)
    assert match[3] != match[4]


# -- pictures --------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["houses", "classifier"])
def test_graph_edges_have_their_own_arrowheads_and_labels_are_whole(which, request):
    step = request.getfixturevalue(which)
    root = ET.fromstring(step.graph_svg(standalone=True))
    lines = [e for e in root.iter() if e.tag.endswith("line")]
    heads = [e for e in root.iter() if e.tag.endswith("polygon")]
    assert len(lines) == len(heads) > 0
    tips = [e.get("points").split()[0] for e in heads]
    assert len(tips) == len(set(tips)), "two arrowheads on one point"
    texts = [t.text or "" for t in root.iter() if t.tag.endswith("text")]
    assert not any("…" in t for t in texts)
    for v in step.trace.values:
        assert v.role in texts


def test_house_prices_html_embeds_the_loss_curve(houses):
    html = houses.to_html()
    curve = re.search(r'<svg[^>]*aria-label="loss over epochs".*?</svg>', html)
    assert curve is not None
    ticks = re.findall(r'text-anchor="middle" fill="#55606b">([^<]+)<', curve[0])
    assert ticks and all(t.isdigit() for t in ticks)
    assert int(ticks[-1]) >= houses.training.epochs[-1]
