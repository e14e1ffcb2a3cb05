"""gradcheck: compare analytic gradients with central differences in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.autograd import enable_grad
from chainrule.tensor import Tensor

#: Default step h of the central differences.
EPS = 1e-6


class GradcheckError(ValueError):
    """Analytic and numerical gradients disagree; the message has the worst entries."""


def central_difference(
    fn: Callable[[], float], flat: np.ndarray, index: int, eps: float = EPS
) -> tuple[float, float, float]:
    """``(f(w + h), f(w - h), (f(w + h) - f(w - h)) / 2h)`` for ``w = flat[index]``, ``h = eps``.

    ``flat`` is a flat view of the array ``fn`` reads; the entry is nudged in place
    and put back, so ``fn`` sees each nudge and nothing is left changed.
    """
    original = flat[index]
    try:
        flat[index] = original + eps
        plus = float(fn())
        flat[index] = original - eps
        minus = float(fn())
    finally:
        flat[index] = original
    return plus, minus, (plus - minus) / (2 * eps)


def _output_directions(size: int, rng: np.random.Generator, full_limit: int) -> list[np.ndarray]:
    """Unit vectors (the whole Jacobian) for small outputs, random projections for large ones."""
    if size <= full_limit:
        return [np.eye(size)[i] for i in range(size)]
    return [rng.normal(size=size) for _ in range(3)]


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = EPS,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    full_jacobian_limit: int = 64,
    seed: int = 0,
    max_rows: int = 8,
) -> bool:
    """Check ``fn``'s backward pass against central differences.

    Every input that requires grad must be float64 (so the finite differences
    are accurate). The output's Jacobian-vector products (each output element in
    turn, or random projections for outputs larger than ``full_jacobian_limit``)
    are compared entry by entry: ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Returns
    -------
    True when every entry agrees.

    Raises
    ------
    GradcheckError
        With a table of the worst mismatching entries.
    TypeError
        If a checked input is not float64.
    """
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for t in checked:
        if t.dtype != np.float64:
            raise TypeError(
                f"gradcheck needs float64 inputs for accurate differences, got {t.dtype}; "
                "use tensor.astype(np.float64) or model.double()"
            )
    rng = np.random.default_rng(seed)

    with enable_grad():
        out = fn(*inputs)
    directions = _output_directions(out.data.size, rng, full_jacobian_limit)

    rows: list[tuple[float, str, float, float]] = []
    for k, direction in enumerate(directions):
        v = direction.reshape(out.shape)
        for t in checked:
            t.grad = None
        with enable_grad():
            fn(*inputs).backward(v.copy())
        analytic = [np.zeros_like(t.data) if t.grad is None else t.grad.copy() for t in checked]
        for i, t in enumerate(checked):
            flat = t.data.reshape(-1)  # a view: perturb in place

            def projected(v: np.ndarray = v) -> float:
                return float(np.vdot(v, fn(*inputs).data))

            for j in range(flat.size):
                numeric = central_difference(projected, flat, j, eps)[2]
                got = float(analytic[i].reshape(-1)[j])
                error = abs(got - numeric)
                if not error <= atol + rtol * abs(numeric):  # NaN fails too
                    name = t.name or f"input {i}"
                    index = ", ".join(str(int(n)) for n in np.unravel_index(j, t.shape))
                    where = f"{name}[{index}] (output direction {k})"
                    rows.append((error, where, got, numeric))
    for t in checked:
        t.grad = None
    if rows:
        rows.sort(reverse=True)
        table = "\n".join(
            f"  {where:<48} analytic {got: .8e}  numeric {num: .8e}  |diff| {err:.2e}"
            for err, where, got, num in rows[:max_rows]
        )
        raise GradcheckError(
            f"gradcheck failed: {len(rows)} entries differ (atol={atol}, rtol={rtol}); "
            f"worst:\n{table}"
        )
    return True


def gradcheck_module(model: Any, x: Any, target: Any, loss: Any, **kwargs: Any) -> bool:
    """gradcheck of ``loss(model(x), target)`` with respect to every trainable parameter."""
    params = [p for p in model.parameters() if p.requires_grad]
    for name, p in model.named_parameters():
        p.name = p.name or name
    return gradcheck(lambda *_: loss(model(x), target), params, **kwargs)
