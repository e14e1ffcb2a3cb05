"""Layers, losses and containers (PyTorch's ``torch.nn``)."""

from chainrule.nn.layers import Identity, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from chainrule.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from chainrule.nn.module import Module, Parameter, Sequential, from_config

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Identity",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "from_config",
]
