"""Layers: the base class, Linear and Identity (activations: :mod:`chainrule.nn.activations`).

Every layer type derives from :class:`Layer`, which records it by name in
:data:`LAYER_TYPES`: the types a model's layer list may hold (beside nested
:class:`~chainrule.nn.Sequential` containers), and the only ones model files are
built from. Losses and containers are modules but not layers. Each constructor
refuses attributes outside their documented range, so no layer, built in code or
from a file, holds a size, slope or axis it cannot compute with.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from chainrule import init as initializers
from chainrule._memory import available_memory, format_excess
from chainrule.nn.module import Module, Parameter, initializing, new_parameter_data
from chainrule.ops import get_op
from chainrule.random import RandomState, streams
from chainrule.tensor import ArrayLike, Tensor, _as_float_array, all_finite, apply

BiasKind = bool | Literal["shared"]
_LINEAR = get_op("linear")
_MATMUL = get_op("matmul")
_DENSE = get_op("dense")
#: The largest ``in_features`` / ``out_features`` of a Linear layer: BLAS indexes with
#: 32-bit integers.
MAX_FEATURES = 2**31 - 1
#: The float dtypes a layer's parameters may have (those model files store).
PARAMETER_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
#: Every layer type, by class name, filled in as :class:`Layer` subclasses are defined.
LAYER_TYPES: dict[str, type[Layer]] = {}


class Layer(Module):
    """Base class of the layer types: what a model's layer list may hold.

    Each public subclass defined in chainrule is recorded in :data:`LAYER_TYPES`
    when its class statement runs, so the list of layer types is the set of classes
    that are layers, not a list of names kept by hand. Losses
    (:class:`~chainrule.nn.MSELoss`, ...) are modules but not layers.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_") and cls.__module__.startswith("chainrule."):
            LAYER_TYPES[cls.__name__] = cls


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _is_whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def as_tensor(x: ArrayLike, layer: Module, dtype: Any = None) -> Tensor:
    """Turn a layer's input into a tensor, refusing what is not real numbers."""
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(_as_float_array(x, dtype))
    except TypeError as err:
        raise TypeError(f"{layer!r}: {err}") from None


def _check_weight_fits(in_features: int, out_features: int, dtype: np.dtype) -> None:
    """Refuse, before allocating, a weight larger than the memory the machine has free.

    Drawing its initial values adds at most one piece of
    :data:`chainrule.init.DRAW_CHUNK` float64 numbers (512 KiB) on top: left out, as a
    weight this check measures is at least 256 MiB."""
    needed = in_features * out_features * dtype.itemsize
    # Reading the free memory costs a file read: done only for weights that could matter.
    if needed <= 2**28:
        return
    available = available_memory()
    if needed > available:
        shown, most = format_excess(needed, available)
        raise ValueError(
            f"Linear({in_features}, {out_features}) needs {shown} for its {dtype} weight, "
            f"more than the {most} of memory available; choose smaller sizes"
        )


class Linear(Layer):
    """Fully connected layer: ``Z = X @ W + b``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input row and each output row, from 1 to ``MAX_FEATURES``
        (2**31 - 1).
    bias : True, False or "shared", default True
        True: one bias per output neuron, shape ``(out_features,)``.
        "shared": one scalar, shape ``(1,)``, added to every neuron (the textbook
        layout). False: no bias.
    init : str or callable, optional
        Weight initializer (see :mod:`chainrule.init`). Default: PyTorch's
        U(-1/sqrt(in_features), 1/sqrt(in_features)) for weights and bias.
    bias_init : str or callable, optional
        Bias initializer. Default: PyTorch's rule when ``init`` is None, zeros
        otherwise (Keras's rule).
    dtype : float16, float32 or float64, default float32
    rng : int or numpy.random.Generator, optional
        Source of the initial values (default: the global one, see
        :func:`chainrule.manual_seed`). An integer seed is spawned into
        independent streams for the weights and the bias; a generator's draws
        follow one another.

    Shape
    -----
    - Input: ``(N, in_features)``, rows are samples.
    - Output: ``(N, out_features)``.

    Attributes
    ----------
    weight : Parameter of shape ``(in_features, out_features)``
    bias : Parameter of shape ``(out_features,)`` or ``(1,)``, or None

    Raises
    ------
    ValueError
        If a size is not a positive integer, or the weight would need more memory
        than the machine has available (checked before allocating it).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: BiasKind = True,
        init: str | initializers.Initializer | None = None,
        bias_init: str | initializers.Initializer | None = None,
        dtype: Any = np.float32,
        rng: RandomState = None,
    ) -> None:
        super().__init__()
        for label, value in (("in_features", in_features), ("out_features", out_features)):
            if not (_is_whole(value) and 1 <= value <= MAX_FEATURES):
                raise ValueError(
                    f"Linear: {label} must be a positive integer, got {_shown(value)}; sizes "
                    f"run from 1 to {MAX_FEATURES}"
                )
        if isinstance(bias, (bool, np.bool_)):
            bias = bool(bias)
        elif not (isinstance(bias, str) and bias == "shared"):
            raise ValueError(
                f'Linear: bias must be True, False or "shared", got {_shown(bias)}'
            )
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.bias_kind: BiasKind = bias
        self.init = initializers.get(init) if init is not None else None
        self.bias_init = initializers.get(bias_init) if bias_init is not None else None
        dtype = np.dtype(dtype)
        if dtype not in PARAMETER_DTYPES:
            raise TypeError(
                f"Linear: dtype must be float16, float32 or float64, got {dtype}"
            )
        _check_weight_fits(self.in_features, self.out_features, dtype)
        self.weight = Parameter(new_parameter_data((self.in_features, self.out_features), dtype))
        self.bias: Parameter | None = None
        if bias:
            shape = (1,) if bias == "shared" else (self.out_features,)
            self.bias = Parameter(new_parameter_data(shape, dtype))
        if initializing():  # else built by from_config(initialize=False) to be loaded
            self.reset_parameters(rng)

    def reset_parameters(self, rng: RandomState = None) -> None:
        """Draw fresh initial values (an integer ``rng`` gives weights and bias streams of
        their own, see :func:`chainrule.random.streams`)."""
        dtype = self.weight.dtype
        default = initializers.fan_in_uniform(self.in_features)
        weight_init = self.init or default
        weight_rng, bias_rng = streams(rng, 2)
        self.weight.data = weight_init(self.weight.shape, rng=weight_rng, dtype=dtype)
        if self.bias is not None:
            bias_init = self.bias_init or (default if self.init is None else initializers.zeros())
            self.bias.data = bias_init(self.bias.shape, rng=bias_rng, dtype=dtype)

    def forward(self, x: ArrayLike) -> Tensor:
        x_t = self._checked_input(x)
        if self.bias is None:
            return apply(_MATMUL, x_t, self.weight)
        return apply(_LINEAR, x_t, self.weight, self.bias)

    def fused(self, x: ArrayLike, activation: Any) -> Tensor:
        """``activation(self(x))`` as one ``dense`` op (same values, less bookkeeping);
        ``activation`` is a fusable activation layer (:mod:`chainrule.nn.activations`)."""
        x_t = self._checked_input(x)
        bias = self.bias
        if bias is None:
            return activation(apply(_MATMUL, x_t, self.weight))
        return apply(
            _DENSE, x_t, self.weight, bias,
            activation=activation.op_name, activation_attrs=activation.activation_attrs,
        )

    def _checked_input(self, x: ArrayLike) -> Tensor:
        """The input as a tensor, after checking its shape, dtype and (at the network's
        entry) its values."""
        weight = self.weight
        if type(x) is np.ndarray and x.dtype == weight.data.dtype:
            # The usual case, checked in one go; otherwise the checks below say what is wrong.
            if x.ndim == 2 and x.shape[1] == self.in_features and all_finite(x):
                return Tensor._from_op(x)
            x_t = Tensor._from_op(x)
        elif isinstance(x, Tensor):
            x_t = x
        else:
            # Float arrays keep their dtype (a mismatch is an error below, never a silent
            # cast); lists and integer arrays take the weights' dtype.
            keeps = isinstance(x, np.ndarray) and x.dtype.kind == "f"
            x_t = as_tensor(x, self, None if keeps else self.weight.dtype)
        data = x_t.data
        if data.ndim != 2 or data.shape[1] != self.in_features:
            hint = " (for one sample use x.reshape(1, -1))" if data.ndim == 1 else ""
            raise ValueError(
                f"{self!r} expects {self.in_features} input features in a 2-D array "
                f"(samples, {self.in_features}), got an array of shape {data.shape}{hint}"
            )
        if data.dtype != weight.data.dtype:
            raise TypeError(
                f"{self!r} has {weight.dtype} weights but got {data.dtype} input; convert the "
                f"input (x.astype(np.{weight.dtype})) or the model (model.to(np.{data.dtype}))"
            )
        # Check the network's entry (data the user passed in) for NaN/inf; values made
        # inside the network are the training guard's concern.
        if x_t._node is None and not all_finite(data):
            bad = np.argwhere(~np.isfinite(data))[0]
            raise ValueError(
                f"{self!r} got a non-finite input ({data[tuple(bad)]} at row {bad[0]}, "
                f"column {bad[1]}); remove or impute NaN/inf values before training"
            )
        return x_t

    def _config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias_kind,
            "dtype": str(self.weight.dtype),
        }

    def extra_repr(self) -> str:
        text = f"{self.in_features}, {self.out_features}"
        if self.bias_kind != True:  # noqa: E712  (bias may be "shared")
            text += f", bias={self.bias_kind!r}"
        return text


def _shown(value: Any) -> str:
    """A value as the user wrote it (``1e+308``, ``nan``), never a NumPy repr."""
    return repr(value.item() if isinstance(value, np.generic) else value)


class Identity(Layer):
    """Returns its input unchanged."""

    def forward(self, x: ArrayLike) -> Tensor:
        return as_tensor(x, self)
