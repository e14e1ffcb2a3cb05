"""A small LaTeX-to-MathML translator for the formulas explanations show.

Browsers render MathML natively, so an HTML report shows real math with no
script and no network access. Only the LaTeX the explanations and the op
registry use is understood: ``\\frac``, sub- and superscripts, ``\\operatorname``,
``\\mathrm``, ``\\text``, ``\\mathbb``, ``\\left``/``\\right``, Greek letters and
a few symbols. Anything else is shown as plain text rather than dropped.
"""

from __future__ import annotations

import html
import re

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}^_]|[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?|[A-Za-z]|\s+|.")

_SYMBOLS = {
    "alpha": ("mi", "α"),
    "beta": ("mi", "β"),
    "delta": ("mi", "δ"),
    "Delta": ("mo", "Δ"),
    "eta": ("mi", "η"),
    "sigma": ("mi", "σ"),
    "theta": ("mi", "θ"),
    "lambda": ("mi", "λ"),
    "pi": ("mi", "π"),
    "partial": ("mo", "∂"),
    "sum": ("mo", "∑"),
    "top": ("mi", "⊤"),
    "odot": ("mo", "⊙"),
    "cdot": ("mo", "·"),
    "times": ("mo", "×"),
    "leftarrow": ("mo", "←"),
    "to": ("mo", "→"),
    "rightarrow": ("mo", "→"),
    "ldots": ("mo", "…"),
    "dots": ("mo", "…"),
    "cdots": ("mo", "⋯"),
    "vdots": ("mo", "⋮"),
    "ge": ("mo", "≥"),
    "le": ("mo", "≤"),
    "geq": ("mo", "≥"),
    "leq": ("mo", "≤"),
    "approx": ("mo", "≈"),
    "neq": ("mo", "≠"),
    "in": ("mo", "∈"),
    "infty": ("mi", "∞"),
    "{": ("mo", "{"),
    "}": ("mo", "}"),
    "|": ("mo", "‖"),
    "%": ("mo", "%"),
    "_": ("mi", "_"),
}
_FUNCTIONS = {"log", "exp", "tanh", "max", "min", "sigmoid", "diag", "softmax"}
# Function application, then a thin space: "log 0.8353", not "log0.8353".
_APPLY = '<mo>&#x2061;</mo><mspace width="0.17em"></mspace>'
_SPACES = {
    ",": "0.17em",
    ";": "0.28em",
    ":": "0.22em",
    "quad": "1em",
    "qquad": "2em",
    " ": "0.25em",
}


class _Parser:
    def __init__(self, latex: str) -> None:
        # Spaces are kept for \text{...}; everywhere else they are skipped.
        self.tokens = _TOKEN.findall(latex)
        self.pos = 0

    def _skip_spaces(self) -> None:
        while self.pos < len(self.tokens) and self.tokens[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str | None:
        self._skip_spaces()
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        self._skip_spaces()
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def raw_group(self) -> str:
        """The literal text of a ``{...}`` argument, spaces included (for \\text)."""
        if self.peek() != "{":
            return self.take() if self.peek() is not None else ""
        self.take()
        depth, parts = 1, []
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            self.pos += 1
            if token == "{":
                depth += 1
            elif token == "}":
                depth -= 1
                if depth == 0:
                    break
            parts.append(token)
        return "".join(parts)

    def sequence(self, stop: str | None = None) -> str:
        items = []
        while self.peek() is not None and self.peek() != stop:
            if self.peek() in ("^", "_"):  # a script with no base
                items.append(self.scripts("<mrow></mrow>"))
                continue
            token = self.peek()
            if token is not None and token.startswith("\\") and token[1:] in _FUNCTIONS:
                # \tanh^2 u: the power belongs to the function's name, applied to u after it.
                self.take()
                name = f'<mi mathvariant="normal">{token[1:]}</mi>'
                items.append(self.scripts(name) + _APPLY)
                continue
            items.append(self.scripts(self.atom()))
        if stop is not None and self.peek() == stop:
            self.take()
        return "".join(items)

    def argument(self) -> str:
        if self.peek() == "{":
            self.take()
            return f"<mrow>{self.sequence('}')}</mrow>"
        return self.atom() if self.peek() is not None else "<mrow></mrow>"

    def scripts(self, base: str) -> str:
        sub = sup = None
        while self.peek() in ("^", "_"):
            if self.take() == "^":
                sup = self.argument()
            else:
                sub = self.argument()
        if sub is not None and sup is not None:
            return f"<msubsup>{base}{sub}{sup}</msubsup>"
        if sub is not None:
            return f"<msub>{base}{sub}</msub>"
        if sup is not None:
            return f"<msup>{base}{sup}</msup>"
        return base

    def atom(self) -> str:
        token = self.take()
        if token == "{":
            return f"<mrow>{self.sequence('}')}</mrow>"
        if token.startswith("\\"):
            return self.command(token[1:])
        if token[0].isdigit():
            return f"<mn>{token}</mn>"
        if token.isalpha():
            return f"<mi>{token}</mi>"
        if token == "-":
            return "<mo>−</mo>"
        if token == "'":
            return "<mo>′</mo>"
        return f"<mo>{html.escape(token)}</mo>"

    def command(self, name: str) -> str:
        if name == "frac":
            top = self.argument()
            return f"<mfrac>{top}{self.argument()}</mfrac>"
        if name == "sqrt":
            return f"<msqrt>{self.argument()}</msqrt>"
        if name in ("operatorname", "mathrm"):
            text = html.escape(self.raw_group().replace("\\_", "_"))
            return f'<mi mathvariant="normal">{text}</mi>'
        if name == "text":
            # MathML trims the ends of <mtext>; no-break spaces keep "1 if x" apart.
            text = html.escape(self.raw_group())
            stripped = text.strip(" ")
            lead, trail = len(text) - len(text.lstrip(" ")), len(text) - len(text.rstrip(" "))
            return f"<mtext>{'&#160;' * lead}{stripped}{'&#160;' * trail}</mtext>"
        if name in ("mathbb", "mathbf"):
            text = html.escape(self.raw_group())
            variant = "double-struck" if name == "mathbb" else "bold"
            tag = "mn" if text.isdigit() else "mi"
            return f'<{tag} mathvariant="{variant}">{text}</{tag}>'
        if name in ("left", "right", "big", "Big", "bigl", "bigr"):
            delim = self.take() if self.peek() is not None else ""
            delim = delim.lstrip("\\") if delim in ("\\{", "\\}", "\\|") else delim
            return "" if delim == "." else f"<mo>{html.escape(delim)}</mo>"
        if name in _SPACES:
            return f'<mspace width="{_SPACES[name]}"></mspace>'
        if name in _FUNCTIONS:
            return f'<mi mathvariant="normal">{name}</mi>{_APPLY}'
        if name in _SYMBOLS:
            tag, char = _SYMBOLS[name]
            return f"<{tag}>{html.escape(char)}</{tag}>"
        return f"<mtext>\\{html.escape(name)}</mtext>"


def to_mathml(latex: str, display: bool = False) -> str:
    """``<math>...</math>`` for ``latex`` (block when ``display``)."""
    body = _Parser(latex).sequence()
    mode = ' display="block"' if display else ""
    # HTML5 knows the <math> element, so no namespace (and no URL) is needed.
    return f"<math{mode}><mrow>{body}</mrow></math>"
