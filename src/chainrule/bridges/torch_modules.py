"""The PyTorch module a chainrule layer needs and PyTorch lacks: a shared scalar bias.

Importing this module imports PyTorch; :func:`chainrule.to_torch` and
:func:`chainrule.from_torch` import it when they run.
"""

from __future__ import annotations

import torch


class SharedBias(torch.nn.Module):
    """One scalar added to every entry: the textbook bias shared by a layer's neurons.

    ``torch.nn.Sequential(torch.nn.Linear(4, 3, bias=False), SharedBias())`` computes
    chainrule's ``Linear(4, 3, bias="shared")``: ``Z = X @ W.T + b`` with ``b`` of
    shape ``(1,)``.

    Parameters
    ----------
    value : float, default 0.0
        The initial bias.
    dtype : torch.dtype, optional
        The parameter's dtype (default: PyTorch's default dtype).

    Shape
    -----
    - Input: any shape. Output: the same shape.

    Attributes
    ----------
    bias : torch.nn.Parameter of shape ``(1,)``
    """

    def __init__(self, value: float = 0.0, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.full((1,), float(value), dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias

    def extra_repr(self) -> str:
        return f"bias={self.bias.item():.6g}"
