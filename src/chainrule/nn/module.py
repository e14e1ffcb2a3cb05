"""Module and Parameter: PyTorch's container contract on NumPy.

Containers and model files build on this: :mod:`chainrule.nn.sequential` (layers in a
row), :mod:`chainrule.nn.config` (a module from its ``get_config()`` data).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import Any

import numpy as np

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

        :func:`~chainrule.nn.config.from_config` rebuilds the module (with fresh
        parameters) from it; model files store it beside the weights.
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
        rows = self._summary_rows(input_features)
        widths = [max(len(row[i]) for row in rows) + 3 for i in range(2)]
        lines = [f"{a:<{widths[0]}}{b:<{widths[1]}}{c}" for a, b, c in rows]
        rule = "=" * max(len(line) for line in lines)
        total, trainable = self.num_parameters(), self.num_parameters(trainable_only=True)
        return "\n".join(
            [lines[0], rule, *lines[1:], rule, f"Total params: {total:,}",
             f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}"]
        )

    def _summary_rows(self, input_features: int | None = None) -> list[tuple[str, str, str]]:
        """The summary's header and one (layer, output shape, parameters) row per layer."""
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
        return rows

    def _repr_html_(self) -> str:
        # Jupyter's rich display: the summary as a table, with the dtype and totals.
        import html

        head, *body = self._summary_rows()
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body
        )
        total, trainable = self.num_parameters(), self.num_parameters(trainable_only=True)
        dtype = np.dtype(self.dtype).name if self.dtype is not None else "no parameters"
        return (
            f"<div><p><b>{html.escape(type(self).__name__)}</b>: {total:,} parameters "
            f"({trainable:,} trainable), {dtype}</p><table><thead><tr>"
            + "".join(f"<th>{html.escape(c)}</th>" for c in head)
            + f"</tr></thead><tbody>{cells}</tbody></table></div>"
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
