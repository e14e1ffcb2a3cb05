"""Optimizers: updates against the formulas, state_dict, validation."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def param(value) -> nn.Parameter:
    return nn.Parameter(np.array(value, dtype=np.float64))


def set_grad(p, g) -> None:
    p.grad = np.array(g, dtype=np.float64)


def test_plain_sgd_step():
    p = param([1.0, -2.0])
    set_grad(p, [0.5, 0.25])
    cr.optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.05, -2.0 - 0.025])


def test_sgd_momentum_weight_decay_and_nesterov_follow_pytorch():
    # PyTorch: g = grad + wd * p; v = m v + g; step = g + m v (nesterov) or v; p -= lr * step
    for nesterov in (False, True):
        p = param([1.0])
        opt = cr.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=nesterov)
        w, v = 1.0, None
        for grad in (0.5, -0.3, 0.2):
            set_grad(p, [grad])
            opt.step()
            g = grad + 0.01 * w
            v = g if v is None else 0.9 * v + g
            w -= 0.1 * (g + 0.9 * v if nesterov else v)
            assert p.data[0] == pytest.approx(w, rel=1e-12)


def test_adam_matches_its_formula():
    p = param([0.5, -1.0])
    opt = cr.optim.Adam([p], lr=0.01, betas=(0.8, 0.9), eps=1e-6)
    w = p.data.copy()
    m = np.zeros(2)
    v = np.zeros(2)
    for t, grad in enumerate(([0.1, -0.2], [0.3, 0.05], [-0.1, 0.4]), start=1):
        set_grad(p, grad)
        opt.step()
        g = np.array(grad)
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g * g
        w = w - 0.01 * (m / (1 - 0.8**t)) / (np.sqrt(v / (1 - 0.9**t)) + 1e-6)
        np.testing.assert_allclose(p.data, w, rtol=1e-12)


def test_parameters_without_gradient_are_left_alone():
    a, b = param([1.0]), param([2.0])
    set_grad(a, [1.0])
    cr.optim.Adam([a, b], lr=0.1).step()
    assert b.data[0] == 2.0 and a.data[0] != 1.0


def test_zero_grad_clears_every_gradient():
    a = param([1.0])
    set_grad(a, [3.0])
    opt = cr.optim.SGD([a], lr=0.1)
    opt.zero_grad()
    assert a.grad is None


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: cr.optim.SGD(ps, lr=0.05, momentum=0.9),
        lambda ps: cr.optim.Adam(ps, lr=0.05),
    ],
)
def test_state_dict_resumes_exactly(make):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(6, 3))
    a = param(np.zeros(3))
    opt_a = make([a])
    for g in grads:
        set_grad(a, g)
        opt_a.step()
    b = param(np.zeros(3))
    opt_b = make([b])
    for g in grads[:3]:
        set_grad(b, g)
        opt_b.step()
    saved_w, saved_opt = b.data.copy(), opt_b.state_dict()
    c = param(saved_w)
    opt_c = make([c])
    opt_c.load_state_dict(saved_opt)
    for g in grads[3:]:
        set_grad(c, g)
        opt_c.step()
    np.testing.assert_array_equal(c.data, a.data)


def test_param_groups_have_their_own_learning_rates():
    a, b = param([1.0]), param([1.0])
    opt = cr.optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    set_grad(a, [1.0])
    set_grad(b, [1.0])
    opt.step()
    assert a.data[0] == pytest.approx(0.9) and b.data[0] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: cr.optim.SGD(p, lr=-0.1), r"SGD: lr must be in \[0, inf\), got -0.1"),
        (
            lambda p: cr.optim.SGD(p, lr=0.1, momentum=1.5),
            r"SGD: momentum must be in \[0, 1\), got 1.5",
        ),
        (lambda p: cr.optim.SGD(p, lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
        (lambda p: cr.optim.SGD(p, lr=0.1, weight_decay=-1), "weight_decay must be in"),
        (lambda p: cr.optim.Adam(p, betas=(0.9, 1.0)), r"betas\[1\] must be in \[0, 1\), got 1.0"),
        (lambda p: cr.optim.Adam(p, eps=-1e-8), "eps must be in"),
        (lambda p: cr.optim.Adam(p, lr="fast"), "lr must be a number, got 'fast'"),
        (lambda p: cr.optim.SGD([], lr=0.1), "empty parameter list"),
    ],
)
def test_invalid_hyperparameters_name_value_and_range(make, match):
    with pytest.raises(ValueError, match=match):
        make([param([1.0])])


def test_optimizer_refuses_non_parameters():
    with pytest.raises(TypeError, match="pass model.parameters"):
        cr.optim.SGD([np.zeros(2)], lr=0.1)


def test_training_reduces_the_loss_on_xor():
    cr.manual_seed(0)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = cr.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 < losses[0]
    assert (model(X).data.argmax(axis=1) == y).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_updates_a_one_number_parameter_exactly_as_an_array(dtype):
    rng = np.random.default_rng(0)
    for lr in (0.5, 0.1, 1e-3, 0.37):
        values, grads = rng.normal(size=50).astype(dtype), rng.normal(size=50).astype(dtype)
        shared = [cr.nn.Parameter(np.array([v], dtype)) for v in values]  # shape (1,)
        vector = cr.nn.Parameter(values.copy())
        for p, g in zip(shared, grads):
            p.grad = np.array([g], dtype)
        vector.grad = grads.copy()
        cr.optim.SGD([*shared, vector], lr=lr).step()
        assert np.array_equal(np.concatenate([p.data for p in shared]), vector.data)
        assert all(p.data.dtype == dtype for p in shared)
