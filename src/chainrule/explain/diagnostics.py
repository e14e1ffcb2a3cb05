"""What a teacher would point out about a step: saturated and dead units, gradients that
shrink or grow from layer to layer, and a step that raised the loss.

:func:`diagnose` reads only the traced values and the derivation (and, for advice
on the learning rate, the loss at other step sizes from a
:class:`~chainrule.explain.probe.LossProbe`). Every threshold is a named constant
below, so what counts as "saturated" or "vanishing" is stated once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from chainrule.explain.derive import Derivation, Stage
from chainrule.explain.document import Block, Heading, Para
from chainrule.explain.fmt import num, text_partial
from chainrule.explain.trace import Trace
from chainrule.ops.registry import Op

#: The kinds of finding, in the order they are listed.
KINDS = ("overshoot", "saturated", "dead", "vanishing", "exploding")

#: An entry of an activation is saturated when its slope is below this fraction of
#: the activation's largest slope (its slope at 0: 0.25 for the sigmoid, 1 for tanh).
#: For the sigmoid that is an output below 0.0104 or above 0.9896.
SATURATED_SLOPE = 0.04
#: An activation is reported as saturated when at least this share of its entries is.
SATURATED_SHARE = 0.25
#: An activation can saturate when its slope at -FAR and at +FAR is below
#: SATURATED_SLOPE of its slope at 0 (sigmoid and tanh; not ReLU, whose slope stays 1).
FAR = 10.0
#: A unit is dead when the activation's slope is 0 for every sample; with a single
#: sample that says little about the unit, so at least this many samples are needed.
DEAD_MIN_SAMPLES = 2
#: Adjacent layers whose weight gradients (root mean square) differ by this factor or
#: more are reported as vanishing (smaller nearer the input) or exploding (larger).
GRADIENT_FACTOR = 10.0
#: Halving the learning rate at most this many times to find one that lowers the loss.
MAX_HALVINGS = 30


@dataclass(frozen=True)
class Finding:
    """One thing worth noticing about the step.

    Attributes
    ----------
    kind : str
        ``"saturated"``, ``"dead"``, ``"vanishing"``, ``"exploding"`` or ``"overshoot"``.
    where : str
        The value, layer or parameter it concerns (``"h1"``, ``"Wih"``, ``"lr"``).
    message : str
        One sentence, with the numbers.
    """

    kind: str
    where: str
    message: str


def _slope(op: Op, x: float, stage: Stage) -> float:
    """The registry's local derivative of a one-input elementwise op at ``x``."""
    node = stage.out.tensor.node
    assert node is not None
    z = np.array([[x]])
    result = op.forward(z, **node.attrs)
    out, saved = result if op.saves else (result, {})
    vjp = op.vjps[0]
    assert vjp is not None
    return float(np.asarray(vjp(np.ones_like(out), out, z, **node.attrs, **saved)).reshape(-1)[0])


def _activations(derivation: Derivation) -> list[Stage]:
    """Stages of one-input elementwise ops with their slopes in numbers."""
    return [
        s
        for s in derivation.stages
        if s.kind == "pointwise"
        and s.op.elementwise
        and len(s.op.arg_names) == 1
        and s.local is not None
        and s.local.shape == s.out.shape
    ]


def _saturated(stage: Stage) -> Finding | None:
    top = _slope(stage.op, 0.0, stage)
    if top <= 0 or max(_slope(stage.op, -FAR, stage), _slope(stage.op, FAR, stage)) >= (
        SATURATED_SLOPE * top
    ):
        return None
    assert stage.local is not None
    flat = stage.local.reshape(-1)
    count = int((flat < SATURATED_SLOPE * top).sum())
    if count == 0 or count < SATURATED_SHARE * flat.size:
        return None
    lowest = int(np.argmin(flat))
    out, wrt = stage.out.name, stage.wrt.name
    extreme = stage.out.data.reshape(-1)[lowest]
    return Finding(
        "saturated",
        out,
        f"{out} ({stage.op.name}) is saturated in {count} of {flat.size} entries: it reaches "
        f"{num(extreme)}, where its slope {text_partial(out, wrt)} falls to "
        f"{num(flat[lowest])} (at most {num(top)}), so these units pass almost no gradient "
        "back and the weights below them learn slowly.",
    )


def _dead(stage: Stage) -> Finding | None:
    assert stage.local is not None
    if stage.local.ndim != 2 or stage.local.shape[0] < DEAD_MIN_SAMPLES:
        return None
    off = np.flatnonzero((stage.local == 0).all(axis=0))
    if off.size == 0:
        return None
    out, wrt = stage.out.name, stage.wrt.name
    units = ", ".join(str(int(u)) for u in off)
    one = off.size == 1
    subject = (
        f"Unit {units} of {out} ({stage.op.name}) is"
        if one
        else (f"Units {units} of {out} ({stage.op.name}) are")
    )
    return Finding(
        "dead",
        out,
        f"{subject} off for all {stage.local.shape[0]} samples, so {text_partial(out, wrt)} is 0 "
        f"there and the weights into {'it' if one else 'them'} get no gradient from this step.",
    )


def _rms(array: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(array))))


def _gradient_sizes(
    trace: Trace, derivation: Derivation, saturated: dict[int, str]
) -> list[Finding]:
    """Adjacent layers' weight gradients; ``saturated`` names a saturated activation by layer."""
    weights = sorted(
        (c for c in derivation.chains if c.stages and c.stages[-1].kind == "layer-weights"),
        key=lambda c: c.param.layer or 0,
    )
    loss = trace.loss.name
    found = []
    for lower, upper in zip(weights, weights[1:]):
        low, high = _rms(lower.gradient), _rms(upper.gradient)
        low_name = text_partial(loss, lower.param.name)
        high_name = text_partial(loss, upper.param.name)
        sizes = f"(root mean square {num(low)} against {num(high)})"
        cause = saturated.get(lower.param.layer or 0)
        through = f" through the saturated {cause}" if cause else ""
        if high > 0 and low < high / GRADIENT_FACTOR:
            factor = "infinitely" if low == 0 else f"about {num(high / low, 2)} times"
            found.append(
                Finding(
                    "vanishing",
                    lower.param.name,
                    f"{low_name} is {factor} smaller than {high_name} {sizes}: the gradient "
                    f"shrinks on its way back{through}, so {lower.param.name} learns that much "
                    "more slowly.",
                )
            )
        elif low > 0 and high < low / GRADIENT_FACTOR:
            factor = "infinitely" if high == 0 else f"about {num(low / high, 2)} times"
            found.append(
                Finding(
                    "exploding",
                    lower.param.name,
                    f"{low_name} is {factor} larger than {high_name} {sizes}: the gradient "
                    f"grows on its way back, so {lower.param.name} takes much larger steps "
                    "than the layer above it.",
                )
            )
    return found


def _overshoot(trace: Trace, loss_after_step: Callable[[float], float] | None) -> Finding | None:
    before, after = float(trace.loss.data.reshape(())), trace.loss_after
    if not after > before:
        return None
    factor = f"{num(after / before, 3)} times as large" if before > 0 else "up from 0"
    message = (
        f"The step raised the loss from {num(before)} to {num(after)} ({factor}): the learning "
        f"rate lr = {num(trace.lr, 6)} is too large, and the step overshot the lower ground "
        "the gradient points to"
    )
    if loss_after_step is not None:
        for halvings in range(1, MAX_HALVINGS + 1):
            smaller = trace.lr / 2**halvings
            loss = loss_after_step(smaller)
            if loss < before:
                message += (
                    f"; with lr = {num(smaller, 6)} ({2**halvings} times smaller) the loss goes "
                    f"down, to {num(loss)}"
                )
                break
    return Finding("overshoot", "lr", message + ".")


def diagnose(
    trace: Trace,
    derivation: Derivation,
    loss_after_step: Callable[[float], float] | None = None,
) -> list[Finding]:
    """The findings of one traced step, most urgent kind first.

    Parameters
    ----------
    trace, derivation
        The step and its replayed backward pass.
    loss_after_step : callable, optional
        ``loss_after_step(lr)``: the loss after a step with another learning rate,
        for the advice that comes with an ``"overshoot"`` finding.
    """
    found: list[Finding] = []
    overshoot = _overshoot(trace, loss_after_step)
    if overshoot is not None:
        found.append(overshoot)
    saturated: dict[int, str] = {}
    for stage in _activations(derivation):
        for check in (_saturated, _dead):
            finding = check(stage)
            if finding is not None:
                found.append(finding)
                if finding.kind == "saturated" and stage.out.layer is not None:
                    saturated[stage.out.layer] = stage.out.name
    found += _gradient_sizes(trace, derivation, saturated)
    return sorted(found, key=lambda f: KINDS.index(f.kind))


def diagnostics_blocks(findings: list[Finding]) -> list[Block]:
    """The "What to notice" section; nothing when there is nothing to notice."""
    if not findings:
        return []
    blocks: list[Block] = [Heading(2, "What to notice")]
    for finding in findings:
        blocks.append(Para([f"{finding.kind.capitalize()} ({finding.where}): {finding.message}"]))
    return blocks
