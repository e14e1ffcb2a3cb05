"""The training loop adds a penalty's value to the loss as a number, not as a graph node:
the number recorded must be the one the node would have made, in the loss's dtype."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule._sklearn_support import PenalizedLoss
from chainrule.nn import CrossEntropyLoss
from chainrule.train.loop import _plus

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(loss=finite, extra=finite, dtype=st.sampled_from([np.float32, np.float64]))
def test_plus_is_the_graph_sum(loss: float, extra: float, dtype: type) -> None:
    value = cr.tensor(np.asarray(loss, dtype=dtype), requires_grad=True)
    assert _plus(value.data, extra) == (value + extra).item()


@settings(max_examples=30, deadline=None)
@given(
    alpha=st.floats(0, 10),
    dtype=st.sampled_from([np.float32, np.float64]),
    weighted=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_penalty_terms_make_the_penalized_loss(
    alpha: float, dtype: type, weighted: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    weights = [cr.tensor(rng.normal(size=(4, 3)).astype(dtype), requires_grad=True)]
    penalty = PenalizedLoss(CrossEntropyLoss(), weights, alpha)
    output = cr.tensor(rng.normal(size=(5, 3)).astype(dtype), requires_grad=True)
    target = rng.integers(0, 3, size=5)
    sample_weight = rng.uniform(0.1, 2, size=5) if weighted else None
    whole = penalty(output, target, sample_weight)
    data_term, extra = penalty.penalty_terms(output, target, sample_weight)
    assert _plus(data_term.data, extra) == whole.item()
    # The gradient of the data term alone plus add_gradients is the whole loss's.
    whole.backward()
    expected = output.grad.copy()
    output.grad = None
    data_term.backward()
    np.testing.assert_array_equal(output.grad, expected)


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_adds_the_penalty_gradient_with_no_callback(weighted: bool) -> None:
    """Given as the loss alone, the penalty acts in full: fit adds its gradient after each
    backward(), as the plain loop below does (the lean path without weights, the modules'
    path with them)."""
    data = np.random.default_rng(0)
    X, y = data.normal(size=(10, 3)), data.integers(0, 3, 10)
    w = data.uniform(0.5, 2.0, size=10) if weighted else None

    def parts() -> tuple[cr.nn.Sequential, PenalizedLoss, cr.optim.SGD]:
        model = cr.nn.Sequential(
            cr.nn.Linear(3, 4, rng=0), cr.nn.ReLU(), cr.nn.Linear(4, 3, rng=1)
        ).double()
        weights = [layer.weight for layer in model if isinstance(layer, cr.nn.Linear)]
        return model, PenalizedLoss(CrossEntropyLoss(), weights, 2.0), cr.optim.SGD(
            model.parameters(), lr=0.1
        )

    fitted, penalty, optimizer = parts()
    cr.fit(
        fitted, X, y, loss=penalty, optimizer=optimizer, epochs=2, batch_size=4,
        shuffle=False, verbose=0, sample_weight=w,
    )
    by_hand, penalty, optimizer = parts()
    for _ in range(2):
        for start in range(0, 10, 4):
            rows = slice(start, start + 4)
            optimizer.zero_grad()
            data_term, _ = penalty.penalty_terms(
                by_hand(X[rows]), y[rows], None if w is None else w[rows]
            )
            data_term.backward()
            penalty.add_gradients()
            optimizer.step()
    for name, value in fitted.state_dict().items():
        np.testing.assert_array_equal(value, by_hand.state_dict()[name], err_msg=name)
