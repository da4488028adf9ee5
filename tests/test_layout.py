"""Source-level checks on the package's shape that ruff does not make."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "alora_chain"


def _same_arms(tree: ast.AST) -> list[int]:
    """Lines of ``if`` arms whose body repeats the next arm's: ``if a: X elif b: X`` or
    ``if a: return X`` followed by ``if b: return X`` (one condition, ``a or b``, says it once)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and node.orelse:
            arms, current = [node.body], node
            while len(current.orelse) == 1 and isinstance(current.orelse[0], ast.If):
                current = current.orelse[0]
                arms.append(current.body)
            arms += [current.orelse] if current.orelse else []
            dumped = [[ast.dump(s) for s in arm] for arm in arms]
            lines += [node.lineno for a, b in itertools.pairwise(dumped) if a == b]
        for statements in (getattr(node, f, None) for f in ("body", "orelse", "finalbody")):
            if not isinstance(statements, list):
                continue
            for a, b in itertools.pairwise(statements):
                if (
                    isinstance(a, ast.If) and isinstance(b, ast.If) and not a.orelse
                    and isinstance(a.body[-1], ast.Return | ast.Raise)
                    and [ast.dump(s) for s in a.body] == [ast.dump(s) for s in b.body]
                ):
                    lines.append(a.lineno)
    return lines


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_if_arms_with_the_same_body(path):
    assert _same_arms(ast.parse(path.read_text(encoding="utf-8"))) == []


TOOLING = sorted(p for folder in ("bench", "cli", "training") for p in (PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", TOOLING, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_tooling_uses_the_runtime_through_its_public_surface(path):
    """Benchmarks, CLI and training call no private member of a Model (``model._activate``), and the
    CLI builds no cache of its own: the runtime may change them without breaking its tools."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    private = [
        f"line {node.lineno}: model.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_") and not node.attr.startswith("__")
        and ((isinstance(node.value, ast.Name) and node.value.id == "model")
             or (isinstance(node.value, ast.Attribute) and node.value.attr == "model"))
    ]
    assert private == []
    if path.parent.name == "cli":
        imported = {"." * n.level + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not imported & {"alora_chain.cache", "..cache"}
