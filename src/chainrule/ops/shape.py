"""Matrix products, reductions and shape changes: matmul, linear, transpose,
reshape, sum, mean, max."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.ops.constants import filled
from chainrule.ops.registry import Formula, Op, Sample, register, vjps_from_joint

Array = np.ndarray
Axis = Any  # int, tuple of ints or None


def _swap(a: Array) -> Array:
    return np.swapaxes(a, -1, -2)


def _matmul_vjp_a(grad: Array, out: Array, a: Array, b: Array) -> Array:
    if b.ndim == 1:  # out[..., i] = sum_k a[..., i, k] b[k]
        return grad[..., None] * b
    if a.ndim == 1:  # out[..., j] = sum_k a[k] b[..., k, j]
        return (b @ grad[..., None])[..., 0]
    return grad @ _swap(b)


def _matmul_vjp_b(grad: Array, out: Array, a: Array, b: Array) -> Array:
    if a.ndim == 1:
        if b.ndim == 1:
            return grad * a
        return a[:, None] * grad[..., None, :]
    if b.ndim == 1:
        return (_swap(a) @ grad[..., None])[..., 0]
    return _swap(a) @ grad


def _matmul_sample(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    batch, width = hint
    inner = int(rng.integers(1, 5))
    return Sample((rng.normal(size=(batch, inner)), rng.normal(size=(inner, width))))


register(
    Op(
        name="matmul",
        intuition=(
            "Each entry of A @ B is a sum of products, so A gets the upstream gradient times B "
            "transposed and B gets A transposed times the upstream gradient."
        ),
        notation=Formula("{A} @ {B}", "{A}\\,{B}"),
        gate=(
            "swaps, as a matrix product: each input gets the upstream gradient times the other "
            "input, transposed"
        ),
        arg_names=("A", "B"),
        forward=np.matmul,
        vjps=(_matmul_vjp_a, _matmul_vjp_b),
        formulas=(Formula("{B}^T", "{B}^\\top"), Formula("{A}^T", "{A}^\\top")),
        sample=_matmul_sample,
        description="matrix product A @ B",
    )
)


# The linear op works on 2-D arrays: rows are samples. ndarray.dot is the same BLAS
# product as @ for them (bit for bit), with a third of the call overhead on small arrays.
def linear_forward(x: Array, W: Array, b: Array) -> Array:  # noqa: N803
    out = x.dot(W)
    # A one-number bias is added as a 0-d view: the same sums, without the broadcast
    # of a length-1 axis, which costs NumPy more than the product of a small batch.
    out += b.reshape(()) if b.size == 1 else b
    return out


def linear_joint_vjp(
    grad: Array, out: Array, x: Array, W: Array, b: Array, needs: tuple[bool, ...]  # noqa: N803
) -> tuple[Array | None, Array | None, Array | None]:
    """dE/dX = G @ W^T, dE/dW = X^T @ G, dE/db = G summed over what b was added to."""
    grad_x = grad.dot(W.T) if needs[0] else None
    grad_w = x.T.dot(grad) if needs[1] else None
    grad_b = None
    if needs[2]:
        if b.ndim == 0:
            grad_b = np.asarray(np.add.reduce(grad, None))
        else:
            # The sum over samples as ones @ G: one BLAS call, faster than a reduction
            # and more accurate (BLAS keeps several partial sums).
            rows, columns = grad.shape
            if len(b) == 1 and columns > 1:  # a shared bias: every entry of Z received it
                size = rows * columns
                if size <= 4096:  # one product, with a short vector of ones
                    grad_b = grad.reshape(-1).dot(filled(1.0, (size, 1), grad.dtype))
                else:
                    grad_b = filled(1.0, (rows,), grad.dtype).dot(grad)
                    grad_b = grad_b.dot(filled(1.0, (columns, 1), grad.dtype))
            else:
                grad_b = filled(1.0, (rows,), grad.dtype).dot(grad)
    return grad_x, grad_w, grad_b


def linear_sample(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    batch, width = hint
    inner = int(rng.integers(1, 5))
    bias_shape = [(width,), (1,), ()][rng.integers(3)]
    return Sample(
        (
            rng.normal(size=(batch, inner)),
            rng.normal(size=(inner, width)),
            rng.normal(size=bias_shape),
        )
    )


register(
    Op(
        name="linear",
        intuition=(
            "A weight's gradient is its input times the error signal at its output, so weights fed "
            "by large inputs or feeding units with large errors change most, while the input gets "
            "the error sent back through the weights and the bias the error summed over the "
            "samples."
        ),
        notation=Formula("{X} @ {W} + {b}", "{X}\\,{W} + {b}"),
        gate=(
            "multiplies and adds: the input and the weights each get the upstream gradient "
            "times the other (transposed); the bias gets the upstream gradient summed"
        ),
        arg_names=("X", "W", "b"),
        forward=linear_forward,
        vjps=vjps_from_joint(linear_joint_vjp, 3),
        joint_vjp=linear_joint_vjp,
        formulas=(
            Formula("{W}^T", "{W}^\\top"),
            Formula("{X}^T", "{X}^\\top"),
            Formula("1", "1"),
        ),
        sample=linear_sample,
        description="X @ W + b (b a vector per neuron or one shared scalar)",
    )
)


def _transpose_vjp(grad: Array, out: Array, x: Array, axes: tuple[int, ...] | None) -> Array:
    if axes is None:
        return grad.transpose()
    return grad.transpose(np.argsort(axes))


register(
    Op(
        name="transpose",
        intuition="Transposing only moves entries, so the gradient is transposed back.",
        notation=Formula("{x}^T", "{x}^\\top"),
        arg_names=("x",),
        forward=lambda x, axes: np.transpose(x, axes),
        vjps=(_transpose_vjp,),
        formulas=(Formula("transpose back", "(\\cdot)^\\top"),),
        sample=lambda rng, hint: Sample((rng.normal(size=hint),), {"axes": None}),
        description="swap axes",
    )
)

register(
    Op(
        name="reshape",
        intuition="Reshaping only rearranges entries, so the gradient is reshaped back.",
        notation=Formula("reshape({x})", "\\operatorname{{reshape}}({x})"),
        arg_names=("x",),
        forward=lambda x, shape: np.reshape(x, shape),
        vjps=(lambda grad, out, x, shape: grad.reshape(x.shape),),
        formulas=(Formula("reshape back", "\\text{{reshape back}}"),),
        sample=lambda rng, hint: Sample((rng.normal(size=hint),), {"shape": (-1,)}),
        description="same values, new shape",
    )
)


def _expand(grad: Array, x: Array, axis: Axis, keepdims: bool) -> Array:
    """Put reduced axes back into ``grad`` so it broadcasts against ``x``."""
    if axis is not None and not keepdims:
        grad = np.expand_dims(grad, axis)
    return grad


def _count(x: Array, axis: Axis) -> int:
    if axis is None:
        return x.size
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([x.shape[a] for a in axes]))


def _reduce_sample(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    axis = [None, 0, 1, -1][rng.integers(4)]
    return Sample((rng.normal(size=hint),), {"axis": axis, "keepdims": bool(rng.integers(2))})


register(
    Op(
        name="sum",
        intuition=(
            "Every entry moved the sum one for one, so each receives the upstream gradient "
            "unchanged."
        ),
        notation=Formula("sum({x})", "\\sum {x}"),
        arg_names=("x",),
        forward=lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
        vjps=(
            lambda grad, out, x, axis=None, keepdims=False: np.broadcast_to(
                _expand(grad, x, axis, keepdims), x.shape
            ),
        ),
        formulas=(Formula("1", "1"),),
        sample=_reduce_sample,
        description="sum of elements",
    )
)

register(
    Op(
        name="mean",
        intuition=(
            "Every entry moves the mean by 1/N of its change, so each receives the upstream "
            "gradient divided by N."
        ),
        notation=Formula("mean({x})", "\\operatorname{{mean}}({x})"),
        arg_names=("x",),
        forward=lambda x, axis=None, keepdims=False: np.mean(x, axis=axis, keepdims=keepdims),
        vjps=(
            lambda grad, out, x, axis=None, keepdims=False: np.broadcast_to(
                _expand(grad, x, axis, keepdims) / _count(x, axis), x.shape
            ),
        ),
        formulas=(Formula("1 / N", r"\frac{{1}}{{N}}"),),
        sample=_reduce_sample,
        description="mean of elements",
    )
)


def _max_vjp(grad: Array, out: Array, x: Array, axis: Axis = None, keepdims: bool = False) -> Array:
    # Ties share the gradient equally, so the rule is symmetric in the tied inputs.
    winners = x == _expand(out, x, axis, keepdims)
    share = winners / winners.sum(axis=axis, keepdims=True)
    return share * _expand(grad, x, axis, keepdims)


register(
    Op(
        name="max",
        intuition="Only the largest entry affects the maximum, so it alone receives the gradient.",
        notation=Formula("max({x})", "\\max {x}"),
        gate="routes the whole gradient to the input that was largest",
        arg_names=("x",),
        forward=lambda x, axis=None, keepdims=False: np.max(x, axis=axis, keepdims=keepdims),
        vjps=(_max_vjp,),
        formulas=(Formula("1 where {x} is the maximum, else 0", r"\mathbb{{1}}[{x} = \max]"),),
        sample=_reduce_sample,
        description="largest element",
    )
)
