"""The documentation: the README's examples run, the site builds with no warning, and
the site holds what it promises (every public name, the op registry, offline pages).

Building the site runs every example of every page (tools/markdown_examples.py) and
writes the op and API references from the code (tools/mkdocs_hooks.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from markdown_examples import ExampleError, python_blocks, run_markdown  # noqa: E402
from op_reference import users  # noqa: E402
from reference_pages import REFERENCE, public_names, shadowed  # noqa: E402

from chainrule.ops import REGISTRY  # noqa: E402


# -- the runner ----------------------------------------------------------------------------
def test_python_blocks_run_in_order_in_one_namespace_and_shown_output_follows():
    text = (
        "# t\n\n```python\nx = 2\n```\n\n<!-- show output -->\n```python\nprint(x * 21)\n```\n"
        "\n```sh\nrm -rf /definitely/not/run\n```\n"
    )
    out = run_markdown(text, "t.md")
    assert '```text title="output"\n42\n```' in out
    assert out.index("print(x * 21)") < out.index("42\n```")


@settings(max_examples=25, deadline=None)
@given(before=st.integers(0, 6), after=st.integers(0, 6), blank=st.integers(0, 3))
def test_a_failing_example_is_named_by_file_and_line(before, after, blank):
    lines = ["intro", *[""] * blank, "```python"]
    lines += [f"a{i} = {i}" for i in range(before)]
    failing = len(lines) + 1  # 1-based line of the statement that raises
    lines += ["raise RuntimeError('broken example')"]
    lines += [f"b{i} = {i}" for i in range(after)]
    lines += ["```", ""]
    with pytest.raises(ExampleError, match=rf"^page\.md:{failing}: .*RuntimeError: broken example"):
        run_markdown("\n".join(lines), "page.md")


def test_skip_runs_nothing_and_a_misplaced_or_misspelt_marker_is_refused():
    skipped = "<!-- skip: needs a file the reader makes -->\n```python\nraise SystemExit\n```\n"
    assert run_markdown(skipped, "s.md") == skipped
    with pytest.raises(ExampleError, match="s.md:1: unknown or incomplete marker"):
        run_markdown("<!-- show outputs -->\n```python\nprint(1)\n```\n", "s.md")
    with pytest.raises(ExampleError, match="s.md:1: unknown or incomplete marker"):
        run_markdown("<!-- skip: -->\n```python\nprint(1)\n```\n", "s.md")
    with pytest.raises(ExampleError, match="must be the line right before"):
        run_markdown("<!-- show output -->\n\n```python\nprint(1)\n```\n", "s.md")
    with pytest.raises(ExampleError, match="prints nothing"):
        run_markdown("<!-- show output -->\n```python\nx = 1\n```\n", "s.md")


def test_embed_puts_the_value_as_html_and_fails_on_anything_else():
    class Rich:
        def _repr_html_(self):
            return "<b>rich</b>"

    out = run_markdown("```python\nv = Rich()\n```\n<!-- embed v -->\n", "e.md",
                       namespace={"Rich": Rich})
    assert "<b>rich</b>" in out and "<!-- embed" not in out
    with pytest.raises(ExampleError, match=r"e\.md:1: <!-- embed 42 --> raised TypeError"):
        run_markdown("<!-- embed 42 -->\n", "e.md")


def test_a_shell_block_with_shown_output_runs_the_checkouts_command(tmp_path):
    out = run_markdown("<!-- show output -->\n```sh\nchainrule --version\n```\n", "c.md")
    assert re.search(r"```text title=\"output\"\n.*\d+\.\d+", out)
    with pytest.raises(ExampleError, match="status 2"):
        run_markdown("<!-- show output -->\n```sh\nchainrule train missing.csv --target y\n```\n",
                     "c.md")


# -- the README ------------------------------------------------------------------------------
def test_the_readmes_examples_run_and_the_first_prints():
    readme = ROOT / "README.md"
    blocks = python_blocks(readme)
    assert len(blocks) >= 5
    first = run_markdown(
        "<!-- show output -->\n```python\n" + blocks[0].code + "```\n", "README.md (first example)"
    )
    assert "predicted classes" in first
    run_markdown(readme.read_text(encoding="utf-8"), "README.md")


# -- the site ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    return out


def test_every_public_name_has_its_entry_in_the_api_reference(site):
    for module, _title, _purpose in REFERENCE:
        page = (site / "reference" / f"{module}.html").read_text(encoding="utf-8")
        for name in public_names(module):
            path = shadowed(module, name) or f"{module}.{name}"
            assert f'id="{path}"' in page, f"{module}.{name} is not in the reference"


def test_the_op_reference_shows_every_op_with_its_derivatives_as_mathml(site):
    page = (site / "ops.html").read_text(encoding="utf-8")
    for name, op in REGISTRY.items():
        assert f'id="{name}"' in page, name
        section = page.split(f'id="{name}"', 1)[1].split("<h3", 1)[0]
        # d out / d input for each input that has a gradient, beside its formula
        derivatives = sum(f is not None for f in op.formulas)
        assert section.count("<mo>∂</mo>") >= 2 * derivatives, name
        assert "<mtext>\\" not in section, name  # no LaTeX command left untranslated
    assert "`nn.Sigmoid`" not in page and "<code>nn.Sigmoid</code>" in page


def test_what_uses_each_op_is_measured_from_the_layers_and_losses():
    found = users()
    assert "`nn.Linear`" in found["linear"]
    assert any("Tanh" in use for use in found["dense_stack4"])
    assert any("BCEWithLogitsLoss" in use for use in found["sigmoid_cross_entropy"])
    for fused in (op for op in REGISTRY.values() if op.stages):
        for stage in fused.stages:
            assert any(fused.name in use for use in found[stage])


def test_the_site_works_from_disk_with_no_network(site):
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        text = page.read_text(encoding="utf-8")
        # Scripts, styles and fonts are the site's own; links to other sites are fine.
        for ref in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', text):
            assert not re.match(r"(https?:)?//", ref), (page.name, ref)
        assert "fonts.googleapis" not in text, page.name
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="getting-started.html"' in index  # links name files, not folders


def test_tutorials_show_chainrules_output_generated_at_build_time(site):
    page = (site / "tutorials" / "softmax-classifier.html").read_text(encoding="utf-8")
    assert page.count('class="chainrule-output"') >= 10
    assert "<math" in page and "<svg" in page
    assert "<!-- embed" not in page
    getting_started = (site / "getting-started.html").read_text(encoding="utf-8")
    assert "Total params" in getting_started  # the printed summary of the first network
    assert "R²" in getting_started or "r2" in getting_started  # `chainrule evaluate` ran
