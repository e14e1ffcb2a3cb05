"""The Explanation object: one traced step, derived, ready to render.

Its sections, in reading order, come from the modules that write them (:mod:`compose
<chainrule.explain.compose>` the forward pass and the update, :mod:`lossform
<chainrule.explain.lossform>` the loss, :mod:`compose_backward
<chainrule.explain.compose_backward>` the backward pass, ...); the overview and the
training log, which read the Explanation's own fields, are written here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.explain.brief import brief_blocks
from chainrule.explain.compose import forward_blocks, update_blocks
from chainrule.explain.compose_backward import backward_blocks
from chainrule.explain.curve_svg import loss_curve_svg
from chainrule.explain.derive import Derivation
from chainrule.explain.diagnostics import Finding, diagnose, diagnostics_blocks
from chainrule.explain.document import Block, Heading, Inline, Math, Para, Picture, Table
from chainrule.explain.fmt import DIGITS, num, shape_str
from chainrule.explain.gates import gate_blocks
from chainrule.explain.graph_svg import graph_svg
from chainrule.explain.lossform import loss_blocks
from chainrule.explain.matrix_view import matrix_view_blocks
from chainrule.explain.notation import name_math
from chainrule.explain.probe import LossProbe
from chainrule.explain.render_html import render_html, render_html_fragment
from chainrule.explain.render_markdown import render_markdown
from chainrule.explain.render_text import render_text
from chainrule.explain.runs import Run, hidden
from chainrule.explain.scalar import WeightRef, scalar_blocks
from chainrule.explain.trace import Trace
from chainrule.nn.module import Module
from chainrule.nn.sequential import Sequential

FORMATS = ("text", "markdown", "html")
_SUFFIXES = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}


@dataclass(frozen=True)
class TrainingLog:
    """Losses of a training run of the explained model: ``losses[k]`` after ``epochs[k]`` epochs."""

    epochs: list[int]
    losses: list[float]
    lr: float


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> Path:
    """Write ``content`` to ``path`` atomically (see :func:`chainrule.io.atomic_write`).

    A reader, or a crash, never sees a half-written file.
    """
    from chainrule.io import atomic_write

    data = content.encode("utf-8") if isinstance(content, str) else content
    atomic_write(path, lambda handle: handle.write(data))
    return Path(path)


def _number_sections(blocks: list[Block]) -> list[Block]:
    count = 0
    numbered: list[Block] = []
    for block in blocks:
        if isinstance(block, Heading) and block.level == 2:
            count += 1
            block = Heading(2, f"{count}. {block.text}")
        numbered.append(block)
    return numbered


class Explanation:
    """One training step, explained: forward, loss, backward stage by stage, update.

    Made by :func:`chainrule.explain`. The numbers in every rendering are the
    ones the step computed; ``gradients`` are the ``.grad`` arrays of the real
    ``backward()``.

    Attributes
    ----------
    gradients : dict of str to ndarray
        dE/d(parameter), keyed by the names of ``model.named_parameters()``.
    updated : dict of str to ndarray
        Every parameter after the gradient-descent step, same keys.
    loss : float
        The loss before the step.
    loss_after : float
        The loss after the step, on the same data.
    names : dict of str to str
        Display name of each parameter (``{"2.weight": "Who", ...}``).
    diagnostics : list of Finding
        What a teacher would point out (saturated or dead units, vanishing or
        exploding gradients, a step that raised the loss), each with ``kind``,
        ``where`` and a one-sentence ``message``; empty for a healthy step.
    """

    def __init__(
        self,
        trace: Trace,
        derivation: Derivation,
        *,
        model: Module,
        loss_fn: Any,
        title: str = "One training step, explained",
        description: str | Sequence[Inline] = "",
        scalar_weights: Sequence[WeightRef] = (),
        training: TrainingLog | None = None,
        article: Sequence[Block] = (),
    ) -> None:
        self.trace = trace
        self.derivation = derivation
        self.model = model
        self.loss_fn = loss_fn
        self.title = title
        self.description = description
        self.scalar_weights = list(scalar_weights)
        self.training = training
        self._probe: LossProbe | None = None
        self._findings: list[Finding] | None = None
        #: A section placed after the overview (the worked examples' "Coming from the article").
        self.article = list(article)

    # -- numbers ----------------------------------------------------------------------
    @property
    def gradients(self) -> dict[str, np.ndarray]:
        return {key: grad.copy() for key, grad in self.trace.gradients.items()}

    @property
    def updated(self) -> dict[str, np.ndarray]:
        return {key: value.copy() for key, value in self.trace.updated.items()}

    @property
    def loss(self) -> float:
        return float(self.trace.loss.data.reshape(()))

    @property
    def loss_after(self) -> float:
        return self.trace.loss_after

    @property
    def lr(self) -> float:
        return self.trace.lr

    @property
    def names(self) -> dict[str, str]:
        return {v.param_key: v.name for v in self.trace.parameters() if v.param_key}

    @property
    def probe(self) -> LossProbe:
        """The loss at other parameter values, on a copy of the model (made once)."""
        if self._probe is None:
            self._probe = LossProbe(self.model, self.loss_fn, self.trace)
        return self._probe

    @property
    def diagnostics(self) -> list[Finding]:
        """What to notice about this step (see :mod:`chainrule.explain.diagnostics`)."""
        if self._findings is None:
            self._findings = diagnose(self.trace, self.derivation, self.probe.after_step)
        return list(self._findings)

    # -- renderings -------------------------------------------------------------------
    def blocks(
        self, digits: int = DIGITS, *, picture: bool = True, brief: bool = False
    ) -> list[Block]:
        """The explanation as format-independent blocks (see :mod:`chainrule.explain.document`).

        ``brief=True`` keeps the numbers (forward values, loss, error signals,
        gradients with shapes, update) and what to notice, without the derivations.
        """
        if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
            raise ValueError(f"digits must be an integer from 1 to 17, got {digits!r}")
        return _number_sections(build(self, digits, picture=picture, brief=bool(brief)))

    def to_text(self, digits: int = DIGITS, *, brief: bool = False) -> str:
        """Plain text, at most 100 columns wide (wide matrices are stacked)."""
        return render_text(self.blocks(digits, picture=False, brief=brief), digits)

    def to_markdown(self, digits: int = DIGITS, *, brief: bool = False) -> str:
        """Markdown with LaTeX math (``$...$`` and ``$$...$$``)."""
        return render_markdown(self.blocks(digits, picture=False, brief=brief), digits)

    def to_html(self, digits: int = DIGITS, *, standalone: bool = True, brief: bool = False) -> str:
        """A self-contained HTML report: MathML formulas, inline SVG graph, no network needed."""
        blocks = self.blocks(digits, brief=brief)
        if standalone:
            return render_html(blocks, self.title, digits)
        return render_html_fragment(blocks, digits)

    def graph_svg(self, digits: int = 3, *, standalone: bool = False) -> str:
        """The computation graph with each value's forward value and gradient, as SVG."""
        return graph_svg(self.trace, digits, standalone=standalone)

    def render(
        self,
        format: str = "text",  # noqa: A002
        digits: int = DIGITS,
        *,
        brief: bool = False,
    ) -> str:
        """``to_text``, ``to_markdown`` or ``to_html`` by name."""
        if format == "text":
            return self.to_text(digits, brief=brief)
        if format == "markdown":
            return self.to_markdown(digits, brief=brief)
        if format == "html":
            return self.to_html(digits, brief=brief)
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")

    def save(
        self,
        path: str | os.PathLike[str],
        format: str | None = None,  # noqa: A002  (the name render() and the CLI use)
        digits: int = DIGITS,
        *,
        brief: bool = False,
    ) -> Path:
        """Write the explanation to ``path`` (format from the suffix unless given), atomically.

        ``.svg`` writes the computation graph; ``brief=True`` the brief explanation.
        """
        target = Path(path)
        if format is None and target.suffix.lower() == ".svg":
            return write_atomic(target, self.graph_svg(standalone=True))
        chosen = format or _SUFFIXES.get(target.suffix.lower())
        if chosen is None:
            raise ValueError(
                f"cannot tell the format of {target.name!r} from its suffix; use .txt, .md, "
                ".html or .svg, or pass format="
            )
        return write_atomic(target, self.render(chosen, digits, brief=brief))

    def to_dict(self) -> dict[str, Any]:
        """The step's numbers and formulas as JSON-ready data (see :mod:`chainrule.explain.data`).

        What the renderings are written from: values, every backward stage with its
        formula (text, LaTeX, MathML), each parameter's gradient and chain, the
        one-weight views with their numerical check, the update and the diagnostics.
        """
        from chainrule.explain.data import explanation_data

        return explanation_data(self)

    def _repr_html_(self) -> str:
        return self.to_html(standalone=False)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        params = ", ".join(f"{k} -> {v}" for k, v in self.names.items())
        head = f"<Explanation {self.title!r}: loss {self.loss:.6g}, lr {self.lr:g}"
        return f"{head}, parameters {params}>"


# The overview and the training log read the Explanation's own fields, so they are
# written here; build() puts every section in reading order.
def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _architecture(model: Module) -> str:
    if isinstance(model, Sequential):
        return " -> ".join(repr(layer).replace("()", "") for layer in model)
    return repr(model).splitlines()[0]


#: The operators every section uses, defined once next to the names.
NOTATION: list[Inline] = [
    "Notation: ",
    Math("@", "\\mathbin{@}"),
    " is a matrix product, ",
    Math("⊙", "\\odot"),
    " an elementwise product (also written ",
    Math("*", "*"),
    ", as in ",
    Math("O * (1 - O)", "O * (1 - O)"),
    "), ",
    Math("A^T", "A^\\top"),
    " the transpose of A; rows are samples.",
]


def overview_blocks(expl: Explanation) -> list[Block]:
    trace = expl.trace
    x, y = trace.input, trace.target
    samples, features = x.data.shape
    one_hot = trace.target_rows.shape != y.data.shape
    target = (
        f"{y.name} {shape_str(trace.target_rows.shape)}, the class labels as one-hot rows"
        if one_hot
        else f"{y.name} {shape_str(y.data.shape)}"
    )
    lines = [
        f"Network: {_architecture(expl.model)}",
        f"Loss: {expl.loss_fn!r}",
        f"Data: {x.name} {shape_str(x.data.shape)}, {_count(samples, 'sample')} of "
        f"{_count(features, 'feature')}; {target}",
        f"Step: one step of gradient descent with learning rate lr = {num(trace.lr, 6)}, "
        f"computed in {x.data.dtype}",
    ]
    blocks: list[Block] = [Heading(1, expl.title)]
    if expl.description:
        description = expl.description
        blocks.append(Para([description] if isinstance(description, str) else list(description)))
    return blocks + [Para([line]) for line in lines]


def names_blocks(trace: Trace) -> list[Block]:
    y = trace.target
    one_hot = trace.target_rows.shape != y.data.shape
    rows: list[list[Inline]] = []
    noted: set[Run] = set()
    for v in trace.values:
        if v.kind in ("constant",):
            continue
        run = hidden(trace, v.layer)
        if run is not None:
            if run not in noted:
                noted.add(run)
                rows.append(["...", f"layers {run.first} to {run.last}, named alike", "", ""])
            continue
        role, shape = v.role, v.data.shape
        if v is y and one_hot:
            # The formulas read Y as one-hot rows, so that is the shape they need.
            role, shape = f"{v.role}, one-hot rows of the class labels", trace.target_rows.shape
        rows.append([name_math(v.name), role, shape_str(shape), v.param_key or ""])
    return [
        Heading(3, "Names"),
        Table(["name", "what", "shape", "parameter"], rows),
        Para(list(NOTATION)),
    ]


def training_blocks(expl: Explanation, digits: int) -> list[Block]:
    log = expl.training
    if log is None:
        return []
    epochs, losses = log.epochs, log.losses
    shown = sorted({0, *range(0, len(epochs), max(1, len(epochs) // 10)), len(epochs) - 1})
    rows: list[list[Inline]] = [[str(epochs[i]), num(losses[i], digits)] for i in shown]
    first, last = losses[0], losses[-1]
    return [
        Heading(2, "Training over epochs"),
        Para(
            [
                f"Repeating the step {epochs[-1]} times (learning rate {num(log.lr, 6)}, all "
                f"samples each epoch), the loss goes from {num(first, digits)} to "
                f"{num(last, digits)}:"
            ]
        ),
        Table(["epochs done", "loss E"], rows, [True, True]),
        Picture(
            loss_curve_svg(epochs, losses),
            f"The loss E after each of the {epochs[-1]} epochs of full-batch gradient descent.",
        ),
    ]


def build(expl: Explanation, digits: int, *, picture: bool, brief: bool = False) -> list[Block]:
    """All blocks of ``expl`` in reading order (the brief ones with ``brief``)."""
    trace, derivation = expl.trace, expl.derivation
    blocks = overview_blocks(expl)
    blocks += diagnostics_blocks(expl.diagnostics)
    if brief:
        return blocks + brief_blocks(trace, derivation, digits)
    blocks += names_blocks(trace)
    blocks += expl.article
    blocks += forward_blocks(trace, digits)
    blocks.append(Heading(2, "Loss"))
    blocks += loss_blocks(trace, derivation.fused is not None, digits)
    blocks += backward_blocks(trace, derivation)
    blocks += matrix_view_blocks(trace, derivation)
    blocks += scalar_blocks(trace, derivation, expl.scalar_weights, digits, expl.probe)
    blocks += update_blocks(trace, digits)
    blocks += gate_blocks(trace, derivation, digits)
    if picture:
        blocks += [
            Heading(2, "Computation graph"),
            Picture(
                expl.graph_svg(),
                "Each box is a value of the step with its forward value and, in "
                "red, its gradient dE/d(value) (ranges for arrays). The blue pills are the ops; "
                "parameters are orange, the output green, the loss red.",
            ),
        ]
    blocks += training_blocks(expl, digits)
    return blocks
