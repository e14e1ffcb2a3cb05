"""chainrule: neural networks trained with backpropagation on NumPy, explained step by step.

The public API, re-exported::

    import chainrule as cr
    model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.Sigmoid(), cr.nn.Linear(3, 1))
    loss = cr.nn.MSELoss()(model(X), y)
    loss.backward()
"""

from chainrule import functional, init, nn, ops, optim
from chainrule.autograd import enable_grad, is_grad_enabled, no_grad

# cr.explain is the function that takes chainrule and PyTorch models alike (the name
# chainrule.explain.explain is the one for chainrule models).
from chainrule.bridges import explain, export_onnx, from_torch, to_torch
from chainrule.check import GradcheckError, gradcheck
from chainrule.io import load, save
from chainrule.random import get_rng, manual_seed
from chainrule.tensor import Tensor, tensor
from chainrule.train import fit

__version__ = "0.1.0"

__all__ = [
    "GradcheckError",
    "Tensor",
    "__version__",
    "enable_grad",
    "explain",
    "export_onnx",
    "fit",
    "from_torch",
    "functional",
    "get_rng",
    "gradcheck",
    "init",
    "is_grad_enabled",
    "load",
    "manual_seed",
    "nn",
    "no_grad",
    "ops",
    "optim",
    "save",
    "tensor",
    "to_torch",
]
