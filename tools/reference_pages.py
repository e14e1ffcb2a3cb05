"""The API reference: one page per public module, listing every public name.

A module's public names are its ``__all__``, or, without one, the functions and classes
it defines whose names do not start with ``_``. mkdocstrings renders each from its
docstring; ``tests/test_docs.py`` checks that every public name has its entry.
"""

from __future__ import annotations

import importlib
import inspect
import types

#: (module, title, what the page is for) in the order of the navigation.
REFERENCE: list[tuple[str, str, str]] = [
    ("chainrule", "chainrule", "the names `import chainrule as cr` gives"),
    ("chainrule.nn", "chainrule.nn", "layers, activations, losses and containers"),
    ("chainrule.functional", "chainrule.functional", "functions on tensors, one per op"),
    ("chainrule.init", "chainrule.init", "weight initializers"),
    ("chainrule.optim", "chainrule.optim", "optimizers"),
    ("chainrule.train", "chainrule.train", "fit, History, callbacks, schedules, metrics"),
    ("chainrule.data", "chainrule.data", "CSV files, scaling, splits, datasets"),
    ("chainrule.explain", "chainrule.explain", "explanations of one training step"),
    ("chainrule.viz", "chainrule.viz", "pictures: curves, gradient flow, animations"),
    ("chainrule.io", "chainrule.io", "model files"),
    ("chainrule.sklearn", "chainrule.sklearn", "scikit-learn estimators"),
    ("chainrule.bridges", "chainrule.bridges", "PyTorch and ONNX"),
    ("chainrule.ops", "chainrule.ops", "the op registry's types (the ops: the op reference)"),
    ("chainrule.check", "chainrule.check", "the gradient check"),
    ("chainrule.random", "chainrule.random", "the seedable source of randomness"),
]


def public_names(module_name: str) -> list[str]:
    """The public names of a module, modules aside (each has a page of its own)."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module_name
        ]
    return [
        name
        for name in names
        if not name.startswith("__") and not isinstance(getattr(module, name), types.ModuleType)
    ]


def reference_markdown(module_name: str) -> str:
    """The Markdown of one reference page (mkdocstrings expands the ``:::`` line)."""
    title, purpose = next((t, p) for m, t, p in REFERENCE if m == module_name)
    names = public_names(module_name)
    members = "\n".join(f"        - {name}" for name in names)
    lines = [
        f"# `{title}`",
        "",
        f"{purpose[0].upper()}{purpose[1:]}.",
        "",
        f"::: {module_name}",
        "    options:",
        "      members:",
        members,
        "",
    ]
    if module_name == "chainrule.ops":
        lines[2] = (
            "The registry's types. Every registered op, with its formulas, is on the "
            "[op reference](../ops.md)."
        )
    return "\n".join(lines)
