"""Adam benchmarks: the tiny textbook network's full step and an epoch of the large MLP.

Every contestant runs the same step (forward, loss, backward, Adam update) with the same
hyperparameters; the hand-written NumPy reference keeps one pair of moment arrays per
weight array and updates them as a careful person writes it, with in-place operations.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from contestants import (
    chainrule_epoch,
    chainrule_steps,
    chainrule_tiny_model,
    mlp_layers,
    numpy_mlp_deltas,
    numpy_mlp_weights,
    numpy_tiny_deltas,
    numpy_tiny_weights,
    tiny_data,
    torch_epoch,
    torch_tiny_model,
    torch_tiny_steps,
)

import chainrule as cr

Runner = Callable[[], None]
ADAM_LR = 0.01
BETAS = (0.9, 0.999)
EPS = 1e-8
MLP_LR = 1e-3


class NumpyAdam:
    """Adam written directly over a list of arrays (PyTorch's formula, no weight decay)."""

    def __init__(self, params: list[np.ndarray], lr: float) -> None:
        self.params = params
        self.lr = lr
        self.exp_avg = [np.zeros_like(p) for p in params]
        self.exp_avg_sq = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        beta1, beta2 = BETAS
        self.t += 1
        step_size = self.lr / (1 - beta1**self.t)
        correction2 = math.sqrt(1 - beta2**self.t)
        for p, g, m, v in zip(self.params, grads, self.exp_avg, self.exp_avg_sq):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            denom = np.sqrt(v) / correction2
            denom += EPS
            p -= step_size * m / denom


# -- the tiny textbook network: [4, 5, 1], sigmoid, E = 1/2 sum (Y - O)^2, float64 ------
def chainrule_tiny_adam(steps: int) -> Runner:
    X, y = tiny_data()
    model, loss_fn = chainrule_tiny_model()
    optimizer = cr.optim.Adam(model.parameters(), lr=ADAM_LR, betas=BETAS, eps=EPS)
    return chainrule_steps(model, loss_fn, optimizer, X, y, steps)


def numpy_tiny_adam(steps: int) -> Runner:
    X, y = tiny_data()
    W1, W2, b = numpy_tiny_weights()
    adam = NumpyAdam([W1, W2, b], ADAM_LR)

    def run() -> None:
        for _ in range(steps):
            h, d1, d2 = numpy_tiny_deltas(X, y, W1, W2, b)
            adam.step([X.T @ d1, h.T @ d2, np.array([d1.sum(), d2.sum()])])

    return run


def torch_tiny_adam(steps: int) -> Runner | None:
    try:
        import torch
    except ImportError:
        return None
    model = torch_tiny_model(torch)
    optimizer = torch.optim.Adam(model.parameters(), lr=ADAM_LR, betas=BETAS, eps=EPS)
    return torch_tiny_steps(torch, model, optimizer, steps)


# -- the large MLP, 784-256-256-10, one epoch with Adam, float32 -------------------------
def chainrule_mlp_adam(X: np.ndarray, y: np.ndarray, batch: int) -> Runner:
    cr.manual_seed(0)
    model = cr.nn.Sequential(*mlp_layers(256, cr.nn.Linear, cr.nn.ReLU))
    loss_fn = cr.nn.CrossEntropyLoss()
    optimizer = cr.optim.Adam(model.parameters(), lr=MLP_LR, betas=BETAS, eps=EPS)
    return chainrule_epoch(model, loss_fn, optimizer, X, y, batch)


def numpy_mlp_adam(X: np.ndarray, y: np.ndarray, batch: int) -> Runner:
    Ws, bs = numpy_mlp_weights(256)
    adam = NumpyAdam([*Ws, *bs], MLP_LR)

    def epoch() -> None:
        for start in range(0, len(X), batch):
            deltas = numpy_mlp_deltas(Ws, bs, X[start : start + batch], y[start : start + batch])
            (h2, d3), (h1, d2), (xb, d1) = deltas
            grads = [xb.T @ d1, h1.T @ d2, h2.T @ d3, d1.sum(axis=0), d2.sum(axis=0)]
            adam.step([*grads, d3.sum(axis=0)])

    return epoch


def torch_mlp_adam(X: np.ndarray, y: np.ndarray, batch: int) -> Runner | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    model = torch.nn.Sequential(*mlp_layers(256, torch.nn.Linear, torch.nn.ReLU))
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=MLP_LR, betas=BETAS, eps=EPS)
    return torch_epoch(torch, model, loss_fn, optimizer, X, y, batch)
