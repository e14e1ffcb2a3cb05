"""Generated chainrule networks for the bridge tests: every layer type, bias kind and dtype.

The activations are read from ``chainrule.nn.LAYER_TYPES``, so a new layer type is
generated (and must cross every bridge) without an edit here; an argument it takes is
drawn from ``ARGUMENTS`` when its name is there, else left at its default.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from hypothesis import strategies as st

import chainrule as cr

nn = cr.nn
ACTIVATION_TYPES = [cls for cls in nn.LAYER_TYPES.values() if cls is not nn.Linear]
BIAS_KINDS = [True, False, "shared"]
ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "negative_slope": st.floats(0, 1),
    "axis": st.sampled_from([-1, 0, 1]),
}


def arguments_of(cls: type) -> list[str]:
    parameters = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in parameters if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD]


@st.composite
def activations(draw: Any) -> nn.Module:
    cls = draw(st.sampled_from(ACTIVATION_TYPES))
    chosen = {name: draw(ARGUMENTS[name]) for name in arguments_of(cls) if name in ARGUMENTS}
    return cls(**chosen)


@st.composite
def networks(draw: Any, dtypes: tuple[Any, ...] = (np.float32, np.float64)) -> nn.Sequential:
    """A Sequential of 1 to 3 Linear layers, each with any bias kind and maybe followed by
    an activation, part of it maybe in a nested Sequential."""
    dtype = draw(st.sampled_from(dtypes))
    depth = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(1, 5), min_size=depth + 1, max_size=depth + 1))
    seed = draw(st.integers(0, 2**16))
    layers: list[nn.Module] = []
    for i in range(depth):
        bias = draw(st.sampled_from(BIAS_KINDS))
        layers.append(nn.Linear(widths[i], widths[i + 1], bias=bias, dtype=dtype, rng=seed + i))
        if draw(st.booleans()):
            layers.append(draw(activations()))
    if len(layers) > 1 and draw(st.booleans()):
        cut = draw(st.integers(1, len(layers) - 1))
        layers = [nn.Sequential(*layers[:cut]), *layers[cut:]]
    return nn.Sequential(*layers)


def inputs_for(model: nn.Module, rows: int = 6, seed: int = 0) -> np.ndarray:
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, first.in_features)).astype(model.dtype) * 2


def flattened(model: nn.Module) -> nn.Sequential:
    """``model`` with its nested Sequentials flattened (the same layer objects)."""
    return nn.Sequential(*(m for m in model.modules() if not isinstance(m, nn.Sequential)))


def relative_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    """The largest difference relative to the largest entry (absolute when all are 0)."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    scale = float(np.abs(ours).max(initial=0.0))
    difference = float(np.abs(ours - theirs).max(initial=0.0))
    return difference / scale if scale > 0 else difference
