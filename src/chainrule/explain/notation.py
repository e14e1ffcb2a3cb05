"""How values are written: names as formulas and each op's forward notation.

This is notation only (``Z1 = X @ Wih + bih``), read from each op's registry entry
(``Op.notation``) like its derivatives; an op without one is written ``name(x)``.
"""

from __future__ import annotations

from chainrule.explain.document import Math
from chainrule.explain.fmt import tex_name
from chainrule.explain.trace import Trace, Value


def name_math(name: str) -> Math:
    """A display name as an inline formula."""
    return Math(name, tex_name(name))


def forward_math(value: Value, trace: Trace) -> Math:
    """``Z1 = X @ Wih + bih`` for the op that made ``value``."""
    node = value.tensor.node
    assert node is not None
    inputs = [trace.of(t).name for t in node.inputs]
    op = node.op
    names = dict(zip(op.arg_names, inputs))
    tex_names = {a: tex_name(n) for a, n in zip(op.arg_names, inputs)}
    if op.formula_names is not None:  # what depends on attributes: pow's exponent
        extra = op.formula_names(**node.attrs)
        names.update(extra)
        tex_names.update(extra)
    if op.notation is not None:
        text_t, tex_template = op.notation.text, op.notation.latex
    else:
        args = ", ".join("{" + a + "}" for a in op.arg_names)
        text_t = f"{op.name}({args})"
        tex_template = "\\operatorname{{" + op.name.replace("_", "\\_") + "}}(" + args + ")"
    text = text_t.format(**names)
    latex = tex_template.format(**tex_names)
    return Math(f"{value.name} = {text}", f"{tex_name(value.name)} = {latex}")
