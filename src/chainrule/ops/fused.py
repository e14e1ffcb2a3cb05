"""Fused layer ops: ``activation(X @ W + b)`` in one recorded op, and a run of such
layers in one recorded op.

``nn.Sequential`` runs a Linear layer and the elementwise activation after it as one
``dense`` op, and two to four such layers in a row as one ``dense_stackN`` op, which
cuts the bookkeeping per layer on small networks. Their forward and gradients are
the registered ``linear`` op followed by the registered activation, computed by
exactly those entries of the registry, so a fused and an unfused network compute
bit-identical values. Explanations run unfused (see
:func:`chainrule.nn.fusion.fusion`) to show Z and the activation as two stages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.ops.registry import REGISTRY, Formula, Op, Sample, register, vjps_from_joint
from chainrule.ops.shape import linear_forward, linear_joint_vjp, linear_sample

Array = np.ndarray
MAX_STACK = 4  # dense_stack2 ... dense_stack4 are registered


def _activate(z: Array, activation: str, attrs: dict[str, Any] | None) -> Array:
    """The registered activation's forward on Z: over Z itself when the activation
    can run in place (Z, which the layer made, is then the output and nothing else)."""
    op = REGISTRY[activation]
    forward = op.forward_in_place or op.forward
    return forward(z, **attrs) if attrs else forward(z)


def _activation_vjp(
    grad: Array, out: Array, z: Array, activation: str, attrs: dict[str, Any] | None
) -> Array:
    """dE/dZ from dE/d(out), by the registered activation's VJP (a new array)."""
    vjp: Any = REGISTRY[activation].vjps[0]
    return vjp(grad, out, z, **attrs) if attrs else vjp(grad, out, z)


def _dense_forward(
    x: Array, W: Array, b: Array, activation: str, activation_attrs: dict[str, Any] | None = None  # noqa: N803
) -> tuple[Array, dict[str, Array]]:
    z = linear_forward(x, W, b)
    return _activate(z, activation, activation_attrs), {"z": z}


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
    grad_z = _activation_vjp(grad, out, z, activation, activation_attrs)
    return linear_joint_vjp(grad_z, z, x, W, b, needs)


def fusable_activations() -> list[str]:
    """The registered ops the fused layer ops can run (see :attr:`Op.fusable`)."""
    return [op.name for op in REGISTRY.values() if op.fusable]


def _activation_sample(rng: np.random.Generator, choices: list[str]) -> tuple[str, Any]:
    """An activation drawn from ``choices`` and attributes its own sampler draws for it."""
    activation = str(rng.choice(choices))
    attrs = REGISTRY[activation].sample(rng, (1, 1)).attrs if activation != "none" else None
    return activation, attrs or None


def _dense_sample(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    activation, attrs = _activation_sample(rng, fusable_activations())
    inputs = linear_sample(rng, hint).inputs
    return Sample(inputs, {"activation": activation, "activation_attrs": attrs})


register(
    Op(
        name="dense",
        intuition=(
            "The activation's slope scales the error signal, which the layer then passes to its "
            "input, weights and bias exactly as linear does."
        ),
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
        always_record=True,  # its activation may be a sigmoid a loss looks through
    )
)


# -- a run of layers: X -> act1(X @ W1 + b1) -> act2(. @ W2 + b2) -> ... ---------------------
# The attributes name each layer's activation (None: the layer is linear) and its
# attributes; the forward saves each layer's Z and the inputs of the layers above the first
# (an activation computed in place leaves one array for both: its output).
def _stack_forward(
    x: Array,
    *params: Array,
    activations: tuple[str | None, ...],
    activation_attrs: tuple[dict[str, Any] | None, ...],
) -> tuple[Array, dict[str, tuple[Array, ...]]]:
    inputs, zs = [], []
    W = params[::2]  # noqa: N806
    b = params[1::2]
    for i, activation in enumerate(activations):
        if i:
            inputs.append(x)
        x = z = linear_forward(x, W[i], b[i])
        zs.append(z)
        if activation is not None:  # _activate's lookup, without its call per layer
            op = REGISTRY[activation]
            forward = op.forward_in_place or op.forward
            attrs = activation_attrs[i]
            x = forward(z, **attrs) if attrs else forward(z)
    return x, {"inputs": tuple(inputs), "zs": tuple(zs)}


def stack_joint_vjp(
    grad: Array,
    out: Array,
    x: Array,
    *params: Array,
    needs: tuple[bool, ...],
    activations: tuple[str | None, ...],
    activation_attrs: tuple[dict[str, Any] | None, ...],
    inputs: tuple[Array, ...] = (),
    zs: tuple[Array, ...] = (),
) -> tuple[Array | None, ...]:
    """Each layer's activation VJP and then ``linear``'s joint VJP (as ``dense`` does),
    from the top layer down to the lowest one below which nothing needs a gradient."""
    count = len(activations)
    grads: list[Array | None] = [None] * (2 * count + 1)
    lowest = 0  # the lowest layer the pass must reach: the lowest with an input that needs it
    if not needs[0]:
        lowest = count
        for i in range(count):
            if needs[2 * i + 1] or needs[2 * i + 2]:
                lowest = i
                break
    top = count - 1
    layer_out = out
    for i in range(top, lowest - 1, -1):
        z = zs[i]
        activation = activations[i]
        if activation is not None:  # _activation_vjp, without its call per layer
            op = REGISTRY[activation]
            attrs = activation_attrs[i]
            # Below the top layer, grad is the input gradient the layer above just made:
            # owned, so an activation that can writes dE/dZ over it.
            vjp: Any = op.vjp_in_place if i != top else None
            if vjp is not None:
                grad = vjp(grad, layer_out, **attrs) if attrs else vjp(grad, layer_out)
            else:
                vjp = op.vjps[0]
                grad = vjp(grad, layer_out, z, **attrs) if attrs else vjp(grad, layer_out, z)
        j = 2 * i + 1
        layer_in = inputs[i - 1] if i else x
        grad, grads[j], grads[j + 1] = linear_joint_vjp(  # type: ignore[assignment]
            grad, z, layer_in, params[j - 1], params[j],
            (i > lowest or needs[0], needs[j], needs[j + 1]),
        )
        layer_out = layer_in
    grads[0] = grad if needs[0] else None
    return tuple(grads)


def _stack_sample(layers: int) -> Callable[[np.random.Generator, tuple[int, int]], Sample]:
    def sample(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
        batch, width = hint
        sizes = [int(rng.integers(1, 5)) for _ in range(layers)] + [width]
        arrays = [rng.normal(size=(batch, sizes[0]))]
        activations: list[str | None] = []
        attrs: list[dict[str, Any] | None] = []
        choices = [*fusable_activations(), "none"]
        for i in range(layers):
            bias_shape = [(sizes[i + 1],), (1,), ()][rng.integers(3)]
            arrays += [rng.normal(size=(sizes[i], sizes[i + 1])), rng.normal(size=bias_shape)]
            activation, activation_attrs = _activation_sample(rng, choices)
            activations.append(None if activation == "none" else activation)
            attrs.append(activation_attrs)
        return Sample(
            tuple(arrays), {"activations": tuple(activations), "activation_attrs": tuple(attrs)}
        )

    return sample


def _fill(template: str, **values: int) -> str:
    """Put numbers in for <name> tokens (str.format is left for the input names)."""
    for key, value in values.items():
        template = template.replace(f"<{key}>", str(value))
    return template


def _stack_formulas(layers: int) -> tuple[Formula, ...]:
    # {X} is an input's name; doubled braces are LaTeX's own.
    formulas = [
        Formula(
            _fill("actk'(Zk) then Wk^T, for k = <n> down to 1", n=layers),
            _fill("\\text{{act}}_k'(Z_k)\\,W_k^\\top,\\ k = <n> \\dots 1", n=layers),
        )
    ]
    for k in range(1, layers + 1):
        below = "{X}" if k == 1 else _fill("H<j>", j=k - 1)
        below_tex = "{X}" if k == 1 else _fill("H_{{<j>}}", j=k - 1)
        formulas += [
            Formula(
                below + _fill("^T, after the layers above and act<k>'(Z<k>)", k=k),
                below_tex + _fill("^\\top\\,\\text{{act}}_{{<k>}}'(Z_{{<k>}})", k=k),
            ),
            Formula(
                _fill("act<k>'(Z<k>), after the layers above", k=k),
                _fill("\\text{{act}}_{{<k>}}'(Z_{{<k>}})", k=k),
            ),
        ]
    return tuple(formulas)


def stack_op_name(layers: int) -> str:
    """The registered op running ``layers`` Linear(+activation) layers in a row."""
    return f"dense_stack{layers}"


for _layers in range(2, MAX_STACK + 1):
    register(
        Op(
            name=stack_op_name(_layers),
            intuition=(
                "Each layer's activation slope and weights shape the error signal on its way back, "
                "layer after layer, as in dense."
            ),
            arg_names=(
                "X", *(f"{p}{k}" for k in range(1, _layers + 1) for p in ("W", "b"))
            ),
            forward=_stack_forward,
            vjps=vjps_from_joint(stack_joint_vjp, 1 + 2 * _layers),
            joint_vjp=stack_joint_vjp,
            formulas=_stack_formulas(_layers),
            sample=_stack_sample(_layers),
            saves=True,
            description=f"{_layers} Linear layers, each with its activation (or none), in one op",
            always_record=True,
        )
    )
