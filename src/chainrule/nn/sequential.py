"""Sequential: layers applied one after another, run fused where they can be."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, overload

from chainrule.nn.fusion import _Fusion, fusion_plan
from chainrule.nn.module import Module


class Sequential(Module):
    """Layers applied one after another: ``Sequential(Linear(2, 3), Sigmoid(), ...)``.

    Indexable (``model[0]``, ``model[1:]``), iterable and has a length.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential takes Module instances; argument {i} is {type(layer).__name__}"
                )
            setattr(self, str(i), layer)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        object.__setattr__(self, "_plan", None)  # the layers changed: plan again
        object.__setattr__(self, "_layers", None)

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        object.__setattr__(self, "_plan", None)
        object.__setattr__(self, "_layers", None)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_plan", None)  # made again on the first call (copies, pickles)
        state.pop("_layers", None)
        return state

    def forward(self, x: Any) -> Any:
        if not _Fusion.enabled:
            for layer in self._modules.values():
                x = layer(x)
            return x
        plan = self.__dict__.get("_plan")
        if plan is None:
            plan = self._make_plan()
        for step in plan:
            x = step(x)
        return x

    def steps(self) -> list[Any]:
        """What ``forward`` runs while fusion is on, in order: fused runs of layers (see
        :mod:`chainrule.nn.fusion`) and single layers. The same list until the layers
        change."""
        plan = self.__dict__.get("_plan")
        return self._make_plan() if plan is None else plan

    def _make_plan(self) -> list[Any]:
        plan = fusion_plan(list(self._modules.values()))
        object.__setattr__(self, "_plan", plan)
        return plan

    def _config(self) -> dict[str, Any]:
        return {"layers": [layer.get_config() for layer in self]}

    def append(self, layer: Module) -> Sequential:
        setattr(self, str(len(self)), layer)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Module:
        # The layer tuple is kept until the layers change, so indexing in a loop stays linear.
        layers = self.__dict__.get("_layers")
        if layers is None:
            layers = tuple(self._modules.values())
            object.__setattr__(self, "_layers", layers)
        if isinstance(index, slice):
            return Sequential(*layers[index])
        try:
            return layers[index]
        except IndexError:
            raise IndexError(
                f"index {index} is out of range for a Sequential of {len(layers)} layers"
            ) from None
