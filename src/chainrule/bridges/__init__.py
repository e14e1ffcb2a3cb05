"""Bridges to where users go next: PyTorch in both directions and ONNX export.

Each translates layer by layer through one table of equivalents
(:mod:`chainrule.bridges.equivalents`); a layer without an equivalent is refused by
name and position. PyTorch and ``onnx`` are optional: they are imported only when a
bridge runs (``pip install "chainrule[torch]"`` or ``"chainrule[onnx]"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainrule.bridges.onnx_export import export_onnx
from chainrule.bridges.pytorch import from_torch, is_torch_module, to_torch
from chainrule.explain import explain as explain_chainrule

if TYPE_CHECKING:
    from chainrule.explain import Explanation

__all__ = ["SharedBias", "explain", "export_onnx", "from_torch", "to_torch"]


def explain(model: Any, x: Any, y: Any, loss: Any, lr: float = 0.1, **options: Any) -> Explanation:
    """Trace one step of gradient descent and explain it: a chainrule or PyTorch model.

    For a chainrule model this is :func:`chainrule.explain.explain`, whose keyword
    options (``names``, ``weights``, ``dtype``, ``title``, ``description``) it passes
    on. A ``torch.nn.Sequential`` with a PyTorch loss (``MSELoss``,
    ``CrossEntropyLoss``, ``BCELoss``, ``BCEWithLogitsLoss``, with their
    ``reduction``) is translated and explained, and the gradients are checked
    against ``torch.autograd`` on the original model: the explanation's introduction
    says that they agree, and to what precision. The PyTorch model is not changed.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> from torch import nn  # doctest: +SKIP
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1))  # doctest: +SKIP
    >>> step = cr.explain(net, np.array([[0.5, 0.1]]), np.array([[1.0]]), nn.MSELoss(),
    ...                   lr=0.1)  # doctest: +SKIP
    """
    if is_torch_module(model):
        from chainrule.bridges.torch_explain import explain_torch

        return explain_torch(model, x, y, loss, lr, **options)
    return explain_chainrule(model, x, y, loss, lr, **options)


def __getattr__(name: str) -> Any:
    # SharedBias is a PyTorch module: importing it imports PyTorch, so only on demand.
    if name == "SharedBias":
        from chainrule.bridges.torch_modules import SharedBias

        return SharedBias
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
