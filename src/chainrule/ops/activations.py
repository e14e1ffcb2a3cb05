"""Activation functions: sigmoid, tanh, relu, leaky_relu, softmax, log_softmax.

Each is computed so that no input, however extreme, raises a floating-point
warning: exponentials only ever see arguments that cannot overflow, and never
ones so negative that the result would be a subnormal number.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.ops.constants import ONES, filled, row_max, row_sum, scalar
from chainrule.ops.registry import Formula, Op, Sample, register

Array = np.ndarray


_LOG_TINY: dict[np.dtype, float] = {}


def log_tiny(dtype: np.dtype) -> float:
    """log of the smallest normal number: exp() below this would underflow."""
    value = _LOG_TINY.get(dtype)
    if value is None:
        value = _LOG_TINY[dtype] = float(np.log(np.finfo(dtype).tiny))
    return value


_EXP_FLOORS: dict[tuple[np.dtype, float], Array] = {}


def safe_exp_neg(x: Array, headroom: float = 1.0) -> Array:
    """exp(x) for x <= 0, clamped at ``headroom`` times the smallest normal number
    instead of underflowing (so dividing the result by up to ``headroom`` is safe)."""
    # The clamp as a 0-d array of x's dtype, made once per dtype and headroom: the same
    # value NumPy would convert the Python float to on every call (see ops.constants).
    key = (x.dtype, headroom)
    floor = _EXP_FLOORS.get(key)
    if floor is None:
        if len(_EXP_FLOORS) >= 64:
            _EXP_FLOORS.clear()
        floor = _EXP_FLOORS[key] = scalar(log_tiny(x.dtype) + math.log(headroom), x.dtype)
    clamped = np.maximum(x, floor)
    return np.exp(clamped, out=clamped)  # over the clamped copy, no second array


def sigmoid(x: Array) -> Array:
    """1 / (1 + exp(-x)).

    With SciPy installed (it comes with chainrule's extras) this is one call of
    ``scipy.special.expit``, accurate to a unit or so in the last place everywhere.
    Without SciPy, or for float16, it is computed as (1 + tanh(x / 2)) / 2, which
    needs no exponential that could overflow; its values far in the negative tail
    (below about 1e-16) are then exact to an absolute, not a relative, error of
    1e-16 (the cross-entropy losses work from logits, so no log of such a value is
    taken). Both reach exactly 0 and 1 at the extremes with no floating-point warning.
    """
    return _sigmoid_into(x, None)


def _sigmoid_into(x: Array, out: Array | None) -> Array:
    """sigmoid(x) written into ``out`` (which may be ``x`` itself), or a new array."""
    expit = _EXPIT if _EXPIT is not None else _load_expit()
    if expit and x.dtype in _EXPIT_DTYPES:
        return expit(x) if out is None else expit(x, out=out)
    half = scalar(0.5, x.dtype)
    out = np.multiply(x, half, out=out)
    np.tanh(out, out=out)
    out *= half
    out += half
    return out


_EXPIT: Any = None  # scipy.special.expit, or False without SciPy (looked up on first use)
_EXPIT_DTYPES = frozenset(np.dtype(t) for t in ("float32", "float64", "longdouble"))


def _sigmoid_in_place(x: Array) -> Array:
    """sigmoid(x) written over x (``_sigmoid_into(x, x)``, one call fewer on the common path)."""
    expit = _EXPIT if _EXPIT is not None else _load_expit()
    if expit and x.dtype in _EXPIT_DTYPES:
        return expit(x, out=x)
    return _sigmoid_into(x, x)


def _load_expit() -> Any:
    global _EXPIT
    try:
        from scipy.special import expit
    except ImportError:
        expit = False
    _EXPIT = expit
    return expit


def _sigmoid_vjp(grad: Array, out: Array, x: Array) -> Array:
    result = grad * out  # then times (1 - out): the same products, one array fewer
    result *= ONES[out.dtype] - out
    return result


def _sigmoid_vjp_in_place(grad: Array, out: Array) -> Array:
    grad *= out
    grad *= ONES[out.dtype] - out
    return grad


def _tanh_vjp_in_place(grad: Array, out: Array) -> Array:
    slope = out * out
    np.subtract(1.0, slope, out=slope)
    grad *= slope
    return grad


def _relu(x: Array) -> Array:
    return np.maximum(x, filled(0.0, x.shape, x.dtype))  # (see ops.constants)


def _relu_in_place(x: Array) -> Array:
    return np.maximum(x, filled(0.0, x.shape, x.dtype), out=x)


def _relu_vjp_in_place(grad: Array, out: Array) -> Array:
    # The output is positive exactly where the input was (NaN stays NaN, never positive),
    # so the mask comes from it; multiplying by the mask, as the VJP does, keeps the
    # signed zeros and NaNs of grad * (x > 0).
    return np.multiply(grad, out > 0, out=grad)


def _unary_sample(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    return Sample((rng.normal(scale=2.0, size=hint),))


def _away_from_zero(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    # Kinks at 0 are not differentiable; keep samples clear of them.
    x = rng.normal(scale=2.0, size=hint)
    return Sample((np.where(np.abs(x) < 0.1, x + np.sign(x + 1e-12) * 0.2, x),))


register(
    Op(
        name="sigmoid",
        intuition=(
            "The sigmoid's slope O * (1 - O) is largest, 0.25, at an output of 0.5 and vanishes "
            "near 0 and 1, so saturated units pass almost no gradient back."
        ),
        role="activation",
        notation=Formula("sigmoid({x})", "\\sigma({x})"),
        gate="scales the gradient by the sigmoid's slope, at most 0.25, so it always shrinks it",
        arg_names=("x",),
        forward=sigmoid,
        vjps=(_sigmoid_vjp,),
        forward_in_place=_sigmoid_in_place,
        vjp_in_place=_sigmoid_vjp_in_place,
        formulas=(Formula("{out} * (1 - {out})", "{out}\\,(1 - {out})"),),
        sample=_unary_sample,
        elementwise=True,
        description="sigma(x) = 1 / (1 + e^-x)",
        always_record=True,
    )
)

register(
    Op(
        name="tanh",
        intuition=(
            "The slope of tanh, 1 - h^2, is 1 at 0 and vanishes as the output nears -1 or 1, so "
            "saturated units pass almost no gradient back."
        ),
        role="activation",
        notation=Formula("tanh({x})", "\\tanh({x})"),
        gate="scales the gradient by tanh's slope, at most 1",
        arg_names=("x",),
        forward=np.tanh,
        vjps=(lambda grad, out, x: grad * (1.0 - out * out),),
        forward_in_place=lambda x: np.tanh(x, out=x),
        vjp_in_place=_tanh_vjp_in_place,
        formulas=(Formula("1 - {out}^2", "1 - {out}^2"),),
        sample=_unary_sample,
        elementwise=True,
        description="hyperbolic tangent",
    )
)

register(
    Op(
        name="relu",
        intuition=(
            "ReLU passes the gradient unchanged where its input was positive and blocks it "
            "where it was not, so a unit that is off for every sample stops learning."
        ),
        role="activation",
        notation=Formula("relu({x})", "\\operatorname{{ReLU}}({x})"),
        gate="routes: it passes the gradient where its input was positive and blocks it elsewhere",
        arg_names=("x",),
        forward=_relu,
        vjps=(lambda grad, out, x: grad * (x > 0),),
        forward_in_place=_relu_in_place,
        vjp_in_place=_relu_vjp_in_place,
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
        intuition=(
            "Leaky ReLU passes the gradient unchanged where its input was positive and a small "
            "fraction of it elsewhere, so no unit stops learning altogether."
        ),
        role="activation",
        notation=Formula("leaky_relu({x})", "\\operatorname{{LeakyReLU}}({x})"),
        gate=(
            "routes: it passes the gradient where its input was positive and lets only a small "
            "fraction through elsewhere"
        ),
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
    if axis in (-1, x.ndim - 1):
        e = safe_exp_neg(x - row_max(x), x.shape[-1])
        e /= row_sum(e)
        return e
    e = safe_exp_neg(x - x.max(axis=axis, keepdims=True), x.shape[axis])
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
        intuition=(
            "Raising one logit raises its own probability and lowers all the others, so the "
            "gradient of each logit mixes the gradients of every output in its row."
        ),
        role="activation",
        notation=Formula("softmax({x})", "\\operatorname{{softmax}}({x})"),
        gate="mixes: each input's gradient depends on every output of its row",
        arg_names=("x",),
        forward=softmax,
        vjps=(_softmax_vjp,),
        formulas=(
            Formula(
                # Rows are samples: row n of the output, a 1 x k matrix, has its own Jacobian.
                "diag({out}[n]) - {out}[n]^T @ {out}[n]",
                "\\operatorname{{diag}}({out}_n) - {out}_n^\\top {out}_n",
            ),
        ),
        sample=_axis_sample,
        description="exp(x) / sum(exp(x)) along an axis",
        always_record=True,
    )
)


def log_softmax(x: Array, axis: int = -1) -> tuple[Array, dict[str, Array]]:
    """x - logsumexp(x), with the probabilities saved for the backward pass."""
    shifted = x - x.max(axis=axis, keepdims=True)
    e = safe_exp_neg(shifted, x.shape[axis])
    total = e.sum(axis=axis, keepdims=True)
    e /= total
    return shifted - np.log(total), {"probs": e}


register(
    Op(
        name="log_softmax",
        intuition=(
            "Every log-probability of a row falls when any other logit of the row rises, so the "
            "gradient of each logit collects those of the whole row, weighted by the probabilities."
        ),
        role="activation",
        notation=Formula("log_softmax({x})", "\\log\\operatorname{{softmax}}({x})"),
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
