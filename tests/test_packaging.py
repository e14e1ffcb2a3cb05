"""Packaging promises: the core imports with NumPy alone, and the package ships its types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import chainrule

HEAVY = (
    "matplotlib", "pandas", "sklearn", "safetensors", "rich", "scipy", "PIL",
    "torch", "onnx", "onnxruntime", "dask",
)


def test_core_import_loads_no_optional_dependency():
    code = (
        "import sys, chainrule as cr, numpy as np\n"
        "m = cr.nn.Sequential(cr.nn.Linear(2, 2), cr.nn.ReLU())\n"
        "cr.nn.MSELoss()(m(np.ones((1, 2), np.float32)), np.zeros((1, 2))).backward()\n"
        # cr.explain also takes PyTorch models: telling which kind it got imports nothing.
        "cr.explain(m, np.ones((1, 2)), np.zeros((1, 2)), cr.nn.MSELoss())\n"
        f"print(sorted(n for n in {HEAVY!r} if n in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_py_typed_marker_is_shipped():
    assert (Path(chainrule.__file__).parent / "py.typed").is_file()


def test_a_sigmoid_network_trains_without_scipy():
    # SciPy is optional: without it the sigmoid takes its NumPy-only form.
    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "import chainrule as cr, numpy as np\n"
        "nn, L = cr.nn, cr.nn.Linear\n"
        "m = nn.Sequential(L(2, 3, rng=0), nn.Sigmoid(), L(3, 1, rng=1), nn.Sigmoid())\n"
        "x, y = np.eye(2, dtype=np.float32), np.array([[0.0], [1.0]], np.float32)\n"
        "opt = cr.optim.SGD(m.parameters(), lr=1.0)\n"
        "losses = []\n"
        "for _ in range(200):\n"
        "    opt.zero_grad(); loss = cr.nn.MSELoss()(m(x), y); loss.backward(); opt.step()\n"
        "    losses.append(loss.item())\n"
        "print(losses[-1] < losses[0] / 2, 'scipy.special' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "False"]


def test_the_bridges_say_how_to_install_what_they_need():
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
        "import chainrule as cr\n"
        "m = cr.nn.Sequential(cr.nn.Linear(2, 1))\n"
        "for call in (lambda: cr.to_torch(m), lambda: cr.from_torch(m),\n"
        "             lambda: cr.export_onnx(m, 'm.onnx')):\n"
        "    try:\n"
        "        call()\n"
        "    except ImportError as err:\n"
        "        print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        'the PyTorch bridge needs PyTorch: pip install "chainrule[torch]"',
        'the PyTorch bridge needs PyTorch: pip install "chainrule[torch]"',
        'ONNX export needs the onnx package: pip install "chainrule[onnx]"',
    ]
