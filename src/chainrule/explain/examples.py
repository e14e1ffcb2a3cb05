"""The built-in worked examples, by name.

``softmax-classifier``
    A 2-3-2 network, Linear + Sigmoid then Linear + Softmax, cross-entropy,
    one sample with two features, learning rate 0.02.
``house-prices``
    A [4, 5, 1] regression network with sigmoid in both layers,
    ``E = 1/2 sum (O - Y)^2``, six houses of four features, weights drawn from
    U[0, 1), one shared scalar bias per layer; then training over epochs.

>>> from chainrule.explain.examples import example
>>> step = example("house-prices")
>>> sorted(step.names.values())
['Who', 'Wih', 'bho', 'bih']
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import init, nn
from chainrule.autograd import enable_grad
from chainrule.data import house_prices as house_prices_data
from chainrule.data import softmax_example
from chainrule.explain import explain
from chainrule.explain.articles import house_prices_notes, softmax_classifier_notes
from chainrule.explain.document import Math
from chainrule.explain.explanation import Explanation, TrainingLog
from chainrule.explain.lossform import loss_definition
from chainrule.optim import SGD

#: Learning rate and epochs of the house-prices training run.
HOUSE_LR = 0.5
HOUSE_EPOCHS = 300


def softmax_classifier_setup(seed: int = 0) -> tuple[nn.Module, np.ndarray, np.ndarray, nn.Module]:
    """(model, X, y, loss) of the softmax-classifier example, in float64."""
    rng = np.random.default_rng(seed)
    model = nn.Sequential(
        nn.Linear(2, 3, dtype=np.float64, rng=rng),
        nn.Sigmoid(),
        nn.Linear(3, 2, dtype=np.float64, rng=rng),
        nn.Softmax(),
    )
    X, y = softmax_example()
    return model, X, y, nn.CrossEntropyLoss(from_probs=True)


def house_prices_setup(seed: int = 0) -> tuple[nn.Module, np.ndarray, np.ndarray, nn.Module]:
    """(model, X, Y, loss) of the house-prices example, in float64; Y has shape (6, 1)."""
    rng = np.random.default_rng(seed)
    unit = init.uniform(0.0, 1.0)
    model = nn.Sequential(
        nn.Linear(4, 5, bias="shared", init=unit, bias_init=unit, dtype=np.float64, rng=rng),
        nn.Sigmoid(),
        nn.Linear(5, 1, bias="shared", init=unit, bias_init=unit, dtype=np.float64, rng=rng),
        nn.Sigmoid(),
    )
    data = house_prices_data()
    assert data.y is not None
    return model, data.X, data.y.reshape(-1, 1), nn.MSELoss(reduction="sum", half=True)


def train_log(
    model: nn.Module, X: np.ndarray, y: np.ndarray, loss_fn: Any, lr: float, epochs: int
) -> TrainingLog:
    """Full-batch gradient descent on a copy of ``model``.

    ``losses[k]`` is the loss after ``k`` epochs (``losses[0]``: before training).
    """
    work = copy.deepcopy(model)
    optimizer = SGD(work.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs + 1):
        optimizer.zero_grad()
        with enable_grad():
            loss = loss_fn(work(X), y)
        losses.append(float(loss.data.reshape(())))
        if epoch == epochs:
            break
        loss.backward()
        optimizer.step()
    return TrainingLog(list(range(epochs + 1)), losses, lr)


def softmax_classifier(seed: int = 0, lr: float = 0.02) -> Explanation:
    """The softmax-classifier example: forward, loss, softmax derivative, backward, update."""
    model, X, y, loss = softmax_classifier_setup(seed)
    step = explain(
        model,
        X,
        y,
        loss,
        lr=lr,
        weights=["Who[2,1]", "Wih[0,2]"],
        title="Worked example: a softmax classifier",
        description=(
            "A 2-3-2 network (Linear + Sigmoid, then Linear + Softmax) classifies one sample "
            "with two features, X = [0.5, 0.1], whose class is 1. The parameters are drawn at "
            f"random (seed {seed}); the loss is cross-entropy and the learning rate {lr:g}."
        ),
    )
    step.article = softmax_classifier_notes(step.trace)
    return step


def house_prices(seed: int = 0, lr: float = HOUSE_LR, epochs: int = HOUSE_EPOCHS) -> Explanation:
    """The house-prices worked example, with a training run of ``epochs`` epochs."""
    model, X, y, loss = house_prices_setup(seed)
    step = explain(
        model,
        X,
        y,
        loss,
        lr=lr,
        weights=["Who[2,0]", "Wih[1,2]"],
        title="Worked example: house prices",
        description=(
            "A [4, 5, 1] network with sigmoid in both layers predicts the price of six houses "
            "from four features (size, rooms, age, distance). Weights and the one shared bias "
            f"of each layer are drawn from U[0, 1) (seed {seed})."
        ),
    )
    # The loss is written as its own section writes it, from the same function.
    definition = loss_definition(step.trace, step.derivation.fused is not None)
    step.description = [
        str(step.description),
        " The loss is ",
        Math(definition.text, definition.latex),
        f" and the learning rate {lr:g}.",
    ]
    step.article = house_prices_notes(step.trace)
    if epochs > 0:
        step.training = train_log(model, X, y, loss, lr, epochs)
    return step


EXAMPLES: dict[str, Callable[..., Explanation]] = {
    "softmax-classifier": softmax_classifier,
    "house-prices": house_prices,
}


def example(name: str, **options: Any) -> Explanation:
    """A worked example by name (see :data:`EXAMPLES`)."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; choose one of {', '.join(EXAMPLES)}")
    return EXAMPLES[key](**options)
