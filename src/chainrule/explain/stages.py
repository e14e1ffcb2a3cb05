"""One stage of the backward pass written out: local derivative, product, shapes.

Every stage takes the gradient arriving at an op's output (upstream) and the
op's local derivative from the registry, and gives the gradient of one input.
How the two combine depends on the op: an elementwise product, a matrix
product with a transposed factor, or a sum for a bias.
"""

from __future__ import annotations

from collections.abc import Callable

from chainrule.explain.derive import Stage
from chainrule.explain.document import Block, MatEq, Math, Para
from chainrule.explain.fmt import shape_str, tex_index, tex_name, tex_partial, text_partial
from chainrule.explain.notation import name_math
from chainrule.explain.trace import Trace

EQUALS = Math(" =", " =")
IS = Math(" = ", " = ")


def partial(top: str, bottom: str) -> Math:
    """``dE/dWho`` as an inline formula."""
    return Math(text_partial(top, bottom), tex_partial(top, bottom))


def partial_via(top: str, bottom: str, via: str) -> Math:
    """``dE/dh1 (via t1)``: the part of a gradient that comes through one reader."""
    return Math(
        f"{text_partial(top, bottom)} (via {via})",
        f"{tex_partial(top, bottom)}\\,(\\text{{via }} {tex_name(via)})",
    )


def result_math(stage: Stage, loss: str) -> Math:
    """``dE/d(wrt)``, marked with the reader when ``wrt`` is read by several ops."""
    if stage.parts > 1:
        return partial_via(loss, stage.wrt.name, stage.out.name)
    return partial(loss, stage.wrt.name)


def delta_name(stage: Stage, n_layers: int) -> Math:
    """``delta2``: the error signal dE/dZ2 of layer 2."""
    layer = "" if n_layers == 1 or stage.wrt.layer is None else str(stage.wrt.layer)
    use = stage.wrt.use
    text = f"delta{layer}" + (f"_{use}" if use > 1 else "")
    tex = f"\\delta_{{{layer}}}" if layer else "\\delta"
    return Math(text, tex + (f"^{{({use})}}" if use > 1 else ""))


def _input(stage: Stage, trace: Trace, position: int) -> tuple[str, tuple[int, ...]]:
    """Name and shape of the op's input at ``position``."""
    node = stage.out.tensor.node
    assert node is not None
    value = trace.of(node.inputs[position])
    return value.name, value.shape


def _transposed(name: str, shape: tuple[int, ...]) -> str:
    flipped = shape_str(tuple(reversed(shape)))
    return f"{name} has shape {shape_str(shape)}, so {name}^T has shape {flipped}"


class _Names:
    """The formulas one stage talks about."""

    def __init__(self, stage: Stage, trace: Trace) -> None:
        self.loss = trace.loss.name
        self.out, self.wrt = stage.out.name, stage.wrt.name
        self.local = partial(self.out, self.wrt)
        self.upstream = partial(self.loss, self.out)
        self.result = result_math(stage, self.loss)
        self.formula = Math(stage.formula_text, stage.formula_latex)
        self.up_shape = shape_str(stage.upstream.shape)
        self.down_shape = shape_str(stage.result.shape)


def _loss(stage: Stage, trace: Trace, n: _Names) -> list[Block]:
    return [MatEq([n.result + IS + n.formula + EQUALS, stage.result])]


def _pointwise(stage: Stage, trace: Trace, n: _Names) -> list[Block]:
    assert stage.local is not None
    product = n.result + IS + n.upstream + Math(" ⊙ ", " \\odot ") + n.local + EQUALS
    return [
        Para([f"Local derivative of {stage.op.name}, entry by entry: ", n.local, " = ", n.formula]),
        MatEq([n.local + EQUALS, stage.local]),
        Para(
            [
                "Elementwise product (⊙) with the upstream gradient, "
                f"{n.up_shape} ⊙ {n.up_shape} -> {n.down_shape}:"
            ]
        ),
        MatEq(
            [
                product,
                stage.upstream,
                Math("⊙", "\\odot"),
                stage.local,
                Math("=", "="),
                stage.result,
            ]
        ),
    ]


def _layer_input(stage: Stage, trace: Trace, n: _Names) -> list[Block]:
    assert stage.local is not None
    w, w_shape = _input(stage, trace, 1)
    collects = Math(
        f"sum_k {n.upstream.text}[n,k] * {w}[j,k]",
        f"\\sum_k (\\partial {tex_name(n.loss)}/\\partial {tex_index(n.out, 'nk')})\\,"
        f"{tex_index(w, 'jk')}",
    )
    product = n.result + IS + n.upstream + Math(" @ ", "\\,") + n.formula + EQUALS
    return [
        Para(
            [
                "Local derivative of the layer with respect to its input: ",
                n.local,
                " = ",
                n.formula,
                f" ({_transposed(w, w_shape)}).",
            ]
        ),
        MatEq(
            [
                product,
                stage.upstream,
                Math("@", "\\times"),
                stage.local,
                Math("=", "="),
                stage.result,
            ]
        ),
        Para(
            [
                f"Matrix product {n.up_shape} @ {shape_str(stage.local.shape)} -> {n.down_shape}, "
                "the shape of ",
                name_math(n.wrt),
                f". Unit j of {n.wrt} feeds every unit k of {n.out} through {w}[j,k], so it "
                "collects ",
                collects,
                f": the transpose puts the k axis of {w} where the product sums over it.",
            ]
        ),
    ]


def _layer_weights(stage: Stage, trace: Trace, n: _Names) -> list[Block]:
    assert stage.local is not None
    a, a_shape = _input(stage, trace, 0)
    gradient = Math(
        f"sum_n {a}[n,i] * {n.upstream.text}[n,j]",
        f"\\sum_n {tex_index(a, 'ni')}\\,"
        f"\\partial {tex_name(n.loss)}/\\partial {tex_index(n.out, 'nj')}",
    )
    product = n.result + IS + n.formula + Math(" @ ", "\\,") + n.upstream + EQUALS
    return [
        Para(
            [
                "Local derivative of the layer with respect to its weights: ",
                n.local,
                " = ",
                n.formula,
                f" ({_transposed(a, a_shape)}).",
            ]
        ),
        MatEq(
            [
                product,
                stage.local,
                Math("@", "\\times"),
                stage.upstream,
                Math("=", "="),
                stage.result,
            ]
        ),
        Para(
            [
                f"Matrix product {shape_str(stage.local.shape)} @ {n.up_shape} -> {n.down_shape}, "
                "exactly the shape of ",
                name_math(n.wrt),
                f". Why the transpose: weight {n.wrt}[i,j] multiplies {a}[n,i] and adds into "
                f"{n.out}[n,j] for every sample n, so its gradient is ",
                gradient,
                f", entry (i,j) of {a}^T @ {n.upstream.text}: transposing {a} puts the sample "
                "axis where the matrix product sums over it.",
            ]
        ),
    ]


def _bias(stage: Stage, trace: Trace, n: _Names) -> list[Block]:
    single = stage.result.size == 1
    if single and stage.upstream.ndim == 2 and stage.upstream.shape[1] > 1:
        where = f"every entry of {n.out} (one shared bias for all samples and all neurons)"
    elif single:
        where = f"every row of {n.out} (every sample)"
    else:
        where = f"every row of {n.out} (one bias per output unit, the same for every sample)"
    over = "all entries" if single else "the samples (rows)"
    return [
        Para(
            [
                "Local derivative: ",
                n.local,
                " = ",
                n.formula,
                f". The bias was added to {where}, so its gradient is the upstream gradient "
                "summed over them:",
            ]
        ),
        MatEq(
            [
                n.result + Math(f" = sum over {over} of ", " = \\sum ") + n.upstream + EQUALS,
                stage.result,
            ]
        ),
        Para([f"{n.up_shape} summed to {n.down_shape}, the shape of ", name_math(n.wrt), "."]),
    ]


#: Show at most this many per-sample Jacobian matrices.
MAX_JACOBIANS = 3


def _per_row(stage: Stage, n: _Names) -> tuple[Math, Math]:
    """The Jacobian of one sample row (the registry writes it for row ``[n]``) and its entry."""
    out, wrt = stage.out.name, stage.wrt.name
    entry = Math(
        f"d{out}[n,i]/d{wrt}[n,j]",
        f"\\partial {tex_index(out, 'ni')}/\\partial {tex_index(wrt, 'nj')}",
    )
    return n.formula, entry


def _jacobian(stage: Stage, trace: Trace, n: _Names) -> list[Block]:
    jacobian, entry = _per_row(stage, n)
    blocks: list[Block] = [
        Para(
            [
                f"Local derivative of {stage.op.name}, one Jacobian per sample: for row n, ",
                n.local,
                " = ",
                jacobian,
                f" ({stage.out.name}[n] is row n, a 1 x {stage.out.shape[-1]} matrix); entry "
                "(i,j) is ",
                entry,
                ". Each row of the upstream gradient is multiplied by its own Jacobian:",
            ]
        )
    ]
    if stage.local is not None:
        samples = stage.local.shape[0]
        for sample in range(min(MAX_JACOBIANS, samples)):
            label = n.local + Math(f" (sample {sample}) =", f"\\ (\\text{{sample }} {sample}) =")
            blocks.append(MatEq([label, stage.local[sample]]))
        if samples > MAX_JACOBIANS:
            blocks.append(Para([f"(one more for each of the other {samples - MAX_JACOBIANS})"]))
    row = Math(f"[n] = {n.upstream.text}[n] @ J[n] =", f"_n = {n.upstream.latex}_n\\, J_n =")
    blocks.append(MatEq([n.result + row, stage.result]))
    return blocks


def _other(stage: Stage, trace: Trace, n: _Names) -> list[Block]:
    return [
        Para([f"Local derivative of {stage.op.name}: ", n.local, " = ", n.formula, "."]),
        MatEq([n.result + EQUALS, stage.result]),
    ]


_WRITERS: dict[str, Callable[[Stage, Trace, _Names], list[Block]]] = {
    "loss": _loss,
    "pointwise": _pointwise,
    "layer-input": _layer_input,
    "layer-weights": _layer_weights,
    "bias": _bias,
    "jacobian": _jacobian,
}


def stage_blocks(stage: Stage, trace: Trace) -> list[Block]:
    """The local derivative and the product of one stage, with numbers and shapes."""
    names = _Names(stage, trace)
    needs_local = stage.kind in ("pointwise", "layer-input", "layer-weights")
    writer = _WRITERS.get(stage.kind, _other)
    if needs_local and stage.local is None:
        writer = _other
    blocks = writer(stage, trace, names)
    if stage.is_error_signal and stage.parts == 1:
        blocks.append(
            Para(
                [
                    delta_name(stage, trace.n_layers),
                    " = ",
                    names.result,
                    f" is the error signal of layer {stage.wrt.layer}: the loss's gradient with "
                    "respect to the layer's pre-activation. Every parameter of this layer, and of "
                    "the layers below, is computed from it.",
                ],
                note=True,
            )
        )
    return blocks
