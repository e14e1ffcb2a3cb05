"""A studio set-up, checked: the data, the network and the loss a learner picked.

A set-up is plain data (the JSON the page sends, see docs/studio.md). :func:`normalise`
fills in the example's defaults and refuses a bad value with one line naming it;
:func:`build` makes the network and its loss from it. The choices offered come from
chainrule's registries: activations from :func:`chainrule.nn.activation_layers`,
initializers from :mod:`chainrule.init`, so a new activation appears without an edit here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule import init, nn
from chainrule.explain.examples import HOUSE_LR
from chainrule.ops import get_op

#: Bounds of a set-up, sent to the page in /api/options.
LIMITS: dict[str, Any] = {
    "max_hidden_layers": 6,
    "max_width": 256,
    "max_epochs": 100_000,
    "max_lr": 100.0,
    "max_upload_bytes": 1 << 20,
    "max_uploads": 16,
    "max_sessions": 16,
    "session_idle_seconds": 1800,
    "max_step_samples": 64,
    "max_steps": 1000,
    "max_seed": 2**32 - 1,
    "max_classes": 100,
    "max_parameters": 1_000_000,
}

#: The textbook initializer: weights and biases drawn from U[0, 1).
UNIT_UNIFORM = "unit-uniform"
#: PyTorch's rule for weights and biases, what ``nn.Linear`` does by default.
DEFAULT_INIT = "fan_in_uniform"
BIAS_KINDS: dict[str, Any] = {"vector": True, "shared": "shared", "none": False}
OPTIMIZERS = ("sgd", "adam")

#: Each loss by name: (label, task, constructor given whether the output is probabilities).
LOSSES: dict[str, tuple[str, str, Callable[[bool], Any]]] = {
    "half-sse": (
        "E = 1/2 sum (Y - O)^2",
        "regression",
        lambda probs: nn.MSELoss(reduction="sum", half=True),
    ),
    "mse": ("mean squared error", "regression", lambda probs: nn.MSELoss()),
    "cross-entropy": (
        "cross-entropy",
        "classification",
        lambda probs: nn.CrossEntropyLoss(from_probs=probs),
    ),
}


@dataclass(frozen=True)
class Example:
    """A built-in starting point: a worked example or a dataset of chainrule.data."""

    name: str
    kind: str  # "worked" or "dataset"
    task: str
    description: str
    load: dict[str, Any]  # keyword arguments for chainrule.data.load (with the seed as rng)
    defaults: dict[str, Any]


def _hidden_default() -> str:
    return nn.Tanh.command_name


def _probs_output() -> str:
    return nn.Softmax.command_name


def _examples() -> dict[str, Example]:
    """The examples by name; worked examples' defaults are those of chainrule explain."""
    sigmoid = nn.Sigmoid.command_name
    tanh, softmax = _hidden_default(), _probs_output()
    dataset = {"bias": "vector", "init": DEFAULT_INIT, "loss": "cross-entropy", "seed": 0}
    # Moons and circles: 500 noisy points of two classes in the plane, one set-up.
    two_classes_in_the_plane = {
        **dataset,
        "hidden": [16, 16],
        "activations": [tanh, tanh, softmax],
        "lr": 0.03,
        "optimizer": "adam",
        "sample": 0,
        "batch_size": 32,
        "validation": 0.2,
    }
    return {
        "softmax-classifier": Example(
            "softmax-classifier",
            "worked",
            "classification",
            "The worked example of chainrule explain softmax-classifier: a 2-3-2 network, "
            "one sample, cross-entropy.",
            {},
            {
                "hidden": [3],
                "activations": [sigmoid, _probs_output()],
                "bias": "vector",
                "init": DEFAULT_INIT,
                "loss": "cross-entropy",
                "lr": 0.02,
                "optimizer": "sgd",
                "seed": 0,
                "sample": None,
                "batch_size": None,
                "validation": 0.0,
            },
        ),
        "house-prices": Example(
            "house-prices",
            "worked",
            "regression",
            "The worked example of chainrule explain house-prices: a [4, 5, 1] sigmoid "
            "network, six houses, weights from U[0, 1), E = 1/2 sum (Y - O)^2.",
            {},
            {
                "hidden": [5],
                "activations": [sigmoid, sigmoid],
                "bias": "shared",
                "init": UNIT_UNIFORM,
                "loss": "half-sse",
                "lr": HOUSE_LR,
                "optimizer": "sgd",
                "seed": 0,
                "sample": None,
                "batch_size": None,
                "validation": 0.0,
            },
        ),
        "moons": Example(
            "moons",
            "dataset",
            "classification",
            "Two interleaving half circles, 500 points.",
            {"n_samples": 500, "noise": 0.15},
            dict(two_classes_in_the_plane),
        ),
        "circles": Example(
            "circles",
            "dataset",
            "classification",
            "A small circle inside a larger one, 500 points.",
            {"n_samples": 500, "noise": 0.1},
            dict(two_classes_in_the_plane),
        ),
        "xor": Example(
            "xor",
            "dataset",
            "classification",
            "The four points of XOR, which no straight line separates.",
            {},
            {
                **dataset,
                "hidden": [4],
                "activations": [tanh, softmax],
                "lr": 0.5,
                "optimizer": "sgd",
                "sample": None,
                "batch_size": None,
                "validation": 0.0,
            },
        ),
        "spirals": Example(
            "spirals",
            "dataset",
            "classification",
            "Three interleaved spiral arms, 600 points.",
            {"n_samples": 600},
            {
                **dataset,
                "hidden": [32, 32],
                "activations": [tanh, tanh, softmax],
                "lr": 0.02,
                "optimizer": "adam",
                "sample": 0,
                "batch_size": 32,
                "validation": 0.2,
            },
        ),
        "digits": Example(
            "digits",
            "dataset",
            "classification",
            "scikit-learn's 8x8 handwritten digits, 1797 images of 64 pixels, 10 classes.",
            {},
            {
                **dataset,
                "hidden": [32],
                "activations": [tanh, softmax],
                "lr": 0.01,
                "optimizer": "adam",
                "sample": 0,
                "batch_size": 32,
                "validation": 0.2,
            },
        ),
    }


EXAMPLES = _examples()
#: What an uploaded CSV starts from (the loss follows the target: see the data module).
UPLOAD_DEFAULTS: dict[str, Any] = {
    "hidden": [8],
    "activations": None,
    "bias": "vector",
    "init": DEFAULT_INIT,
    "lr": 0.01,
    "optimizer": "adam",
    "seed": 0,
    "sample": 0,
    "batch_size": 32,
    "validation": 0.2,
}


def initializer_names() -> list[str]:
    """Every initializer a set-up may name: the textbook one, then chainrule.init's."""
    return [UNIT_UNIFORM, *init.names()]


def activation_classes() -> dict[str, Any]:
    """Every activation layer class by its command-line name."""
    return {cls.command_name: cls for cls in nn.activation_layers()}


def is_probability_output(name: str | None) -> bool:
    """True for an output activation that gives a distribution over classes (softmax)."""
    if name is None:
        return False
    return not get_op(activation_classes()[name].op_name).elementwise


class SetupError(ValueError):
    """A set-up value out of range or unknown; the message names it and what is allowed."""


def _int(setup: dict[str, Any], key: str, low: int, high: int) -> int:
    value = setup[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SetupError(f"{key} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _choice(setup: dict[str, Any], key: str, allowed: list[str]) -> str:
    value = setup[key]
    if value not in allowed:
        raise SetupError(f"unknown {key} {value!r}; choose one of {', '.join(allowed)}")
    return str(value)


def normalise(setup: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``setup`` with every field present and checked (``defaults`` fills the gaps)."""
    full = {
        "steps": 0,
        **defaults,
        **{k: v for k, v in setup.items() if v is not None or k == "sample"},
    }
    if "sample" not in setup:
        full["sample"] = defaults.get("sample")
    hidden = full["hidden"]
    if not isinstance(hidden, list) or len(hidden) > LIMITS["max_hidden_layers"]:
        raise SetupError(
            f"hidden must be a list of at most {LIMITS['max_hidden_layers']} layer widths, "
            f"got {hidden!r}"
        )
    for width in hidden:
        if isinstance(width, bool) or not isinstance(width, int):
            raise SetupError(f"a layer width must be a whole number, got {width!r}")
        if not 1 <= width <= LIMITS["max_width"]:
            raise SetupError(f"a layer width must be from 1 to {LIMITS['max_width']}, got {width}")
    full["activations"] = _activations(full, setup.get("activations"), defaults)
    full["bias"] = _choice(full, "bias", list(BIAS_KINDS))
    full["init"] = _choice(full, "init", initializer_names())
    full["loss"] = _choice(full, "loss", list(LOSSES))
    full["optimizer"] = _choice(full, "optimizer", list(OPTIMIZERS))
    lr = full["lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr):
        raise SetupError(f"lr must be a finite number, got {lr!r}")
    if not 0 < lr <= LIMITS["max_lr"]:
        raise SetupError(f"lr must be above 0 and at most {LIMITS['max_lr']:g}, got {lr!r}")
    full["lr"] = float(lr)
    _int(full, "seed", 0, LIMITS["max_seed"])
    _int(full, "steps", 0, LIMITS["max_steps"])
    if full["sample"] is not None:
        _int(full, "sample", 0, 10**9)
    if full["batch_size"] is not None:
        _int(full, "batch_size", 1, 10**6)
    validation = full["validation"]
    if isinstance(validation, bool) or not isinstance(validation, (int, float)):
        raise SetupError(f"validation must be a fraction from 0 to 0.5, got {validation!r}")
    if not 0 <= validation <= 0.5:
        raise SetupError(f"validation must be a fraction from 0 to 0.5, got {validation!r}")
    full["validation"] = float(validation)
    return full


def _activations(full: dict[str, Any], chosen: Any, defaults: dict[str, Any]) -> list[str | None]:
    """One activation per layer: a list, or one name for every hidden layer.

    Not given: the example's hidden activation for every hidden layer (however many
    there are now) and its output activation.
    """
    n_layers = len(full["hidden"]) + 1
    known = activation_classes()
    hidden_ok = [cls.command_name for cls in nn.activation_layers(elementwise=True)]
    if chosen is None or isinstance(chosen, str):
        kept = list(defaults.get("activations") or [])
        hidden_name = chosen if isinstance(chosen, str) else (kept[:1] or [_hidden_default()])[0]
        output = kept[-1] if kept else None
        chosen = [hidden_name] * (n_layers - 1) + [output]
    if not isinstance(chosen, list) or len(chosen) != n_layers:
        raise SetupError(
            f"activations must list one activation per layer ({n_layers}: the hidden layers "
            f"and the output layer), got {chosen!r}"
        )
    for position, name in enumerate(chosen):
        output = position == n_layers - 1
        if name is None and output:
            continue
        if name not in known:
            raise SetupError(
                f"unknown activation {name!r}; choose one of {', '.join(sorted(known))}"
                + (" or null (none) for the output layer" if output else "")
            )
        if not output and name not in hidden_ok:
            raise SetupError(
                f"{name} acts on a whole row, so it can only be the output layer's activation; "
                f"a hidden layer takes one of {', '.join(hidden_ok)}"
            )
    return list(chosen)


def _initializers(name: str) -> dict[str, Any]:
    """Keyword arguments of nn.Linear for an initializer name."""
    if name == UNIT_UNIFORM:
        unit = init.uniform(0.0, 1.0)
        return {"init": unit, "bias_init": unit}
    if name == DEFAULT_INIT:
        return {}  # nn.Linear's own rule, for biases too (and the softmax example's draws)
    return {"init": name}


def build(setup: dict[str, Any], n_features: int, n_outputs: int) -> tuple[nn.Sequential, Any]:
    """The network and its loss for a normalised set-up, in float64.

    One generator, seeded with ``setup["seed"]``, draws every layer in order, as the
    worked examples do: so their default set-ups give exactly their weights.
    """
    rng = np.random.default_rng(setup["seed"])
    sizes = [n_features, *setup["hidden"], n_outputs]
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if count > LIMITS["max_parameters"]:
        raise SetupError(
            f"a {'-'.join(map(str, sizes))} network has {count:,} parameters, more than the "
            f"studio's {LIMITS['max_parameters']:,}; use fewer or narrower hidden layers"
        )
    classes = activation_classes()
    layers: list[nn.Module] = []
    for (fan_in, fan_out), name in zip(zip(sizes[:-1], sizes[1:]), setup["activations"]):
        layers.append(
            nn.Linear(
                fan_in,
                fan_out,
                bias=BIAS_KINDS[setup["bias"]],
                dtype=np.float64,
                rng=rng,
                **_initializers(setup["init"]),
            )
        )
        if name is not None:
            layers.append(classes[name]())
    output = setup["activations"][-1]
    label, task, make = LOSSES[setup["loss"]]
    if task == "classification" and output is not None and not is_probability_output(output):
        raise SetupError(
            f"{label} needs an output layer that gives class probabilities "
            f"({', '.join(n for n in classes if is_probability_output(n))}) or none (logits); "
            f"got {output}"
        )
    return nn.Sequential(*layers), make(is_probability_output(output))
