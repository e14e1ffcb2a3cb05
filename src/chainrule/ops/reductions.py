"""How the losses reduce per-sample terms: the mean, the sum, and their weighted forms.

Shared by :mod:`chainrule.ops.losses` and :mod:`chainrule.ops.mse`. With one weight
``w_i`` per sample, the mean becomes ``sum(w_i l_i) / sum(w_i)`` and the sum
``sum(w_i l_i)``; a loss over several outputs per sample is averaged over them too.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray

__all__ = ["per_element", "reduce_losses", "scale_grad", "shares", "weight_sample"]


def reduce_losses(per_sample: Array, reduction: str, weight: Array | None = None) -> Array:
    """The mean (as ndarray.mean computes it) or the sum of the per-sample losses, or
    their weighted mean or sum when there are weights."""
    if weight is not None:
        share = np.broadcast_to(shares(weight, per_sample, reduction), per_sample.shape)
        return np.asarray(np.vdot(per_sample, share))
    total = np.add.reduce(per_sample, None)
    return np.asarray(total / per_sample.size if reduction == "mean" else total)


def shares(weight: Array, losses: Array, reduction: str) -> Array:
    """Each loss element's factor in the total, shaped to broadcast over ``losses``:
    ``w_i / (sum(w) * elements per sample)`` for the mean, ``w_i`` for the sum."""
    per_row = weight.astype(losses.dtype, copy=False)
    per_row = per_row.reshape(per_row.shape + (1,) * (losses.ndim - per_row.ndim))
    if reduction != "mean":
        return per_row
    return per_row / (per_row.sum() * (losses.size // weight.size))


def weight_sample(rng: np.random.Generator, batch: int) -> dict[str, Array]:
    """Half the samples are weighted, so the generic gradient tests check both forms."""
    return {"weight": rng.uniform(0.1, 3.0, size=batch)} if rng.integers(2) else {}


def per_element(reduction: str, count: int) -> Array | float:
    return 1.0 / count if reduction == "mean" else 1.0


def scale_grad(grad: Array, reduction: str, shape: Array, weight: Array | None) -> Array:
    """``grad`` times each element's factor in the loss (``shape``: the per-element
    losses' shape, e.g. the logits for a binary loss)."""
    if weight is None:
        return grad * per_element(reduction, shape.size)
    return grad * shares(weight, shape, reduction)
