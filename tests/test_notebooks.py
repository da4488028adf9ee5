"""Notebooks: each runs top to bottom in a fresh kernel, and the committed files are build.py's, executed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

import alora_chain as ac

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# built-in intrinsics a notebook calls; without their trained adapters it cannot run
NEEDS = {
    "01_quickstart.ipynb": ("answerability", "requirement_check", "query_rewrite"),
    "02_rag_guard.ipynb": ("context_relevance", "answerability", "groundedness", "certainty", "prompt_injection"),
}


def _build():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build()


def _missing(name: str) -> list[str]:
    return [b for b in NEEDS.get(name, ()) if b not in ac.intrinsics()]


def _skip_if_missing(name: str) -> None:
    missing = _missing(name)
    if missing:
        pytest.skip(
            f"{name} calls built-in intrinsics that are not installed yet: {', '.join(missing)} "
            "(train them into intrinsics/, then run `python notebooks/build.py --execute`)"
        )


@pytest.mark.parametrize("name", list(build.NOTEBOOKS))
def test_notebook_runs_without_errors(name):
    _skip_if_missing(name)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)  # executed in memory: the file is untouched
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    build.execute(nb)  # raises CellExecutionError, naming the cell, on the first error
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert all(c.outputs for c in code if "print(" in c.source or "plt.show()" in c.source)


@pytest.mark.parametrize("name", list(build.NOTEBOOKS))
def test_committed_notebook_is_build_py_output_with_outputs(name):
    committed = nbformat.read(NOTEBOOKS / name, as_version=4)
    expected = build.notebook(build.NOTEBOOKS[name])
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in expected.cells
    ], f"{name} differs from notebooks/build.py: run `python notebooks/build.py --execute`"
    _skip_if_missing(name)
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), (
        f"{name} is committed without outputs: run `python notebooks/build.py --execute {name[:2]}`"
    )
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert (NOTEBOOKS / name).stat().st_size < 200_000  # outputs stay small enough to review
