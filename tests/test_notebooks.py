"""The notebooks in notebooks/: kept without outputs, and every one runs top to bottom."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebooks_the_docs_list_exist():
    names = {p.name for p in NOTEBOOKS}
    listed = (ROOT / "docs" / "notebooks.md").read_text(encoding="utf-8")
    for name in ("softmax-classifier", "house-prices", "vanishing-gradients", "digits"):
        assert f"{name}.ipynb" in names and f"notebooks/{name}.ipynb" in listed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_is_kept_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    # The kernel imports this checkout's chainrule and writes its files into tmp_path.
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "src"))
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    shown = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in shown if o.output_type == "error"]
    if path.stem in ("softmax-classifier", "house-prices", "digits"):
        # the rich display of explanations, models or histories
        assert any("text/html" in o.get("data", {}) for o in shown), path.name
    assert sys.executable  # the kernel is this interpreter's (ipykernel's own kernelspec)
