"""Coming from the article: what a reader of the worked examples' source articles needs.

Both worked examples reproduce tutorial articles that write each sample as a column
(``Z1 = Wih^T X``) where chainrule, like NumPy and scikit-learn, writes it as a row
(``Z1 = X @ Wih + bih``). :func:`layout_blocks` sets the two layouts side by side with
the shapes of the step's own arrays; the erratum boxes say, kindly and with the
step's numbers, where each article goes wrong and what is right.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.document import Block, Box, Heading, Inline, Math, Para, Table
from chainrule.explain.fmt import num, tex_name
from chainrule.explain.trace import Trace, Value

TITLE = "Coming from the article"


def _product(*shapes: tuple[int, ...]) -> Math:
    """``5×4 @ 4×6 → 5×6``: the shapes of a product and of its result."""
    if len(shapes) == 1:
        return Math(_times(shapes[0]), "\\times ".join(str(n) for n in shapes[0]))
    *factors, result = (_times(s) for s in shapes)
    *tex_factors, tex_result = ("\\times ".join(str(n) for n in s) for s in shapes)
    return Math(
        " @ ".join(factors) + " → " + result,
        " \\mathbin{@} ".join(tex_factors) + " \\to " + tex_result,
    )


def _t(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of the transpose, as the column layout has it."""
    return tuple(reversed(shape))


def _value(trace: Trace, name: str) -> Value:
    return next(v for v in trace.values if v.name == name)


def _layers(trace: Trace) -> list[tuple[Value, Value, Value, Value | None]]:
    """(Z, input, W, b) of every Linear layer, in forward order."""
    found = []
    for value in trace.values:
        node = value.tensor.node
        if node is None or node.op.name != "linear":
            continue
        a, w = trace.of(node.inputs[0]), trace.of(node.inputs[1])
        b = trace.of(node.inputs[2]) if len(node.inputs) > 2 else None
        found.append((value, a, w, b))
    return found


def layout_blocks(trace: Trace) -> list[Block]:
    """The column layout of the article next to the row layout here, with real shapes."""
    x, loss = trace.input, trace.loss.name
    rows: list[list[Inline]] = [
        [Math(x.name, tex_name(x.name)), "article", "a column per sample", _product(_t(x.shape))],
        ["", "here", "a row per sample", _product(x.shape)],
    ]
    for z, a, w, b in _layers(trace):
        zn, an, wn = z.name, a.name, w.name
        z_t, a_t, w_t = tex_name(zn), tex_name(an), tex_name(wn)
        plus = f" + {b.name}" if b is not None else ""
        plus_tex = f" + {tex_name(b.name)}" if b is not None else ""
        rows += [
            [
                Math(zn, z_t),
                "article",
                Math(f"{zn} = {wn}^T {an}{plus}", f"{z_t} = {w_t}^\\top {a_t}{plus_tex}"),
                _product(_t(w.shape), _t(a.shape), _t(z.shape)),
            ],
            [
                "",
                "here",
                Math(f"{zn} = {an} @ {wn}{plus}", f"{z_t} = {a_t}\\,{w_t}{plus_tex}"),
                _product(a.shape, w.shape, z.shape),
            ],
        ]
        grad, delta = f"d{loss}/d{wn}", f"d{loss}/d{zn}"
        grad_tex = f"\\partial {tex_name(loss)}/\\partial {w_t}"
        delta_tex = f"\\partial {tex_name(loss)}/\\partial {z_t}"
        rows += [
            [
                Math(grad, grad_tex),
                "article",
                Math(f"{grad} = {an} ({delta})^T", f"{grad_tex} = {a_t}\\,({delta_tex})^\\top"),
                _product(_t(a.shape), z.shape, w.shape),
            ],
            [
                "",
                "here",
                Math(f"{grad} = {an}^T @ {delta}", f"{grad_tex} = {a_t}^\\top\\,{delta_tex}"),
                _product(_t(a.shape), z.shape, w.shape),
            ],
        ]
    return [
        Para(
            [
                "The article writes each sample as a column; here, as in NumPy and scikit-learn, "
                "each sample is a row. The weight matrices and their gradients are the same; "
                "every other matrix is the transpose of the article's, so a layer's product "
                "changes order and the transpose moves from the weights to the input:"
            ]
        ),
        Table(["", "where", "formula", "shapes"], rows),
    ]


def _gradient(trace: Trace, name: str) -> np.ndarray:
    value = _value(trace, name)
    assert value.param_key is not None
    return trace.gradients[value.param_key]


def house_prices_notes(trace: Trace, digits: int = 4) -> list[Block]:
    """The section for the house-prices article: layouts, then its three errata."""
    x, h1, z2 = trace.input, _value(trace, "h1"), _value(trace, "Z2")
    samples, features = x.shape
    delta2 = z2.grad
    assert delta2 is not None
    bias_out, bias_in = _gradient(trace, "bho"), _gradient(trace, "bih")
    bias_in_sum = _value(trace, "Z1").grad
    assert bias_in_sum is not None
    return [
        Heading(2, TITLE),
        *layout_blocks(trace),
        Box(
            "Erratum: the shapes of the input and of h1",
            [
                f"The article gives the input as a 4×5 matrix, yet lists {samples} houses of "
                f"{features} features: in its own column layout the input is "
                f"{_times(tuple(reversed(x.shape)))} ({_times(x.shape)} here, one "
                f"house per row). Likewise the hidden activation h1 is "
                f"{_times(tuple(reversed(h1.shape)))} there ({_times(h1.shape)} here), one "
                "column per house, not 5×5. The numbers are fine; only the stated sizes are off."
            ],
            kind="erratum",
        ),
        Box(
            "Erratum: a bias gradient is a sum over the samples",
            [
                "The article writes the bias gradient as the error signal itself, without saying "
                "that it is summed. A bias is added to every sample's pre-activation, so its "
                "gradient collects one term from each sample: ",
                Math("dE/dbho = sum(dE/dZ2)", "\\partial E/\\partial b_{ho} = \\sum \\delta_2"),
                f", the sum of {delta2.size} entries, here {num(bias_out.reshape(-1)[0], digits)}"
                f". The shared bias bih is added to all {bias_in_sum.size} entries of Z1, so ",
                Math("dE/dbih", "\\partial E/\\partial b_{ih}"),
                f" sums all of them: {num(bias_in.reshape(-1)[0], digits)}.",
            ],
            kind="erratum",
        ),
        Box(
            "Erratum: backpropagation does not change the output layer first",
            [
                "The article says backpropagation changes the layer nearest the output first and "
                'that it "converges faster" than forward propagation. The backward pass does '
                "compute the output layer's gradient first, because every earlier gradient "
                "reuses it; but no weight changes until all gradients are known, and then every "
                "layer changes in the same step (see Update). Nor is forward propagation a "
                "slower rival: each step needs both, the forward pass for the output and the "
                "loss, the backward pass for the gradients."
            ],
            kind="erratum",
        ),
    ]


def softmax_classifier_notes(trace: Trace, digits: int = 4) -> list[Block]:
    """The section for the classifier article: layouts, then the order of the updates."""
    x, h1, z2 = trace.input, _value(trace, "h1"), _value(trace, "Z2")
    who = _value(trace, "Who")
    delta2 = z2.grad
    assert delta2 is not None and who.param_key is not None
    new_who = trace.updated[who.param_key]
    slope = h1.data * (1 - h1.data)
    with_old = x.data.T @ ((delta2 @ who.data.T) * slope)
    with_new = x.data.T @ ((delta2 @ new_who.T) * slope)
    worst = int(np.argmax(np.abs(with_new - with_old)))
    index = np.unravel_index(worst, with_old.shape)
    entry = f"Wih[{index[0]},{index[1]}]"
    return [
        Heading(2, TITLE),
        *layout_blocks(trace),
        Box(
            "Erratum: derive every gradient before changing any weight",
            [
                "The article updates the output weights Who before it derives the hidden "
                "layer's gradients, which invites using the new Who in ",
                Math(
                    "dE/dh1 = dE/dZ2 @ Who^T",
                    "\\partial E/\\partial h_1 = \\delta_2\\,W_{ho}^\\top",
                ),
                ". The old Who is the right one: a gradient is the slope of the loss at the "
                "weights the forward pass used, and that is where every gradient of one step is "
                "taken. Here the new Who would give ",
                Math(f"dE/d{entry}", f"\\partial E/\\partial W_{{ih,{index[0]}{index[1]}}}"),
                f" = {num(with_new[index], digits + 2)} instead of "
                f"{num(with_old[index], digits + 2)}. "
                "So compute all gradients first, then update every layer at once, as the Update "
                "section does.",
            ],
            kind="erratum",
        ),
    ]


def _times(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)
