"""An activation is declared once: its op and its layer class, and nothing else.

The generic tests below enumerate the activation layers (``nn.ACTIVATION_LAYERS``)
and check that each is wired everywhere a user meets it: gradient check, fusion,
explanation, model files, command-line choices, the gradient-flow chart and LaTeX
that renders. They run again for a Softplus activation defined in this module at
run time (an op and a layer, nothing else), which proves that a new activation
needs no table edited by hand. A last test holds the rule itself: no module outside
``ops/``, ``nn/`` and the scikit-learn name mapping spells an activation's name.
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.cli import build_parser
from chainrule.explain.mathml import to_mathml
from chainrule.nn.activations import _Activation
from chainrule.nn.fusion import fusion
from chainrule.ops import REGISTRY, Formula, Op, Sample, register
from chainrule.ops.fused import fusable_activations
from chainrule.tensor import Tensor
from chainrule.viz.charts import activation_style
from chainrule.viz.vanishing import activation_names, gradient_flow

SRC = Path(cr.__file__).parent
NEW = "softplus"  # the activation this module declares at run time


def _softplus_op() -> Op:
    return Op(
        name=NEW,
        role="activation",
        notation=Formula("softplus({x})", "\\operatorname{{softplus}}({x})"),
        gate="scales the gradient by the softplus's slope, between 0 and 1",
        arg_names=("x",),
        forward=lambda x: np.logaddexp(np.zeros((), x.dtype), x),
        vjps=(lambda grad, out, x: grad * (1.0 - np.exp(-out)),),
        formulas=(Formula("1 - exp(-{out})", "1 - e^{{-{out}}}"),),
        sample=lambda rng, hint: Sample((rng.normal(scale=2.0, size=hint),)),
        elementwise=True,
        description="log(1 + e^x)",
    )


def _forget(name: str, layer: str) -> None:
    REGISTRY.pop(name, None)
    nn.ACTIVATION_LAYERS.pop(name, None)
    nn.LAYER_TYPES.pop(layer, None)


@pytest.fixture(scope="module")
def softplus() -> Iterator[type]:
    """A Softplus op and layer, declared as a contributor would in ops/ and nn/."""
    register(_softplus_op())

    class Softplus(_Activation):
        """log(1 + e^z), elementwise."""

        __module__ = "chainrule.nn.activations"  # as if defined there
        op_name = NEW

    try:
        yield Softplus
    finally:
        _forget(NEW, "Softplus")


ACTIVATIONS = [*nn.ACTIVATION_LAYERS, NEW]


@pytest.fixture(params=ACTIVATIONS)
def layer(request: pytest.FixtureRequest) -> type:
    """Each activation layer class, and the one declared here."""
    if request.param == NEW:
        return request.getfixturevalue("softplus")
    return nn.ACTIVATION_LAYERS[request.param]


def _network(layer: type, seed: int = 0) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(3, 4, dtype=np.float64, rng=seed),
        layer(),
        nn.Linear(4, 2, dtype=np.float64, rng=seed + 1),
        layer(),
    )


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(5, 3)), rng.normal(size=(5, 2))


def test_the_activation_is_declared_in_its_op_and_layer(layer):
    op = REGISTRY[layer.op_name]
    assert op.role == "activation" and nn.ACTIVATION_LAYERS[op.name] is layer
    assert nn.LAYER_TYPES[layer.__name__] is layer
    assert op.notation is not None and op.gate
    assert layer.fusable == op.fusable == (op.name in fusable_activations())


def test_gradcheck_through_the_layer(layer):
    x = Tensor(_data()[0], requires_grad=True)
    model = _network(layer)
    with fusion(False):
        assert cr.gradcheck(lambda t: model(t), [x])


def test_fused_and_unfused_runs_agree_bit_for_bit(layer):
    if not layer.fusable:
        pytest.skip(f"{layer.__name__} is not fusable")
    x, y = _data()
    results = []
    for fused in (True, False):
        model = _network(layer)
        with fusion(fused):
            loss = nn.MSELoss()(model(x), y)
            loss.backward()
        results.append((loss.data, [p.grad for p in model.parameters()]))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert np.array_equal(loss_a, loss_b)
    assert all(np.array_equal(a, b) for a, b in zip(grads_a, grads_b, strict=True))


def test_the_explanation_names_and_describes_the_activation(layer):
    op = REGISTRY[layer.op_name]
    x, y = _data()
    explanation = cr.explain(_network(layer), x, y, nn.MSELoss(), lr=0.1)
    text = " ".join(explanation.to_text().split())  # as one line, whatever the wrapping
    assert "h1 = " + op.notation.text.format(x="Z1") in text  # named as a textbook does
    assert op.gate in text
    assert "<mtext>\\" not in explanation.render("html")  # no LaTeX left unknown


def test_a_model_file_round_trips(layer, tmp_path):
    model = _network(layer)
    cr.save(model, tmp_path / "model.safetensors")
    loaded = cr.load(tmp_path / "model.safetensors")
    x = _data()[0]
    assert [type(m) for m in loaded] == [type(m) for m in model]
    assert np.array_equal(loaded(x).data, model(x).data)


def _choices(command: str, option: str) -> list[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in commands.choices[command]._actions if option in a.option_strings)
    return list(action.choices)


def test_the_commands_offer_the_activation(layer):
    name = layer.command_name
    assert name == layer.op_name.replace("_", "-")
    hidden = REGISTRY[layer.op_name].elementwise
    assert (name in _choices("train", "--activation")) == hidden
    assert (name in _choices("explain", "--hidden")) == hidden
    assert name in _choices("explain", "--output")


def test_the_gradient_flow_chart_draws_the_activation(layer, tmp_path):
    if not REGISTRY[layer.op_name].elementwise:
        assert layer.op_name not in activation_names()
        return
    label, colour = activation_style(layer.op_name)
    assert label == layer.__name__ and re.fullmatch("#[0-9a-f]{6}", colour)
    flow = gradient_flow(activations=(layer.op_name,), depth=2, width=4, samples=8)
    assert label in flow.to_text()
    pytest.importorskip("matplotlib")
    assert flow.plot(tmp_path / "flow.svg").stat().st_size > 0


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_formula_of_the_registry_renders_with_no_unknown_command(name):
    """Each op's derivatives and notation, with real names, become MathML with no
    command left as raw text (the converter shows an unknown one as ``\\name``)."""
    op = REGISTRY[name]
    sample = op.sample(np.random.default_rng(0), (2, 3))
    names = {arg: "Z_{1}" for arg in op.arg_names} | {"out": "h_{1}"}
    if op.formula_names is not None:
        names |= op.formula_names(**sample.attrs)
    templates = [f for f in (*op.formulas, op.notation) if f is not None]
    for formula in templates:
        mathml = to_mathml(formula.render(names, latex=True))
        assert "<mtext>\\" not in mathml, (name, formula.latex)


@pytest.mark.parametrize("function", ["tanh", "log", "exp"])
def test_a_power_of_a_function_belongs_to_its_name(function):
    # \tanh^2 u is (tanh u)^2: the 2 sits on the name, the argument follows the function.
    mathml = to_mathml(f"\\{function}^2 u")
    assert (
        f'<msup><mi mathvariant="normal">{function}</mi><mn>2</mn></msup>'
        '<mo>&#x2061;</mo><mspace width="0.17em"></mspace><mi>u</mi>'
    ) in mathml


def test_pi_is_a_letter():
    assert to_mathml("2\\pi") == "<math><mrow><mn>2</mn><mi>π</mi></mrow></math>"


def test_an_op_the_fused_layers_cannot_run_is_refused_as_fusable():
    """The fused ops keep only each layer's Z: an op that saves values cannot be fused."""
    saving = Op(
        name="saving_activation",
        role="activation",
        arg_names=("x",),
        forward=lambda x: (np.tanh(x), {"kept": x}),
        vjps=(lambda grad, out, x, kept: grad * (1.0 - out * out),),
        formulas=(Formula("1 - {out}^2", "1 - {out}^2"),),
        sample=lambda rng, hint: Sample((rng.normal(size=hint),)),
        elementwise=True,
        saves=True,
    )
    register(saving)
    try:
        assert not saving.fusable and "saves" in (saving.not_fusable_because() or "")

        class _Quiet(_Activation):  # fusable from the op: no
            op_name = "saving_activation"

        assert _Quiet.fusable is False
        with pytest.raises(TypeError, match=r"fusable = True.*saves values"):

            class _Claims(_Activation):
                op_name = "saving_activation"
                fusable = True

        with pytest.raises(TypeError, match="not an activation"):

            class _NotOne(_Activation):
                op_name = "add"
    finally:
        REGISTRY.pop("saving_activation")


# -- the rule: knowledge of particular activations lives in ops/ and nn/ only ------------
# Outside them, code reaches an activation through its op's fields or its layer class.
# Allowed: the scikit-learn name mapping (scikit-learn's own names), the public function
# or Tensor method named after its op (e.g. ``functional.sigmoid`` calls ``"sigmoid"``),
# and LaTeX's own function names in the MathML converter (``\tanh`` is a LaTeX command).
_ALLOWED_FILES = {"sklearn.py", "_sklearn_base.py", "_sklearn_support.py"}
_LATEX_TABLES = {("explain/mathml.py", "_FUNCTIONS")}


def _activation_names() -> set[str]:
    names = set()
    for op in REGISTRY.values():
        if op.role == "activation":
            names |= {op.name, op.name.replace("_", "-")}
    for cls in nn.ACTIVATION_LAYERS.values():
        names |= {cls.command_name, cls.__name__}
    return names


def _allowed_spans(path: str, tree: ast.Module) -> dict[int, str]:
    """Lines where a name may appear, each with the name allowed there."""
    spans: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                spans.setdefault(line, node.name)
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and (path, target.id) in _LATEX_TABLES:
                    for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                        spans[line] = "*"
    return spans


def _spelled_names(names: set[str]) -> list[str]:
    found = []
    for file in sorted(SRC.rglob("*.py")):
        path = file.relative_to(SRC).as_posix()
        if path.startswith(("ops/", "nn/")) or path in _ALLOWED_FILES:
            continue
        tree = ast.parse(file.read_text(encoding="utf-8"))
        spans = _allowed_spans(path, tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names:
                allowed = spans.get(node.lineno)
                if allowed not in ("*", node.value):
                    found.append(f"src/chainrule/{path}:{node.lineno}: {node.value!r}")
    return found


def test_no_module_outside_ops_and_nn_spells_an_activation_name():
    found = _spelled_names(_activation_names())
    assert not found, (
        "these lines name an activation; read it from the op (role, notation, gate) or the "
        "layer class (nn.ACTIVATION_LAYERS) instead:\n" + "\n".join(found)
    )


def test_the_rule_catches_a_table_written_by_hand(tmp_path, monkeypatch):
    """The scan finds a name used as a key, a default or in a comparison."""
    package = tmp_path / "chainrule"
    (package / "explain").mkdir(parents=True)
    (package / "explain" / "table.py").write_text(
        '"""Docstrings may say sigmoid."""\n'
        'COLOURS = {"sigmoid": "#c0392b"}\n'
        'def tanh(x):\n    return ("tanh", x)\n'
        'def other(op):\n    return op == "leaky-relu"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(f"{__name__}.SRC", package)
    found = _spelled_names(_activation_names())
    assert found == [
        "src/chainrule/explain/table.py:2: 'sigmoid'",
        "src/chainrule/explain/table.py:6: 'leaky-relu'",
    ]
