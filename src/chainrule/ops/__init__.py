"""The registered primitives. Importing this package registers all of them."""

from chainrule.ops import (  # noqa: F401  (registration)
    activations,
    arithmetic,
    fused,
    losses,
    mse,
    shape,
)
from chainrule.ops.registry import REGISTRY, Formula, Op, Sample, get_op, register

__all__ = ["REGISTRY", "Formula", "Op", "Sample", "get_op", "register"]
