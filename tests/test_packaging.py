"""Packaging promises: the core imports with NumPy alone, and the package ships its types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import chainrule

HEAVY = ("matplotlib", "pandas", "sklearn", "safetensors", "rich", "scipy", "PIL")


def test_core_import_loads_no_optional_dependency():
    code = (
        "import sys, chainrule as cr, numpy as np\n"
        "m = cr.nn.Sequential(cr.nn.Linear(2, 2), cr.nn.ReLU())\n"
        "cr.nn.MSELoss()(m(np.ones((1, 2), np.float32)), np.zeros((1, 2))).backward()\n"
        f"print(sorted(n for n in {HEAVY!r} if n in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_py_typed_marker_is_shipped():
    assert (Path(chainrule.__file__).parent / "py.typed").is_file()
