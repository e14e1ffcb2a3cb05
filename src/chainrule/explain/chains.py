"""Chains: which stages the explanation writes for each parameter, and where.

A parameter used more than once gets one path per use; a value read by several
ops gets a :class:`Junction`, the sum of one part per reader. Each stage is
written by the first chain that needs it, so building every chain is linear in
the number of ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # derive.py builds the stages and then the chains from them
    from chainrule.explain.derive import Stage
    from chainrule.explain.trace import Trace, Value

#: Longest path written as one product in a chain's formula; a longer one starts
#: from a gradient computed further up (keeps the text linear in the depth).
MAX_FACTORS = 8


@dataclass(eq=False)
class Junction:
    """A value read by several ops: its gradient is the sum of one part per reader.

    ``parts`` are the stages from each reader down to ``value``, in the order
    ``backward()`` added them; ``total`` is their sum, the gradient.
    """

    value: Value
    parts: list[Stage]
    total: np.ndarray


@dataclass(eq=False)
class Chain:
    """The stages from the loss down to one parameter.

    ``stages`` are the stages written out for this parameter, in backward
    order: every stage between the loss and the parameter that no earlier chain
    wrote, and the stages where it joins one. ``first_shown[i]`` is None when
    stage ``i`` is new here, else the display name of the parameter whose chain
    wrote it. ``uses`` holds one path per use of the parameter (a Linear applied
    twice has two), each top-down from the loss, from a value read by several
    ops, or from a gradient computed further up (a long path is cut there);
    ``junctions`` are the sums this chain writes, the parameter's own last
    when it is used more than once. ``gradient`` is the whole gradient.
    """

    param: Value
    stages: list[Stage]
    first_shown: list[str | None]
    gradient: np.ndarray
    uses: list[list[Stage]] = field(default_factory=list)
    junctions: list[Junction] = field(default_factory=list)

    @property
    def branches(self) -> int:
        """The number of uses beyond the first."""
        return max(0, len(self.uses) - 1)

    @property
    def path(self) -> list[Stage]:
        """The path of the first use, top-down (the parameter's stage last)."""
        return self.uses[0] if self.uses else self.stages


def _use_path(
    stage: Stage, feeding: dict[int, list[Stage]], loss: Value, depth: dict[int, int], new: set[int]
) -> list[Stage]:
    """The stages from ``stage`` up to the loss or a value read by several ops.

    A path longer than MAX_FACTORS starts instead where it meets a gradient an
    earlier chain computed (a stage not in ``new``), or at the cap.
    """
    path = [stage]
    long = len(path) + depth.get(id(stage.out.tensor), 0) > MAX_FACTORS
    while len(path) < MAX_FACTORS and path[-1].out is not loss:
        above = feeding[id(path[-1].out.tensor)]
        if len(above) != 1 or (long and id(above[0]) not in new):
            break
        path.append(above[0])
    path.reverse()
    return path


def build_chains(trace: Trace, stages: list[Stage], totals: dict[int, np.ndarray]) -> list[Chain]:
    """One chain per parameter, each stage written by the first chain that needs it.

    Every stage is visited once over all chains (a chain stops where it meets a
    stage an earlier chain wrote), so building them is linear in the ops.
    """
    feeding: dict[int, list[Stage]] = {}
    order = {id(stage): i for i, stage in enumerate(stages)}
    depth: dict[int, int] = {id(trace.loss.tensor): 0}
    for stage in stages:  # backward order: a reader's stages come before its input's
        feeding.setdefault(id(stage.wrt.tensor), []).append(stage)
        depth.setdefault(id(stage.wrt.tensor), depth.get(id(stage.out.tensor), 0) + 1)
    position = {id(v.tensor): i for i, v in enumerate(trace.parameters())}
    params = [p for p in trace.parameters() if id(p.tensor) in totals]
    # Textbook order: the layer nearest the loss first, weights before bias.
    params.sort(key=lambda p: (depth.get(id(p.tensor), 0), position[id(p.tensor)]))
    owner: dict[int, str] = {}  # id(stage) -> the parameter whose chain wrote it
    summed: set[int] = set()  # values whose sum a chain wrote
    chains: list[Chain] = []
    for param in params:
        found: list[Stage] = []
        junctions: list[Junction] = []
        reached = {id(param.tensor)}
        todo = [param]
        while todo:
            value = todo.pop()
            parts = feeding[id(value.tensor)]
            if len(parts) > 1 and id(value.tensor) not in summed:
                summed.add(id(value.tensor))
                total = totals.get(id(value.tensor))
                junctions.append(
                    Junction(value, parts, parts[0].result if total is None else total)
                )
            for stage in parts:
                found.append(stage)
                if id(stage) in owner:
                    continue
                owner[id(stage)] = param.name
                above = stage.out
                if above is not trace.loss and id(above.tensor) not in reached:
                    reached.add(id(above.tensor))
                    todo.append(above)
        found.sort(key=lambda stage: order[id(stage)])
        first = [None if owner[id(st)] == param.name else owner[id(st)] for st in found]
        new = {id(st) for st, shown in zip(found, first) if shown is None}
        junctions.sort(key=lambda j: max(order[id(part)] for part in j.parts))
        chains.append(
            Chain(
                param,
                found,
                first,
                totals[id(param.tensor)],
                [
                    _use_path(stage, feeding, trace.loss, depth, new)
                    for stage in feeding[id(param.tensor)]
                ],
                junctions,
            )
        )
    return chains
