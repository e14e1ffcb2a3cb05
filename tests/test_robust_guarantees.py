"""The README's Guarantees section cites only tests and test files that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Guarantees")
    return text[start : text.index("\n## ", start + 1)]


def test_every_cited_test_exists():
    section = _section()
    defined = {
        name
        for path in (ROOT / "tests").glob("test_*.py")
        for name in re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M)
    }
    cited = set(re.findall(r"\b(test_\w+)(?!\.py)\b", section))
    assert cited, "no tests cited"
    assert cited <= defined, sorted(cited - defined)
    files = set(re.findall(r"(?:tests/)?(test_\w+\.py)", section))
    assert all((ROOT / "tests" / name).exists() for name in files), files
