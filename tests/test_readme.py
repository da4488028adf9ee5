"""The README's two commands stay true: CI runs exactly the README's test command."""

from __future__ import annotations

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
    """The README's per-intrinsic table is printed from intrinsics/*/results.json, never typed."""
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.cards import readme_table

    assert readme_table(builtin_intrinsics_dir()) in (ROOT / "README.md").read_text()
