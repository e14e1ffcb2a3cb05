"""Elementwise arithmetic: add, sub, mul, div, neg, pow, exp, log."""

from __future__ import annotations

import numpy as np

from chainrule.ops.registry import Formula, Op, Sample, register

Array = np.ndarray
ONE = Formula("1", "1")


def _pair(rng: np.random.Generator, hint: tuple[int, int], positive_b: bool = False) -> Sample:
    """Two operands; sometimes the second is a row or a scalar, to test broadcasting."""
    batch, width = hint
    a = rng.normal(size=(batch, width))
    shape = [(batch, width), (width,), (1, width), ()][rng.integers(4)]
    b = rng.normal(size=shape)
    if positive_b:
        b = np.abs(b) + 0.5
    return Sample((a, b))


def _one(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    return Sample((rng.normal(size=hint),))


def _positive(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    return Sample((rng.uniform(0.5, 2.0, size=hint),))


register(
    Op(
        name="add",
        intuition=(
            "A sum passes its gradient unchanged to both inputs, since each moved the output one "
            "for one."
        ),
        notation=Formula("{a} + {b}", "{a} + {b}"),
        gate="distributes: both inputs receive the upstream gradient unchanged",
        arg_names=("a", "b"),
        forward=np.add,
        vjps=(lambda grad, out, a, b: grad, lambda grad, out, a, b: grad),
        formulas=(ONE, ONE),
        sample=_pair,
        description="a + b",
    )
)

register(
    Op(
        name="sub",
        intuition=(
            "A difference passes its gradient unchanged to the first input and with its sign "
            "flipped to the second."
        ),
        notation=Formula("{a} - {b}", "{a} - {b}"),
        gate="distributes, flipping the sign for the subtracted input",
        arg_names=("a", "b"),
        forward=np.subtract,
        vjps=(lambda grad, out, a, b: grad, lambda grad, out, a, b: -grad),
        formulas=(ONE, Formula("-1", "-1")),
        sample=_pair,
        description="a - b",
    )
)

register(
    Op(
        name="mul",
        intuition=(
            "A product sends each input the upstream gradient times the other input: the larger "
            "the other factor, the more this one matters."
        ),
        notation=Formula("{a} * {b}", "{a} \\odot {b}"),
        gate="swaps: each input's gradient is the upstream gradient times the other input",
        arg_names=("a", "b"),
        forward=np.multiply,
        vjps=(lambda grad, out, a, b: grad * b, lambda grad, out, a, b: grad * a),
        formulas=(Formula("{b}", "{b}"), Formula("{a}", "{a}")),
        sample=_pair,
        description="a * b (elementwise)",
    )
)

register(
    Op(
        name="div",
        intuition=(
            "A quotient a / b sends a the gradient divided by b and b the gradient times -a / b^2, "
            "so a small divisor makes both large."
        ),
        notation=Formula("{a} / {b}", "\\frac{{{a}}}{{{b}}}"),
        arg_names=("a", "b"),
        forward=np.divide,
        vjps=(
            lambda grad, out, a, b: grad / b,
            lambda grad, out, a, b: -grad * out / b,
        ),
        formulas=(
            Formula("1 / {b}", r"\frac{{1}}{{{b}}}"),
            Formula("-{a} / {b}^2", r"-\frac{{{a}}}{{{b}^2}}"),
        ),
        sample=lambda rng, hint: _pair(rng, hint, positive_b=True),
        description="a / b (elementwise)",
    )
)

register(
    Op(
        name="neg",
        intuition="Negation flips the sign of the gradient and changes nothing else.",
        notation=Formula("-{x}", "-{x}"),
        arg_names=("x",),
        forward=np.negative,
        vjps=(lambda grad, out, x: -grad,),
        formulas=(Formula("-1", "-1"),),
        sample=_one,
        elementwise=True,
        description="-x",
    )
)


def _pow_vjp(grad: Array, out: Array, x: Array, exponent: float) -> Array:
    return grad * exponent * np.power(x, exponent - 1)


register(
    Op(
        name="pow",
        intuition=(
            "The power x^p changes p * x^(p - 1) times as fast as x, so the gradient is scaled by "
            "that slope."
        ),
        notation=Formula("{x}^{p}", "{x}^{{{p}}}"),
        arg_names=("x",),
        forward=lambda x, exponent: np.power(x, exponent),
        vjps=(_pow_vjp,),
        formulas=(Formula("{p} * {x}^({p} - 1)", "{p}\\,{x}^{{{p} - 1}}"),),
        sample=lambda rng, hint: Sample(
            (rng.uniform(0.5, 2.0, size=hint),),
            {"exponent": float(rng.choice([2.0, 3.0, 0.5, -1.5]))},
        ),
        elementwise=True,
        description="x ** p for a constant p",
        formula_names=lambda exponent: {"p": f"{exponent:g}"},
    )
)

def _exp(x: Array) -> Array:
    """e ** x, exactly 0 where it would underflow (no floating-point warning)."""
    floor = float(np.log(np.finfo(x.dtype).tiny))
    out = np.exp(np.maximum(x, floor))
    out[x < floor] = 0.0
    return out


register(
    Op(
        name="exp",
        intuition=(
            "The exponential e^x grows as fast as its own value, so the gradient is scaled by the "
            "output itself."
        ),
        notation=Formula("exp({x})", "e^{{{x}}}"),
        arg_names=("x",),
        forward=_exp,
        vjps=(lambda grad, out, x: grad * out,),
        formulas=(Formula("exp({x})", "e^{{{x}}}"),),
        sample=_one,
        elementwise=True,
        description="e ** x",
    )
)

register(
    Op(
        name="log",
        intuition=(
            "The logarithm log x changes by 1/x for each unit of x, so small inputs receive large "
            "gradients."
        ),
        notation=Formula("log({x})", "\\log {x}"),
        arg_names=("x",),
        forward=np.log,
        vjps=(lambda grad, out, x: grad / x,),
        formulas=(Formula("1 / {x}", r"\frac{{1}}{{{x}}}"),),
        sample=_positive,
        elementwise=True,
        description="natural logarithm",
    )
)
