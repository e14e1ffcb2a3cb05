"""The package's shape: no import cycles at run time, and the engine knows no op by name.

The layer order itself is import-linter's contract in pyproject.toml (``make test`` runs
``lint-imports``); docs/architecture.md explains it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import no_grad
from chainrule.nn.config import from_config
from chainrule.ops.registry import Formula, Op, Sample
from chainrule.tensor import apply

PACKAGE = Path(cr.__file__).parent


def _modules(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, whether it is a package's __init__)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Every node inside an ``if TYPE_CHECKING:`` block (types, not run-time imports)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for statement in node.body:
                inside.update(id(n) for n in ast.walk(statement))
    return inside


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at run time, at any depth of the file
    (imports inside functions count: they run when the function does). ``from a import b``
    is an import of ``a.b`` when that is a module, else of ``a``."""
    modules = _modules(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join([*here, base] if base else here)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None when the graph is acyclic
    (an iterative depth-first search, so deep graphs work)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in sorted(graph):
        if start in state:
            continue
        path = [start]
        state[start] = 1
        stack = [iter(sorted(graph[start]))]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(following) == 1:
                return [*path[path.index(following) :], following]
            elif following not in state:
                state[following] = 1
                path.append(following)
                stack.append(iter(sorted(graph[following])))
    return None


def test_the_package_has_no_import_cycle_at_run_time():
    graph = import_graph(PACKAGE, "chainrule")
    assert "chainrule.nn.sequential" in graph["chainrule.nn.config"]  # the graph is real
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _write_package(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        # an import inside a function is an import too
        (
            {"__init__.py": "", "a.py": "import pkg.b", "b.py": "def f():\n    from pkg import a"},
            {"pkg.a", "pkg.b"},
        ),
        # relative imports, a package's __init__ and three modules round
        (
            {
                "__init__.py": "from .sub import x\n",
                "sub/__init__.py": "from . import x\n",
                "sub/x.py": "from ..y import thing\n",
                "y.py": "from pkg import sub\n",
            },
            {"pkg.sub", "pkg.sub.x", "pkg.y"},
        ),
        # a name imported from a package is an import of the package
        (
            {"__init__.py": "from pkg.a import VALUE\n", "a.py": "from pkg import helper\n"},
            {"pkg", "pkg.a"},
        ),
    ],
)
def test_the_cycle_check_finds_cycles_through_any_kind_of_import(tmp_path, files, cycle):
    found = find_cycle(import_graph(_write_package(tmp_path, files), "pkg"))
    assert found is not None and found[0] == found[-1]
    assert set(found) == cycle and len(found) == len(cycle) + 1


def test_the_cycle_check_ignores_type_checking_imports_and_allows_one_way_imports(tmp_path):
    root = _write_package(
        tmp_path,
        {
            "__init__.py": "",
            "low.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pkg.high import H\n",
            "high.py": "from pkg.low import L\nfrom pkg import low\ndef f():\n    import pkg.low\n",
        },
    )
    graph = import_graph(root, "pkg")
    assert graph["pkg.high"] == {"pkg.low"} and graph["pkg.low"] == set()
    assert find_cycle(graph) is None


def _probe_op(name: str, always_record: bool) -> Op:
    return Op(
        name=name,
        arg_names=("x",),
        forward=lambda x: x * 2.0,
        vjps=(lambda grad, out, x: grad * 2.0,),
        formulas=(Formula("2", "2"),),
        sample=lambda rng, hint: Sample((rng.normal(size=hint),)),
        always_record=always_record,
    )


def test_whether_a_node_is_kept_without_gradients_is_the_op_entrys_choice():
    # The ops are made here, unregistered: the engine reads the entry, never a list of names.
    x = cr.tensor([1.0, 2.0])  # needs no gradient
    kept = apply(_probe_op("probe_kept", True), x)
    assert kept.node is not None and kept.node.op.name == "probe_kept"
    assert not kept.requires_grad
    assert apply(_probe_op("probe_dropped", False), x).node is None
    with no_grad():
        assert apply(_probe_op("probe_kept", True), x).node is None


def test_a_loss_looks_through_a_fused_sigmoid_when_no_gradient_is_needed():
    # Frozen parameters: the stack's node is kept only because its entry says always_record,
    # and BCELoss reads the logit (200) instead of log(1 - sigmoid(200)) = log(0).
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1), nn.Sigmoid())
    model[0].weight.data[...] = np.eye(2)
    model[2].weight.data[...] = 1.0
    for param in model.parameters():
        param.data[...] *= param.data.ndim == 2  # biases to zero
        param.requires_grad = False
    probs = model(np.array([[200.0, 0.0]], dtype=np.float32))
    assert probs.node is not None and probs.node.op.always_record
    assert probs.data[0, 0] == 1.0  # saturated in float32
    loss = nn.BCELoss()(probs, np.array([[0.0]], dtype=np.float32))
    assert loss.item() == pytest.approx(200.0)


def test_every_public_layer_type_can_be_rebuilt_from_its_config():
    # from_config finds the layer types without importing the nn package above it.
    public = {
        name
        for name in nn.__all__
        if isinstance(getattr(nn, name), type) and issubclass(getattr(nn, name), nn.Layer)
    } - {"Layer"}
    assert public == set(nn.LAYER_TYPES)
    for name in sorted(public):
        config = {"type": name, "in_features": 2, "out_features": 1} if name == "Linear" else None
        built = from_config(config or {"type": name})
        assert type(built) is getattr(nn, name)
    built = from_config({"type": "Sequential", "layers": [{"type": "Tanh"}]})
    assert type(built) is nn.Sequential
    for name, problem in (
        ("MSELoss", "is a loss"),
        ("Module", "is not a layer type"),
        ("FusedRun", "unknown module type"),
        ("_Activation", "unknown module type"),
    ):
        with pytest.raises(ValueError, match=problem):
            from_config({"type": name})
