"""The examples in the docstrings (``>>>``) run and print what they show."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
import warnings
from pathlib import Path

import pytest

import chainrule


def _modules_with_examples() -> list[str]:
    names = []
    for found in pkgutil.walk_packages(chainrule.__path__, "chainrule."):
        if found.name == "chainrule.__main__":  # runs the command line when imported
            continue
        spec = importlib.util.find_spec(found.name)
        origin = spec.origin if spec is not None else None
        if origin and origin.endswith(".py") and ">>>" in Path(origin).read_text("utf-8"):
            names.append(found.name)
    return names


MODULES = _modules_with_examples()


def test_some_docstrings_have_examples():
    assert {"chainrule.nn.utils", "chainrule.train", "chainrule.sklearn"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an example's ConvergenceWarning is not its output
        result = doctest.testmod(module, optionflags=flags, report=False, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
    assert result.attempted > 0
