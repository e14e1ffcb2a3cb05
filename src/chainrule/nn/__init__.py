"""Layers, losses and containers (PyTorch's ``torch.nn``)."""

from chainrule.nn import utils  # cr.nn.utils.clip_grad_norm_, as in PyTorch
from chainrule.nn.activations import (
    ACTIVATION_LAYERS,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    activation_layers,
)
from chainrule.nn.config import from_config
from chainrule.nn.layers import LAYER_TYPES, Identity, Layer, Linear
from chainrule.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from chainrule.nn.module import Module, Parameter
from chainrule.nn.sequential import Sequential

__all__ = [
    "ACTIVATION_LAYERS",
    "LAYER_TYPES",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Identity",
    "Layer",
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
    "activation_layers",
    "from_config",
    "utils",
]
