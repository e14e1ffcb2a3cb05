"""Architecture as data: a module rebuilt from its ``get_config()`` data."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from chainrule.nn import activations as activations_module
from chainrule.nn import layers as layers_module
from chainrule.nn import loss as loss_module
from chainrule.nn import module as module_module
from chainrule.nn.layers import LAYER_TYPES
from chainrule.nn.module import _INITIALIZE, Module
from chainrule.nn.sequential import Sequential


def _public_classes(*sources: ModuleType) -> dict[str, type]:
    """The public classes defined in ``sources``, by name: what a config might name
    besides the layer types, for the message that refuses it."""
    return {
        name: obj
        for source in sources
        for name, obj in vars(source).items()
        if isinstance(obj, type) and obj.__module__ == source.__name__ and not name.startswith("_")
    }


_NOT_LAYERS = _public_classes(module_module, layers_module, activations_module, loss_module)


def from_config(config: dict[str, Any], *, initialize: bool = True) -> Module:
    """Build a module from :meth:`Module.get_config` data.

    Parameters
    ----------
    config : dict
        ``{"type": "Linear", ...}`` as :meth:`Module.get_config` returns it.
    initialize : bool, default True
        Draw fresh parameter values, as the constructors do. False builds only the
        architecture: every parameter is a read-only placeholder of the right shape
        and dtype that takes no memory and draws no random numbers, until values are
        assigned to its ``.data``. :func:`chainrule.load` builds models this way, so
        loading holds each weight in memory once.
    """
    token = _INITIALIZE.set(bool(initialize))
    try:
        return _build(config)
    finally:
        _INITIALIZE.reset(token)


def _build(config: dict[str, Any]) -> Module:
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise ValueError(f"a module config is a dict with a 'type' name, got {config!r}")
    kind = config["type"]
    args = {k: v for k, v in config.items() if k != "type"}
    if kind == "Sequential":
        layers = args.pop("layers", None)
        if not isinstance(layers, list) or args:
            raise ValueError("a Sequential config needs exactly one entry, 'layers': a list")
        return Sequential(*(_build(layer) for layer in layers))
    cls = LAYER_TYPES.get(kind)
    if cls is None:
        # Only layer types are built: a loss or a base class in a layer list would load
        # and fail only when the model is used.
        known = _NOT_LAYERS.get(kind)
        shown = repr(kind if len(kind) <= 40 else kind[:40] + "...")
        if known is None:
            problem = f"unknown module type {shown} in config"
        elif known.__module__ == loss_module.__name__:
            problem = f"{shown} in config is a loss, not a layer type"
        else:
            problem = f"{shown} in config is not a layer type"
        raise ValueError(
            f"{problem}; a model is built from Sequential and the layer types "
            f"{', '.join(sorted(LAYER_TYPES))}"
        )
    try:
        return cls(**args)
    except TypeError as err:
        raise ValueError(f"invalid arguments for {kind} in config: {err}") from None
