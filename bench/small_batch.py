"""Benchmark 8: one SGD epoch at batch 4, where the per-step bookkeeping shows.

A 256-256-10 network (256 inputs, one hidden ReLU layer of 256, 10 classes, softmax
cross-entropy) trained with plain SGD on 4,096 samples in batches of 4: 1,024 steps
whose matrix products are small, so what each contestant spends per step besides the
arithmetic decides the ratio. The hand-written NumPy loop is the reference. Every
contestant runs on one thread (BLAS and PyTorch's own): products of 4 rows gain nothing
from a second one, and PyTorch's waiting threads would otherwise measure the machine's
other work.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from contestants import chainrule_epoch as epoch_of
from contestants import numpy_cross_entropy_delta
from contestants import torch_epoch as torch_loop

import chainrule as cr

Runner = Callable[[], None]
SIZES = (256, 256, 10)
SAMPLES = 4096
BATCH = 4
LR = 0.01


def data(samples: int = SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(samples, SIZES[0])).astype(np.float32)  # noqa: N806
    return X, rng.integers(0, SIZES[-1], samples)


def chainrule_epoch(X: np.ndarray, y: np.ndarray) -> Runner:  # noqa: N803
    cr.manual_seed(0)
    model = cr.nn.Sequential(
        cr.nn.Linear(SIZES[0], SIZES[1]), cr.nn.ReLU(), cr.nn.Linear(SIZES[1], SIZES[2])
    )
    loss_fn = cr.nn.CrossEntropyLoss()
    optimizer = cr.optim.SGD(model.parameters(), lr=LR)
    return epoch_of(model, loss_fn, optimizer, X, y, BATCH)


def numpy_epoch(X: np.ndarray, y: np.ndarray) -> Runner:  # noqa: N803
    """The same maths written directly with @ (as bench 1's reference, one hidden layer)."""
    rng = np.random.default_rng(0)
    W1 = (rng.uniform(-1, 1, SIZES[:2]) / np.sqrt(SIZES[0])).astype(np.float32)  # noqa: N806
    W2 = (rng.uniform(-1, 1, SIZES[1:]) / np.sqrt(SIZES[1])).astype(np.float32)  # noqa: N806
    b1, b2 = np.zeros(SIZES[1], np.float32), np.zeros(SIZES[2], np.float32)

    def epoch() -> None:
        nonlocal W1, W2, b1, b2  # updated in place
        for start in range(0, len(X), BATCH):
            xb, yb = X[start : start + BATCH], y[start : start + BATCH]
            z1 = xb @ W1 + b1
            h1 = np.maximum(z1, 0)
            z2 = h1 @ W2 + b2
            d2 = numpy_cross_entropy_delta(z2, yb)
            d1 = (d2 @ W2.T) * (z1 > 0)
            W2 -= LR * (h1.T @ d2)
            b2 -= LR * d2.sum(axis=0)
            W1 -= LR * (xb.T @ d1)
            b1 -= LR * d1.sum(axis=0)

    return epoch


def torch_epoch(X: np.ndarray, y: np.ndarray) -> Runner | None:  # noqa: N803
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(), torch.nn.Linear(SIZES[1], SIZES[2])
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    return torch_loop(torch, model, torch.nn.CrossEntropyLoss(), optimizer, X, y, BATCH)


def contestants(samples: int = SAMPLES) -> dict[str, Runner | None]:
    X, y = data(samples)  # noqa: N806
    return {
        "chainrule": chainrule_epoch(X, y),
        "numpy": numpy_epoch(X, y),
        "pytorch": torch_epoch(X, y),
    }
