"""The registered primitives. Importing this package registers all of them."""

from chainrule.ops import activations, arithmetic, fused, losses, shape  # noqa: F401  (registration)
from chainrule.ops.registry import REGISTRY, Formula, Op, Sample, get_op, register

__all__ = ["REGISTRY", "Formula", "Op", "Sample", "get_op", "register"]
