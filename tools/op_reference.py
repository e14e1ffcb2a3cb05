"""The op reference page, written from the op registry while the site builds.

For each registered op: what it computes, its forward notation and each local
derivative as MathML (through chainrule's own converter, so the page needs no script),
the same formulas as text, what it does as a gate, the intuition the explanations show,
and what uses it. "What uses it" is measured, not listed by hand: every layer type and
loss of :mod:`chainrule.nn` is run once, with and without layer fusion, and the ops in
its graph are collected; the fused losses name their stages in the registry.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from chainrule import nn
from chainrule.explain.mathml import to_mathml
from chainrule.nn.fusion import fusion
from chainrule.ops import REGISTRY, Op
from chainrule.tensor import Tensor


def _ops_in_graph(result: Tensor) -> set[str]:
    seen: set[str] = set()
    stack, visited = [result], set()
    while stack:
        tensor = stack.pop()
        node = tensor.node
        if node is None or id(node) in visited:
            continue
        visited.add(id(node))
        seen.add(node.op.name)
        stack.extend(node.inputs)
    return seen


def _layer(kind: type[nn.Layer]) -> nn.Layer:
    return kind(3, 3, dtype=np.float64) if kind is nn.Linear else kind()


def users() -> dict[str, list[str]]:
    """For each op name, what runs it: layers, losses, fused ops, fused losses."""
    found: dict[str, list[str]] = defaultdict(list)
    x = np.random.default_rng(0).normal(size=(2, 3))

    def record(label: str, result: Tensor, skip: tuple[str, ...] = ()) -> None:
        for name in sorted(_ops_in_graph(result) - set(skip)):
            if label not in found[name]:
                found[name].append(label)

    for kind in nn.LAYER_TYPES.values():
        if kind is nn.Identity:
            continue
        with fusion(False):
            record(f"`nn.{kind.__name__}`", _layer(kind)(Tensor(x, requires_grad=True)))
    # nn.Sequential runs a Linear layer and the fusable activation after it as one op.
    fused: dict[str, list[str]] = defaultdict(list)
    for kind in [k for k in nn.ACTIVATION_LAYERS.values() if k.fusable]:
        for depth in range(1, 5):
            layers: list[Any] = []
            for _ in range(depth):
                layers += [nn.Linear(3, 3, dtype=np.float64), kind()]
            for name in _ops_in_graph(nn.Sequential(*layers)(Tensor(x, requires_grad=True))):
                fused[name].append(f"`{kind.__name__}`")
    for name, kinds in fused.items():
        found[name].append(
            "`nn.Sequential`, for `Linear` layers each followed by "
            + ", ".join(kinds[:-1]) + f" or {kinds[-1]} (layer fusion)"
        )
    labels = np.array([0, 2])
    targets = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    logits = Tensor(x, requires_grad=True)
    losses: list[tuple[str, Any]] = [
        ("`nn.MSELoss`", lambda: nn.MSELoss()(Tensor(x, requires_grad=True), targets)),
        ("`nn.CrossEntropyLoss`", lambda: nn.CrossEntropyLoss()(logits, labels)),
        (
            "`nn.CrossEntropyLoss(from_probs=True)` after `nn.Softmax`",
            lambda: nn.CrossEntropyLoss(from_probs=True)(nn.Softmax()(logits), labels),
        ),
        ("`nn.BCEWithLogitsLoss`", lambda: nn.BCEWithLogitsLoss()(logits, targets)),
        ("`nn.BCELoss` after `nn.Sigmoid`", lambda: nn.BCELoss()(nn.Sigmoid()(logits), targets)),
    ]
    for label, run in losses:
        with fusion(False):
            record(label, run(), skip=("softmax", "sigmoid"))
    for op in REGISTRY.values():
        for stage in op.stages:
            found[stage].append(f"`{op.name}`, as one of its stages")
    return found


def _math(latex: str, display: bool = False) -> str:
    # A "|" would end a Markdown table cell; MathML reads the entity as the same bar.
    return to_mathml(latex, display=display).replace("|", "&#124;")


def _kind(op: Op) -> str:
    # The module an op is declared in is the module of its sampler (its forward may be
    # NumPy's own function).
    return op.sample.__module__.rsplit(".", 1)[-1]


def _is_loss(op: Op, attrs: dict[str, Any]) -> bool:
    # A loss reduces its per-sample terms, so its attributes name a reduction.
    return "reduction" in attrs


def _section(op: Op, used_by: list[str]) -> str:
    sample = op.sample(np.random.default_rng(0), (2, 3))
    attrs = dict(sample.attrs)
    loss = _is_loss(op, attrs)
    if loss:
        # The formulas as a textbook writes them: the mean, without sample weights.
        attrs = {k: v for k, v in attrs.items() if k != "weight"} | {"reduction": "mean"}
    out = "E" if loss else "y"
    names = {arg: arg for arg in op.arg_names} | {"out": out}
    if op.formula_names is not None:
        names |= op.formula_names(**attrs)
    args = ", ".join(op.arg_names)
    rows = []
    if op.notation is not None:
        forward = _math(f"{out} = " + op.notation.render(names, latex=True))
        rows.append(f"| forward | {forward} | `{op.notation.render(names)}` |")
    else:
        latex = f"{out} = \\operatorname{{{op.name}}}({args})"
        rows.append(f"| forward | {_math(latex)} | `{op.name}({args})` |")
    for arg, formula in zip(op.arg_names, op.formulas):
        if formula is None:
            rows.append(f"| {_math(arg)} | no gradient (a target) | |")
            continue
        label = _math(f"\\frac{{\\partial {out}}}{{\\partial {arg}}}")
        rows.append(
            f"| {label} | {_math(formula.render(names, latex=True))} "
            f"| `{formula.render(names)}` |"
        )
    facts = []
    if op.description:
        facts.append(f"Computes *{op.description}*.")
    shown = {k: v for k, v in attrs.items() if isinstance(v, (str, int, float, bool))}
    if shown:
        facts.append(
            "Attributes: " + ", ".join(f"`{k}`" for k in shown)
            + " (the formulas below are written for "
            + ", ".join(f"`{k}={v!r}`" for k, v in shown.items()) + ")."
        )
    if loss and "weight" in sample.attrs:
        facts.append(
            "With a weight `w` per sample (`weight=`), each sample's term and gradient are "
            "multiplied by its `w`, and the mean divides by `sum(w)` instead of `N`."
        )
    lines = [f"### `{op.name}`", "", "\n\n".join(facts), ""]
    lines += ["| | formula | as text |", "|---|---|---|", *rows, ""]
    if op.intuition:
        lines += [f"**Why:** {op.intuition}", ""]
    if op.gate:
        lines += [f"**As a gate:** it {op.gate}.", ""]
    if op.stages:
        lines += [
            "**Stages:** " + " then ".join(f"[`{s}`](#{s})" for s in op.stages)
            + "; explanations expand it into them.",
            "",
        ]
    traits = []
    if op.role == "activation":
        traits.append("an activation")
    if op.elementwise:
        traits.append("elementwise")
    if op.fusable:
        traits.append("fusable into `dense` and the `dense_stackN` ops")
    if op.joint_vjp is not None:
        traits.append("one joint vector-Jacobian product for all its inputs")
    if traits:
        lines += ["**Kind:** " + "; ".join(traits) + ".", ""]
    lines += [
        "**Used by:** " + ("; ".join(used_by) if used_by else "tensor arithmetic and "
                           "`chainrule.functional`") + ".",
        "",
    ]
    return "\n".join(lines)


def op_reference_markdown() -> str:
    """The whole page."""
    found = users()
    titles = {
        "activations": "Activations",
        "arithmetic": "Arithmetic",
        "shape": "Matrices, shapes and reductions",
        "fused": "Fused layers",
        "losses": "Losses",
        "mse": "Losses",
    }
    kinds: dict[str, list[Op]] = defaultdict(list)
    for op in REGISTRY.values():
        kinds[titles.get(_kind(op), _kind(op).title())].append(op)
    head = [
        "# Op reference",
        "",
        "Every differentiable primitive of chainrule is declared once, in the op registry "
        "(`chainrule.ops.REGISTRY`): its forward function, one vector-Jacobian product and "
        "one readable local derivative per input. The backward pass, the gradient check and "
        "the explanations read the same entries, and this page is written from them while "
        "the site builds, so it cannot disagree with the code. In the formulas the op's "
        "result is called *y* (*E* for a loss).",
        "",
        f"{len(REGISTRY)} ops: "
        + ", ".join(f"[`{name}`](#{name})" for name in REGISTRY)
        + ".",
        "",
    ]
    body = []
    for kind, ops in kinds.items():
        body.append(f"## {kind}\n")
        body += [_section(op, found.get(op.name, [])) for op in ops]
    return "\n".join(head + body)
