"""Stochastic gradient descent, with optional momentum and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from chainrule.nn.module import Parameter
from chainrule.optim._flat import FlatPlan, flat_plan, stepped_one_by_one
from chainrule.optim.optimizer import Optimizer, check_range


class SGD(Optimizer):
    """``W_new = W - lr * dE/dW``, PyTorch's ``torch.optim.SGD``.

    With momentum ``m`` the step follows a running sum of gradients,
    ``v = m * v + g``; Nesterov momentum steps along ``g + m * v``. Weight decay
    adds ``weight_decay * W`` to each gradient (L2 regularisation).

    Parameters
    ----------
    params : iterable of Parameter (e.g. ``model.parameters()``) or of groups
    lr : float
        Learning rate, >= 0.
    momentum : float, default 0
        In [0, 1).
    nesterov : bool, default False
        Needs momentum > 0.
    weight_decay : float, default 0
        >= 0.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay},
        )

    def _validate(self, group: dict[str, Any]) -> None:
        group["lr"] = check_range("SGD", "lr", group["lr"], 0.0)
        group["momentum"] = check_range("SGD", "momentum", group["momentum"], 0.0, 1.0)
        group["weight_decay"] = check_range("SGD", "weight_decay", group["weight_decay"], 0.0)
        if group["nesterov"] and group["momentum"] == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0, got momentum=0")

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for index, group in enumerate(self.param_groups):
            lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
            if not (momentum or decay):
                # The rate as a 0-d array of the parameters' dtype: the same product as
                # lr * grad, without NumPy converting a Python float on every call.
                rate = rate_dtype = None
                for p in group["params"]:
                    grad = p.grad
                    if grad is not None and p.requires_grad:
                        data = p.data
                        if data.ndim == 1 and len(data) == 1:  # a shared bias: as a number
                            data[0] -= lr * grad[0]  # (the same arithmetic, bit for bit)
                            continue
                        dtype = data.dtype
                        if dtype is not rate_dtype:
                            rate, rate_dtype = np.array(lr, dtype), dtype
                        data -= rate * grad
                continue
            names = _MOMENTUM if momentum else ()
            params, plan = flat_plan(self._plans, index, group, self.state, names)
            if plan is None or not self._step_flat(plan, group):
                self._step_each(params, group)
                stepped_one_by_one(self._plans, index)

    def _step_flat(self, plan: FlatPlan, group: dict[str, Any]) -> bool:
        if not plan.gather_grads():
            return False
        # The update is added as (-lr) * grad: the same numbers as subtracting lr * grad
        # (IEEE subtraction is addition of the negated operand, and rounding is symmetric).
        rate, momentum, decay = plan.constants(
            -group["lr"], group["momentum"], group["weight_decay"]
        )
        grad = plan.grad
        if group["weight_decay"]:
            plan.add_weight_decay(decay)
        if group["momentum"]:
            buf = plan.buffers["momentum_buffer"]
            buf *= momentum
            buf += grad
            if plan.pending:
                # As in PyTorch, a parameter's first step starts its buffer as the
                # gradient itself (a copy, not momentum * 0 + gradient, which turns -0 to 0).
                for span in plan.fresh_spans():
                    buf[span] = grad[span]
                plan.stepped()
            if group["nesterov"]:
                np.multiply(momentum, buf, out=plan.spare)
                grad += plan.spare
            else:
                grad = buf
        np.multiply(rate, grad, out=plan.work)
        plan.add_work_to_params()
        return True

    def _step_each(self, params: list[Parameter], group: dict[str, Any]) -> None:
        lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
        for p in params:
            grad: Any = p.grad  # not None: params are the trainable ones
            if decay:
                grad = grad + decay * p.data
            if momentum:
                state = self.state.setdefault(id(p), {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = np.array(grad, copy=True)
                else:
                    buf *= momentum
                    buf += grad
                grad = grad + momentum * buf if group["nesterov"] else buf
            p.data -= lr * grad


_MOMENTUM = ("momentum_buffer",)
