"""Synthetic data generators: determinism, balance, split separation, labels, retrieval gap."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter

import bm25s
import pytest
from typer.testing import CliRunner

from alora_chain.training.datagen import GENERATORS, ITEM_GENERATORS, certainty, query_rewrite, write_splits
from alora_chain.training.datagen.__main__ import app as cli
from alora_chain.training.datagen.dialog import word_count
from alora_chain.training.datagen.requirements import check

CHOICE_LABELS = {
    "answerability": {"answerable", "unanswerable"},
    "groundedness": {"grounded", "ungrounded"},
    "requirement_check": {"yes", "no"},
    "context_relevance": {"relevant", "irrelevant"},
}
LAST_ROLE = {
    "answerability": "user",
    "groundedness": "assistant",
    "requirement_check": "assistant",
    "query_rewrite": "user",
    "certainty": "user",
    "context_relevance": "user",
}
# the input guards' rows (a system prompt may open them) have their own tests: test_guards_data.py
SHAPED = sorted(set(GENERATORS) - {"jailbreak", "prompt_injection"})
_cache: dict = {}


def rows(name: str, split: str, n: int, seed: int = 0) -> list[dict]:
    key = (name, split, n, seed)
    if key not in _cache:
        _cache[key] = GENERATORS[name](split, n, seed)
    return _cache[key]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_deterministic_per_seed(name):
    first = GENERATORS[name]("val", 25, seed=3)
    assert json.dumps(first) == json.dumps(GENERATORS[name]("val", 25, seed=3))
    assert json.dumps(first) != json.dumps(GENERATORS[name]("val", 25, seed=4))


@pytest.mark.parametrize("name", SHAPED)
def test_rows_are_well_formed(name):
    for row in rows(name, "train", 200):
        roles = [m["role"] for m in row["messages"]]
        assert roles[0] == "user" and roles[-1] == LAST_ROLE[name]
        assert all(a != b for a, b in itertools.pairwise(roles)), roles
        assert all(m["content"].strip() for m in row["messages"])
        assert row["meta"]["entity_ids"] and row["meta"]["template_ids"]
        assert word_count(row) <= 250
        if name == "certainty":
            assert row["target"] is None and row["meta"]["gold"] and row["meta"]["category"]
            continue
        assert isinstance(row["target"], str) and row["target"].strip()
        if name in CHOICE_LABELS:
            assert row["target"] in CHOICE_LABELS[name]
        if name in ("answerability", "groundedness"):
            assert 1 <= len(row["documents"]) <= 4 and all(d.strip() for d in row["documents"])
        if name == "context_relevance":
            assert isinstance(row["document"], str) and row["document"].strip()
        if name == "requirement_check":
            assert isinstance(row["requirement"], str) and row["requirement"].strip()


@pytest.mark.parametrize("name", sorted(CHOICE_LABELS))
@pytest.mark.parametrize("split,n", [("train", 300), ("test", 200)])
def test_label_balance(name, split, n):
    counts = Counter(row["target"] for row in rows(name, split, n))
    for label in CHOICE_LABELS[name]:
        assert 0.4 <= counts[label] / n <= 0.6, counts


@pytest.mark.parametrize("name", SHAPED)
def test_splits_share_no_entities_or_templates(name):
    def collect(split, n, field):
        return {x for row in rows(name, split, n) for x in row["meta"][field]}

    for field in ("entity_ids", "template_ids"):
        train = collect("train", 300, field)
        for other in ("val", "test"):
            assert not train & collect(other, 200, field), field
    names = {e.split(":", 1)[1] for e in collect("train", 300, "entity_ids")}
    test_text = " ".join(json.dumps(row) for row in rows(name, "test", 200))
    any_name = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(names))) + r")\b")
    leaked = set(any_name.findall(test_text))
    assert not leaked or name == "certainty", sorted(leaked)[:5]  # certainty ids are numbers


def test_requirement_labels_match_checker():
    all_rows = rows("requirement_check", "train", 300) + rows("requirement_check", "test", 200)
    for row in all_rows:
        assert check(row["meta"]["requirement_spec"], row["messages"][-1]["content"]) == (
            row["target"] == "yes"
        )
    kinds = Counter(r["meta"]["requirement_spec"]["type"] for r in all_rows)
    assert len(kinds) >= 15


@pytest.mark.parametrize(
    ("spec", "reply", "ok"),
    [
        ({"type": "max_words", "n": 5}, "One two three four five.", True),
        ({"type": "max_words", "n": 4}, "One two three four five.", False),
        ({"type": "bullets", "k": 3}, "Intro:\n- a\n- b\n- c", True),
        ({"type": "bullets", "k": 3}, "1. a\n2. b\n3. c", False),
        ({"type": "forbidden_word", "w": "very"}, "It is held every June.", True),
        ({"type": "forbidden_word", "w": "very"}, "It is Very nice.", False),
        ({"type": "no_contractions"}, "Mara's phone is new.", True),
        ({"type": "no_contractions"}, "It's new.", False),
        ({"type": "in_french"}, "Zentra X2 coûte $249. Bonne journée !", True),
        ({"type": "in_french"}, "The Zentra X2 costs $249.", False),
        ({"type": "starts_yes_no"}, "No, she was born in 1970.", True),
        ({"type": "starts_yes_no"}, "Nope, she was born in 1970.", False),
        ({"type": "json"}, '{"price": "$249"}', True),
        ({"type": "json"}, 'Here: {"price": "$249"}', False),
        ({"type": "mention_attr", "value": "$1,299"}, "It costs 1299 dollars.", True),
        ({"type": "mention_attr", "value": "$1,299"}, "It costs 12,990 dollars.", False),
        ({"type": "include_word", "w": "reliable"}, "Its reliability is good.", False),
        ({"type": "lowercase"}, "all lowercase here.", True),
        ({"type": "has_number"}, "She has two cats.", True),
        ({"type": "quoted"}, '"Done."', True),
    ],
)
def test_requirement_checker(spec, reply, ok):
    assert check(spec, reply) is ok


def test_query_rewrite_targets_name_the_entity():
    built_rows, corpus = query_rewrite.build("test", 120)
    docs = {d["id"]: d["text"] for d in corpus}
    assert len(corpus) >= 5 * len(built_rows)
    for row in built_rows:
        entity = row["meta"]["entity"]
        assert entity in row["target"]
        assert entity in docs[row["meta"]["gold_doc_id"]]
        if row["meta"]["pattern"] != "switch":  # the last turn must not name the entity itself
            assert entity.lower() not in row["messages"][-1]["content"].lower()
    assert set(Counter(r["meta"]["pattern"] for r in built_rows)) == set(query_rewrite.PATTERNS)


def test_bm25_recall_gap_between_raw_turn_and_rewrite():
    built_rows, corpus = query_rewrite.build("test", 100)
    ids = [d["id"] for d in corpus]
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize([d["text"] for d in corpus], stopwords="en", show_progress=False), show_progress=False
    )

    def recall_at_3(queries):
        tokens = bm25s.tokenize(queries, stopwords="en", show_progress=False)
        hits, _ = retriever.retrieve(tokens, k=3, show_progress=False)
        return sum(
            row["meta"]["gold_doc_id"] in {ids[i] for i in top}
            for row, top in zip(built_rows, hits, strict=True)
        ) / len(built_rows)

    raw = recall_at_3([r["messages"][-1]["content"] for r in built_rows])
    rewritten = recall_at_3([r["target"] for r in built_rows])
    assert rewritten >= raw + 0.15, (raw, rewritten)


@pytest.mark.parametrize(
    ("answer", "gold", "ok"),
    [
        ("The answer is 43.", "43", True),
        ("17 + 26 = 43", "43", True),
        ("Forty-three.", "43", True),
        ("It is 75,646.", "75646", True),
        ("one hundred and five", "105", True),
        ("17 + 26 = 42", "43", False),
        ("I don't know.", "43", False),
        ("The capital is Brasília.", "Brasilia", True),
        ("It's Kiev.", "Kyiv|Kiev", True),
        ("The capital of Mexico is Mexico.", "Mexico City", False),
        ("paris", "Paris", True),
    ],
)
def test_certainty_grading(answer, gold, ok):
    assert certainty.is_correct(answer, gold) is ok


def test_certainty_golds_and_labelling():
    generated = rows("certainty", "train", 300)
    assert len(Counter(r["meta"]["category"] for r in generated)) >= 10
    for row in generated:  # golds of plain arithmetic match Python's arithmetic
        m = re.fullmatch(r"What is (\d+) ([+×-]) (\d+)\?", row["messages"][0]["content"])
        if m:
            a, op, b = int(m[1]), m[2], int(m[3])
            assert row["meta"]["gold"] == str({"+": a + b, "-": a - b, "×": a * b}[op])
    graded = certainty.label_rows(
        generated[:20], lambda msgs: f"The answer is {generated[0]['meta']['gold']}."
    )
    assert graded[0]["target"] == "9" and graded[0]["meta"]["correct"] is True
    assert {r["target"] for r in graded} <= {"9", "0"}
    assert all(r["messages"][-1]["role"] == "assistant" for r in graded)
    assert generated[0]["target"] is None and len(generated[0]["messages"]) == 1  # not mutated


def test_write_splits_and_cli(tmp_path):
    sizes = {"train": 12, "val": 4, "test": 6}
    write_splits("query_rewrite", tmp_path / "qr", sizes)
    for split, n in sizes.items():
        lines = (tmp_path / "qr" / f"{split}.jsonl").read_text().splitlines()
        assert len(lines) == n
        assert (tmp_path / "qr" / f"corpus_{split}.jsonl").stat().st_size > 0
    arguments = ["groundedness", "--out", str(tmp_path / "g"), "--train", "10", "--val", "2", "--test", "4"]
    got = CliRunner().invoke(cli, arguments)
    assert got.exit_code == 0, got.output
    assert "train: 10 rows" in got.output


# certainty: model-labelled; jailbreak: no adapter shipped yet (docs/ship-rules.md), so no split either
@pytest.mark.parametrize("name", sorted(set(GENERATORS) - {"certainty", "jailbreak"}))
def test_shipped_test_splits_are_what_the_generators_write(name):
    """The held-out split in intrinsics/NAME/test.jsonl is reproducible from the seeded generator."""
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.recipes import RECIPES

    shipped = (builtin_intrinsics_dir() / name / "test.jsonl").read_text(encoding="utf-8").splitlines()
    written = [json.dumps(row, ensure_ascii=False) for row in GENERATORS[name]("test", RECIPES[name].sizes[2])]
    assert written == shipped


def test_shipped_prose_test_split_is_what_the_generator_writes():
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.recipes import RECIPES

    recipe = RECIPES["groundedness"]
    shipped = (builtin_intrinsics_dir() / "groundedness" / "test_prose.jsonl").read_text(encoding="utf-8")
    written = GENERATORS["groundedness"]("test", recipe.sizes[2], prose=recipe.prose_test)
    assert [json.dumps(row, ensure_ascii=False) for row in written] == shipped.splitlines()


def test_answerability_item_rows_are_balanced_one_document_rows_apart_from_the_test_split():
    items = ITEM_GENERATORS["answerability"]("train", 300)
    assert all(len(row["documents"]) == 1 for row in items)
    assert Counter(row["target"] for row in items) == {"answerable": 150, "unanswerable": 150}
    cases = Counter(row["meta"]["case"] for row in items)
    assert set(cases) == {"gold", "same_entity", "similar_entity", "other_entity"}, cases
    for row in items:  # a distractor never names the asked-about entity (it could answer)
        if row["meta"]["case"] in ("similar_entity", "other_entity"):
            assert row["meta"]["entity"] not in row["documents"][0]
    for field in ("entity_ids", "template_ids"):
        train = {x for row in items for x in row["meta"][field]}
        assert not train & {x for row in rows("answerability", "test", 200) for x in row["meta"][field]}


def test_groundedness_item_rows_are_one_document_rows_labelled_for_that_document():
    items = ITEM_GENERATORS["groundedness"]("train", 300)
    assert all(len(row["documents"]) == 1 for row in items)
    assert Counter(row["target"] for row in items) == {"grounded": 150, "ungrounded": 150}
    cases = Counter(row["meta"]["case"] for row in items)
    assert {"gold", "look_alike", "other_entity"} <= set(cases), cases
    assert {c for c in cases if c.startswith("own_")}, cases  # the entity's document, misstated
    for row in items:
        document = row["documents"][0].lower()
        if row["meta"]["case"] == "gold":  # the one document states every claim of the reply
            assert all(str(value).lower() in document for _, value in row["meta"]["claims"])
        elif row["meta"]["case"] in ("look_alike", "other_entity"):
            assert row["meta"]["entity"].lower() not in document
    for field in ("entity_ids", "template_ids"):
        train = {x for row in items for x in row["meta"][field]}
        assert not train & {x for row in rows("groundedness", "test", 200) for x in row["meta"][field]}


def test_dense_groundedness_rows_state_every_attribute_and_misstate_or_borrow_one():
    import random

    from alora_chain.training.datagen import groundedness
    from alora_chain.training.datagen.kb import NUMBER_FREE_ATTRS, build_world, number_in

    assert groundedness.generate_items("val", 40, dense=0.0) == groundedness.generate_items("val", 40)
    world = build_world("train")
    rng = random.Random(3)
    cases = Counter()
    for i in range(240):
        row, roles = groundedness._row(rng, world, "train", grounded=i % 2 == 0, dense=True)
        entity = world.by_name[row["meta"]["entity"]]
        own = row["documents"][next(j for j, role in enumerate(roles) if role == "gold" or role.startswith("own_"))]
        case = row["meta"]["case"]
        cases[case] += 1
        stated = [a for a, value in entity.attrs.items() if value.lower() in own.lower()]
        # every attribute, but the one an unsupported or invented claim needs missing
        assert len(stated) >= len(entity.attrs) - (case in ("unsupported", "invented_extra")), (own, entity.attrs)
        (attr, claimed), *_ = row["meta"]["claims"]
        if case == "borrowed":  # another stated attribute's number, in this attribute's unit
            assert claimed != entity.attrs[attr] and attr not in NUMBER_FREE_ATTRS
            others = {number_in(entity.attrs[a]) for a in stated if a != attr and a not in NUMBER_FREE_ATTRS}
            assert number_in(claimed) in others or claimed not in own
        elif case == "wrong_value":
            assert claimed != entity.attrs[attr] and claimed not in own
    assert {"faithful", "wrong_value", "borrowed", "wrong_second"} <= set(cases), cases
    assert sum(r["meta"].get("dense", False) for r in groundedness.generate_items("train", 200, dense=0.5)) in range(70, 131)


def test_make_data_reuses_a_split_only_if_it_was_made_with_the_same_settings(tmp_path):
    from alora_chain.errors import DataError
    from alora_chain.training.recipes import make_data

    paths = make_data("context_relevance", tmp_path, train_rows=8)
    assert len(paths["train"].read_text().splitlines()) == 8
    made = {split: path.stat().st_mtime_ns for split, path in paths.items()}
    assert make_data("context_relevance", tmp_path, train_rows=8) == paths  # reused, not rewritten
    assert {split: path.stat().st_mtime_ns for split, path in paths.items()} == made
    with pytest.raises(DataError, match=r"train.jsonl was made with other settings: rows 8 \(asked 16\)"):
        make_data("context_relevance", tmp_path, train_rows=16)
    with pytest.raises(DataError, match=r"intrinsic 'context_relevance' \(asked 'answerability'\)"):
        make_data("answerability", tmp_path, train_rows=8)
    (tmp_path / "data.json").unlink()  # a folder from before data.json: its row counts still checked
    assert make_data("context_relevance", tmp_path, train_rows=8) == paths
    with pytest.raises(DataError, match=r"rows 8 \(asked 9\)"):
        make_data("context_relevance", tmp_path, train_rows=9)
    with pytest.raises(DataError, match="--dense writes dense rows for groundedness only"):
        make_data("context_relevance", tmp_path, train_rows=8, dense=0.5)


def _words(text: str) -> list[str]:
    """Lowercased words, punctuation at word ends dropped ("$1,009." -> "$1,009")."""
    return re.sub(r"[.,;](?=\s|$)", " ", text.lower()).split()


def test_loosened_groundedness_documents_state_the_same_facts_in_looser_prose():
    from alora_chain.training.datagen.groundedness import generate, generate_items
    from alora_chain.training.datagen.prose import CONTINUATIONS

    plain, loose = generate("train", 120), generate("train", 120, prose=0.5)
    assert generate("train", 120, prose=0.0) == plain  # off: the rows exactly as before
    assert [r["messages"] for r in loose] == [r["messages"] for r in plain]
    assert [r["target"] for r in loose] == [r["target"] for r in plain]
    changed = 0
    for before, after in zip(plain, loose):
        for old, new in zip(before["documents"], after["documents"]):
            changed += old != new
            # every value and every name the document stated is still there, nothing else is taken out
            assert set(_words(old)) <= set(_words(new)), (old, new)
        assert after["meta"]["prose"] == 0.5
    assert changed > 60, changed  # documents that were rewritten
    assert any(", and it " in d or ", and he " in d or ", and she " in d for r in loose for d in r["documents"])
    assert not any(". the " in d or ". it " in d for r in loose for d in r["documents"])
    # and a sentence goes on straight after its value, with no comma ("in 2019 to mixed reviews")
    after = [p for phrases in CONTINUATIONS.values() for p in phrases]
    assert sum(any(f"{v} {p}" in d for p in after for _, v in r["meta"]["claims"])
               for r in loose if r["target"] == "grounded" for d in r["documents"]) > 5
    for field in ("template_ids",):  # the phrases, too, are split by template
        train = {x for r in generate_items("train", 300, prose=0.5) for x in r["meta"][field]}
        test = {x for r in generate("test", 200, prose=0.5) for x in r["meta"][field]}
        assert any(x.startswith("prose:") for x in test) and not train & test


def test_make_data_records_the_prose_rate_and_keeps_it_to_the_generators_that_have_it(tmp_path):
    from alora_chain.errors import DataError
    from alora_chain.training.recipes import make_data

    with pytest.raises(DataError, match="--prose loosens documents of groundedness only, not context_relevance"):
        make_data("context_relevance", tmp_path / "cr", train_rows=8, prose=0.5)
    paths = make_data("groundedness", tmp_path / "g", train_rows=8, prose=0.5)
    assert json.loads(paths["train"].read_text().splitlines()[0])["meta"]["prose"] == 0.5
    with pytest.raises(DataError, match=r"prose 0\.5 \(asked None\)"):
        make_data("groundedness", tmp_path / "g", train_rows=8)
