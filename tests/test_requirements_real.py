"""Requirement-check rows from hand-written replies: checker labels, balance, split separation, determinism."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from alora_chain.training.datagen import DEFAULT_SIZES, GENERATORS, REAL_GENERATORS, requirement_check
from alora_chain.training.datagen import requirements_real as real
from alora_chain.training.datagen.dialog import word_count
from alora_chain.training.datagen.ifbench_kinds import KINDS as IFBENCH_KINDS
from alora_chain.training.datagen.ifcheck import available
from alora_chain.training.datagen.ifeval_kinds import KINDS as IFEVAL_KINDS
from alora_chain.training.datagen.semantic_kinds import KINDS as SEMANTIC

needs_checkers = pytest.mark.skipif(
    not available(),
    reason="if-verifiable is not installed (pip install 'alora_chain[train]'): the verifiable kinds' "
    "labels come from its IFEval/IFBench checkers",
)
_cache: dict = {}


def rows(split: str, n: int | None = None, seed: int = 0) -> list[dict]:
    """A default run's rows (DEFAULT_SIZES) unless ``n`` says otherwise, made once per test module."""
    key = (split, n or DEFAULT_SIZES[split], seed)
    if key not in _cache:
        _cache[key] = real.generate(split, key[1], seed)
    return _cache[key]


def test_seeds_span_domains_and_annotations_hold():
    seeds = real.load_seeds()
    assert len(seeds) >= 150 and len({s.domain for s in seeds}) >= 20
    for s in seeds:
        for what in (s.mention, s.avoid):
            if what:  # the sentence that states it is in the reply, once, and nowhere else
                assert s.reply.count(what[1]) == 1, s.id
        # the apology kind prefixes an apology: a reply of its own would make its "no" rows wrong
        assert "sorry" not in s.reply.lower() and "apolog" not in s.reply.lower(), s.id
    assert sum(s.casual is not None for s in seeds) >= 40 and sum(s.child is not None for s in seeds) >= 40


def test_seed_splits_are_disjoint_and_cover_every_domain():
    by_split = {split: {s.id for s in real.seeds_for(split)} for split in real.SPLITS}
    assert sum(len(ids) for ids in by_split.values()) == len(real.load_seeds())
    assert not (by_split["train"] & by_split["val"]) and not (by_split["train"] & by_split["test"])
    assert not (by_split["val"] & by_split["test"])
    domains = {s.domain for s in real.load_seeds()}
    for split in real.SPLITS:
        assert {s.domain for s in real.seeds_for(split)} == domains


def test_registry_keeps_the_generated_requirement_check():
    assert GENERATORS["requirement_check"] is requirement_check.generate
    assert REAL_GENERATORS["requirement_check"] is real.generate


@needs_checkers
def test_every_verifiable_label_is_a_fresh_checker_call():
    # straight from if-verifiable's registries (ifcheck has swapped punkt for pysbd and seeded langdetect)
    from if_verifiable.ifbench.instructions_registry import INSTRUCTION_DICT as IFBENCH
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT as IFEVAL

    registries = {"ifeval": IFEVAL, "ifbench": IFBENCH}
    checked = 0
    for split in real.SPLITS:
        for row in rows(split):
            meta = row["meta"]
            if meta["source"] != "checker":
                continue
            checker = registries[meta["benchmark"]][meta["instruction_id"]](meta["instruction_id"])
            wording = checker.build_description(**meta["kwargs"])
            reply = row["messages"][-1]["content"]
            assert bool(checker.check_following(reply)) == (row["target"] == "yes"), (meta, reply)
            if meta["wording"] == meta["benchmark"]:
                assert row["requirement"] == wording
            checked += 1
    assert checked > 600


@needs_checkers
def test_each_kind_is_balanced_in_a_default_run():
    kinds = {kind.name for kind in [*IFEVAL_KINDS, *IFBENCH_KINDS, *SEMANTIC]}
    assert len(kinds) >= 35
    for split, n in DEFAULT_SIZES.items():
        made = rows(split)
        assert len(made) == n
        counts = Counter((row["meta"]["kind"], row["target"]) for row in made)
        assert {kind for kind, _ in counts} == kinds, split  # every kind in every split
        for kind in kinds:
            assert counts[(kind, "yes")] == counts[(kind, "no")] > 0, (split, kind)


@needs_checkers
def test_rows_of_a_split_use_only_its_seeds():
    seeds = {split: {s.id: s for s in real.seeds_for(split)} for split in real.SPLITS}
    for split in real.SPLITS:
        others = {
            q for other in real.SPLITS if other != split for q in (s.question for s in seeds[other].values())
        }
        for row in rows(split):
            assert row["meta"]["seed_id"] in seeds[split]
            asked = {m["content"] for m in row["messages"] if m["role"] == "user"}
            assert not asked & others, row["meta"]["seed_id"]


@needs_checkers
def test_row_shape():
    for row in rows("val"):
        assert row["messages"][-1]["role"] == "assistant" and row["messages"][-2]["role"] == "user"
        assert isinstance(row["requirement"], str) and row["requirement"]
        assert row["target"] in {"yes", "no"}
        assert word_count(row) <= real.MAX_WORDS


@needs_checkers
def test_semantic_labels_hold_by_construction():
    seeds = {s.id: s for s in real.load_seeds()}
    for row in rows("train"):
        meta, reply = row["meta"], row["messages"][-1]["content"]
        seed = seeds[meta["seed_id"]]
        if meta["kind"] == "semantic:mention":
            assert (seed.mention[1] in reply) == (row["target"] == "yes")
        elif meta["kind"] == "semantic:avoid":
            assert (seed.avoid[1] in reply) == (row["target"] == "no")
        elif meta["kind"] == "semantic:answers_question" and row["target"] == "no":
            assert reply not in {seed.reply, seed.casual, seed.child}


@needs_checkers
def test_deterministic_for_a_seed():
    first = real.generate("val", 60, seed=3)
    assert json.dumps(first) == json.dumps(real.generate("val", 60, seed=3))
    assert json.dumps(first) != json.dumps(real.generate("val", 60, seed=4))
