"""What the studio sends the page: a session's state, its network and training updates.

Only reading and reshaping: every number is one chainrule computed (the model's own
forward pass, :func:`chainrule.explain`, :func:`chainrule.fit`). Arrays become lists
with :func:`chainrule.explain.data.plain`, so a diverged value is ``null``, never NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule import functional as F
from chainrule.autograd import no_grad
from chainrule.explain import explain
from chainrule.explain.data import plain
from chainrule.nn import Linear
from chainrule.studio.setups import LIMITS, is_probability_output
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    from chainrule.studio.sessions import Session

#: Cells per side of the decision-boundary grid.
GRID = 40
#: Rows listed for the sample picker, and points for the scatter plot.
ROWS, POINTS = 50, 1000


def _layers(session: Session) -> list[tuple[int, str, Linear, str | None]]:
    """(layer number, key prefix, Linear, activation name) for each layer."""
    layers: list[tuple[int, str, Linear, str | None]] = []
    modules = [(str(index), module) for index, module in enumerate(session.model)]
    for index, (key, module) in enumerate(modules):
        if isinstance(module, Linear):
            following = modules[index + 1][1] if index + 1 < len(modules) else None
            name = getattr(following, "command_name", None)
            layers.append((len(layers) + 1, key, module, name))
    return layers


def network(session: Session) -> dict[str, Any]:
    """The network's layers and every parameter's current value, by display name."""
    names = session.names
    layers, parameters = [], []
    for number, key, linear, activation in _layers(session):
        bias_key = f"{key}.bias"
        layers.append(
            {
                "layer": number,
                "in": linear.in_features,
                "out": linear.out_features,
                "activation": activation,
                "bias": session.setup["bias"],
                "weight": names[f"{key}.weight"],
                "bias_param": names.get(bias_key) if linear.bias is not None else None,
            }
        )
    for key, param in session.model.named_parameters():
        number = next(n for n, prefix, _, _ in _layers(session) if key.startswith(prefix + "."))
        parameters.append(
            {
                "name": names[key],
                "key": key,
                "layer": number,
                "kind": "weight" if key.endswith(".weight") else "bias",
                "shape": list(param.shape),
                "value": plain(param.data),
            }
        )
    sizes = [layers[0]["in"], *(layer["out"] for layer in layers)]
    return {"sizes": sizes, "layers": layers, "parameters": parameters}


def parameter_values(session: Session) -> dict[str, Any]:
    return {session.names[k]: plain(p.data) for k, p in session.model.named_parameters()}


def data(session: Session) -> dict[str, Any]:
    samples = session.samples
    X, y = samples.X_train, samples.y_train
    flat_y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
    points = None
    if X.shape[1] == 2:
        points = {"x": plain(X[:POINTS]), "y": plain(flat_y[:POINTS])}
    return {
        "name": samples.name,
        "source": samples.source,
        "task": samples.task,
        "features": samples.features,
        "target": samples.target,
        "classes": samples.classes,
        "n_samples": samples.n_samples,
        "n_train": len(X),
        "n_validation": 0 if samples.X_val is None else len(samples.X_val),
        "standardized": samples.standardized,
        "rows": {"x": plain(X[:ROWS]), "y": plain(flat_y[:ROWS])},
        "points": points,
    }


def grid(session: Session) -> dict[str, Any] | None:
    """The network's prediction over the plane of 2-D data (decision boundary or fit)."""
    X = session.samples.X_train
    if X.shape[1] != 2:
        return None
    low, high = X.min(axis=0), X.max(axis=0)
    margin = 0.1 * np.maximum(high - low, 1e-9)
    low, high = low - margin, high + margin
    centres = [low[k] + (np.arange(GRID) + 0.5) * (high[k] - low[k]) / GRID for k in range(2)]
    xs, ys = np.meshgrid(centres[0], centres[1])  # row r: the r-th y from the bottom
    points = np.column_stack([xs.ravel(), ys.ravel()])
    with no_grad():
        out = session.model(points).data
        if session.samples.task == "classification":
            output = session.setup["activations"][-1]
            probs = out if is_probability_output(output) else F.softmax(Tensor(out)).data
    result: dict[str, Any] = {
        "x_range": [float(low[0]), float(high[0])],
        "y_range": [float(low[1]), float(high[1])],
        "n": GRID,
    }
    if session.samples.task == "classification":
        result.update(
            kind="class",
            values=probs.argmax(axis=1).reshape(GRID, GRID).tolist(),
            confidence=plain(probs.max(axis=1).reshape(GRID, GRID)),
        )
    else:
        result.update(kind="value", values=plain(out[:, 0].reshape(GRID, GRID)), confidence=None)
    return result


def state(session: Session) -> dict[str, Any]:
    return {
        "session": session.key,
        "setup": session.setup,
        "data": data(session),
        "network": network(session),
        "epoch": session.epoch,
        "steps": session.steps,
        "loss": None if session.loss is None else plain(session.loss),
        "val_loss": None if session.val_loss is None else plain(session.val_loss),
        "grid": grid(session),
    }


def diagnostics(session: Session) -> list[dict[str, str]]:
    """What to notice now: the diagnostics of a step explained on the first rows."""
    count = LIMITS["max_step_samples"]
    X, y = session.samples.X_train[:count], session.samples.y_train[:count]
    step = explain(session.model, X, y, session.loss_fn, lr=session.setup["lr"])
    return [{"kind": f.kind, "where": f.where, "message": f.message} for f in step.diagnostics]


def gradient_norms(session: Session) -> list[dict[str, Any]]:
    """The size of each layer's weight gradient in the last batch trained on."""
    found = []
    for number, key, linear, _ in _layers(session):
        grad = linear.weight.grad
        norm = None if grad is None else plain(np.linalg.norm(grad))
        found.append({"layer": number, "param": session.names[f"{key}.weight"], "norm": norm})
    return found


def training_update(session: Session) -> dict[str, Any]:
    return {
        "epoch": session.epoch,
        "loss": None if session.loss is None else plain(session.loss),
        "val_loss": None if session.val_loss is None else plain(session.val_loss),
        "grad_norms": gradient_norms(session),
        "parameters": parameter_values(session),
        "grid": grid(session),
        "diagnostics": diagnostics(session),
    }
