"""The README's two commands stay true: CI runs exactly the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    return [line for line in lines[:30] if line.startswith("python3.11 -m venv")]


def test_readme_opens_with_demo_and_test_commands():
    demo, tests = _readme_commands()[:2]
    assert demo.endswith("alora-chain demo")
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    tests = _readme_commands()[1]
    assert tests.replace("pip install ", "pip install -q ") in ci


def test_readme_results_table_is_the_one_the_shipped_results_give():
    """The README's table of built-ins (one figure each) and docs/results.md's full table are printed
    from intrinsics/*/results.json, never typed."""
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.docs import headline_table, overview_table

    assert headline_table(builtin_intrinsics_dir()) in (ROOT / "README.md").read_text()
    assert overview_table(builtin_intrinsics_dir()) in (ROOT / "docs" / "results.md").read_text()


def test_generated_parts_of_readme_and_docs_are_current():
    """What results.json and the recipe catalog render is what README.md and docs/ hold."""
    from alora_chain.training.docs import block, generated_blocks

    for relative, blocks in generated_blocks(ROOT).items():
        text = (ROOT / relative).read_text()
        for name, body in blocks.items():
            assert block(text, name) == body, f"{relative}, {name}: run python -m alora_chain.training.cards --write"


def test_readme_is_a_users_document():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200
    assert any(line.startswith("s.invoke(") or " = s.invoke(" in line for line in lines[:80])  # code on the first screens


def test_documents_link_to_files_that_exist_and_cite_no_design_outside_the_repository():
    documents = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md"),
                 *(ROOT / "intrinsics").glob("*/README.md")]
    for document in documents:
        text = document.read_text()
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):  # relative links, anchors dropped
            assert (document.parent / target).exists(), f"{document.relative_to(ROOT)} links to missing {target}"
    cited = [
        path.relative_to(ROOT)
        for folder in ("alora_chain", "tests", "notebooks", "docs")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".md", ".ipynb"} and path != Path(__file__) and "DESIGN.md" in path.read_text()
    ]
    assert cited == [], "cite docs/design.md, the repository's design document"
