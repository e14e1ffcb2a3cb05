"""Adam: per-parameter step sizes from running moments of the gradient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, check_range


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), PyTorch's ``torch.optim.Adam``.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``, and
    ``W -= lr * m_hat / (sqrt(v_hat) + eps)`` with the bias-corrected moments.
    Weight decay adds ``weight_decay * W`` to the gradient (L2, as in PyTorch's Adam).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        )

    def _validate(self, group: dict[str, Any]) -> None:
        group["lr"] = check_range("Adam", "lr", group["lr"], 0.0)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        group["betas"] = (
            check_range("Adam", "betas[0]", betas[0], 0.0, 1.0),
            check_range("Adam", "betas[1]", betas[1], 0.0, 1.0),
        )
        group["eps"] = check_range("Adam", "eps", group["eps"], 0.0)
        group["weight_decay"] = check_range("Adam", "weight_decay", group["weight_decay"], 0.0)

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for group in self.param_groups:
            lr, (beta1, beta2), eps, decay = (
                group["lr"],
                group["betas"],
                group["eps"],
                group["weight_decay"],
            )
            for p in group["params"]:
                if p.grad is None or not p.requires_grad:
                    continue
                grad = p.grad if not decay else p.grad + decay * p.data
                state = self.state.setdefault(id(p), {})
                if not state:
                    state["step"] = np.zeros((), dtype=np.int64)
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                t = int(state["step"])
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m *= beta1
                m += (1 - beta1) * grad
                v *= beta2
                v += (1 - beta2) * grad * grad
                step_size = lr / (1 - beta1**t)
                denom = np.sqrt(v / (1 - beta2**t))
                denom += eps
                p.data -= step_size * m / denom
