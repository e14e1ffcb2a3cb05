"""Explain one training step of any network, with the numbers it computed.

>>> import numpy as np
>>> import chainrule as cr
>>> model = cr.nn.Sequential(cr.nn.Linear(2, 3, rng=0), cr.nn.Sigmoid(), cr.nn.Linear(3, 1, rng=1))
>>> step = cr.explain(model, np.array([[0.5, 0.1]]), np.array([[1.0]]), cr.nn.MSELoss(), lr=0.1)
>>> sorted(step.gradients)
['0.bias', '0.weight', '2.bias', '2.weight']

Import helpers from here (``from chainrule.explain import Explanation``): the
name ``chainrule.explain`` itself is the :func:`explain` function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.explain.derive import derive
from chainrule.explain.explanation import Explanation, TrainingLog
from chainrule.explain.scalar import default_weights, resolve
from chainrule.explain.trace import LossFunction, trace_step
from chainrule.nn.module import Module


def explain(
    model: Module,
    x: Any,
    y: Any,
    loss: LossFunction,
    lr: float = 0.1,
    *,
    names: Mapping[str, str] | None = None,
    weights: Sequence[str] | None = None,
    dtype: Any = np.float64,
    title: str = "One training step, explained",
    description: str = "",
) -> Explanation:
    """Trace one step of gradient descent and explain it.

    Parameters
    ----------
    model : Module
        Any chainrule network (it is copied; the model itself is not changed).
    x : array_like of shape (samples, features)
        Inputs; a 1-D array is one sample.
    y : array_like
        Targets, as the loss takes them (class labels or one-hot rows for
        cross-entropy).
    loss : loss module
        E.g. ``nn.MSELoss(reduction="sum", half=True)`` or
        ``nn.CrossEntropyLoss(from_probs=True)``.
    lr : float, default 0.1
        Learning rate of the gradient-descent step.
    names : mapping, optional
        Rename values: keys are default names (``"h1"``) or parameter names
        (``"0.weight"``), values the new names.
    weights : sequence of str, optional
        Weight entries for the scalar view, e.g. ``["Who[2,0]"]`` (0-based).
        Default: entry [0, 0] of every layer's weights.
    dtype : float dtype or None, default float64
        Run the step in this dtype (None keeps the model's own).
    title, description : str
        Heading and introduction of the rendered explanation.

    Returns
    -------
    Explanation
        With ``gradients``, ``updated``, ``to_text()``, ``to_markdown()``,
        ``to_html()`` and ``graph_svg()``.

    Raises
    ------
    ValueError, TypeError
        For a model, data or loss that do not fit together (the message says how).
    """
    trace = trace_step(model, x, y, loss, lr, names=names, dtype=dtype)
    derivation = derive(trace)
    if weights is None:
        refs = default_weights(derivation)
    else:
        refs = [resolve(spec, derivation) for spec in weights]
    return Explanation(
        trace,
        derivation,
        model=model,
        loss_fn=loss,
        title=title,
        description=description,
        scalar_weights=refs,
    )


__all__ = ["Explanation", "TrainingLog", "explain"]
