"""Explanations of any graph the engine can differentiate: generated networks with
activations anywhere, a Linear applied more than once, residual sums and tensor
arithmetic; deep networks; the softmax Jacobian outside a fused loss."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.autograd import enable_grad
from chainrule.explain import Explanation
from chainrule.explain.derive import Derivation
from chainrule.explain.fmt import num

ACTIVATIONS = {
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "leaky": lambda: nn.LeakyReLU(0.2),
    "identity": nn.Identity,
    "softmax": nn.Softmax,
}
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _backward_gradients(model: nn.Module, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The gradients of a plain forward, loss and backward() on a float64 copy."""
    work = copy.deepcopy(model)
    work.to(np.float64)
    with enable_grad():
        loss = nn.MSELoss()(work(cr.Tensor(x)), y)
    loss.backward()
    return {key: p.grad for key, p in work.named_parameters() if p.grad is not None}


def _check(model: nn.Module, x: np.ndarray, y: np.ndarray) -> Explanation:
    """explain() works, its gradients are backward()'s, and every sum it writes adds up."""
    step = cr.explain(model, x, y, nn.MSELoss(), lr=0.1)
    expected = _backward_gradients(model, x, y)
    assert set(step.gradients) == set(expected)
    for key, grad in expected.items():
        np.testing.assert_array_equal(step.gradients[key], grad)
    _check_sums(step.derivation, step)
    text = step.to_text()
    assert step.to_markdown()
    for chain in step.derivation.chains:
        if chain.branches:
            for k, path in enumerate(chain.uses, start=1):
                assert f"path {k}, through {path[-1].out.name}:" in text
    return step


def _check_sums(derivation: Derivation, step: Explanation) -> None:
    for chain in derivation.chains:
        key = chain.param.param_key
        assert key is not None
        np.testing.assert_array_equal(chain.gradient, step.gradients[key])
        # one contribution per use; together they are the whole gradient
        assert len(chain.uses) == sum(1 for s in derivation.stages if s.wrt is chain.param)
        parts = sum(path[-1].result for path in chain.uses)
        np.testing.assert_allclose(parts, chain.gradient, rtol=1e-12, atol=1e-15)
        for path in chain.uses:
            assert path[-1].wrt is chain.param
            for upper, lower in zip(path, path[1:]):
                assert lower.out is upper.wrt  # each path is connected
    for chain in derivation.chains:
        for junction in chain.junctions:
            total = sum(part.result for part in junction.parts)
            np.testing.assert_allclose(total, junction.total, rtol=1e-12, atol=1e-15)
            assert all(part.parts == len(junction.parts) for part in junction.parts)


@st.composite
def sequentials(draw: st.DrawFn) -> tuple[nn.Module, np.ndarray, np.ndarray]:
    """Linear layers and activations in any order (activations first, twice in a row...)."""
    width = draw(st.integers(1, 3))
    features = width
    layers: list[nn.Module] = []
    n_items = draw(st.integers(1, 6))
    for k in range(n_items):
        if draw(st.booleans()):
            out = draw(st.integers(1, 3))
            bias = draw(st.sampled_from([True, False, "shared"]))
            layers.append(nn.Linear(width, out, bias=bias, dtype=np.float64, rng=k))
            width = out
        else:
            layers.append(ACTIVATIONS[draw(st.sampled_from(sorted(ACTIVATIONS)))]())
    if not any(isinstance(layer, nn.Linear) for layer in layers):
        layers.insert(draw(st.integers(0, len(layers))), nn.Linear(width, width, rng=9))
    samples = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    x = rng.normal(size=(samples, features))
    y = rng.normal(size=(samples, width))
    return nn.Sequential(*layers), x, y


class Program(nn.Module):
    """A custom forward: one Linear applied several times, residual sums, tensor arithmetic."""

    def __init__(self, width: int, steps: list[str]) -> None:
        super().__init__()
        self.shared = nn.Linear(width, width, dtype=np.float64, rng=0)
        self.other = nn.Linear(width, width, dtype=np.float64, rng=1)
        self.head = nn.Linear(width, 1, dtype=np.float64, rng=2)
        self.steps = steps

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        h = x
        kept = [x]
        for step in self.steps:
            if step == "shared":
                h = self.shared(h)
            elif step == "other":
                h = self.other(h)
            elif step == "tanh":
                h = h.tanh()
            elif step == "sigmoid":
                h = h.sigmoid()
            elif step == "residual":
                h = h + kept[-1]
            elif step == "square":
                h = h * h
            elif step == "scale":
                h = 0.5 * h - h / 3.0
            elif step == "keep":
                kept.append(h)
        return self.head(h)


STEPS = ["shared", "other", "tanh", "sigmoid", "residual", "square", "scale", "keep"]


@st.composite
def programs(draw: st.DrawFn) -> tuple[nn.Module, np.ndarray, np.ndarray]:
    width = draw(st.integers(1, 3))
    steps = draw(st.lists(st.sampled_from(STEPS), min_size=1, max_size=8))
    steps.append(draw(st.sampled_from(["shared", "other"])))  # at least one hidden layer
    samples = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    x = rng.normal(size=(samples, width))
    return Program(width, steps), x, rng.normal(size=(samples, 1))


@SETTINGS
@given(sequentials())
def test_generated_sequentials_are_explained_with_backwards_gradients(case) -> None:
    _check(*case)


@SETTINGS
@given(programs())
def test_generated_custom_forwards_are_explained_with_every_path(case) -> None:
    _check(*case)


def test_an_activation_first_is_explained() -> None:
    model = nn.Sequential(nn.Tanh(), nn.Linear(3, 1, rng=0))
    step = _check(model, np.array([[0.5, -1.0, 2.0]]), np.array([[1.0]]))
    assert "tanh(X)" in step.to_text()


def test_a_linear_applied_twice_is_one_layer_used_twice() -> None:
    model = Program(3, ["shared", "tanh", "keep", "shared", "residual"])
    x = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3]])
    step = _check(model, x, np.array([[1.0], [0.0]]))
    roles = {v.name: v.role for v in step.trace.values}
    assert roles["Z1_2"] == "layer 1 pre-activation, layer 1 applied a second time"
    assert not any("layer 3" in role for role in roles.values())  # two layers, not three
    chain = next(c for c in step.derivation.chains if c.param.name == "Wih")
    assert [path[-1].out.name for path in chain.uses] == ["Z1_2", "Z1"]
    text = step.to_text()
    assert "dE/dWih = dE/dWih (via Z1_2) + dE/dWih (via Z1)" in text
    assert "only the first path" not in text
    # the matrix view writes the whole gradient as the sum of both uses
    assert re.search(r"dE/dWih\s+h1\^T @ delta1_2 \+ X\^T @ delta1", text)
    # the scalar view of a reused weight adds up the parts of every use
    total = step.gradients["shared.weight"][0, 0]
    assert f"= {num(total)}, as the backward pass" in text.replace("\n", " ")


def test_softmax_before_mse_shows_its_jacobian_per_sample() -> None:
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float64, rng=0), nn.Softmax())
    x = np.array([[0.5, 0.1, -0.3], [0.2, 0.4, 0.9]])
    step = _check(model, x, np.array([[1.0, 0.0], [0.0, 1.0]]))
    stage = next(s for s in step.derivation.stages if s.kind == "jacobian")
    for n, o in enumerate(step.trace.output.data):
        np.testing.assert_allclose(stage.local[n], np.diag(o) - np.outer(o, o), atol=1e-15)
    text = step.to_text()
    assert "(diag(O[n]) - O[n]^T @ O[n])" in text
    assert "diag(O) - O O^T" not in text
    assert "dO/dZ (sample 1) =" in text
    assert "\\operatorname{diag}(O_n) - O_n^\\top O_n" in step.to_markdown()


def _deep(depth: int) -> Explanation:
    layers: list[nn.Module] = []
    for k in range(depth):
        layers += [nn.Linear(4 if k else 2, 4, dtype=np.float64, rng=k), nn.Tanh()]
    layers.append(nn.Linear(4, 1, dtype=np.float64, rng=depth))
    x = np.array([[0.5, -0.2], [0.3, 0.8]])
    return cr.explain(nn.Sequential(*layers), x, np.ones((2, 1)), nn.MSELoss())


def test_deep_networks_summarise_their_runs_of_identical_layers() -> None:
    shallow, deep = _deep(100), _deep(200)
    for render in ("to_text", "to_markdown"):
        small, large = getattr(shallow, render)(), getattr(deep, render)()
        assert len(large) < 1.2 * len(small), render
    assert len(deep.to_text(brief=True)) < 2.2 * len(shallow.to_text(brief=True))
    text = deep.to_text()
    assert "Layers 4 to 198: 195 more Linear(4, 4) + tanh layers" in text
    assert "|dE/dW101| = " in text  # the gradient sizes of the left-out layers
    assert "dE/dW150 (layer 150" not in text
    html = deep.to_html()
    assert "Layers 4 to 198" in html
    np.testing.assert_array_equal(
        deep.gradients["0.weight"],
        _backward_gradients(deep.model, deep.trace.input.data, np.ones((2, 1)))["0.weight"],
    )


def test_a_thousand_layers_are_explained() -> None:
    text = _deep(1000).to_text()
    assert "Layers 4 to 998" in text
    assert len(text) < 200_000


@pytest.mark.parametrize("bias", [True, "shared"])
@pytest.mark.parametrize("init", [None, "uniform", "normal"])
def test_weights_and_bias_of_a_seeded_linear_come_from_separate_streams(bias, init) -> None:
    drawn: list[np.random.Generator] = []

    def recording(shape, rng=None, dtype=np.float32):
        drawn.append(rng)
        return np.asarray(rng.uniform(size=shape), dtype=dtype)

    layer = nn.Linear(2, 3, bias=bias, init=recording, bias_init=recording, rng=0)
    assert len(drawn) == 2 and drawn[0] is not drawn[1]
    states = [g.bit_generator.state["state"] for g in drawn]
    assert states[0] != states[1]
    # and the default initialisers give no bias equal to a row of the weights
    plain = nn.Linear(2, 3, bias=bias, init=init, bias_init=init, rng=0)
    assert plain.bias is not None
    for row in plain.weight.data:
        assert not np.array_equal(row[: plain.bias.data.size], plain.bias.data)
    again = nn.Linear(2, 3, bias=bias, init=init, bias_init=init, rng=0)
    np.testing.assert_array_equal(again.weight.data, plain.weight.data)
    assert again.bias is not None
    np.testing.assert_array_equal(again.bias.data, plain.bias.data)
    del layer


def test_a_generator_is_shared_by_weights_and_bias_in_turn() -> None:
    a = nn.Linear(2, 3, rng=np.random.default_rng(5))
    b = nn.Linear(2, 3, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert not np.array_equal(a.bias.data, a.weight.data[0])
