"""Activation functions: sigmoid, tanh, relu, leaky_relu, softmax, log_softmax.

Each is computed so that no input, however extreme, raises a floating-point
warning: exponentials only ever see arguments that cannot overflow, and never
ones so negative that the result would be a subnormal number.
"""

from __future__ import annotations

import numpy as np

from chainrule.ops.registry import Formula, Op, Sample, register

Array = np.ndarray


def log_tiny(dtype: np.dtype) -> float:
    """log of the smallest normal number: exp() below this would underflow."""
    return float(np.log(np.finfo(dtype).tiny))


def safe_exp_neg(x: Array) -> Array:
    """exp(x) for x <= 0, clamped at the smallest normal number instead of underflowing."""
    return np.exp(np.maximum(x, log_tiny(x.dtype)))


def sigmoid(x: Array) -> Array:
    """1 / (1 + exp(-x)), exact at the extremes: 0 below log(tiny), 1 far above 0."""
    z = safe_exp_neg(-np.abs(x))  # exp(-|x|) in [tiny, 1]
    inv = 1.0 / (1.0 + z)
    out = np.where(x >= 0, inv, z * inv)
    out[x < log_tiny(x.dtype)] = 0.0
    return out


def _unary_sample(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    return Sample((rng.normal(scale=2.0, size=hint),))


def _away_from_zero(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    # Kinks at 0 are not differentiable; keep samples clear of them.
    x = rng.normal(scale=2.0, size=hint)
    return Sample((np.where(np.abs(x) < 0.1, x + np.sign(x + 1e-12) * 0.2, x),))


register(
    Op(
        name="sigmoid",
        arg_names=("x",),
        forward=sigmoid,
        vjps=(lambda grad, out, x: grad * out * (1.0 - out),),
        formulas=(Formula("{out} * (1 - {out})", "{out}\\,(1 - {out})"),),
        sample=_unary_sample,
        elementwise=True,
        description="sigma(x) = 1 / (1 + e^-x)",
    )
)

register(
    Op(
        name="tanh",
        arg_names=("x",),
        forward=np.tanh,
        vjps=(lambda grad, out, x: grad * (1.0 - out * out),),
        formulas=(Formula("1 - {out}^2", "1 - {out}^2"),),
        sample=_unary_sample,
        elementwise=True,
        description="hyperbolic tangent",
    )
)

register(
    Op(
        name="relu",
        arg_names=("x",),
        forward=lambda x: np.maximum(x, 0.0),
        vjps=(lambda grad, out, x: grad * (x > 0),),
        formulas=(Formula("1 if {x} > 0 else 0", "\\mathbb{{1}}[{x} > 0]"),),
        sample=_away_from_zero,
        elementwise=True,
        description="max(x, 0)",
    )
)


def _leaky_forward(x: Array, negative_slope: float) -> Array:
    return np.where(x > 0, x, x * negative_slope)


def _leaky_vjp(grad: Array, out: Array, x: Array, negative_slope: float) -> Array:
    return grad * np.where(x > 0, 1.0, negative_slope).astype(x.dtype)


register(
    Op(
        name="leaky_relu",
        arg_names=("x",),
        forward=_leaky_forward,
        vjps=(_leaky_vjp,),
        formulas=(
            Formula(
                "1 if {x} > 0 else {slope}", "1 \\text{{ if }} {x} > 0 \\text{{ else }} {slope}"
            ),
        ),
        sample=lambda rng, hint: Sample(
            _away_from_zero(rng, hint).inputs, {"negative_slope": float(rng.choice([0.01, 0.2]))}
        ),
        elementwise=True,
        description="x if x > 0 else negative_slope * x",
        formula_names=lambda negative_slope: {"slope": f"{negative_slope:g}"},
    )
)


def softmax(x: Array, axis: int = -1) -> Array:
    """exp(x) / sum(exp(x)), shifted by the maximum so nothing overflows."""
    e = safe_exp_neg(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _softmax_vjp(grad: Array, out: Array, x: Array, axis: int = -1) -> Array:
    # J = diag(s) - s s^T, so J^T g = s * (g - <g, s>).
    return out * (grad - (grad * out).sum(axis=axis, keepdims=True))


def _axis_sample(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    return Sample((rng.normal(scale=2.0, size=hint),), {"axis": int(rng.choice([-1, 0]))})


register(
    Op(
        name="softmax",
        arg_names=("x",),
        forward=softmax,
        vjps=(_softmax_vjp,),
        formulas=(
            Formula(
                "diag({out}) - {out} {out}^T",
                "\\operatorname{{diag}}({out}) - {out}\\,{out}^\\top",
            ),
        ),
        sample=_axis_sample,
        description="exp(x) / sum(exp(x)) along an axis",
    )
)


def log_softmax(x: Array, axis: int = -1) -> tuple[Array, dict[str, Array]]:
    """x - logsumexp(x), with the probabilities saved for the backward pass."""
    shifted = x - x.max(axis=axis, keepdims=True)
    e = safe_exp_neg(shifted)
    total = e.sum(axis=axis, keepdims=True)
    e /= total
    return shifted - np.log(total), {"probs": e}


register(
    Op(
        name="log_softmax",
        arg_names=("x",),
        forward=log_softmax,
        vjps=(
            lambda grad, out, x, axis=-1, probs=None: (
                grad - probs * grad.sum(axis=axis, keepdims=True)
            ),
        ),
        formulas=(
            Formula(
                "I - softmax({x}) 1^T", "I - \\operatorname{{softmax}}({x})\\,\\mathbf{{1}}^\\top"
            ),
        ),
        sample=_axis_sample,
        saves=True,
        description="log of softmax, computed stably",
    )
)
