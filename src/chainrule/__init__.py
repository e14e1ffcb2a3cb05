"""chainrule: neural networks trained with backpropagation on NumPy, explained step by step.

The public API, re-exported::

    import chainrule as cr
    model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.Sigmoid(), cr.nn.Linear(3, 1))
    loss = cr.nn.MSELoss()(model(X), y)
    loss.backward()
"""

from chainrule import functional, init, nn, ops, optim
from chainrule.autograd import enable_grad, is_grad_enabled, no_grad
from chainrule.check import GradcheckError, gradcheck
from chainrule.explain import explain
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
    "fit",
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
]
