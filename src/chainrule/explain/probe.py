"""The explained step's loss at other parameter values, computed on a copy of the model.

The numerical check of the scalar view and the learning-rate advice of the
diagnostics both ask "what would the loss be if the parameters were these?". A
:class:`LossProbe` answers on a float64 copy of the model the user passed, so
that model never changes, and with recording off (no graph is kept).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.explain.trace import LossFunction, Trace
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class LossProbe:
    """``probe(changes)``: the loss with some parameters replaced, the rest as before the step.

    Parameters
    ----------
    model : Module
        The network that was explained; it is copied once, never changed.
    loss_fn : callable
        The loss module of the step.
    trace : Trace
        The traced step: its inputs, targets and parameter values before the step.
    """

    def __init__(self, model: Module, loss_fn: LossFunction, trace: Trace) -> None:
        self._work = copy.deepcopy(model).to(np.float64)
        self._params = dict(self._work.named_parameters())
        self._loss_fn = loss_fn
        # A Tensor, as the traced step gave it: a custom forward may use Tensor methods.
        self._x = Tensor(trace.input.data.astype(np.float64))
        self._y: Any = trace.target.data
        self.before = {
            v.param_key: v.data.astype(np.float64) for v in trace.parameters() if v.param_key
        }
        self.gradients = {k: g.astype(np.float64) for k, g in trace.gradients.items()}

    def __call__(self, changes: Mapping[str, np.ndarray]) -> float:
        for key, value in self.before.items():
            self._params[key].data = np.array(changes.get(key, value), dtype=np.float64)
        with no_grad():
            loss = self._loss_fn(self._work(self._x), self._y)
        return float(np.asarray(loss.data).reshape(()))

    def after_step(self, lr: float) -> float:
        """The loss after one gradient-descent step with learning rate ``lr``."""
        return self(
            {k: v - lr * self.gradients[k] for k, v in self.before.items() if k in self.gradients}
        )
