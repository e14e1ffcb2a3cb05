"""The squared-error loss ``E = c * sum((O - Y)^2)``, with one joint VJP for both inputs.

``c`` is ``1/N`` for the mean and ``1/2`` more for the textbook half; with sample
weights each sample's term is weighted as :mod:`chainrule.ops.reductions` describes.
"""

from __future__ import annotations

import numpy as np

from chainrule.ops.constants import scalar, vdot
from chainrule.ops.reductions import shares, weight_sample
from chainrule.ops.registry import Formula, Op, Sample, register, vjps_from_joint

Array = np.ndarray


def msescale_grad(size: int, reduction: str, half: bool) -> float:
    """The constant c in E = c * sum((O - Y)^2)."""
    return (0.5 if half else 1.0) / (size if reduction == "mean" else 1)


def _mse_forward(
    pred: Array,
    target: Array,
    reduction: str = "mean",
    half: bool = False,
    weight: Array | None = None,
) -> tuple[Array, dict[str, Array]]:
    diff = pred - target
    if weight is None:
        # msescale_grad(diff.size, reduction, half), written out: this runs every step
        scale = (0.5 if half else 1.0) / (diff.size if reduction == "mean" else 1)
        loss = vdot(diff, diff) * scale
    else:
        loss = np.vdot(diff, diff * shares(weight, diff, reduction)) * (0.5 if half else 1.0)
    return np.asarray(loss, dtype=pred.dtype), {"diff": diff}


def _mse_joint_vjp(
    grad: Array,
    out: Array,
    pred: Array,
    target: Array,
    needs: tuple[bool, ...],
    reduction: str = "mean",
    half: bool = False,
    weight: Array | None = None,
    diff: Array | None = None,
) -> tuple[Array | None, Array | None]:
    """dE/dO = 2c (O - Y) and dE/dY = -dE/dO, with c the constant of the loss (for
    weights, each element's factor in the weighted mean or sum)."""
    assert diff is not None
    if weight is not None:
        factors = shares(weight, diff, reduction) * (1.0 if half else 2.0)
        grad_pred = diff * (grad * factors)
        return (grad_pred if needs[0] else None), (-grad_pred if needs[1] else None)
    # with E = 1/2 sum((O - Y)^2), dE/dO = O - Y: no factor to apply
    if half and reduction == "sum":
        grad_pred = diff * grad
    else:
        factor = 2.0 * msescale_grad(pred.size, reduction, half)
        grad_pred = diff * (grad * scalar(factor, grad.dtype))
    return (grad_pred if needs[0] else None), (-grad_pred if needs[1] else None)


def _mse_names(
    reduction: str = "mean", half: bool = False, weight: Array | None = None
) -> dict[str, str]:
    if weight is not None:
        coef = ("" if half else "2") + ("w / sum(w)" if reduction == "mean" else "w")
        tex = ("" if half else "2") + ("\\frac{w}{\\sum w}" if reduction == "mean" else "w")
        return {"coef": f"{coef} * ", "coef_tex": tex}
    coef = {("sum", True): "", ("sum", False): "2", ("mean", True): "1/N", ("mean", False): "2/N"}[
        (reduction, half)
    ]
    tex = {"": "", "2": "2", "1/N": "\\frac{1}{N}", "2/N": "\\frac{2}{N}"}[coef]
    return {"coef": f"{coef} * " if coef else "", "coef_tex": tex}


register(
    Op(
        name="mse",
        intuition=(
            "The squared error grows with the distance between output and target, so its gradient "
            "pushes each output toward its target, the harder the further off it is."
        ),
        arg_names=("O", "Y"),
        forward=_mse_forward,
        saves=True,
        vjps=vjps_from_joint(_mse_joint_vjp, 2),
        joint_vjp=_mse_joint_vjp,
        formulas=(
            Formula("{coef}({O} - {Y})", "{coef_tex}({O} - {Y})"),
            Formula("{coef}({Y} - {O})", "{coef_tex}({Y} - {O})"),
        ),
        sample=lambda rng, hint: Sample(
            (rng.normal(size=hint), rng.normal(size=hint)),
            {
                "reduction": str(rng.choice(["mean", "sum"])),
                "half": bool(rng.integers(2)),
                **weight_sample(rng, hint[0]),
            },
        ),
        description="squared error c * sum((O - Y)^2): c = 1/N for the mean, 1/2 for half "
        "(with weights w: each sample's term times w / sum(w) for the mean)",
        formula_names=_mse_names,
    )
)
