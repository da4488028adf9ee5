"""Recipe helpers that choose between trained runs: scoring must use the split's own corpus."""

from __future__ import annotations

import json
from types import SimpleNamespace

import alora_chain as ac
from alora_chain.resources import builtin_intrinsics_dir
from alora_chain.training.datagen import query_rewrite
from alora_chain.training.recipes import RECIPES
from alora_chain.training.recipes.scoring import _recall_at_3
from alora_chain.training.train import TrainConfig


def test_validation_recall_searches_the_validation_corpus():
    rows = [SimpleNamespace(**row) for row in query_rewrite.build("val", RECIPES["query_rewrite"].sizes[1])[0]]
    gold = [row.target for row in rows]
    raw = [row.messages[-1]["content"] for row in rows]
    assert _recall_at_3(rows, gold, seed=0, split="val") > 0.7
    assert _recall_at_3(rows, raw, seed=0, split="val") < 0.4
    # the test corpus holds none of the validation split's documents
    assert _recall_at_3(rows, gold, seed=0, split="test") == 0


def test_groundedness_is_scored_again_on_its_test_rows_loosened_into_prose(model, tmp_path):
    import json

    from alora_chain import Intrinsic
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.recipes.scoring import _score_variant_test

    shipped = builtin_intrinsics_dir() / "groundedness"
    got = _score_variant_test("groundedness", "prose", tmp_path, model, Intrinsic.load(shipped), None, seed=0, limit=2)
    plain = [json.loads(line) for line in (shipped / "test.jsonl").read_text().splitlines()]
    loose = [json.loads(line) for line in (tmp_path / "test_prose.jsonl").read_text().splitlines()]
    assert [(r["messages"], r["target"]) for r in loose] == [(r["messages"], r["target"]) for r in plain]
    assert sum(a["documents"] != b["documents"] for a, b in zip(loose, plain)) > len(plain) // 2
    assert got["examples"] == 2 and got["prose"] == RECIPES["groundedness"].prose_test
    assert set(got["paths"]) == {"alora", "prompt"} and "prompt" in got["gaps"]


def test_each_recipe_trains_the_rank_its_shipped_adapter_has():
    """A card's reproduce command runs the recipe's defaults: they must give the shipped adapter's rank."""
    for name, recipe in RECIPES.items():
        if name not in ac.intrinsics():
            continue  # a recipe whose adapter has not shipped (its folder holds only the template)
        config = json.loads((builtin_intrinsics_dir() / name / "adapter" / "adapter_config.json").read_text())
        assert TrainConfig(kind="alora", rank=recipe.rank).resolved_rank() == config["r"], name
