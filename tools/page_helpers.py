"""Names the docs' examples may use in ``<!-- embed ... -->`` lines (not in shown code).

``section(step, "Loss")`` is one numbered section of an explanation, rendered as the HTML
report renders it (MathML formulas, matrices as tables), so a tutorial can put each part
of chainrule's real output beside the prose about it.
"""

from __future__ import annotations

from typing import Any

from chainrule.explain.document import Heading
from chainrule.explain.render_html import render_html_fragment


def section(step: Any, title: str, *, brief: bool = False) -> str:
    """The section of ``step`` whose heading contains ``title``, as HTML, without the heading.

    A section runs from its heading to the next heading of the same or a higher level
    (level 2: "Loss", "Backward pass"; level 3: "dE/dWho", "Matrix view"). Raises
    ValueError naming the headings there are when none matches, so a renamed section
    fails the build.
    """
    blocks = step.blocks(brief=brief)
    headings = [(i, b) for i, b in enumerate(blocks) if isinstance(b, Heading) and b.level >= 2]
    for i, heading in headings:
        if title.lower() in heading.text.lower():
            end = next(
                (j for j, b in headings if j > i and b.level <= heading.level), len(blocks)
            )
            return render_html_fragment(blocks[i + 1:end])
    known = [b.text for _, b in headings]
    raise ValueError(f"no section titled {title!r}; the sections are {known}")


HELPERS: dict[str, Any] = {"section": section}
