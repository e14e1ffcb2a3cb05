"""The API reference: one page per public module, listing every public name.

A module's public names are its ``__all__``, or, without one, the functions and classes
it defines whose names do not start with ``_``. mkdocstrings renders each from its
docstring; ``tests/test_docs.py`` checks that every public name has its entry.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import types

#: (module, title, what the page is for) in the order of the navigation.
REFERENCE: list[tuple[str, str, str]] = [
    ("chainrule", "chainrule", "the names `import chainrule as cr` gives"),
    ("chainrule.nn", "chainrule.nn", "layers, activations, losses and containers"),
    ("chainrule.nn.utils", "chainrule.nn.utils", "between backward() and the step"),
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


def shadowed(module_name: str, name: str) -> str | None:
    """The defining path of a public name the reference cannot find where it is exported.

    ``chainrule.fit`` is the function ``fit`` of the module ``chainrule.train.fit``; the
    reference reads the source, where the module's name wins, so such a name is
    documented at the path where it is defined (``chainrule.train.fit.fit``). So is a name
    a module gives only on demand (``chainrule.bridges.SharedBias``, which imports PyTorch).
    """
    module = importlib.import_module(module_name)
    lazy = name not in vars(module)  # given by the module's __getattr__ on demand
    value = getattr(module, name)
    defined_in = getattr(value, "__module__", None)
    if not isinstance(defined_in, str) or not hasattr(value, "__qualname__"):
        return None
    is_package = hasattr(module, "__path__")
    if lazy or defined_in.endswith(f".{name}") or (
        is_package and importlib.util.find_spec(f"{module_name}.{name}") is not None
    ):
        return f"{defined_in}.{value.__qualname__}"
    return None


def reference_markdown(module_name: str) -> str:
    """The Markdown of one reference page (mkdocstrings expands the ``:::`` lines)."""
    title, purpose = next((t, p) for m, t, p in REFERENCE if m == module_name)
    names = public_names(module_name)
    apart = {name: path for name in names if (path := shadowed(module_name, name))}
    members = "\n".join(f"        - {name}" for name in names if name not in apart)
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
    for path in apart.values():
        lines += [
            f"::: {path}",
            "    options:",
            "      show_root_heading: true",
            "      show_root_full_path: false",
            "",
        ]
    if module_name == "chainrule.ops":
        lines[2] = (
            "The registry's types. Every registered op, with its formulas, is on the "
            "[op reference](../ops.md)."
        )
    return "\n".join(lines)
