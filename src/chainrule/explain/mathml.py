"""A small LaTeX-to-MathML translator for the formulas explanations show.

Browsers render MathML natively, so an HTML report shows real math with no
script and no network access. Only the LaTeX the explanations and the op
registry use is understood: ``\\frac``, sub- and superscripts, ``\\operatorname``,
``\\mathrm``, ``\\text``, ``\\mathbb``, ``\\left``/``\\right``, Greek letters and
a few symbols. Anything else is shown as plain text rather than dropped.

Display formulas (``display=True``) are set at full size. Inline, a fraction of two
single terms is written with a slash (``∂E/∂W``), as textbooks set it in running text,
and any other fraction keeps its full size: a browser would otherwise shrink its
numerator and denominator to script size, about 8 px. A script after a closing
parenthesis applies to the whole parenthesised group, so ``(O - Y)^2`` is squared as
one.
"""

from __future__ import annotations

import html
import re

from chainrule.explain.fmt import latex_numbers, tex_index, tex_name

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


#: A single term: an optional \partial, one name or number, optional scripts.
_SIMPLE = re.compile(
    r"^(\\partial)?(\\[A-Za-z]+|[A-Za-z]|[0-9.]+)(_(\{[^{}]*\}|[A-Za-z0-9]))?"
    r"(\^(\{[^{}]*\}|[A-Za-z0-9]|\\top))?$"
)
_OPENING = ("(", "[", "\\left")
_CLOSING = (")", "]", "\\right")


class _Parser:
    def __init__(self, latex: str, display: bool = False) -> None:
        # Spaces are kept for \text{...}; everywhere else they are skipped.
        self.tokens = _TOKEN.findall(latex)
        self.pos = 0
        self.display = display

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
        items: list[str] = []
        opened: list[int] = []  # where each open parenthesis starts in items
        while self.peek() is not None and self.peek() != stop:
            token = self.peek()
            if token in ("^", "_"):  # a script with no base
                items.append(self.scripts("<mrow></mrow>"))
                continue
            if token is not None and token.startswith("\\") and token[1:] in _FUNCTIONS:
                # \tanh^2 u: the power belongs to the function's name, applied to u after it.
                self.take()
                name = f'<mi mathvariant="normal">{token[1:]}</mi>'
                items.append(self.scripts(name) + _APPLY)
                continue
            atom = self.atom()
            if token in _OPENING:
                opened.append(len(items))
            elif token in _CLOSING and opened:
                start = opened.pop()
                if self.peek() in ("^", "_"):
                    # (O - Y)^2: the script belongs to the group, not to ")".
                    group = "<mrow>" + "".join(items[start:]) + atom + "</mrow>"
                    del items[start:]
                    items.append(self.scripts(group))
                    continue
            items.append(self.scripts(atom))
        if stop is not None and self.peek() == stop:
            self.take()
        return "".join(items)

    def raw_argument(self) -> tuple[str, str]:
        """(MathML, LaTeX source) of the next argument."""
        self._skip_spaces()
        start = self.pos
        markup = self.argument()
        source = "".join(self.tokens[start : self.pos]).strip()
        if source.startswith("{") and source.endswith("}"):
            source = source[1:-1]
        return markup, "".join(source.split())

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
            top, top_tex = self.raw_argument()
            bottom, bottom_tex = self.raw_argument()
            if self.display:
                return f"<mfrac>{top}{bottom}</mfrac>"
            if _SIMPLE.match(top_tex) and _SIMPLE.match(bottom_tex):
                slash = '<mo lspace="0.05em" rspace="0.05em" stretchy="false">/</mo>'
                return f"<mrow>{top}{slash}{bottom}</mrow>"
            return f'<mfrac displaystyle="true">{top}{bottom}</mfrac>'
        if name == "mathbin":
            return f"<mo>{html.escape(self.raw_group())}</mo>"
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
    """``<math>...</math>`` for ``latex`` (a display formula, at full size, when ``display``).

    Numbers written ``1.29e-07`` are set as ``1.29 × 10⁻⁷``.
    """
    body = _Parser(latex_numbers(latex), display).sequence()
    mode = ' display="block"' if display else ""
    # HTML5 knows the <math> element, so no namespace (and no URL) is needed.
    return f"<math{mode}><mrow>{body}</mrow></math>"


# Running text (paragraphs, headings, table cells) names values and writes small
# formulas in ASCII: "h1^T", "dE/dWho", "Who[j,k]", "O_i (delta_ij - O_j)", "sum_k".
# In HTML each of them is set as math, like the formulas beside it.
_PROSE = re.compile(
    r"(?P<partial>\bd(?P<top>[A-Za-z][A-Za-z0-9]*)/d(?P<bottom>[A-Za-z][A-Za-z0-9]*)"
    r"(?:\[(?P<pidx>[a-z0-9]+(?:, ?[a-z0-9]+)*)\])?)"
    r"|(?P<sum>\bsum_(?P<over>[a-z])\b)"
    r"|(?P<delta>\bdelta_?(?P<dsub>[a-z0-9]*)\b)"
    r"|(?P<base>\b[A-Za-z][A-Za-z0-9]*)(?:(?P<transposed>\^T\b)"
    r"|\[(?P<idx>[a-z0-9]+(?:, ?[a-z0-9]+)*)\]|_(?P<sub>[a-z0-9]+)\b)"
    r"|(?P<word>\b[A-Za-z][A-Za-z0-9]*\b)"
    r"|(?P<arrow> -> )"
)


def _index(text: str) -> str:
    parts = [p.strip() for p in text.split(",")]
    return "".join(parts) if all(len(p) == 1 for p in parts) else ",".join(parts)


def _prose_latex(match: re.Match[str], names: frozenset[str]) -> str | None:
    """The LaTeX of one formula-like piece of running text, or None for a plain word."""
    if match["partial"]:
        bottom = match["bottom"]
        below = tex_index(bottom, _index(match["pidx"])) if match["pidx"] else tex_name(bottom)
        return f"\\frac{{\\partial {tex_name(match['top'])}}}{{\\partial {below}}}"
    if match["sum"]:
        return f"\\sum_{{{match['over']}}}"
    if match["delta"]:
        sub = match["dsub"]
        return f"\\delta_{{{sub}}}" if sub else "\\delta"
    if match["base"]:
        base = match["base"]
        if match["transposed"]:
            return f"{tex_name(base)}^\\top"
        if match["idx"]:
            return tex_index(base, _index(match["idx"]))
        return f"{tex_name(base)}_{{{match['sub']}}}"
    if match["word"] in names:
        return tex_name(match["word"])
    return None


def prose_to_html(text: str, names: frozenset[str] = frozenset()) -> str:
    """Running text as HTML, its formula-like pieces (and the value ``names``) as MathML."""
    out: list[str] = []
    end = 0
    for match in _PROSE.finditer(text):
        if match["arrow"]:
            latex: str | None = None
            replacement = " → "
        else:
            latex = _prose_latex(match, names)
            if latex is None:
                continue
            replacement = to_mathml(latex)
        out.append(html.escape(text[end : match.start()]))
        out.append(replacement if latex is not None else html.escape(replacement))
        end = match.end()
    out.append(html.escape(text[end:]))
    return "".join(out)


#: Operators a long display formula may be broken after (outside any group).
_BREAKS = ("=", "+", "\\cdot", "\\odot", "\\approx")


def display_pieces(latex: str) -> list[str]:
    """``latex`` cut after each top-level ``=``, ``+``, ``\\cdot`` or ``\\odot``.

    MathML has no line breaking in browsers, so a display formula wider than the page
    is written as several ``<math>`` pieces that wrap like words.
    """
    tokens = _TOKEN.findall(latex)
    pieces: list[str] = []
    current: list[str] = []
    depth = 0
    for k, token in enumerate(tokens):
        current.append(token)
        if token in ("{", "(", "[", "\\left"):
            depth += 1
        elif token in ("}", ")", "]", "\\right"):
            depth = max(0, depth - 1)
        elif depth == 0 and token in _BREAKS:
            after = "".join(tokens[k + 1 :]).strip()
            before = "".join(current[:-1]).strip()
            if before and after and not after.startswith(("^", "_")):
                pieces.append("".join(current).strip())
                current = []
    rest = "".join(current).strip()
    if rest:
        pieces.append(rest)
    return pieces or [latex]
