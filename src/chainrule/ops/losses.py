"""Loss primitives, fused for speed and numerical stability.

``softmax_cross_entropy`` and ``sigmoid_cross_entropy`` take logits, so their
gradients are the famous ``probabilities - targets`` and no log of a rounded
probability is ever taken. ``cross_entropy_probs`` and ``binary_cross_entropy``
take probabilities for when the network ends in an explicit Softmax/Sigmoid.
Targets are class indices (one fewer dimension than the scores) or arrays of the
scores' shape (one-hot rows or probabilities).

Every loss takes an optional ``weight`` attribute: one non-negative weight per sample
(the first axis). The mean then becomes the weighted mean ``sum(w_i l_i) / sum(w_i)``
(scikit-learn's convention: scaling all weights changes nothing) and the sum becomes
``sum(w_i l_i)``; a loss over several outputs per sample is averaged over them as well.
Without ``weight`` nothing extra is computed.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.ops.activations import log_tiny, safe_exp_neg, sigmoid
from chainrule.ops.constants import row_max, row_sum
from chainrule.ops.reductions import per_element, reduce_losses, scale_grad, shares, weight_sample
from chainrule.ops.registry import Formula, Op, Sample, register

Array = np.ndarray


def _targets_as_rows(target: Array, scores: Array) -> Array:
    """Class indices become one-hot rows; other targets are returned as they are."""
    if target.ndim == scores.ndim:
        return target
    rows = np.zeros_like(scores)
    np.put_along_axis(rows, target.astype(np.intp)[..., None], 1.0, axis=-1)
    return rows


_ROW_STARTS: dict[tuple[int, int], Array] = {}


def _row_starts(rows: int, classes: int) -> Array:
    """Where each row of a C-ordered (rows, classes) array starts in the flattened array,
    read-only and kept for the few batch shapes a run uses."""
    key = (rows, classes)
    starts = _ROW_STARTS.get(key)
    if starts is None:
        if len(_ROW_STARTS) >= 16:
            _ROW_STARTS.clear()
        starts = _ROW_STARTS[key] = np.arange(0, rows * classes, classes)
        starts.flags.writeable = False
    return starts


def _picks(labels: Array, shape: tuple[int, ...]) -> Array:
    """Where each row's labelled entry lies in a C-ordered array of ``shape`` (..., C),
    counted over the flattened array: one index array, fast to read and write through."""
    starts = _row_starts(labels.size, shape[-1]).reshape(labels.shape)
    return starts + labels.astype(np.intp, copy=False)


def _ce_names(reduction: str = "mean", weight: Array | None = None) -> dict[str, str]:
    if weight is not None:
        mean = reduction == "mean"
        return {
            "per_n": " * w / sum(w)" if mean else " * w",
            "per_n_tex": "\\frac{w}{\\sum w}" if mean else "w",
        }
    return {
        "per_n": " / N" if reduction == "mean" else "",
        "per_n_tex": "\\frac{1}{N}" if reduction == "mean" else "",
    }


def _softmax_ce_forward(
    logits: Array, target: Array, reduction: str = "mean", weight: Array | None = None
) -> tuple[Array, dict[str, Array]]:
    # -log softmax(z)[y] = log(sum(exp(z - m))) - (z[y] - m), with m the row maximum
    shifted = logits - row_max(logits)
    probs = safe_exp_neg(shifted, logits.shape[-1])
    total = row_sum(probs)
    probs /= total
    log_total = np.log(total[..., 0])
    if target.ndim == logits.ndim:
        per_sample = log_total * row_sum(target)[..., 0] - row_sum(target * shifted)[..., 0]
        return reduce_losses(per_sample, reduction, weight), {"probs": probs}
    picks = _picks(target, logits.shape)
    per_sample = log_total - shifted.take(picks)
    return reduce_losses(per_sample, reduction, weight), {"probs": probs, "picks": picks}


def _softmax_ce_vjp(
    grad: Array,
    out: Array,
    logits: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
    probs: Array | None = None,
    picks: Array | None = None,
) -> Array:
    assert probs is not None
    if target.ndim == logits.ndim:
        delta = probs - target
    else:  # probabilities minus one-hot rows, on a C-ordered copy of the probabilities
        delta = probs.copy()
        entries = delta.reshape(-1)
        entries[_picks(target, logits.shape) if picks is None else picks] -= 1.0
    if weight is None:
        delta *= grad * per_element(reduction, math.prod(logits.shape[:-1]))
    else:
        delta *= grad * shares(weight, logits[..., 0], reduction)[..., None]
    return delta


def _class_sample(
    rng: np.random.Generator, hint: tuple[int, int], logits_scale: float = 2.0
) -> tuple[Array, Array]:
    batch, classes = hint[0], max(hint[1], 2)
    scores = rng.normal(scale=logits_scale, size=(batch, classes))
    if rng.integers(2):
        target = rng.integers(0, classes, size=batch).astype(np.float64)
    else:
        target = rng.dirichlet(np.ones(classes), size=batch)
    return scores, target


register(
    Op(
        name="softmax_cross_entropy",
        intuition=(
            "With the softmax folded in, the gradient is the probabilities minus the targets: each "
            "logit is pushed down by the probability it gave a wrong class and up by what its true "
            "class lacked."
        ),
        stages=("softmax", "cross_entropy_probs"),
        arg_names=("Z", "Y"),
        forward=_softmax_ce_forward,
        vjps=(_softmax_ce_vjp, None),
        formulas=(
            Formula(
                "(softmax({Z}) - {Y}){per_n}", "{per_n_tex}(\\operatorname{{softmax}}({Z}) - {Y})"
            ),
            None,
        ),
        sample=lambda rng, hint: Sample(
            _class_sample(rng, hint),
            {"reduction": str(rng.choice(["mean", "sum"])), **weight_sample(rng, hint[0])},
        ),
        saves=True,
        description="cross-entropy of softmax(Z) against targets Y, from logits",
        formula_names=_ce_names,
    )
)


def _probs_ce_forward(
    probs: Array, target: Array, reduction: str = "mean", weight: Array | None = None
) -> Array:
    logp = np.log(np.maximum(probs, np.finfo(probs.dtype).tiny))
    if target.ndim == probs.ndim:
        per_sample = -row_sum(target * logp)[..., 0]
    else:
        per_sample = -np.take_along_axis(logp, target.astype(np.intp)[..., None], axis=-1)[..., 0]
    return reduce_losses(per_sample, reduction, weight)


def _probs_ce_vjp(
    grad: Array,
    out: Array,
    probs: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
) -> Array:
    rows = _targets_as_rows(target, probs)
    if weight is None:
        scale = grad * per_element(reduction, math.prod(probs.shape[:-1]))
    else:
        scale = grad * shares(weight, probs[..., 0], reduction)[..., None]
    return -rows / np.maximum(probs, np.finfo(probs.dtype).tiny) * scale


def _probs_sample(rng: np.random.Generator, hint: tuple[int, int]) -> Sample:
    scores, target = _class_sample(rng, hint)
    return Sample(
        (rng.dirichlet(np.ones(scores.shape[-1]) * 3, size=scores.shape[0]), target),
        {"reduction": "mean", **weight_sample(rng, hint[0])},
    )


register(
    Op(
        name="cross_entropy_probs",
        intuition=(
            "The gradient -Y / O is large where the true class got a small probability, so "
            "confident mistakes are punished hardest."
        ),
        arg_names=("O", "Y"),
        forward=_probs_ce_forward,
        vjps=(_probs_ce_vjp, None),
        formulas=(Formula("-{Y} / {O}{per_n}", "-{per_n_tex}\\frac{{{Y}}}{{{O}}}"), None),
        sample=_probs_sample,
        description="cross-entropy -sum(Y log O) of probabilities O",
        formula_names=_ce_names,
    )
)


def _sigmoid_ce_forward(
    logits: Array, target: Array, reduction: str = "mean", weight: Array | None = None
) -> Array:
    # max(z, 0) - z y + log(1 + e^-|z|): never exponentiates a positive number.
    per_element = np.maximum(logits, 0) - logits * target + np.log1p(safe_exp_neg(-np.abs(logits)))
    return reduce_losses(per_element, reduction, weight)


def _sigmoid_ce_vjp_logits(
    grad: Array,
    out: Array,
    logits: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
) -> Array:
    return (sigmoid(logits) - target) * scale_grad(grad, reduction, logits, weight)


def _sigmoid_ce_vjp_target(
    grad: Array,
    out: Array,
    logits: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
) -> Array:
    return -logits * scale_grad(grad, reduction, logits, weight)


def _binary_sample(rng: np.random.Generator, hint: tuple[int, int], probs: bool = False) -> Sample:
    first = rng.uniform(0.05, 0.95, size=hint) if probs else rng.normal(scale=2.0, size=hint)
    return Sample(
        (first, rng.uniform(0.0, 1.0, size=hint)),
        {"reduction": str(rng.choice(["mean", "sum"])), **weight_sample(rng, hint[0])},
    )


register(
    Op(
        name="sigmoid_cross_entropy",
        intuition=(
            "With the sigmoid folded in, the gradient is the probability minus the target, with no "
            "sigmoid slope left to vanish."
        ),
        stages=("sigmoid", "binary_cross_entropy"),
        arg_names=("Z", "Y"),
        forward=_sigmoid_ce_forward,
        vjps=(_sigmoid_ce_vjp_logits, _sigmoid_ce_vjp_target),
        formulas=(
            Formula("(sigmoid({Z}) - {Y}){per_n}", "{per_n_tex}(\\sigma({Z}) - {Y})"),
            Formula("-{Z}{per_n}", "-{per_n_tex}{Z}"),
        ),
        sample=_binary_sample,
        description="binary cross-entropy of sigmoid(Z) against Y, from logits",
        formula_names=_ce_names,
    )
)


def _bce_forward(
    probs: Array, target: Array, reduction: str = "mean", weight: Array | None = None
) -> Array:
    floor = log_tiny(probs.dtype)
    log_p = np.maximum(np.log(np.maximum(probs, np.finfo(probs.dtype).tiny)), floor)
    log_q = np.maximum(np.log(np.maximum(1.0 - probs, np.finfo(probs.dtype).tiny)), floor)
    return reduce_losses(-(target * log_p + (1.0 - target) * log_q), reduction, weight)


def _bce_vjp_probs(
    grad: Array,
    out: Array,
    probs: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
) -> Array:
    tiny = np.finfo(probs.dtype).tiny
    local = (1.0 - target) / np.maximum(1.0 - probs, tiny) - target / np.maximum(probs, tiny)
    return local * scale_grad(grad, reduction, probs, weight)


def _bce_vjp_target(
    grad: Array,
    out: Array,
    probs: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
) -> Array:
    tiny = np.finfo(probs.dtype).tiny
    local = np.log(np.maximum(1.0 - probs, tiny)) - np.log(np.maximum(probs, tiny))
    return local * scale_grad(grad, reduction, probs, weight)


register(
    Op(
        name="binary_cross_entropy",
        intuition=(
            "The gradient (O - Y) / (O (1 - O)) grows without bound as a prediction nears the "
            "wrong extreme, so confident mistakes are punished hardest."
        ),
        arg_names=("O", "Y"),
        forward=_bce_forward,
        vjps=(_bce_vjp_probs, _bce_vjp_target),
        formulas=(
            Formula(
                "((1 - {Y}) / (1 - {O}) - {Y} / {O}){per_n}",
                "{per_n_tex}\\left(\\frac{{1 - {Y}}}{{1 - {O}}} - \\frac{{{Y}}}{{{O}}}\\right)",
            ),
            Formula("log((1 - {O}) / {O}){per_n}", "{per_n_tex}\\log\\frac{{1 - {O}}}{{{O}}}"),
        ),
        sample=lambda rng, hint: _binary_sample(rng, hint, probs=True),
        description="binary cross-entropy -(Y log O + (1 - Y) log(1 - O)) of probabilities O",
        formula_names=_ce_names,
    )
)
