"""The examples in the docstrings (``>>>``) run and print what they show."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
import tempfile
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
    # Files the examples write, in the folder or in temporary ones, go into tmp_path.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    with warnings.catch_warnings():
        # An estimator example trained for a few epochs warns that it did not converge:
        # what the example shows is its result, not that warning.
        warnings.filterwarnings("ignore", message=".*Maximum iterations", category=UserWarning)
        result = doctest.testmod(module, optionflags=flags, report=False, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
    assert result.attempted > 0
