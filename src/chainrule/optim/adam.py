"""Adam: per-parameter step sizes from running moments of the gradient."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from chainrule.nn.module import Parameter
from chainrule.optim._flat import FlatPlan, flat_plan, stepped_one_by_one
from chainrule.optim.optimizer import Optimizer, check_range


def adam_coefficients(group: dict[str, Any], step: int) -> tuple[float, ...]:
    """The numbers :func:`adam_update` multiplies and divides by at step ``step``
    (counted from 1): ``1 - beta1``, ``beta2``, ``1 - beta2``, ``sqrt(1 - beta2^t)``,
    ``eps`` and ``-lr / (1 - beta1^t)``."""
    beta1, beta2 = group["betas"]
    return (
        1 - beta1,
        beta2,
        1 - beta2,
        math.sqrt(1 - beta2**step),
        group["eps"],
        -group["lr"] / (1 - beta1**step),
    )


def adam_update(
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    coefficients: Sequence[Any],
    out: np.ndarray,
    scratch: np.ndarray,
) -> np.ndarray:
    """Advance the moments in place and write the parameters' change into ``out``.

    The operations are PyTorch's (``torch.optim.Adam``), in its order, so the two
    agree to the last bits that its fused multiply-adds leave:
    ``m = m + (1 - b1)(g - m)``, ``v = b2 v + ((1 - b2) g) g``,
    ``change = (-lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    ``coefficients`` are :func:`adam_coefficients`' numbers (floats, or 0-d arrays of
    the buffers' dtype); ``scratch`` is a buffer of the same size the step overwrites.
    """
    keep1, beta2, keep2, root2, eps, rate = coefficients
    np.subtract(grad, exp_avg, out=scratch)
    scratch *= keep1
    exp_avg += scratch
    exp_avg_sq *= beta2
    np.multiply(grad, keep2, out=scratch)
    scratch *= grad
    exp_avg_sq += scratch
    np.sqrt(exp_avg_sq, out=scratch)
    scratch /= root2
    scratch += eps
    np.multiply(exp_avg, rate, out=out)
    out /= scratch
    return out


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), PyTorch's ``torch.optim.Adam``.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``, and
    ``W -= lr * m_hat / (sqrt(v_hat) + eps)`` with the bias-corrected moments.
    Weight decay adds ``weight_decay * W`` to the gradient (L2, as in PyTorch's Adam).
    The operations are PyTorch's, in its order (see :func:`adam_update`).

    ``state[id(param)]`` holds ``step`` (a 0-d int64 array), ``exp_avg`` (m) and
    ``exp_avg_sq`` (v) for each parameter that has stepped, as in PyTorch; they are views
    of the flat buffers one step updates the whole group through.

    Parameters
    ----------
    params : iterable of Parameter (e.g. ``model.parameters()``) or of groups
    lr : float, default 1e-3
        Learning rate, >= 0.
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the moments, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, >= 0.
    weight_decay : float, default 0
        >= 0.
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
        """Update every parameter that has a gradient, in place.

        The parameters of a group that share a dtype and a step count are updated
        together through flat buffers (see :mod:`chainrule.optim._flat`); the arithmetic
        is the same either way, element by element.
        """
        for index, group in enumerate(self.param_groups):
            params, plan = flat_plan(self._plans, index, group, self.state, _BUFFERS, True)
            if plan is None or not self._step_flat(plan, group):
                self._step_each(params, group)
                stepped_one_by_one(self._plans, index)

    # The arithmetic of a step: PyTorch's. A subclass that orders it another way (the
    # scikit-learn estimators take scikit-learn's) replaces both; the rest is shared.
    _coefficients = staticmethod(adam_coefficients)
    _update = staticmethod(adam_update)

    def _step_flat(self, plan: FlatPlan, group: dict[str, Any]) -> bool:
        # The bias corrections need one step count for the whole buffer: parameters
        # that joined later (frozen for a while, say) go on stepping one by one.
        if not plan.together or not plan.gather_grads():
            return False
        grad = plan.grad
        decay = group["weight_decay"]
        if decay:
            plan.add_weight_decay(plan.constants(decay)[0])
        coefficients = plan.constants(*self._coefficients(group, plan.count_step()))
        exp_avg, exp_avg_sq = plan.buffers["exp_avg"], plan.buffers["exp_avg_sq"]
        self._update(grad, exp_avg, exp_avg_sq, coefficients, out=plan.work, scratch=plan.spare)
        plan.add_work_to_params()
        if plan.pending:
            plan.stepped()
        return True

    def _step_each(self, params: list[Parameter], group: dict[str, Any]) -> None:
        decay = group["weight_decay"]
        for p in params:
            grad = p.grad if not decay else p.grad + decay * p.data
            state = self.state.setdefault(id(p), {})
            if not state:
                state["step"] = np.zeros((), dtype=np.int64)
                state["exp_avg"] = np.zeros_like(p.data)
                state["exp_avg_sq"] = np.zeros_like(p.data)
            state["step"] += 1
            exp_avg = state["exp_avg"]
            update = self._update(
                grad,  # type: ignore[arg-type]
                exp_avg,
                state["exp_avg_sq"],
                self._coefficients(group, int(state["step"])),
                out=np.empty_like(exp_avg),
                scratch=np.empty_like(exp_avg),
            )
            p.data += update


_BUFFERS = ("exp_avg", "exp_avg_sq")
