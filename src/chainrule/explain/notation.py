"""How values are written: names as formulas and each op's forward notation.

This is notation only (``Z1 = X @ Wih + bih``); derivatives come from the op
registry.
"""

from __future__ import annotations

from chainrule.explain.document import Math
from chainrule.explain.fmt import tex_name
from chainrule.explain.trace import Trace, Value

#: How each op's result is written in the forward pass (notation, not derivatives).
FORWARD: dict[str, tuple[str, str]] = {
    "linear": ("{X} @ {W} + {b}", "{X}\\,{W} + {b}"),
    "matmul": ("{A} @ {B}", "{A}\\,{B}"),
    "sigmoid": ("sigmoid({x})", "\\sigma({x})"),
    "tanh": ("tanh({x})", "\\tanh({x})"),
    "relu": ("relu({x})", "\\operatorname{{ReLU}}({x})"),
    "leaky_relu": ("leaky_relu({x})", "\\operatorname{{LeakyReLU}}({x})"),
    "softmax": ("softmax({x})", "\\operatorname{{softmax}}({x})"),
    "log_softmax": ("log_softmax({x})", "\\log\\operatorname{{softmax}}({x})"),
    "add": ("{a} + {b}", "{a} + {b}"),
    "sub": ("{a} - {b}", "{a} - {b}"),
    "mul": ("{a} * {b}", "{a} \\odot {b}"),
    "div": ("{a} / {b}", "\\frac{{{a}}}{{{b}}}"),
    "neg": ("-{x}", "-{x}"),
    "exp": ("exp({x})", "e^{{{x}}}"),
    "log": ("log({x})", "\\log {x}"),
    "sum": ("sum({x})", "\\sum {x}"),
    "mean": ("mean({x})", "\\operatorname{{mean}}({x})"),
    "max": ("max({x})", "\\max {x}"),
    "transpose": ("{x}^T", "{x}^\\top"),
    "reshape": ("reshape({x})", "\\operatorname{{reshape}}({x})"),
}


def name_math(name: str) -> Math:
    """A display name as an inline formula."""
    return Math(name, tex_name(name))


def forward_math(value: Value, trace: Trace) -> Math:
    """``Z1 = X @ Wih + bih`` for the op that made ``value``."""
    node = value.tensor.node
    assert node is not None
    inputs = [trace.of(t).name for t in node.inputs]
    op = node.op
    text_t, tex_t = FORWARD.get(
        op.name, (f"{op.name}({', '.join('{' + a + '}' for a in op.arg_names)})", "")
    )
    if op.name == "pow":
        text_t, tex_t = (
            "{x}^" + str(node.attrs["exponent"]),
            "{x}^{{" + str(node.attrs["exponent"]) + "}}",
        )
    text = text_t.format(**dict(zip(op.arg_names, inputs)))
    tex_template = (
        tex_t
        or "\\operatorname{{"
        + op.name.replace("_", "\\_")
        + "}}("
        + ", ".join("{" + a + "}" for a in op.arg_names)
        + ")"
    )
    latex = tex_template.format(**{a: tex_name(n) for a, n in zip(op.arg_names, inputs)})
    return Math(f"{value.name} = {text}", f"{tex_name(value.name)} = {latex}")
