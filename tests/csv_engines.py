"""Run CSV reader tests with pandas installed and as on a core install without it.

``read_csv`` parses with pandas' C parser when pandas can be imported, and with Python's
csv module and NumPy when it cannot; both must read the same files to the same arrays
and refuse the same files with the same messages.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ENGINES = ("pandas", "numpy")


@contextmanager
def csv_engine(name: str) -> Iterator[str]:
    """Within the block, ``import pandas`` fails when ``name`` is "numpy"."""
    with pytest.MonkeyPatch.context() as patch:
        if name == "numpy":
            patch.setitem(sys.modules, "pandas", None)
        yield name


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test, with each engine. Ask for it with ``pytest.mark.usefixtures("engine")``:
    hypothesis minds only the fixtures a test names as arguments, and this one is meant
    to last through all of a test's examples."""
    with csv_engine(request.param) as name:
        yield name
