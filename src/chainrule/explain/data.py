"""An explanation as plain data: the numbers and formulas of one step, ready for JSON.

:meth:`Explanation.to_dict <chainrule.explain.explanation.Explanation.to_dict>` returns
what the text, Markdown and HTML renderings are written from: the traced values, every
backward stage (its formula as text, LaTeX and MathML, its upstream gradient, local
derivative and product), every parameter's gradient with its chain, the one-weight views
with their central-difference check, the update and what to notice. The studio's page
reads this, so the page, the documents and the tests show the same numbers.

Arrays become nested lists of floats at full precision; a value that is not finite
(a diverged step) becomes ``None``, as JSON has no NaN.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.check import EPS, central_difference
from chainrule.explain.compose import update_blocks
from chainrule.explain.derive import Stage
from chainrule.explain.document import MatEq, Math, Para
from chainrule.explain.fmt import DIGITS, tex_partial, text_partial
from chainrule.explain.lossform import loss_blocks
from chainrule.explain.mathml import to_mathml
from chainrule.explain.notation import forward_math
from chainrule.explain.scalar import WeightRef, resolve
from chainrule.explain.trace import Trace, Value

if TYPE_CHECKING:
    from chainrule.explain.explanation import Explanation

#: Version of the layout below; raised when a field changes meaning.
VERSION = 1
#: Paths listed for a parameter reached from the loss along many routes.
MAX_PATHS = 32


def plain(array: Any) -> Any:
    """``array`` as nested lists of floats (a number for a scalar); non-finite as None."""
    values = np.asarray(array, dtype=np.float64)
    if values.ndim == 0:
        number = float(values)
        return number if math.isfinite(number) else None
    if np.isfinite(values).all():
        return values.tolist()
    return _finite_or_none(values.tolist())


def _finite_or_none(item: Any) -> Any:
    if isinstance(item, list):
        return [_finite_or_none(x) for x in item]
    return item if math.isfinite(item) else None


def formula(text: str, latex: str) -> dict[str, str]:
    """A formula in the three forms the readers need."""
    return {"text": text, "latex": latex, "mathml": to_mathml(latex)}


def _math(math_: Math) -> dict[str, str]:
    return formula(math_.text, math_.latex)


def _value(value: Value, trace: Trace) -> dict[str, Any]:
    node = value.tensor.node
    return {
        "name": value.name,
        "kind": value.kind,
        "role": value.role,
        "layer": value.layer,
        "param_key": value.param_key,
        "op": None if node is None else node.op.name,
        "inputs": [] if node is None else [trace.of(t).name for t in node.inputs],
        "formula": None if node is None else _math(forward_math(value, trace)),
        "shape": list(value.shape),
        "value": plain(value.data),
        "grad": None if value.grad is None else plain(value.grad),
    }


def _stage(index: int, stage: Stage, trace: Trace) -> dict[str, Any]:
    loss, out, wrt = trace.loss.name, stage.out.name, stage.wrt.name
    # The layer of the op being differentiated (the diagram highlights it).
    layer = stage.out.layer if stage.out.layer is not None else stage.wrt.layer
    return {
        "index": index,
        "op": stage.op.name,
        "kind": stage.kind,
        "out": out,
        "wrt": wrt,
        "position": stage.position,
        "layer": layer,
        "formula": formula(stage.formula_text, stage.formula_latex),
        "local_name": formula(text_partial(out, wrt), tex_partial(out, wrt)),
        "upstream_name": formula(text_partial(loss, out), tex_partial(loss, out)),
        "result_name": formula(text_partial(loss, wrt), tex_partial(loss, wrt)),
        "upstream": plain(stage.upstream),
        "local": None if stage.local is None else plain(stage.local),
        "result": plain(stage.result),
        "shapes": {
            "upstream": list(np.shape(stage.upstream)),
            "local": None if stage.local is None else list(stage.local.shape),
            "result": list(np.shape(stage.result)),
        },
        "intuition": stage.op.intuition,
        "error_signal": stage.is_error_signal,
        "parameter": wrt if stage.wrt.kind == "parameter" else None,
    }


def _paths(param: Value, stages: list[Stage], trace: Trace) -> list[list[int]]:
    """Every path of stages from the loss down to ``param``, as indices, loss first."""
    into: dict[int, list[int]] = {}
    for i, stage in enumerate(stages):
        into.setdefault(id(stage.wrt.tensor), []).append(i)
    loss_id = id(trace.loss.tensor)
    found: list[list[int]] = []
    # Walk up from the parameter: each partial path is the stages below, parameter last.
    pending: list[list[int]] = [[i] for i in into.get(id(param.tensor), [])]
    while pending and len(found) < MAX_PATHS:
        path = pending.pop()
        top = stages[path[0]]
        if id(top.out.tensor) == loss_id:
            found.append(path)
            continue
        pending.extend([i, *path] for i in into.get(id(top.out.tensor), []))
    return sorted(found)


def _parameters(expl: Explanation) -> list[dict[str, Any]]:
    trace, derivation = expl.trace, expl.derivation
    stages = derivation.stages
    position = {id(stage): i for i, stage in enumerate(stages)}
    chains = {id(chain.param.tensor): chain for chain in derivation.chains}
    rows = []
    for value in trace.parameters():
        key = value.param_key
        chain = chains.get(id(value.tensor))
        gradient = trace.gradients.get(key) if key else None
        rows.append(
            {
                "name": value.name,
                "key": key,
                "layer": value.layer,
                "role": value.role,
                "shape": list(value.shape),
                "value": plain(value.data),
                "gradient": None if gradient is None else plain(gradient),
                "updated": plain(trace.updated[key]) if key in trace.updated else None,
                "chain": [] if chain is None else [position[id(s)] for s in chain.stages],
                "first_shown": [] if chain is None else list(chain.first_shown),
                "paths": _paths(value, stages, trace),
            }
        )
    return rows


def weight_views(expl: Explanation, specs: list[str] | None = None) -> list[dict[str, Any]]:
    """The one-weight view of each entry (``"Who[2,0]"``; default: the explanation's own).

    W[i, j]'s gradient as a sum over the samples of input[n, i] times the layer's
    error signal delta[n, j], and its central-difference check.

    Raises
    ------
    ValueError
        For an entry that is not a weight of this step or out of its range.
    """
    refs: list[WeightRef] = (
        list(expl.scalar_weights)
        if specs is None
        else [resolve(spec, expl.derivation) for spec in specs]
    )
    trace, stages = expl.trace, expl.derivation.stages
    views = []
    for ref in refs:
        param, (i, j) = ref.chain.param, ref.index
        uses = [s for s in stages if s.wrt is param and s.kind == "layer-weights"]
        local = uses[0].local if uses else None
        if local is None:
            continue
        first = uses[0]
        inputs = local[i, :]  # A^T's row i: input unit i of every sample
        deltas = first.upstream[:, j]
        node = first.out.tensor.node
        assert node is not None
        views.append(
            {
                "weight": f"{param.name}[{i},{j}]",
                "param": param.name,
                "index": [i, j],
                "value": plain(param.data[i, j]),
                "gradient": plain(ref.chain.gradient[i, j]),
                "input": trace.of(node.inputs[0]).name,
                "out": first.out.name,
                "terms": [
                    {
                        "sample": n,
                        "input": plain(inputs[n]),
                        "delta": plain(deltas[n]),
                        "product": plain(inputs[n] * deltas[n]),
                    }
                    for n in range(deltas.shape[0])
                ],
                "parts": [plain(use.result[i, j]) for use in uses],
                "check": _check(expl, param, (i, j)),
            }
        )
    return views


def _check(expl: Explanation, param: Value, index: tuple[int, int]) -> dict[str, Any] | None:
    key = param.param_key
    if key is None:
        return None
    weights = param.data.astype(np.float64)  # a copy: the traced values stay as they were
    flat_index = int(np.ravel_multi_index(index, weights.shape))
    probe = expl.probe
    plus, minus, numeric = central_difference(
        lambda: probe({key: weights}), weights.reshape(-1), flat_index, EPS
    )
    analytic = float(expl.trace.gradients[key][index])
    return {
        "eps": EPS,
        "loss_plus": plain(plus),
        "loss_minus": plain(minus),
        "numeric": plain(numeric),
        "analytic": plain(analytic),
        "difference": plain(abs(numeric - analytic)),
    }


def _loss_form(expl: Explanation) -> dict[str, Any]:
    """The loss written out, read from the loss section the documents show."""
    blocks = loss_blocks(expl.trace, expl.derivation.fused is not None, DIGITS)
    shown = [
        b.terms[0]
        for b in blocks
        if isinstance(b, MatEq) and len(b.terms) == 1 and isinstance(b.terms[0], Math)
    ]
    notes = [
        "".join(p for p in b.parts if isinstance(p, str)).strip("()")
        for b in blocks
        if isinstance(b, Para) and all(isinstance(p, str) for p in b.parts)
    ]
    definition = shown[0]
    substituted = shown[1] if len(shown) > 2 else None
    return {
        "definition": _math(definition),
        "substituted": None if substituted is None else _math(substituted),
        "note": notes[-1] if notes else "",
    }


def _update(expl: Explanation) -> list[dict[str, Any]]:
    """Each parameter's update with its rule, as the update section writes it."""
    trace = expl.trace
    rules = [b.terms[0] for b in update_blocks(trace, DIGITS) if isinstance(b, MatEq)]
    updated = [v for v in trace.parameters() if v.param_key in trace.gradients]
    rows = []
    for value, rule in zip(updated, rules):
        key = value.param_key
        assert key is not None and isinstance(rule, Math)
        rows.append(
            {
                "name": value.name,
                "key": key,
                "lr": trace.lr,
                "formula": _math(Math(rule.text.rstrip(" ="), rule.latex.rstrip(" ="))),
                "before": plain(value.data),
                "gradient": plain(trace.gradients[key]),
                "after": plain(trace.updated[key]),
            }
        )
    return rows


def _grad_norms(expl: Explanation) -> list[dict[str, Any]]:
    """The size (L2 norm) of each layer's weight gradient, as the training stream gives it."""
    trace = expl.trace
    return [
        {"layer": v.layer, "param": v.name, "norm": plain(np.linalg.norm(trace.gradients[key]))}
        for v in trace.parameters()
        if (key := v.param_key) in trace.gradients and v.role.endswith("weights")
    ]


def _fused(expl: Explanation) -> dict[str, Any] | None:
    fused = expl.derivation.fused
    if fused is None:
        return None
    return {
        "probs": fused.probs.name,
        "logits": fused.logits.name,
        "activation": fused.activation.name,
        "loss": fused.outer.name,
        "outer": formula(fused.outer_text, fused.outer_latex),
        "local": formula(fused.local_text, fused.local_latex),
        "grad_probs": plain(fused.grad_probs),
        "local_values": plain(fused.local),
        "textbook": plain(fused.textbook),
        "combined": plain(fused.combined_stage.result),
        "difference": plain(fused.difference),
    }


def explanation_data(expl: Explanation) -> dict[str, Any]:
    """The data of ``expl`` as JSON-ready dicts and lists (see the module docstring)."""
    trace = expl.trace
    training = expl.training
    return {
        "version": VERSION,
        "title": expl.title,
        "description": expl.description,
        "loss": plain(expl.loss),
        "loss_after": plain(expl.loss_after),
        "lr": expl.lr,
        "dtype": str(trace.input.data.dtype),
        "names": expl.names,
        "values": [_value(v, trace) for v in trace.values if v.kind != "constant"],
        "target_rows": plain(trace.target_rows),
        "backward": [_stage(i, s, trace) for i, s in enumerate(expl.derivation.stages)],
        "parameters": _parameters(expl),
        "loss_form": _loss_form(expl),
        "weights": weight_views(expl),
        "update": _update(expl),
        "grad_norms": _grad_norms(expl),
        "fused": _fused(expl),
        "diagnostics": [
            {"kind": f.kind, "where": f.where, "message": f.message} for f in expl.diagnostics
        ],
        "training": None
        if training is None
        else {
            "epochs": list(training.epochs),
            "losses": [plain(x) for x in training.losses],
            "lr": training.lr,
        },
    }
