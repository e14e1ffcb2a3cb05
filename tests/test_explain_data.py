"""Explanation.to_dict: the renderings' numbers as JSON-ready data, for any network."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.explain.data import weight_views
from chainrule.explain.examples import example
from chainrule.tensor import Tensor


class Twice(nn.Module):
    """One Linear layer applied twice: its weight is reached along two paths."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(2, 2, dtype=np.float64, rng=0)
        self.out = nn.Linear(2, 1, dtype=np.float64, rng=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.layer(self.layer(x).tanh()).tanh())


def _network(widths: list[int], activation: type, seed: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(fan_in, fan_out, dtype=np.float64, rng=seed), activation()]
    return nn.Sequential(*layers[:-1])


@settings(max_examples=25, deadline=None)
@given(
    widths=st.lists(st.integers(1, 5), min_size=2, max_size=5),
    activation=st.sampled_from(nn.activation_layers(elementwise=True)),
    samples=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_the_data_holds_the_steps_own_numbers(widths, activation, samples, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(samples, widths[0])), rng.normal(size=(samples, widths[-1]))
    step = cr.explain(_network(widths, activation, seed), X, y, nn.MSELoss(), lr=0.1)
    data = json.loads(json.dumps(step.to_dict(), allow_nan=False))  # JSON, as sent

    assert data["loss"] == step.loss and data["loss_after"] == step.loss_after
    stages = step.derivation.stages
    assert len(data["backward"]) == len(stages)
    for got, stage in zip(data["backward"], stages):
        assert np.array_equal(np.array(got["result"]).reshape(stage.result.shape), stage.result)
        assert got["formula"]["mathml"].startswith("<math") and got["intuition"]
    for param in data["parameters"]:
        gradient = step.gradients[param["key"]]
        assert np.array_equal(np.array(param["gradient"]).reshape(gradient.shape), gradient)
        assert np.array_equal(np.array(param["updated"]), step.updated[param["key"]])
        for path in param["paths"]:  # from the loss down to this parameter
            assert data["backward"][path[0]]["out"] == "E"
            assert data["backward"][path[-1]]["wrt"] == param["name"]
            for above, below in zip(path, path[1:]):
                assert data["backward"][below]["out"] == data["backward"][above]["wrt"]
    norms = {g["param"]: g["norm"] for g in data["grad_norms"]}
    assert len(norms) == len(widths) - 1
    assert [u["name"] for u in data["update"]] == [p["name"] for p in data["parameters"]]


def test_a_parameter_used_twice_has_both_paths_and_its_parts_sum_to_its_gradient():
    X = np.array([[0.5, -0.2], [0.1, 0.3]])
    step = cr.explain(Twice(), X, np.array([[1.0], [0.0]]), nn.MSELoss(), lr=0.1)
    data = step.to_dict()
    twice = next(p for p in data["parameters"] if p["key"] == "layer.weight")
    assert len(twice["paths"]) == 2
    name = twice["name"]
    (view,) = weight_views(step, [f"{name}[1,0]"])
    assert len(view["parts"]) == 2
    assert sum(view["parts"]) == pytest.approx(twice["gradient"][1][0], rel=1e-12)
    assert view["check"]["numeric"] == pytest.approx(view["gradient"], rel=1e-6)


@pytest.mark.parametrize("name", ["house-prices", "softmax-classifier"])
def test_the_worked_examples_data_match_their_documents(name):
    step = example(name, **({"epochs": 3} if name == "house-prices" else {}))
    data = step.to_dict()
    assert [w["weight"] for w in data["weights"]] == [
        f"{r.chain.param.name}[{r.index[0]},{r.index[1]}]" for r in step.scalar_weights
    ]
    for view in data["weights"]:
        assert f"{view['gradient']:.4g}"[:4] in step.to_text()
        assert view["check"]["difference"] < 1e-8
    assert data["loss_form"]["definition"]["text"].startswith("E = ")
    assert data["diagnostics"] == [
        {"kind": f.kind, "where": f.where, "message": f.message} for f in step.diagnostics
    ]
    if name == "softmax-classifier":
        assert data["fused"]["probs"] == "O" and data["fused"]["difference"] < 1e-12
    else:
        assert data["training"]["epochs"] == [0, 1, 2, 3]
    forward = [v["formula"]["text"] for v in data["values"] if v["formula"]]
    assert forward[0].startswith("Z1 = X @ Wih")
