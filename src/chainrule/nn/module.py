"""Module, Parameter and Sequential: PyTorch's container contract on NumPy."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import Any, overload

import numpy as np

from chainrule.autograd import _Fusion
from chainrule.tensor import ArrayLike, Tensor

# False while from_config(..., initialize=False) builds a module whose values will be
# assigned next: layers then take placeholders and draw nothing (see new_parameter_data).
_INITIALIZE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "chainrule_initialize", default=True
)


def initializing() -> bool:
    """Whether layers being built draw initial values (False inside
    ``from_config(config, initialize=False)``); a layer calls ``reset_parameters()``
    only when this is True."""
    return _INITIALIZE.get()


def new_parameter_data(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Storage for a new parameter: zeros, which ``reset_parameters()`` then fills; inside
    ``from_config(config, initialize=False)`` a read-only placeholder taking no memory."""
    if initializing():
        return np.zeros(shape, dtype)
    return np.broadcast_to(np.zeros((), dtype), shape)


class Parameter(Tensor):
    """A tensor a module learns: ``requires_grad`` is True unless frozen."""

    __slots__ = ()

    def __init__(
        self, data: ArrayLike, requires_grad: bool = True, name: str | None = None
    ) -> None:
        super().__init__(data, requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model.

    Subclasses set their sizes and parameters in ``__init__``, draw initial
    values in ``reset_parameters()``, compute in ``forward()`` and describe
    themselves in ``extra_repr()``. Assigning a :class:`Parameter` or a
    :class:`Module` to an attribute registers it.
    """

    training: bool
    _parameters: dict[str, Parameter]
    _modules: dict[str, Module]

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        modules = self.__dict__.get("_modules")
        if params is None or modules is None:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before "
                f"assigning attributes (while setting {name!r})"
            )
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    # -- computing --------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Calling a module runs its forward(); binding forward as __call__ saves a Python
        # frame per layer per step, which is most of the cost of small networks.
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__ and "__call__" not in cls.__dict__:
            cls.__call__ = cls.__dict__["forward"]  # type: ignore[method-assign]

    # -- parameters -------------------------------------------------------------------
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) for this module and every submodule, each once."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> Iterator[Parameter]:
        for _, param in self.named_parameters():
            yield param

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module (name ``prefix``) and all below it."""
        # Depth first, parents before children, in the order children were assigned: the
        # children go on the stack reversed so the first is popped first. Each module is
        # pushed and popped once, so the walk is linear in the number of modules.
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            yield name, module
            stack.extend(
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in reversed(module._modules.items())
            )

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def zero_grad(self) -> None:
        """Forget every parameter's accumulated gradient."""
        for param in self.parameters():
            param.grad = None

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # -- state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values, by dotted name."""
        return {name: param.data.copy() for name, param in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy values from ``state`` into the parameters, checking names and shapes.

        Raises
        ------
        ValueError
            When a name is missing or unexpected (``strict``) or a shape differs;
            in that case nothing is changed.
        """
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise ValueError(
                f"state_dict does not match {type(self).__name__}: missing {missing}, "
                f"unexpected {unexpected}; pass strict=False to load the common entries"
            )
        updates: list[tuple[Parameter, np.ndarray]] = []
        for name, param in own.items():
            if name not in state:
                continue
            value = np.asarray(state[name].data if isinstance(state[name], Tensor) else state[name])
            if value.shape != param.shape:
                raise ValueError(
                    f"state_dict entry {name!r} has shape {value.shape}, but the parameter has "
                    f"shape {param.shape}"
                )
            updates.append((param, value))
        for param, value in updates:
            param.data[...] = value

    # -- modes and dtype --------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to(self, dtype: Any) -> Module:
        """Convert every parameter to ``dtype`` (e.g. ``np.float64``), in place."""
        target = np.dtype(dtype)
        if target.kind != "f":
            raise TypeError(f"parameters must have a float dtype, got {target}")
        for param in self.parameters():
            param.data = param.data.astype(target)
            param.grad = None
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    @property
    def dtype(self) -> np.dtype[Any] | None:
        """The dtype of the first parameter (None for a module without parameters)."""
        for param in self.parameters():
            return param.dtype
        return None

    # -- architecture as data ---------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-ready data: ``{"type": "Linear", ...}``.

        :func:`from_config` rebuilds the module (with fresh parameters) from it;
        model files store it beside the weights.
        """
        return {"type": type(self).__name__, **self._config()}

    def _config(self) -> dict[str, Any]:
        if self._parameters or self._modules:
            raise TypeError(
                f"{type(self).__name__} does not describe its architecture; define _config() "
                "returning its constructor arguments to save it"
            )
        return {}

    # -- printing ---------------------------------------------------------------------
    def summary(self, input_features: int | None = None) -> str:
        """A table of the layers: name and type, output shape, number of parameters.

        Parameters
        ----------
        input_features : int, optional
            Features per input sample; by default ``in_features`` of the first
            layer that has one (such as :class:`~chainrule.nn.Linear`). Output
            shapes come from a forward pass of one zero sample and read ``(N, k)``.

        Returns
        -------
        str
            The table; ``print(model.summary())`` shows it.
        """
        from chainrule.autograd import no_grad

        if input_features is None:
            first = next((m for m in self.modules() if hasattr(m, "in_features")), None)
            input_features = getattr(first, "in_features", None)
        layers = [(n, m) for n, m in self.named_modules() if n and "." not in n] or [("", self)]
        x: Any = None
        if input_features is not None:
            x = np.zeros((1, input_features), dtype=self.dtype or np.float32)
        rows = [("Layer (type)", "Output shape", "Param #")]
        for name, layer in layers:
            shape = "?"
            if x is not None:
                try:
                    with no_grad():
                        x = layer(x)
                    shape = str(("N", *x.shape[1:])).replace("'", "")
                except (ValueError, TypeError):
                    x = None
            label = f"{name} ({type(layer).__name__})" if name else type(layer).__name__
            rows.append((label, shape, f"{layer.num_parameters():,}"))
        widths = [max(len(row[i]) for row in rows) + 3 for i in range(2)]
        lines = [f"{a:<{widths[0]}}{b:<{widths[1]}}{c}" for a, b, c in rows]
        rule = "=" * max(len(line) for line in lines)
        total, trainable = self.num_parameters(), self.num_parameters(trainable_only=True)
        return "\n".join(
            [lines[0], rule, *lines[1:], rule, f"Total params: {total:,}",
             f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}"]
        )

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [
            f"({name}): " + repr(child).replace("\n", "\n  ")
            for name, child in self._modules.items()
        ]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


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

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_plan", None)  # made again on the first call (copies, pickles)
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

    def _make_plan(self) -> list[Any]:
        """The layers to run when fusing: each run of Linear layers with a bias, each
        followed by an elementwise activation or by none, with sizes that chain, becomes
        one FusedRun (a single op) of up to MAX_STACK layers; other layers run as they are."""
        from chainrule.nn.layers import FusedRun, Linear
        from chainrule.ops.fused import MAX_STACK

        layers = list(self._modules.values())
        plan: list[Any] = []
        linears: list[Any] = []  # the run being gathered, and the activation after each
        activations: list[Any] = []

        def close_run() -> None:
            if len(linears) == 1 and activations[0] is None:
                plan.append(linears[0])
            elif linears:
                plan.append(FusedRun(linears, activations))
            linears.clear()
            activations.clear()

        i = 0
        while i < len(layers):
            layer = layers[i]
            if not (isinstance(layer, Linear) and layer.bias is not None):
                close_run()
                plan.append(layer)
                i += 1
                continue
            if linears and (
                len(linears) == MAX_STACK or linears[-1].out_features != layer.in_features
            ):
                close_run()
            after = layers[i + 1] if i + 1 < len(layers) else None
            fusable = getattr(after, "fusable", False)
            linears.append(layer)
            activations.append(after if fusable else None)
            i += 2 if fusable else 1
        close_run()
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
        layers = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*layers[index])
        try:
            return layers[index]
        except IndexError:
            raise IndexError(
                f"index {index} is out of range for a Sequential of {len(layers)} layers"
            ) from None


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
    from chainrule import nn
    from chainrule.nn.layers import LAYER_TYPES

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
        known = getattr(nn, kind, None) if kind in nn.__all__ else None
        shown = repr(kind if len(kind) <= 40 else kind[:40] + "...")
        if not isinstance(known, type):
            problem = f"unknown module type {shown} in config"
        elif known.__module__ == "chainrule.nn.loss":
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
