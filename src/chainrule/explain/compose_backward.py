"""The backward pass written out: one chain per parameter, stage by stage.

Each chain runs from the loss down to one parameter. Stages an earlier
parameter already needed are not written again: the text says where they were
shown, the way backpropagation reuses a layer's error signal. A fused loss
(softmax with cross-entropy) is first expanded into its textbook stages.
"""

from __future__ import annotations

from chainrule.explain.derive import Chain, Derivation, FusedLoss, Stage
from chainrule.explain.document import Block, Heading, Inline, MatEq, Math, Para
from chainrule.explain.fmt import num, shape_str, tex_partial, text_partial
from chainrule.explain.notation import name_math
from chainrule.explain.stages import EQUALS, IS, delta_name, partial, stage_blocks
from chainrule.explain.trace import Trace

#: Show at most this many per-sample Jacobian matrices.
MAX_JACOBIANS = 3


def _chain_math(chain: Chain, fused: FusedLoss | None, loss: str) -> Math:
    """``dE/dWho = dE/dO * dO/dZ2 * dZ2/dWho``."""
    texts, texes = [], []
    for stage in chain.stages:
        if fused is not None and stage is fused.combined_stage:
            pairs = [(loss, fused.probs.name), (fused.probs.name, fused.logits.name)]
        else:
            pairs = [(stage.out.name, stage.wrt.name)]
        for top, bottom in pairs:
            texts.append(text_partial(top, bottom))
            texes.append(tex_partial(top, bottom))
    param = chain.param.name
    return Math(
        f"{text_partial(loss, param)} = " + " * ".join(texts),
        f"{tex_partial(loss, param)} = " + " \\cdot ".join(texes),
    )


def fused_blocks(fused: FusedLoss, trace: Trace) -> list[Block]:
    """The textbook route through the activation, beside the fused result."""
    loss, o, z = trace.loss.name, fused.probs.name, fused.logits.name
    act = fused.activation.name
    # A per-row Jacobian means the softmax; the other fused loss absorbs a sigmoid.
    title = (
        "Softmax with cross-entropy" if fused.jacobian else "Sigmoid with binary cross-entropy"
    )
    local = partial(o, z)
    route = partial(loss, z) + IS + partial(loss, o)
    blocks: list[Block] = [
        Heading(3, f"{title}: {text_partial(loss, z)} two ways"),
        Para(
            [
                f"Textbook route, through the {act} output ",
                name_math(o),
                ": first ",
                partial(loss, o),
                " = ",
                Math(fused.outer_text, fused.outer_latex),
                ":",
            ]
        ),
        MatEq([partial(loss, o) + EQUALS, fused.grad_probs]),
    ]
    if fused.jacobian:
        size = f"{fused.local.shape[1]} x {fused.local.shape[2]}"
        blocks.append(
            Para(
                [
                    "then the softmax Jacobian ",
                    local,
                    " = ",
                    Math(fused.local_text, fused.local_latex),
                    f": for each sample, entry (i,j) is {o}_i (delta_ij - {o}_j), a {size} matrix:",
                ]
            )
        )
        for n in range(min(MAX_JACOBIANS, fused.local.shape[0])):
            label = local + Math(f" (sample {n}) =", f"\\ (\\text{{sample }} {n}) =")
            blocks.append(MatEq([label, fused.local[n]]))
        blocks.append(MatEq([route + Math(" · ", " \\cdot ") + local + EQUALS, fused.textbook]))
    else:
        formula = Math(fused.local_text, fused.local_latex)
        blocks += [
            Para(["then ", local, " = ", formula, " elementwise:"]),
            MatEq([local + EQUALS, fused.local]),
            MatEq([route + Math(" ⊙ ", " \\odot ") + local + EQUALS, fused.textbook]),
        ]
    combined = fused.combined_stage
    per_n = ", divided by N" if "N" in combined.formula_text else ""
    blocks += [
        Para(
            [
                "Combined, the terms cancel to the well-known result, which the fused op computes "
                "directly: ",
                partial(loss, z),
                " = ",
                Math(combined.formula_text, combined.formula_latex),
                f" (= {o} - Y{per_n}):",
            ]
        ),
        MatEq([partial(loss, z) + EQUALS, combined.result]),
        Para(
            [
                f"The two routes agree to within {num(fused.difference, 2)} (rounding). The "
                "backward pass used the combined one; every stage below starts from it."
            ],
            note=True,
        ),
    ]
    return blocks


#: What a chain has already said, shared by the chains of one backward section.
Said = set[str]


def _reuse_note(chain: Chain, trace: Trace, said: Said) -> list[Block]:
    reused = [i for i, first in enumerate(chain.first_shown) if first is not None]
    if not reused:
        return []
    last = chain.stages[reused[-1]]
    loss = trace.loss.name
    what: list[Inline] = [partial(loss, last.wrt.name)]
    if last.is_error_signal:
        delta = delta_name(last, trace.n_layers)
        what += [" (", delta, f", the error signal of layer {last.wrt.layer})"]
    owner = text_partial(loss, str(chain.first_shown[reused[-1]]))
    if "reuse" in said:  # the idea was explained once; now only say where it comes from
        return [Para([*what, f" is reused from {owner} above."])]
    said.add("reuse")
    text = (
        f" was already computed for {owner} above; backpropagation reuses "
        "it instead of recomputing the chain up to it."
    )
    return [Para([*what, text], note=True)]


def _intuition(stage: Stage, said: Said) -> list[Block]:
    """The op's one-sentence intuition, the first time the op appears."""
    op = stage.op
    if op.name in said or not op.intuition:
        return []
    said.add(op.name)
    return [Para([f"Intuition ({op.name}): {op.intuition}"])]


def chain_blocks(
    chain: Chain, trace: Trace, fused: FusedLoss | None, said: Said | None = None
) -> list[Block]:
    """The chain for one parameter: its formula, then every stage not shown before.

    ``said`` collects what earlier chains explained (reuse, each op's intuition),
    so that it is said once.
    """
    said = set() if said is None else said
    loss, param = trace.loss.name, chain.param.name
    blocks: list[Block] = [
        Heading(3, f"{text_partial(loss, param)} ({chain.param.role})"),
        MatEq([_chain_math(chain, fused, loss)]),
        *_reuse_note(chain, trace, said),
    ]
    for stage, first in zip(chain.stages, chain.first_shown):
        if first is not None:
            continue
        if fused is not None and stage is fused.combined_stage:
            formula = Math(stage.formula_text, stage.formula_latex)
            blocks.append(Para([partial(loss, stage.wrt.name), " = ", formula, ", shown above."]))
            continue
        blocks += _intuition(stage, said)
        blocks += stage_blocks(stage, trace)
    if chain.stages[-1].kind not in ("layer-weights", "bias"):  # those say the shape already
        shape = shape_str(chain.gradient.shape)
        blocks.append(
            Para(
                [
                    partial(loss, param),
                    f" has shape {shape}, the shape of ",
                    name_math(param),
                    " itself.",
                ]
            )
        )
    if chain.branches:
        text = (
            f"{param} is used in {chain.branches + 1} places; its gradient is the sum of the "
            "contributions of every use (only the first path is written out)."
        )
        blocks.append(Para([text], note=True))
    return blocks


def backward_blocks(trace: Trace, derivation: Derivation) -> list[Block]:
    """The backward-pass section: the fused-loss expansion, then one chain per parameter."""
    blocks: list[Block] = [
        Heading(2, "Backward pass"),
        Para(
            [
                "For every parameter, the chain rule multiplies local derivatives from the loss "
                "down to it. Each stage takes the gradient arriving from above (upstream) and the "
                "op's local derivative, read from the op registry, and gives the gradient one step "
                "further down."
            ]
        ),
    ]
    if derivation.fused is not None:
        blocks += fused_blocks(derivation.fused, trace)
    said: Said = set()
    for chain in derivation.chains:
        blocks += chain_blocks(chain, trace, derivation.fused, said)
    return blocks
