"""Vanishing gradients and the gradient-descent animation."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import nn
from chainrule.viz.animate import animate_descent
from chainrule.viz.vanishing import gradient_flow


@pytest.fixture(scope="module")
def flow():
    return gradient_flow(depth=6, width=8, samples=16, seed=1)


def test_sigmoid_gradients_shrink_layer_by_layer(flow):
    sizes = flow.sizes["sigmoid"]
    # Backpropagation multiplies by sigmoid's slope (at most 0.25) at every layer, so the
    # gradient grows from layer 1 (nearest the input) to the last layer.
    assert np.all(np.diff(sizes) > 0)
    assert sizes[0] < sizes[-1] / 100
    assert np.all(flow.slopes["sigmoid"] <= 0.25)
    assert np.all(flow.slopes["tanh"] <= 1.0)


def test_relu_gradients_do_not_vanish(flow):
    for name in ("relu", "leaky_relu", "tanh"):
        sizes = flow.sizes[name]
        assert sizes[0] > sizes[-1] / 100, name


def test_table_and_chart(flow, tmp_path):
    text = flow.to_text()
    assert "Sigmoid" in text and "LeakyReLU" in text
    assert text.count("\n") > flow.depth
    from PIL import Image

    path = flow.plot(tmp_path / "flow.png")
    with Image.open(path) as image:
        assert image.size[0] > 600
    assert flow.plot(tmp_path / "flow.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="png"):
        flow.plot(tmp_path / "flow.jpg")


def test_gradient_flow_validates():
    with pytest.raises(ValueError, match="depth"):
        gradient_flow(depth=1)
    with pytest.raises(ValueError, match="activations"):
        gradient_flow(activations=("softplus",))


def test_animation_frames(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Linear(2, 3, dtype=np.float64, rng=rng),
        nn.Tanh(),
        nn.Linear(3, 1, dtype=np.float64, rng=rng),
    )
    X, y = rng.normal(size=(8, 2)), rng.normal(size=(8, 1))
    before = model.state_dict()
    path = animate_descent(
        model,
        X,
        y,
        nn.MSELoss(),
        tmp_path / "d.gif",
        lr=0.1,
        epochs=5,
        weights=("Who[0,0]", "2.weight[1,0]"),
        frames=3,
        grid=5,
    )
    with Image.open(path) as image:
        assert image.n_frames == 3
        image.seek(2)
        assert image.convert("RGB").getextrema()[0][1] > 0
    for key, value in model.state_dict().items():  # the model itself is not trained
        assert np.array_equal(value, before[key])
    with pytest.raises(ValueError, match="out of range"):
        animate_descent(
            model, X, y, nn.MSELoss(), tmp_path / "e.gif", weights=("Who[9,0]", "Who[0,0]")
        )
    assert not (tmp_path / "e.gif").exists()
