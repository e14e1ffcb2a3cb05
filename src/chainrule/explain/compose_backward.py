"""The backward pass written out: one chain per parameter, stage by stage.

Each chain runs from the loss down to one parameter. Stages an earlier
parameter already needed are not written again: the text says where they were
shown, the way backpropagation reuses a layer's error signal. A fused loss
(softmax with cross-entropy) is first expanded into its textbook stages.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.derive import Chain, Derivation, FusedLoss, Junction, Stage
from chainrule.explain.document import Block, Heading, Inline, MatEq, Math, Para
from chainrule.explain.fmt import num, shape_str, tex_name, tex_partial, text_partial
from chainrule.explain.notation import name_math
from chainrule.explain.runs import Elider, gradient_sizes, hidden
from chainrule.explain.stages import (
    EQUALS,
    IS,
    delta_name,
    partial,
    result_math,
    stage_blocks,
)
from chainrule.explain.trace import Trace

#: Show at most this many per-sample Jacobian matrices.
MAX_JACOBIANS = 3


def _path_math(path: list[Stage], fused: FusedLoss | None, loss: str) -> Math:
    """``dE/dO * dO/dZ2 * dZ2/dWho``: the product of the local derivatives on one path."""
    texts, texes = [], []
    if path and path[0].out.name != loss:  # the path starts from a gradient computed above
        texts.append(text_partial(loss, path[0].out.name))
        texes.append(tex_partial(loss, path[0].out.name))
    for stage in path:
        if fused is not None and stage is fused.combined_stage:
            pairs = [(loss, fused.probs.name), (fused.probs.name, fused.logits.name)]
        else:
            pairs = [(stage.out.name, stage.wrt.name)]
        for top, bottom in pairs:
            texts.append(text_partial(top, bottom))
            texes.append(tex_partial(top, bottom))
    return Math(" * ".join(texts), " \\cdot ".join(texes))


def _chain_blocks_math(chain: Chain, fused: FusedLoss | None, loss: str) -> list[Block]:
    """``dE/dWho = dE/dO * dO/dZ2 * dZ2/dWho``; one labelled term per use when used again."""
    param = chain.param.name
    whole = partial(loss, param)
    if len(chain.uses) == 1:
        return [MatEq([whole + IS + _path_math(chain.uses[0], fused, loss)])]
    terms = [result_math(path[-1], loss) for path in chain.uses]
    total = terms[0]
    for term in terms[1:]:
        total = total + Math(" + ", " + ") + term
    readers = ", ".join(path[-1].out.name for path in chain.uses)
    blocks: list[Block] = [
        Para(
            [
                f"{param} is used {len(chain.uses)} times (by {readers}), so its gradient is the "
                "sum of one contribution per use, each the product along its own path:"
            ]
        ),
        MatEq([whole + IS + total]),
    ]
    for k, path in enumerate(chain.uses, start=1):
        via = path[-1].out.name
        label = Math(
            f"path {k}, through {via}: ", f"\\text{{path {k}, through }} {tex_name(via)}:\\ "
        )
        blocks.append(MatEq([label + terms[k - 1] + IS + _path_math(path, fused, loss)]))
    return blocks


def junction_blocks(junction: Junction, trace: Trace) -> list[Block]:
    """``dE/dh1 = dE/dh1 (via Z2) + dE/dh1 (via t1)``, with the numbers of every part."""
    loss, name = trace.loss.name, junction.value.name
    readers = ", ".join(part.out.name for part in junction.parts)
    whole = partial(loss, name)
    row: list[Math | np.ndarray] = []
    names = Math("", "")
    for k, part in enumerate(junction.parts):
        plus = Math(" + ", " + ") if k else Math("", "")
        names = names + plus + result_math(part, loss)
        row += [Math("+", "+")] if k else []
        row.append(part.result)
    kind = "used" if junction.value.kind == "parameter" else "read"
    return [
        Para(
            [
                name_math(name),
                f" is {kind} by {len(junction.parts)} ops ({readers}); the chain rule adds the "
                "gradient that comes back through each of them:",
            ]
        ),
        MatEq([whole + IS + names + EQUALS, *row, Math("=", "="), junction.total]),
    ]


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
    # Never "agree to within 0": equal numbers are said to be equal.
    agreement = (
        "The two routes give exactly the same numbers."
        if fused.difference == 0
        else f"The two routes agree to within {num(fused.difference, 2)} (rounding)."
    )
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
                agreement + " The backward pass used the combined one; every stage below "
                "starts from it."
            ],
            note=True,
        ),
    ]
    return blocks


#: What a chain has already said, shared by the chains of one backward section.
Said = set[str]


def _reuse_note(chain: Chain, trace: Trace, said: Said) -> list[Block]:
    """Where each gradient this chain starts from was computed (the idea explained once)."""
    loss = trace.loss.name
    notes: list[Block] = []
    seen: set[int] = set()
    for stage, first in zip(chain.stages, chain.first_shown):
        if first is None or stage.parts > 1 or id(stage.wrt.tensor) in seen:
            continue
        seen.add(id(stage.wrt.tensor))
        what: list[Inline] = [partial(loss, stage.wrt.name)]
        if stage.is_error_signal:
            delta = delta_name(stage, trace.n_layers)
            what += [" (", delta, f", the error signal of layer {stage.wrt.layer})"]
        owner = text_partial(loss, first)
        if "reuse" in said:  # the idea was explained once; now only say where it comes from
            notes.append(Para([*what, f" is reused from {owner} above."]))
            continue
        said.add("reuse")
        text = (
            f" was already computed for {owner} above; backpropagation reuses "
            "it instead of recomputing the chain up to it."
        )
        notes.append(Para([*what, text], note=True))
    return notes


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
        *_chain_blocks_math(chain, fused, loss),
        *_reuse_note(chain, trace, said),
    ]
    sums = {id(j.parts[-1]): j for j in chain.junctions}
    last_part = {id(part): j for j in chain.junctions for part in j.parts}
    for stage, first in zip(chain.stages, chain.first_shown):
        if first is None:
            if fused is not None and stage is fused.combined_stage:
                formula = Math(stage.formula_text, stage.formula_latex)
                blocks.append(
                    Para([partial(loss, stage.wrt.name), " = ", formula, ", shown above."])
                )
            else:
                blocks += _intuition(stage, said)
                blocks += stage_blocks(stage, trace)
        elif id(stage) in last_part and stage.parts > 1:
            blocks.append(
                Para(
                    [
                        result_math(stage, loss),
                        f" was computed for {text_partial(loss, first)} above.",
                    ],
                    note=True,
                )
            )
        if id(stage) in sums:
            blocks += junction_blocks(sums[id(stage)], trace)
    # A layer's weights and bias stages say the shape already; a sum of uses does not.
    if chain.branches or chain.path[-1].kind not in ("layer-weights", "bias"):
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
    elider = Elider(trace, "their chains computed")
    for chain in derivation.chains:
        skip, note = elider.skip(chain.param.layer)
        if note:
            run = hidden(trace, chain.param.layer)
            assert run is not None
            blocks += [*note, *gradient_sizes(run, trace)]
        if not skip:
            blocks += chain_blocks(chain, trace, derivation.fused, said)
    return blocks
