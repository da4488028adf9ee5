"""Seeded synthetic training data for the six intrinsics (see ``kb`` for how splits are kept apart).

Each generator module exposes ``generate(split, n, seed=0) -> list[dict]``; rows are
``{"messages": [...], <template arguments>, "target": str, "meta": {...}}``. Certainty rows
come without the assistant answer (``target`` is None): grade them with
:func:`alora_chain.training.datagen.certainty.label_rows` and the base model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from . import (
    answerability,
    certainty,
    context_relevance,
    groundedness,
    guards,
    query_rewrite,
    requirement_check,
    requirements_real,
    seeded,
)

GENERATORS: dict[str, Callable[..., list[dict]]] = {
    "answerability": answerability.generate,
    "groundedness": groundedness.generate,
    "requirement_check": requirement_check.generate,
    "query_rewrite": query_rewrite.generate,
    "certainty": certainty.generate,
    "context_relevance": context_relevance.generate,
    "jailbreak": guards.jailbreak,  # the input guards (#51), composed from the seeds in seeds_guard/
    "prompt_injection": guards.prompt_injection,
}
# Requirement-check rows from hand-written replies (seeds_requirements/*.json), labelled by the
# IFEval/IFBench checkers of if-verifiable (the ``train`` extra) or by construction: a second
# source beside ``GENERATORS["requirement_check"]``, which it leaves as it is.
REAL_GENERATORS: dict[str, Callable[..., list[dict]]] = {
    "requirement_check": requirements_real.generate,
}
# One-item rows for intrinsics whose adapter reads one list item per call (``per_item``).
ITEM_GENERATORS: dict[str, Callable[..., list[dict]]] = {
    "answerability": answerability.generate_items,
    "groundedness": groundedness.generate_items,
}
# Rows from the hand-written seed sheets (seeds/*.json), the domains split between training and
# held out (see ``seeded``): a second source that the recipes mix in (``--seeded``).
SEEDED_GENERATORS: dict[str, Callable[..., list[dict]]] = {
    "answerability": seeded.answerability,
    "groundedness": seeded.groundedness,
    "context_relevance": seeded.context_relevance,
}
SEEDED_ITEM_GENERATORS: dict[str, Callable[..., list[dict]]] = {
    "answerability": seeded.answerability_items,
    "groundedness": seeded.groundedness_items,
}
DEFAULT_SIZES = {"train": 800, "val": 100, "test": 200}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_splits(
    name: str, out_dir: str | Path, sizes: dict[str, int] | None = None, seed: int = 0
) -> dict[str, list[dict]]:
    """Write ``<split>.jsonl`` for each split (plus ``corpus_<split>.jsonl`` for query_rewrite).

    Returns the rows per split.
    """
    if name not in GENERATORS:
        raise KeyError(f"unknown intrinsic {name!r}; expected one of {sorted(GENERATORS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, n in (sizes or DEFAULT_SIZES).items():
        if name == "query_rewrite":
            rows, corpus = query_rewrite.build(split, n, seed)
            write_jsonl(out / f"corpus_{split}.jsonl", corpus)
        else:
            rows = GENERATORS[name](split, n, seed)
        write_jsonl(out / f"{split}.jsonl", rows)
        written[split] = rows
    return written
