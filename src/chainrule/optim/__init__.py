"""Optimizers (PyTorch's ``torch.optim``)."""

from chainrule.optim.adam import Adam
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer"]
