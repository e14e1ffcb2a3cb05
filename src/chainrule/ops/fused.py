"""Fused layer ops: ``activation(X @ W + b)`` in one recorded op.

``nn.Sequential`` runs a Linear layer and the elementwise activation after it as one
``dense`` op, which halves the bookkeeping per layer on small networks. Its forward
and gradients are the registered ``linear`` op followed by the registered
activation, computed by exactly those entries of the registry, so a fused and an
unfused network compute bit-identical values. Explanations run unfused (see
:func:`chainrule.autograd.fusion`) to show Z and the activation as two stages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.ops.registry import Formula, Op, Sample, get_op, register, vjps_from_joint
from chainrule.ops.shape import linear_forward, linear_joint_vjp, linear_sample

Array = np.ndarray
FUSABLE = ("sigmoid", "tanh", "relu", "leaky_relu")


def _dense_forward(
    x: Array, W: Array, b: Array, activation: str, activation_attrs: dict[str, Any] | None = None  # noqa: N803
) -> tuple[Array, dict[str, Array]]:
    z = linear_forward(x, W, b)
    return get_op(activation).forward(z, **(activation_attrs or {})), {"z": z}


def dense_joint_vjp(
    grad: Array,
    out: Array,
    x: Array,
    W: Array,  # noqa: N803
    b: Array,
    needs: tuple[bool, ...],
    activation: str,
    activation_attrs: dict[str, Any] | None = None,
    z: Array | None = None,
) -> tuple[Array | None, Array | None, Array | None]:
    """The activation's VJP gives dE/dZ once; the linear op's joint VJP takes it from there."""
    assert z is not None
    activation_vjp = get_op(activation).vjps[0]
    assert activation_vjp is not None
    grad_z = activation_vjp(grad, out, z, **(activation_attrs or {}))
    return linear_joint_vjp(grad_z, z, x, W, b, needs)


def _dense_sample(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    activation = str(rng.choice(FUSABLE))
    attrs = {"negative_slope": 0.1} if activation == "leaky_relu" else None
    inputs = linear_sample(rng, hint).inputs
    return Sample(inputs, {"activation": activation, "activation_attrs": attrs})


register(
    Op(
        name="dense",
        arg_names=("X", "W", "b"),
        forward=_dense_forward,
        vjps=vjps_from_joint(dense_joint_vjp, 3),
        joint_vjp=dense_joint_vjp,
        formulas=(
            Formula("{act}'(Z) then {W}^T", "{act}'(Z)\\,{W}^\\top"),
            Formula("{X}^T, after {act}'(Z)", "{X}^\\top\\,{act}'(Z)"),
            Formula("{act}'(Z)", "{act}'(Z)"),
        ),
        sample=_dense_sample,
        saves=True,
        description="activation(X @ W + b): a Linear layer and its activation in one op",
        formula_names=lambda activation, activation_attrs=None: {"act": activation},
    )
)
