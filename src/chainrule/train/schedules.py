"""Learning-rate schedules, as callbacks for :func:`chainrule.fit` (PyTorch's names).

Each schedule sets the learning rate at the start of every epoch from a closed
formula of the 0-based epoch index and the initial rate, so a resumed run gets the
same rates as an uninterrupted one. The initial rate is remembered in each
parameter group as ``"initial_lr"`` (as PyTorch does), which checkpoints keep.

Examples
--------
>>> import chainrule as cr
>>> StepLR(step_size=10, gamma=0.5).lr_at(25, initial_lr=0.1)
0.025
"""

from __future__ import annotations

import math
from collections.abc import Callable

from chainrule.train.callbacks import Callback

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "StepLR"]


def _positive(owner: str, name: str, value: float, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        what = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{owner}: {name} must be {what}, got {value!r}")


class LRScheduler(Callback):
    """Base class: subclasses define :meth:`lr_at`."""

    def lr_at(self, epoch: int, initial_lr: float) -> float:
        """The learning rate for 0-based ``epoch``."""
        raise NotImplementedError

    def on_epoch_begin(self, epoch: int) -> None:
        for group in self.context.optimizer.param_groups:
            initial = group.setdefault("initial_lr", group["lr"])
            group["lr"] = float(self.lr_at(epoch, float(initial)))


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs:
    ``lr = initial_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        _positive("StepLR", "step_size", step_size, integer=True)
        _positive("StepLR", "gamma", gamma)
        self.step_size, self.gamma = step_size, float(gamma)

    def lr_at(self, epoch: int, initial_lr: float) -> float:
        return initial_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: ``lr = initial_lr * gamma ** epoch``."""

    def __init__(self, gamma: float) -> None:
        _positive("ExponentialLR", "gamma", gamma)
        self.gamma = float(gamma)

    def lr_at(self, epoch: int, initial_lr: float) -> float:
        return initial_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the initial rate down to ``eta_min`` over ``T_max`` epochs:
    ``lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``,
    then ``eta_min`` after ``T_max``."""

    def __init__(self, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803  (PyTorch's name)
        _positive("CosineAnnealingLR", "T_max", T_max, integer=True)
        if not eta_min >= 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be >= 0, got {eta_min!r}")
        self.T_max, self.eta_min = T_max, float(eta_min)

    def lr_at(self, epoch: int, initial_lr: float) -> float:
        progress = min(epoch, self.T_max) / self.T_max
        return self.eta_min + (initial_lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(epoch)`` for any function of the epoch."""

    def __init__(self, lr_lambda: Callable[[int], float]) -> None:
        if not callable(lr_lambda):
            raise TypeError(
                f"LambdaLR: lr_lambda must be a function of the epoch, got {lr_lambda!r}"
            )
        self.lr_lambda = lr_lambda

    def lr_at(self, epoch: int, initial_lr: float) -> float:
        return initial_lr * float(self.lr_lambda(epoch))
