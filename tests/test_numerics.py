"""Numerical guarantees of every registered op (see the README's Guarantees section)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.ops import REGISTRY, get_op
from chainrule.tensor import apply

EXTREMES = [501.0, -501.0, 1001.2, -1001.2, 13437.7, -13437.7, 1e20, -1e20]
SEEDS = range(20)
SHAPES = [(1, 1), (2, 3), (5, 1), (1, 6)]

# The inputs each op is defined on (finite, representable result); None: no restriction.
# Extreme values are put into the inputs that take arbitrary reals.
PROBABILITY_INPUTS = {"cross_entropy_probs": (0,), "binary_cross_entropy": (0,)}
TARGET_INPUTS = {
    "softmax_cross_entropy": 1,
    "sigmoid_cross_entropy": 1,
    "cross_entropy_probs": 1,
    "binary_cross_entropy": 1,
    "mse": None,
}


def _defined(name: str, value: float) -> bool:
    if name in ("exp",):
        return value < 700  # exp(701) is not a float64
    if name in ("log", "pow"):
        return value > 0  # log of a negative; a fractional power of a negative
    return name not in PROBABILITY_INPUTS


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("seed", SEEDS)
def test_gradcheck_twenty_seeds_several_shapes(name, seed):
    op = get_op(name)
    shape = SHAPES[seed % len(SHAPES)]
    sample = op.sample(np.random.default_rng(1000 + seed), shape)
    tensors = [
        cr.tensor(a.copy(), requires_grad=d) for a, d in zip(sample.inputs, op.differentiable)
    ]
    assert cr.gradcheck(lambda *ts: apply(op, *ts, **sample.attrs), tensors)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("value", EXTREMES)
def test_no_floating_point_warning_on_extreme_inputs(name, value):
    if not _defined(name, value):
        pytest.skip(f"{name} is not defined at {value}")
    op = get_op(name)
    sample = op.sample(np.random.default_rng(0), (2, 3))
    inputs = []
    for i, array in enumerate(sample.inputs):
        array = array.copy()
        if TARGET_INPUTS.get(name, -1) != i:
            array.reshape(-1)[0] = value  # one extreme entry among ordinary ones
            if array.size > 1:
                array.reshape(-1)[-1] = -value if _defined(name, -value) else value
        inputs.append(cr.tensor(array, requires_grad=op.differentiable[i]))
    with np.errstate(all="raise"):
        out = apply(op, *inputs, **sample.attrs)
        out.backward(np.ones_like(out.data))
    assert np.isfinite(out.data).all()
    for t in inputs:
        if t.requires_grad:
            assert np.isfinite(t.grad).all()


def _exact_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log sum_j exp(z_j - z_max) + (z_max - z_y), per row, in extended precision."""
    z = logits.astype(np.longdouble)
    top = z.max(axis=1)
    return np.log(np.exp(z - top[:, None]).sum(axis=1)) + top - z[np.arange(len(z)), labels]


@pytest.mark.parametrize("seed", range(5))
def test_cross_entropy_on_logits_scaled_by_1e8_is_exact_to_1e7(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, 6)
    for scale in (1.0, 1e8):
        z = logits * scale
        with np.errstate(all="raise"):
            got = nn.CrossEntropyLoss(reduction="sum")(z, labels).item()
            via_softmax = nn.CrossEntropyLoss(from_probs=True, reduction="sum")(
                nn.Softmax()(z), labels
            ).item()
            via_log_softmax = -cr.functional.log_softmax(z).data[np.arange(6), labels].sum()
        exact = float(_exact_cross_entropy(z, labels).sum())
        for value in (got, via_softmax, via_log_softmax):
            assert value == pytest.approx(exact, rel=1e-7)


@pytest.mark.parametrize("seed", range(5))
def test_shifting_logits_by_1e8_keeps_the_loss(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, 6)
    loss = nn.CrossEntropyLoss()
    assert loss(logits + 1e8, labels).item() == pytest.approx(loss(logits, labels).item(), rel=1e-7)
    np.testing.assert_allclose(
        cr.functional.softmax(logits + 1e8).data,
        cr.functional.softmax(logits).data,
        rtol=1e-7,
        atol=1e-12,
    )


@pytest.mark.parametrize(
    "logits",
    [
        np.zeros((3, 4)),  # all equal
        np.full((3, 4), -1e20),  # very negative
        np.full((3, 4), 1e20),  # very positive
        np.array([[1e20, -1e20, 0.0, 5.0]] * 3),
    ],
    ids=["equal", "negative", "positive", "mixed"],
)
def test_degenerate_logits_give_finite_losses_and_gradients(logits):
    labels = np.array([0, 1, 3])
    for loss in (nn.CrossEntropyLoss(), nn.CrossEntropyLoss(from_probs=True)):
        z = cr.tensor(logits.copy(), requires_grad=True)
        scores = nn.Softmax()(z) if loss.from_probs else z
        with np.errstate(all="raise"):
            value = loss(scores, labels)
            value.backward()
        assert np.isfinite(value.item()) and np.isfinite(z.grad).all()
    if np.all(logits == logits[0, 0]):
        assert value.item() == pytest.approx(np.log(4))  # uniform: -log(1/4)


def test_empty_batch_is_refused_with_a_clear_error():
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="no samples"):
        nn.CrossEntropyLoss()(model(np.zeros((0, 3), dtype=np.float32)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match="no samples"):
        nn.MSELoss()(model(np.zeros((0, 3), dtype=np.float32)), np.zeros((0, 2)))


@pytest.fixture
def sigmoid_without_scipy(monkeypatch):
    """The sigmoid as computed where SciPy is not installed: the tanh form."""
    from chainrule.ops import activations

    monkeypatch.setattr(activations, "_EXPIT", False)

    def look_up_again() -> None:
        raise AssertionError("SciPy was looked up again after it was found missing")

    monkeypatch.setattr(activations, "_load_expit", look_up_again)
    return activations.sigmoid


def test_sigmoid_without_scipy_agrees_with_expit(sigmoid_without_scipy):
    from scipy.special import expit

    x = np.concatenate([np.linspace(-60, 60, 2401), EXTREMES])
    for dtype in (np.float32, np.float64):
        fallback = sigmoid_without_scipy(x.astype(dtype))
        assert fallback.dtype == dtype
        eps = np.finfo(dtype).eps
        # an absolute error of an ulp of 1 (the tanh form's tail), relative 4 ulps elsewhere
        close = np.abs(fallback - expit(x.astype(dtype))) <= np.maximum(eps, 4 * eps * fallback)
        assert close.all(), x[~close]


def test_sigmoid_keeps_float16_and_reaches_0_and_1_without_warnings(sigmoid_without_scipy):
    from chainrule.ops.activations import sigmoid

    x = np.array([-1e4, -20.0, 0.0, 20.0, 1e4])
    for function in (sigmoid, sigmoid_without_scipy):  # the two paths (float16 is always tanh)
        for dtype in (np.float16, np.float32, np.float64):
            with np.errstate(all="raise"):
                out = function(x.astype(dtype))
            assert out.dtype == dtype
            assert out[0] == 0.0 and out[-1] == 1.0 and out[2] == 0.5
