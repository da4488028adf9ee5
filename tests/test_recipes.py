"""Recipe helpers that choose between trained runs: scoring must use the split's own corpus."""

from __future__ import annotations

from types import SimpleNamespace

from alora_chain.datagen import query_rewrite
from alora_chain.recipes import RECIPES, _recall_at_3


def test_validation_recall_searches_the_validation_corpus():
    rows = [SimpleNamespace(**row) for row in query_rewrite.build("val", RECIPES["query_rewrite"].sizes[1])[0]]
    gold = [row.target for row in rows]
    raw = [row.messages[-1]["content"] for row in rows]
    assert _recall_at_3(rows, gold, seed=0, split="val") > 0.7
    assert _recall_at_3(rows, raw, seed=0, split="val") < 0.4
    # the test corpus holds none of the validation split's documents
    assert _recall_at_3(rows, gold, seed=0, split="test") == 0
