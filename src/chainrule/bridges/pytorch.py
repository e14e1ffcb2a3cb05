"""chainrule models to PyTorch and back, layer by layer through the table of equivalents.

PyTorch is an optional dependency (``pip install "chainrule[torch]"``): it is imported
when one of these functions runs, never by ``import chainrule``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.bridges.equivalents import (
    Equivalent,
    equivalent_of,
    equivalents,
    flat_layers,
    float_dtype,
    layer_arguments,
    loss_types,
)
from chainrule.nn.config import from_config
from chainrule.nn.layers import Linear
from chainrule.nn.module import Module, Parameter
from chainrule.nn.sequential import Sequential

#: PyTorch loss options that chainrule's losses do not have: a loss using one is refused.
_TORCH_ONLY_LOSS_OPTIONS = {"weight": None, "pos_weight": None, "label_smoothing": 0.0}


def import_torch() -> Any:
    """PyTorch, or an ImportError that says how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            'the PyTorch bridge needs PyTorch: pip install "chainrule[torch]"'
        ) from None
    return torch


def is_torch_module(obj: Any) -> bool:
    """Whether ``obj`` is a PyTorch module, told without importing PyTorch (an object
    can be one only once PyTorch has been imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def is_torch_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a PyTorch tensor, told without importing PyTorch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


# -- chainrule to PyTorch -------------------------------------------------------------------
def to_torch(model: Module) -> Any:
    """Translate a chainrule model into an equivalent ``torch.nn.Sequential``.

    Each layer becomes the PyTorch module of the same name with the same arguments
    and the same parameter values, in the same dtype (a Linear weight is transposed
    into PyTorch's ``(out_features, in_features)`` layout). A Linear layer with a
    shared scalar bias becomes a bias-free ``torch.nn.Linear`` followed by a
    :class:`~chainrule.bridges.SharedBias`. Nested Sequentials are flattened.

    Parameters
    ----------
    model : Module
        A chainrule :class:`~chainrule.nn.Sequential` (or a single layer) of
        Linear layers and activations.

    Returns
    -------
    torch.nn.Sequential
        In the model's training mode, parameters frozen where the model's are.

    Raises
    ------
    TypeError
        For a module that is not a chainrule layer type, named with its position.
    ImportError
        If PyTorch is not installed.

    Examples
    --------
    >>> import chainrule as cr
    >>> model = cr.nn.Sequential(cr.nn.Linear(2, 3, rng=0), cr.nn.Tanh(), cr.nn.Linear(3, 1))
    >>> cr.to_torch(model)  # doctest: +SKIP
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): Tanh()
      (2): Linear(in_features=3, out_features=1, bias=True)
    )
    """
    torch = import_torch()
    if not isinstance(model, Module):
        raise TypeError(f"to_torch takes a chainrule model, got {type(model).__name__}")
    modules: list[Any] = []
    for position, layer in flat_layers(model):
        row = equivalent_of(layer, position)
        if isinstance(layer, Linear):
            modules += _linear_to_torch(torch, layer, position)
            continue
        torch_class = getattr(torch.nn, row.torch_name, None)
        if torch_class is None:
            raise TypeError(
                f"{type(layer).__name__} at position {position} has no PyTorch equivalent in "
                f"torch {torch.__version__}"
            )
        arguments = layer_arguments(layer)
        modules.append(torch_class(**{row.torch_argument(k): v for k, v in arguments.items()}))
    result = torch.nn.Sequential(*modules)
    result.train(model.training)
    return result


def _linear_to_torch(torch: Any, layer: Linear, position: str) -> list[Any]:
    from chainrule.bridges.torch_modules import SharedBias

    dtype = float_dtype(layer.weight.dtype, f"Linear at position {position}")
    # Built on the meta device, so no values are drawn (the global torch RNG is left alone).
    linear = torch.nn.Linear(
        layer.in_features, layer.out_features, bias=layer.bias_kind is True, device="meta"
    )
    linear.weight = _torch_parameter(torch, layer.weight, transpose=True)
    modules = [linear]
    if layer.bias is not None:
        bias = _torch_parameter(torch, layer.bias, transpose=False)
        if layer.bias_kind == "shared":
            shared = SharedBias(dtype=getattr(torch, dtype.name))
            shared.bias = bias
            modules.append(shared)
        else:
            linear.bias = bias
    return modules


def _torch_parameter(torch: Any, param: Parameter, *, transpose: bool) -> Any:
    values = param.data.T if transpose else param.data
    tensor = torch.from_numpy(np.array(values, order="C", copy=True))
    return torch.nn.Parameter(tensor, requires_grad=param.requires_grad)


# -- PyTorch to chainrule -------------------------------------------------------------------
@dataclass(frozen=True)
class Translation:
    """A PyTorch model translated: the chainrule model and where each parameter came from.

    Attributes
    ----------
    model : Sequential
        The chainrule model.
    sources : dict of str to (str, bool)
        For each chainrule parameter name, the PyTorch parameter name it holds and
        whether it is transposed (Linear weights are).
    """

    model: Sequential
    sources: dict[str, tuple[str, bool]]


def from_torch(module: Any) -> Sequential:
    """Translate a ``torch.nn.Sequential`` into an equivalent chainrule model.

    Nested Sequentials are flattened. Each module must be one chainrule has:
    ``torch.nn.Linear`` (a bias-free one followed by a
    :class:`~chainrule.bridges.SharedBias` becomes ``Linear(..., bias="shared")``)
    or an activation of the same name. Parameter values and dtypes are kept exactly;
    the PyTorch model is not changed.

    Raises
    ------
    TypeError
        For a module chainrule has no layer for, named with its position
        (``Conv1d at position 0 is not supported``), or a dtype other than
        float16, float32 and float64.
    ValueError
        For an attribute outside the range chainrule's layer accepts.
    ImportError
        If PyTorch is not installed.
    """
    return translate(module).model


def translate(module: Any) -> Translation:
    """:func:`from_torch`, also saying where each parameter came from."""
    torch = import_torch()
    from chainrule.bridges.torch_modules import SharedBias

    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(
            f"from_torch takes a torch.nn.Sequential, got {type(module).__name__}; "
            "wrap the layers in one"
        )
    flat = list(_torch_layers(module, ""))
    layers: list[Module] = []
    sources: dict[str, tuple[str, bool]] = {}
    i = 0
    while i < len(flat):
        position, child = flat[i]
        index = str(len(layers))
        if type(child) is torch.nn.Linear:
            shared = None
            if child.bias is None and i + 1 < len(flat) and type(flat[i + 1][1]) is SharedBias:
                i += 1
                shared = flat[i]
            layers.append(_linear_from_torch(child, position, shared))
            sources[f"{index}.weight"] = (f"{position}.weight", True)
            bias_at = shared[0] if shared is not None else position
            if shared is not None or child.bias is not None:
                sources[f"{index}.bias"] = (f"{bias_at}.bias", False)
        elif type(child) is SharedBias:
            raise TypeError(
                f"SharedBias at position {position} is not supported there: it must follow "
                "a torch.nn.Linear without bias"
            )
        else:
            layers.append(_layer_from_torch(torch, child, position))
        i += 1
    return Translation(Sequential(*layers), sources)


def _torch_layers(container: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for key, child in container.named_children():
        if type(child).__name__ == "Sequential" and type(child).__module__.startswith("torch"):
            yield from _torch_layers(child, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", child


def _by_torch_name() -> dict[str, Equivalent]:
    return {row.torch_name: row for row in equivalents().values() if row.layer is not Linear}


def _layer_from_torch(torch: Any, child: Any, position: str) -> Module:
    name = type(child).__name__
    row = _by_torch_name().get(name)
    if row is None or type(child) is not getattr(torch.nn, row.torch_name, None):
        supported = ", ".join(sorted(["Linear", *_by_torch_name()]))
        raise TypeError(
            f"{name} at position {position} is not supported: chainrule translates "
            f"torch.nn.Sequential models of {supported}"
        )
    arguments = {}
    for argument in row.arguments:
        value = getattr(child, row.torch_argument(argument))
        # Softmax(dim=None) is PyTorch's old implicit choice, the last axis for rows.
        arguments[argument] = -1 if value is None and argument == "axis" else value
    try:
        return row.layer(**arguments)
    except ValueError as err:
        raise ValueError(f"{name} at position {position} cannot be translated: {err}") from None


def _linear_from_torch(child: Any, position: str, shared: tuple[str, Any] | None) -> Linear:
    owner = f"Linear at position {position}"
    dtype = float_dtype(child.weight.dtype, owner)
    bias_param = shared[1].bias if shared is not None else child.bias
    if bias_param is not None and bias_param.dtype != child.weight.dtype:
        raise TypeError(
            f"{owner} has {str(child.weight.dtype).removeprefix('torch.')} weights but a "
            f"{str(bias_param.dtype).removeprefix('torch.')} bias; give both one dtype"
        )
    kind: bool | str = "shared" if shared is not None else child.bias is not None
    config = {
        "type": "Linear",
        "in_features": child.in_features,
        "out_features": child.out_features,
        "bias": kind,
        "dtype": dtype.name,
    }
    # Built without drawing initial values: every one is replaced by PyTorch's.
    layer = from_config(config, initialize=False)
    assert isinstance(layer, Linear)
    layer.weight.data = _numpy(child.weight).T.copy()
    layer.weight.requires_grad = bool(child.weight.requires_grad)
    if bias_param is not None and layer.bias is not None:
        layer.bias.data = _numpy(bias_param).copy()
        layer.bias.requires_grad = bool(bias_param.requires_grad)
    return layer


def _numpy(tensor: Any) -> np.ndarray:
    return np.asarray(tensor.detach().cpu().numpy())


def loss_from_torch(loss: Any) -> Module:
    """The chainrule loss computing what the PyTorch loss ``loss`` computes.

    Raises
    ------
    TypeError
        For a loss chainrule does not have (``L1Loss``), named with the ones it has.
    ValueError
        For ``reduction="none"`` (an explanation needs one number) or an option
        chainrule's loss lacks (class weights, ``pos_weight``, label smoothing).
    """
    torch = import_torch()
    name = type(loss).__name__
    # Every chainrule loss takes a reduction; its other options default to PyTorch's meaning.
    chainrule_loss: Any = loss_types().get(name)
    if chainrule_loss is None or type(loss) is not getattr(torch.nn, name, None):
        raise TypeError(
            f"{name} is not supported: chainrule has the PyTorch losses "
            f"{', '.join(sorted(loss_types()))}"
        )
    for option, default in _TORCH_ONLY_LOSS_OPTIONS.items():
        value = getattr(loss, option, default)
        at_default = value is None if default is None else value == default
        if not at_default:
            raise ValueError(
                f"{name} with {option} is not supported: chainrule's {name} has no {option}; "
                f"leave it at its default ({default})"
            )
    if loss.reduction not in ("mean", "sum"):
        raise ValueError(
            f"{name}(reduction={loss.reduction!r}) gives one loss per sample; an explanation "
            'needs one number: use reduction="mean" or "sum"'
        )
    result: Module = chainrule_loss(reduction=loss.reduction)
    return result
