"""What the explanations teach: findings, a numerical check, intuitions, brief mode."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.check import central_difference
from chainrule.explain.diagnostics import GRADIENT_FACTOR, KINDS
from chainrule.explain.examples import house_prices, softmax_classifier
from chainrule.explain.fmt import agreement, num
from chainrule.ops import REGISTRY


@pytest.fixture(scope="module")
def houses() -> cr.explain.Explanation:  # type: ignore[name-defined]
    return house_prices(epochs=0)


def _kinds(step) -> list[str]:
    return [f.kind for f in step.diagnostics]


# -- diagnostics -----------------------------------------------------------------------------
def test_house_prices_notices_the_saturated_sigmoid_and_the_vanishing_gradient(houses) -> None:
    found = {f.kind: f for f in houses.diagnostics}
    assert set(found) == {"saturated", "vanishing"}
    assert found["saturated"].where == "h1"
    assert "0.9999" in found["saturated"].message and "5.924e-05" in found["saturated"].message
    assert found["vanishing"].where == "Wih"
    ratio = np.sqrt(np.mean(houses.gradients["2.weight"] ** 2)) / np.sqrt(
        np.mean(houses.gradients["0.weight"] ** 2)
    )
    assert f"about {ratio:.2g} times smaller" in found["vanishing"].message
    assert "through the saturated h1" in found["vanishing"].message


@pytest.mark.parametrize("render", ["to_text", "to_markdown", "to_html"])
def test_findings_are_shown_near_the_top_of_every_rendering(houses, render) -> None:
    for brief in (False, True):
        document = getattr(houses, render)(brief=brief)
        start = document.find("</nav>") + 1  # past the HTML table of contents
        notice = document.index("What to notice", start)
        forward = document.index("Forward pass", start)
        assert notice < forward
        # HTML sets the names as MathML (<mi>h</mi><mn>1</mn>): compare the text it shows.
        shown = re.sub(r"<[^>]+>", "", document[notice:forward])
        for finding in houses.diagnostics:
            assert finding.where in shown


def _relu_step(lr: float = 0.1):
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 1, rng=1))
    model.to(np.float64)
    first = model[0]
    first.weight.data[:] = [[0.5, -1.0, 0.3], [0.2, -1.0, 0.4]]  # unit 1 is off for every
    first.bias.data[:] = [0.1, -0.5, 0.0]  # (positive) input, units 0 and 2 on for all
    x = np.array([[0.5, 1.0], [1.0, 0.2], [0.3, 0.3]])
    return cr.explain(model, x, np.array([[1.0], [0.0], [0.5]]), nn.MSELoss(), lr=lr)


def test_a_relu_unit_off_for_every_sample_is_dead_and_its_weights_get_no_gradient() -> None:
    step = _relu_step()
    dead = [f for f in step.diagnostics if f.kind == "dead"]
    assert len(dead) == 1 and dead[0].where == "h1"
    assert "Unit 1 of h1 (relu) is off for all 3 samples" in dead[0].message
    assert np.all(step.gradients["0.weight"][:, 1] == 0)


def test_one_sample_says_nothing_about_dead_units() -> None:
    model = nn.Sequential(nn.Linear(2, 4, rng=3), nn.ReLU(), nn.Linear(4, 1, rng=4))
    step = cr.explain(model, np.array([[0.5, -1.0]]), np.array([[1.0]]), nn.MSELoss())
    assert "dead" not in _kinds(step)


def test_gradients_growing_towards_the_input_are_exploding() -> None:
    model = nn.Sequential(nn.Linear(2, 2, dtype=np.float64, rng=0), nn.Linear(2, 1, rng=1))
    model.to(np.float64)
    model[0].weight.data[:] = 0.01
    model[0].bias.data[:] = 0.0
    model[1].weight.data[:] = 50.0
    step = cr.explain(model, np.array([[1.0, 2.0]]), np.array([[0.0]]), nn.MSELoss(), lr=1e-4)
    exploding = [f for f in step.diagnostics if f.kind == "exploding"]
    assert [f.where for f in exploding] == ["W1" if step.trace.n_layers > 2 else "Wih"]
    assert "larger than dE/dWho" in exploding[0].message


def test_a_step_that_raises_the_loss_is_an_overshoot_with_a_learning_rate_that_works() -> None:
    model = nn.Sequential(nn.Linear(1, 1, dtype=np.float64, rng=0))
    x, y = np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [4.0], [6.0]])
    step = cr.explain(model, x, y, nn.MSELoss(), lr=2.0)
    assert step.loss_after > step.loss
    (finding,) = [f for f in step.diagnostics if f.kind == "overshoot"]
    assert finding.where == "lr"
    assert f"{step.loss_after / step.loss:.3g} times as large" in finding.message
    match = re.search(r"with lr = ([0-9.e+-]+) \((\d+) times smaller\)", finding.message)
    assert match is not None
    smaller = float(match[1])
    assert smaller == 2.0 / int(match[2])
    assert cr.explain(model, x, y, nn.MSELoss(), lr=smaller).loss_after < step.loss
    assert cr.explain(model, x, y, nn.MSELoss(), lr=smaller * 2).loss_after >= step.loss


@pytest.mark.parametrize(
    "make",
    [
        softmax_classifier,
        lambda: cr.explain(
            nn.Sequential(nn.Linear(2, 3, rng=1), nn.Tanh(), nn.Linear(3, 1, rng=2)),
            np.array([[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8]]),
            np.array([[0.3], [-0.1], [0.2]]),
            nn.MSELoss(),
            lr=0.1,
        ),
    ],
)
def test_a_healthy_small_network_has_nothing_to_notice(make) -> None:
    step = make()
    assert step.diagnostics == []
    assert "What to notice" not in step.to_text()


def test_findings_have_known_kinds_and_one_sentence_each(houses) -> None:
    for step in (houses, _relu_step()):
        for finding in step.diagnostics:
            assert finding.kind in KINDS
            assert finding.message.endswith(".") and ". " not in finding.message
    assert GRADIENT_FACTOR > 1


def test_diagnostics_and_checks_leave_the_model_unchanged() -> None:
    model = nn.Sequential(nn.Linear(1, 1, rng=0))
    before = {k: p.data.copy() for k, p in model.named_parameters()}
    step = cr.explain(model, np.array([[1.0], [2.0]]), np.array([[2.0], [4.0]]), nn.MSELoss(), 3.0)
    step.to_text()
    assert step.diagnostics
    for key, param in model.named_parameters():
        assert param.data.dtype == before[key].dtype and np.array_equal(param.data, before[key])
        assert param.grad is None


# -- the numerical check -----------------------------------------------------------------------
def test_the_scalar_view_checks_each_weight_by_central_differences(houses) -> None:
    text = " ".join(houses.to_text().replace("\n  | ", " ").split())
    checks = re.findall(
        r"nudge w = (\w+)\[(\d), (\d)\] by h = 1e-06 .*? = ([0-9.e+-]+)\. Backpropagation gave "
        r"([0-9.e+-]+): the two agree to (\d+) significant digits",
        text,
    )
    assert [c[:3] for c in checks] == [("Who", "2", "0"), ("Wih", "1", "2")]
    for name, i, j, numeric, backprop, digits in checks:
        key = {"Who": "2.weight", "Wih": "0.weight"}[name]
        assert float(backprop) == pytest.approx(houses.gradients[key][int(i), int(j)], rel=1e-9)
        assert float(numeric) == pytest.approx(float(backprop), rel=1e-6)
        assert int(digits) >= 6
    assert "within 0" not in text


def test_agreement_is_said_in_significant_digits_never_within_zero() -> None:
    assert agreement(0.25, 0.25) == "agree exactly"
    assert agreement(0.1097353709, 0.1097353710) == "agree to 9 significant digits"
    assert agreement(1.0, 1.5).startswith("do not agree")
    assert agreement(-2.0, -2.2) == "agree to 1 significant digit"


def test_central_difference_nudges_in_place_and_puts_the_entry_back() -> None:
    weights = np.array([1.0, 2.0, 3.0])
    plus, minus, slope = central_difference(lambda: float(np.sum(weights**2)), weights, 1, 1e-3)
    assert slope == pytest.approx(4.0) and plus > minus
    assert np.array_equal(weights, [1.0, 2.0, 3.0])


# -- intuitions --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_op_has_a_one_sentence_intuition(name: str) -> None:
    # Every op may be shown as a stage (explanations run unfused; the fused ops are
    # explained through the ops they fuse), so every op needs one.
    intuition = REGISTRY[name].intuition
    assert intuition and intuition[0].isupper() and intuition.endswith(".")
    assert not re.search(r"\.\s+[A-Z]", intuition), "one sentence"


def test_each_op_shown_as_a_stage_is_given_its_intuition_once() -> None:
    for step in (house_prices(epochs=0), softmax_classifier(), _relu_step()):
        text = " ".join(step.to_text().split())
        for op in {stage.op.name for stage in step.derivation.stages}:
            if step.derivation.fused is not None and op == step.trace.loss.op_name:
                continue  # the fused loss's stage is shown in the softmax section
            assert text.count(f"Intuition ({op}): {REGISTRY[op].intuition}") == 1


# -- brief mode and repetition -----------------------------------------------------------------
def test_brief_house_prices_has_every_number_a_reader_checks_in_about_100_lines(houses) -> None:
    text = houses.to_text(brief=True)
    assert len(text.splitlines()) <= 105
    flat = " ".join(text.split())
    for part in ("What to notice", "E = 1/2 * sum((O - Y)^2)", "= 1.044"):
        assert part in flat
    for formula in (
        "delta2 = (O - Y) ⊙ (O * (1 - O)) [(6, 1) ⊙ (6, 1) -> (6, 1)]",
        "delta1 = (delta2 @ Who^T) ⊙ (h1 * (1 - h1))",
        "dE/dWih = X^T @ delta1 [(4, 6) @ (6, 5) -> (4, 5)]",
        "dE/dWho = h1^T @ delta2 [(5, 6) @ (6, 1) -> (5, 1)]",
        "dE/dbih = sum(delta1)",
        "Wih_new",
        "bho_new",
        "Z1 = X @ Wih + bih",
        "O = sigmoid(Z2)",
    ):
        assert formula in flat, formula
    for key, grad in houses.gradients.items():
        assert all(num(g) in text for g in grad.reshape(-1)), key
        assert all(num(v) in text for v in houses.updated[key].reshape(-1)), key
    assert "Gates" not in text and "One weight" not in text


def test_brief_markdown_and_html_are_short_and_full_mode_says_reuse_once(houses) -> None:
    for render in ("to_markdown", "to_html"):
        brief, full = getattr(houses, render)(brief=True), getattr(houses, render)()
        assert len(brief) < len(full) / 2
    full = " ".join(houses.to_text().split())
    assert full.count("backpropagation reuses it") == 1
    assert "the shape of Who itself" not in full and "exactly the shape of Who" in full
    gates = full[full.index("Gates") :]
    assert "upstream dE/dZ2" not in gates and "from 0.6981 to 0.9999" not in gates


def test_the_command_has_brief(tmp_path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "chainrule", "explain", "softmax-classifier", "--brief"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout == softmax_classifier().to_text(brief=True)
    out = tmp_path / "brief.md"
    subprocess.run(
        [sys.executable, "-m", "chainrule", "explain", "house-prices", "--brief", "--out", out],
        check=True,
        capture_output=True,
    )
    assert out.read_text(encoding="utf-8") == house_prices().to_markdown(brief=True)
