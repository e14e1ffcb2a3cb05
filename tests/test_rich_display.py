"""Jupyter's rich display of models and training histories (``_repr_html_``)."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.train import History
from chainrule.train.history_html import _epoch_ticks, history_html, history_svg


def test_a_models_html_is_its_summary_as_a_table():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    page = model._repr_html_()
    text_rows = model.summary().splitlines()
    assert "67 parameters (67 trainable), float32" in page
    assert page.count("<tr>") == 4  # the header and one row per layer
    for label, shape, count in (("0 (Linear)", "(N, 8)", "40"), ("2 (Linear)", "(N, 3)", "27")):
        assert f"<td>{label}</td><td>{shape}</td><td>{count}</td>" in page
        assert any(label in row and shape in row for row in text_rows)
    ET.fromstring(page)  # well-formed


values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(allow_nan=False, allow_infinity=False),  # subnormal to 1.8e308
    st.sampled_from([math.nan, math.inf, 5e-324, -1.7e308, 1.7e308]),
)


@settings(max_examples=60, deadline=None)
@given(
    loss=st.lists(values, min_size=1, max_size=40),
    with_validation=st.booleans(),
    kept=st.booleans(),
)
@example(loss=[5e-324], with_validation=False, kept=False)  # half of it rounds to 0
@example(loss=[0.0, 5e-324], with_validation=False, kept=False)  # a span too small to halve
@example(loss=[1.7e308], with_validation=False, kept=False)  # flat, no room above it
@example(loss=[-1.7e308, 1.7e308], with_validation=False, kept=True)  # span beyond float64
@example(loss=[-1.2345e-300, 1.7e308], with_validation=True, kept=False)  # long labels
def test_a_historys_html_has_a_summary_row_per_key_and_a_curve_of_finite_points(
    loss, with_validation, kept
):
    history = History()
    for epoch, value in enumerate(loss):
        logs = {"loss": value, "lr": 0.01}
        if with_validation:
            logs["val_loss"] = value * 2 if math.isfinite(value) else value
        history.record(epoch, logs)
    if kept:
        history.kept_epoch = len(loss)
    page = history._repr_html_()
    root = ET.fromstring(page)  # well-formed, SVG included
    rows = root.findall(".//tbody/tr")
    assert [r.find("td").text for r in rows] == list(history.history)
    assert "nan" not in " ".join(p.get("points", "") for p in root.iter() if p.get("points"))
    finite = [v for v in loss if math.isfinite(v)]
    svg = root.find("{http://www.w3.org/2000/svg}svg")
    if not finite:
        assert svg is None
        return
    assert svg is not None
    points = " ".join(p.get("points", "") for p in svg.iter())
    numbers = [float(n) for n in re.findall(r"-?\d+\.?\d*", points)]
    xs, ys = numbers[0::2], numbers[1::2]
    width, height = float(svg.get("width")), float(svg.get("height"))
    assert all(0 <= x <= width for x in xs) and all(0 <= y <= height for y in ys)
    assert ("kept" in page) == kept
    assert_numbers_fit(svg)


NUMBER = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?")


def assert_numbers_fit(svg: ET.Element) -> None:
    """Every number the chart writes (values and epochs) lies inside the drawing, taking
    each character as wide as 0.65 em: wider than a digit, "e", "-" or "." in common
    sans-serif fonts (DejaVu Sans' digits, the widest, are 0.636 em)."""
    font = float(re.search(r"font: (\d+)px", svg.get("style")).group(1))
    width = float(svg.get("viewBox").split()[2])
    labels = [t for t in svg.iter("{http://www.w3.org/2000/svg}text") if NUMBER.fullmatch(t.text)]
    assert labels
    for text in labels:
        x, span = float(text.get("x")), 0.65 * font * len(text.text)
        start = {"end": x - span, "middle": x - span / 2}.get(text.get("text-anchor"), x)
        assert start >= 0 and start + span <= width, (text.text, start, span, width)


def test_a_long_training_numbers_its_last_epoch_inside_the_drawing():
    history = History()
    for epoch in range(123_456):
        history.record(epoch, {"loss": 1 / (epoch + 1)})
    svg = ET.fromstring(history_svg(history))
    assert "123456" in {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert_numbers_fit(svg)


def test_value_labels_write_exponents_compactly():
    history = History()
    for epoch, value in enumerate([1.7e308, 2.5e-5]):
        history.record(epoch, {"loss": value})
    labels = {t.text for t in ET.fromstring(history_svg(history)).iter() if t.text}
    assert {"1.7e308", "2.5e-5"} <= labels


def test_fit_returns_a_history_jupyter_shows_with_its_curve():
    X, y = cr.data.load("xor")
    model = nn.Sequential(nn.Linear(2, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))
    history = cr.fit(model, X, y, loss="cross-entropy", epochs=5, verbose=0, rng=0,
                     validation_data=(X, y))
    page = history._repr_html_()
    assert "5 epochs" in page and page.count("<polyline") == 2
    assert "training loss" in page and "validation loss" in page
    assert np.isfinite(history.loss).all()


@settings(max_examples=300, deadline=None)
@given(epochs=st.integers(1, 10**9))
def test_epochs_are_numbered_evenly_from_the_first_to_the_last(epochs):
    """Every epoch up to 12; beyond, 1, the multiples of one round step (1, 2, 2.5 or 5
    times a power of ten) and the last, with no multiple crowding the last."""
    ticks = _epoch_ticks(epochs)
    assert ticks[0] == 1 and ticks[-1] == epochs and ticks == sorted(set(ticks))
    if epochs <= 12:
        assert ticks == list(range(1, epochs + 1))
        return
    inner = ticks[1:-1]
    step = inner[0]
    assert inner == [step * k for k in range(1, len(inner) + 1)]
    assert str(step).rstrip("0") in {"1", "2", "25", "5"}
    assert 3 <= len(ticks) <= 7
    assert epochs - inner[-1] >= step / 2


def test_a_short_training_numbers_every_epoch_under_its_curve():
    history = History()
    for epoch in range(6):
        history.record(epoch, {"loss": 1 / (epoch + 1)})
    svg = ET.fromstring(history_svg(history))
    below = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")
             if t.get("text-anchor") == "middle" and NUMBER.fullmatch(t.text)]
    assert below == ["1", "2", "3", "4", "5", "6"]


@pytest.mark.parametrize(
    "losses", [[1.00001, 1.00002], [0.3333331, 0.3333334], [1e-300, 1.0000001e-300]]
)
def test_value_labels_tell_a_narrow_range_apart(losses):
    """A loss that moved only in its sixth digit or beyond: each value line has its own
    label, and the labels read in order."""
    history = History()
    for epoch, value in enumerate(losses):
        history.record(epoch, {"loss": value})
    svg = ET.fromstring(history_svg(history))
    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")
              if t.get("text-anchor") == "end"]
    assert len(labels) == 5 and len(set(labels)) == 5
    assert [float(label) for label in labels] == sorted(float(label) for label in labels)
    assert_numbers_fit(svg)


def test_the_summary_keeps_four_digits_beside_nan_at_both_ends():
    """A metric that was NaN in its first and last epochs (each NaN a float of its own)
    shows its best value to four digits, not to seventeen."""
    history = History()
    for epoch, value in enumerate([float("nan"), 0.1, float("nan")]):
        history.record(epoch, {"loss": 0.5, "val_loss": value})
    row = re.search(r"<tr><td>val_loss</td>(.*?)</tr>", history_html(history)).group(1)
    assert re.findall(r"<td>(.*?)</td>", row) == ["nan", "0.1 (epoch 2)", "nan"]
