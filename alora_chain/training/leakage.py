"""Keep the hand-written evaluation suites (``evals/*/*.jsonl``) out of training data.

A training row whose conversation and arguments equal an evaluation case's (whitespace aside)
is refused before any model work starts: the suites measure text no adapter has seen. Only the
conversations and arguments are read, to compare; nothing else of the suites is used here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DataError
from .data import Row

# The suites at the repository root; absent from an installed wheel, where nothing is checked.
EVALS_DIR = Path(__file__).resolve().parents[2] / "evals"
_NOT_ARGUMENTS = ("messages", "target", "meta")


def _normal(value: Any) -> Any:
    """Strings with their whitespace collapsed, inside lists and dicts too."""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def case_key(messages: list[dict], arguments: dict) -> str:
    """A conversation and its arguments as one comparable string."""
    turns = [[m["role"], m["content"]] for m in messages]
    return json.dumps(_normal({"messages": turns, "arguments": arguments}), sort_keys=True, ensure_ascii=False)


def eval_cases(folder: str | Path | None = None) -> dict[str, str]:
    """Each evaluation case's :func:`case_key` -> where it is ("groundedness/dev.jsonl, line 3");
    empty when ``folder`` (default ``EVALS_DIR``) does not exist. Lines that are not cases are skipped."""
    folder = Path(folder) if folder is not None else EVALS_DIR
    cases: dict[str, str] = {}
    for path in sorted(folder.glob("*/*.jsonl")) if folder.is_dir() else ():
        with path.open(encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                try:
                    data = json.loads(text)
                    key = case_key(data["messages"], {k: v for k, v in data.items() if k not in _NOT_ARGUMENTS})
                except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                    continue
                cases.setdefault(key, f"{path.relative_to(folder)}, line {number}")
    return cases


def refuse_eval_rows(rows: list[Row], path: str | Path, folder: str | Path | None = None) -> None:
    """Raise ``DataError`` naming the first row of ``path`` that repeats an evaluation case."""
    cases = eval_cases(folder)
    if not cases:
        return
    for row in rows:
        where = cases.get(case_key([m.model_dump() for m in row.messages], row.arguments))
        if where is not None:
            raise DataError(
                f"{path}, line {row.line}: this row repeats the evaluation case evals/{where}; "
                "the evaluation suites must never be trained on: remove it"
            )
