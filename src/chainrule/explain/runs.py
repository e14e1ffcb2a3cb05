"""Long runs of identical layers, summarised instead of written out again and again.

A network of 500 ``Linear(16, 16) + Tanh`` layers repeats the same stages 500
times. Every section shows the first and last layers of such a run in full and
says in one place what the layers in between are and how large their gradients
are, so an explanation grows with the number of different layers, not with the
depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from chainrule.explain.document import Block, Inline, Para, Table
from chainrule.explain.fmt import num

if TYPE_CHECKING:  # trace.py finds the runs when it names the values
    from chainrule.explain.trace import Trace, Value

#: Layers shown in full at each end of a run.
KEEP = 2
#: A run is summarised only when at least this many layers would be left out.
MIN_HIDDEN = 2
#: Rows of the gradient-size table of a summarised run.
MAX_ROWS = 9


@dataclass(frozen=True)
class Run:
    """Layers ``first`` to ``last`` (inclusive), all alike, left out of the details."""

    first: int
    last: int
    label: str

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, layer: object) -> bool:
        return isinstance(layer, int) and self.first <= layer <= self.last


def _label(ops: list[tuple[str, str, tuple[int, ...]]]) -> str:
    parts = []
    for kind, op, shape in ops:
        if kind == "parameter" and len(shape) == 2:
            parts.append(f"Linear({shape[0]}, {shape[1]})")
        elif kind != "parameter" and op not in ("linear", "matmul"):
            parts.append(op)
    return " + ".join(parts)


def find_runs(values: list[Value], loss: Value) -> list[Run]:
    """The left-out middles of the runs of identical layers of a plain chain of layers.

    ``values`` are the traced :class:`~chainrule.explain.trace.Value` objects. A
    graph with values outside the layers (a residual sum, a layer applied twice)
    is not summarised: each of its layers may differ in how it is reached.
    """
    signature: dict[int, list[tuple[str, str, tuple[int, ...]]]] = {}
    for v in values:
        if v.kind in ("input", "target", "constant") or v is loss:
            continue
        if v.layer is None or v.use != 1:
            return []
        node = v.tensor.node
        op = node.op.name if node is not None else ""
        signature.setdefault(v.layer, []).append((v.kind, op, v.shape[1:] if node else v.shape))
    layers = sorted(signature)
    runs: list[Run] = []
    start = 0
    for end in range(1, len(layers) + 1):
        if end < len(layers) and signature[layers[end]] == signature[layers[start]]:
            continue
        first, last = layers[start] + KEEP, layers[end - 1] - KEEP
        if last - first + 1 >= MIN_HIDDEN:
            runs.append(Run(first, last, _label(signature[layers[start]])))
        start = end
    return runs


def hidden(trace: Trace, layer: int | None) -> Run | None:
    """The run that leaves ``layer`` out, if any."""
    for run in trace.runs:
        if layer in run:
            return run
    return None


class Elider:
    """Tells a section which items to leave out, and gives each run's note once."""

    def __init__(self, trace: Trace, what: str) -> None:
        self.trace = trace
        self.what = what
        self.noted: set[Run] = set()

    def skip(self, layer: int | None) -> tuple[bool, list[Block]]:
        """(leave the item out, the blocks to write in its place)."""
        run = hidden(self.trace, layer)
        if run is None:
            return False, []
        if run in self.noted:
            return True, []
        self.noted.add(run)
        return True, [run_note(run, self.what)]


def run_note(run: Run, what: str) -> Para:
    """``Layers 3 to 498: 496 more Linear(16, 16) + tanh layers, ...`` for one section."""
    return Para(
        [
            f"Layers {run.first} to {run.last}: {run.count} more {run.label} layers, "
            f"{what} exactly like the ones around them (left out to keep this short)."
        ],
        note=True,
    )


def gradient_sizes(run: Run, trace: Trace) -> list[Block]:
    """The size of the left-out layers' gradients, at evenly spaced layers of the run."""
    by_layer: dict[int, list[str]] = {}
    for p in trace.parameters():
        if p.layer is None or p.layer not in run or p.param_key not in trace.gradients:
            continue
        norm = float(np.sqrt(np.sum(np.square(trace.gradients[p.param_key]))))
        by_layer.setdefault(p.layer, []).append(f"|d{trace.loss.name}/d{p.name}| = {num(norm)}")
    picks = sorted({int(round(x)) for x in np.linspace(run.first, run.last, MAX_ROWS)})
    rows: list[list[Inline]] = [[str(k), ", ".join(by_layer.get(k, []))] for k in picks]
    return [
        Para(
            [
                "How large their gradients are (the Frobenius norm, the square root of the sum "
                "of squares), from the top of the run to the bottom:"
            ]
        ),
        Table(["layer", "gradient size"], rows, [True, False]),
    ]
