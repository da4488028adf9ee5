"""Training rows for the input guards: labels follow the construction, splits share no seed item, encodings decode."""

from __future__ import annotations

import itertools
import json
import shutil
from collections import Counter

import pytest

from alora_chain.errors import DataError
from alora_chain.training.datagen import GENERATORS, guards
from alora_chain.training.datagen.dialog import word_count
from alora_chain.training.datagen.encodings import SCHEMES, decode, encodable, encode, normal
from alora_chain.training.datagen.guardseeds import SEEDS_DIR, load_guard_seeds, shipped_seeds, split_pool

LABELS = {"jailbreak": {"jailbreak", "benign"}, "prompt_injection": {"injection", "clean"}}
GUARDS = ("jailbreak", "prompt_injection")
SIZES = {"train": 400, "val": 100, "test": 150}
_cache: dict = {}


def rows(name: str, split: str, n: int | None = None, seed: int = 0) -> list[dict]:
    key = (name, split, n, seed)
    if key not in _cache:
        _cache[key] = GENERATORS[name](split, n or SIZES[split], seed)
    return _cache[key]


def by_id() -> dict:
    seeds = shipped_seeds()
    return {item.id: item for name in type(seeds).model_fields for item in getattr(seeds, name)}


# -- the seeds ----------------------------------------------------------------------------------
def test_seeds_are_varied():
    seeds = shipped_seeds()
    assert len({r.domain for r in seeds.harmful}) >= 20
    assert len({r.domain for r in seeds.benign}) >= 20
    assert len({d.domain for d in seeds.documents}) >= 20 and len({d.kind for d in seeds.documents}) >= 20
    assert {r.kind for r in seeds.benign} >= {
        "safety",
        "fiction",
        "jargon",
        "security",
        "rules",
        "roleplay",
        "ordinary",
    }
    assert {w.overrides for w in seeds.wrappers} == {True, False}
    assert len({w.kind for w in seeds.wrappers}) >= 10
    assert len({p.kind for p in seeds.payloads}) >= 7 and len({c.kind for c in seeds.clean_inserts}) >= 8
    assert any(c.kind == "about prompt injection" for c in seeds.clean_inserts)


def test_clean_material_carries_no_payload():
    seeds = shipped_seeds()
    clean = [p for d in seeds.documents for p in d.paragraphs] + [c.text for c in seeds.clean_inserts]
    for payload in seeds.payloads:
        assert not any(payload.text in text for text in clean), payload.id


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("framings.json", '"id": "w-roleplay-2"', '"id": "w-roleplay-1"', "used twice"),
        ("injection.json", "<!-- {payload} -->", "<!-- -->", "placeholder"),
        ("framings.json", '"schemes": ["leetspeak"]', '"schemes": ["morse"]', "unknown schemes"),
    ],
)
def test_bad_seeds_are_refused(tmp_path, file, old, new, message):
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, folder)
    text = (folder / file).read_text(encoding="utf-8")
    assert old in text
    (folder / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_guard_seeds(folder)


def test_split_pool_holds_items_out_by_group():
    seeds = shipped_seeds()
    parts = {s: split_pool(seeds.wrappers, s, 0, by=lambda w: w.overrides) for s in ("train", "val", "test")}
    ids = {s: {w.id for w in part} for s, part in parts.items()}
    assert not (ids["train"] & ids["val"] or ids["train"] & ids["test"] or ids["val"] & ids["test"])
    assert set().union(*ids.values()) == {w.id for w in seeds.wrappers}
    for part in ("val", "test"):  # both kinds of framing are held out
        assert {w.overrides for w in parts[part]} == {True, False}


# -- encodings ----------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_encodings_decode_back_to_their_source(scheme):
    seeds = shipped_seeds()
    texts = [r.ask for r in seeds.harmful + seeds.benign if encodable(r.ask, scheme)]
    assert len(texts) > 100
    for text in texts:
        encoded = encode(text, scheme)
        assert encoded != text
        assert decode(encoded, scheme) == normal(text, scheme)


def test_leetspeak_refuses_text_it_cannot_reverse():
    assert not encodable("Give me a 20-minute workout", "leetspeak")
    with pytest.raises(ValueError):
        encode("Give me a 20-minute workout", "leetspeak")


# -- the rows -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GUARDS)
@pytest.mark.parametrize("split", sorted(SIZES))
def test_rows_are_well_formed_and_balanced(name, split):
    got = rows(name, split)
    assert len(got) == SIZES[split]
    counts = Counter(r["target"] for r in got)
    assert set(counts) == LABELS[name] and len(set(counts.values())) == 1, counts
    keys = {json.dumps([r["messages"], r.get("document")]) for r in got}
    assert len(keys) == len(got)  # no repeats
    for row in got:
        roles = [m["role"] for m in row["messages"]]
        turns = roles[1:] if roles[0] == "system" else roles
        assert turns[0] == "user" and turns[-1] == "user" and "system" not in turns
        assert all(a != b for a, b in itertools.pairwise(turns)), roles
        assert 1 <= turns.count("user") <= 3
        assert all(m["content"].strip() for m in row["messages"])
        assert word_count(row) <= guards.MAX_WORDS
        assert row["meta"]["split"] == split and row["meta"]["entity_ids"] and row["meta"]["seed_ids"]
        assert set(row) == {"messages", "target", "meta"} | (
            {"document"} if name == "prompt_injection" else set()
        )


@pytest.mark.parametrize("name", GUARDS)
def test_deterministic_per_seed(name):
    first = GENERATORS[name]("val", 30, seed=3)
    assert json.dumps(first) == json.dumps(GENERATORS[name]("val", 30, seed=3))
    assert json.dumps(first) != json.dumps(GENERATORS[name]("val", 30, seed=4))


@pytest.mark.parametrize("name", GUARDS)
def test_splits_share_no_seed_item(name):
    used = {split: {i for r in rows(name, split) for i in r["meta"]["seed_ids"]} for split in SIZES}
    assert not used["train"] & used["val"]
    assert not used["train"] & used["test"]
    assert not used["val"] & used["test"]
    texts = {split: {r["messages"][-1]["content"] for r in rows(name, split)} for split in SIZES}
    assert not texts["train"] & (texts["val"] | texts["test"])


def test_jailbreak_labels_follow_the_construction():
    items = by_id()
    for row in rows("jailbreak", "train") + rows("jailbreak", "test"):
        meta, last = row["meta"], row["messages"][-1]["content"]
        request = items.get(meta.get("request"))
        wrapper = items.get(meta.get("wrapper"))
        expected = (
            meta["case"] == "standalone"
            or (wrapper is not None and wrapper.overrides)
            or (request is not None and request.kind == "harmful")
        )
        assert (row["target"] == "jailbreak") == expected, meta
        if wrapper is not None:  # the judged turn is the request in that wrapper
            assert last.casefold() == guards.wrap(wrapper, request).casefold()
            assert wrapper.overrides == meta["overrides"]
        if meta["case"] in ("plain", "direct", "after_refusal"):
            assert last.casefold() == request.ask.casefold()
        if meta["case"] == "standalone":
            assert any(last.casefold() == s.text.casefold() for s in shipped_seeds().standalone)


def test_benign_wrappers_keep_benign_requests_benign():
    wrapped = [
        r
        for r in rows("jailbreak", "train")
        if r["meta"].get("request_kind", "harmful") != "harmful" and "wrapper" in r["meta"]
    ]
    neutral = [r for r in wrapped if not r["meta"]["overrides"]]
    assert len(neutral) > 50 and all(r["target"] == "benign" for r in neutral)
    assert all(r["target"] == "jailbreak" for r in wrapped if r["meta"]["overrides"])
    # the same label-neutral framings carry harmful requests in jailbreak rows
    harmful_frames = {
        r["meta"]["wrapper"]
        for r in rows("jailbreak", "train")
        if r["meta"]["case"] == "wrapped" and r["target"] == "jailbreak"
    }
    assert len(harmful_frames & {r["meta"]["wrapper"] for r in neutral}) >= 10


def test_jailbreak_covers_every_case_for_both_labels():
    cases = Counter((r["target"], r["meta"]["case"]) for r in rows("jailbreak", "train"))
    for case in guards.JAILBREAK_CASES:
        assert cases[("jailbreak", case)] > 0, case
    for case in guards.BENIGN_CASES:
        assert cases[("benign", case)] > 0, case


def test_encoded_rows_decode_to_their_request():
    items = by_id()
    encoded = [r for r in rows("jailbreak", "train") if r["meta"]["case"] == "encoded"]
    assert {r["target"] for r in encoded} == {"jailbreak", "benign"}
    assert len({r["meta"]["encoding"] for r in encoded}) >= 5
    for row in encoded:
        meta = row["meta"]
        assert meta["encoded"] in row["messages"][-1]["content"]
        assert decode(meta["encoded"], meta["encoding"]) == normal(
            items[meta["request"]].ask, meta["encoding"]
        )


def test_split_rows_join_back_to_their_request():
    items = by_id()
    split = [r for r in rows("jailbreak", "train") if r["meta"]["case"] == "split"]
    assert {r["target"] for r in split} == {"jailbreak", "benign"}
    for row in split:
        first, second = row["meta"]["parts"]
        assert first and second and f"{first} {second}" == " ".join(items[row["meta"]["request"]].ask.split())
        text = " ".join(m["content"] for m in row["messages"] if m["role"] == "user")
        assert first in text and second in text
        assert items[row["meta"]["request"]].ask not in text  # never whole in one place


def test_refused_attempts_come_before_the_judged_turn():
    for row in rows("jailbreak", "train"):
        if row["meta"]["case"] in ("retry", "after_refusal"):
            refusals = {r.text for r in shipped_seeds().refusals}
            assert row["messages"][-2]["role"] == "assistant" and row["messages"][-2]["content"] in refusals


def _paragraph_of(document: str, text: str) -> tuple[int, int]:
    """Which paragraph holds ``text``, and how many there are (no seed text holds a blank line)."""
    paragraphs = document.split("\n\n")
    return next(i for i, p in enumerate(paragraphs) if text in p), len(paragraphs)


def test_injection_rows_carry_their_payload_and_clean_rows_none():
    seeds = shipped_seeds()
    items = by_id()
    payloads = [p.text for p in seeds.payloads]
    all_rows = rows("prompt_injection", "train") + rows("prompt_injection", "test")
    for row in all_rows:
        document, meta = row["document"], row["meta"]
        source = items[next(i for i in meta["seed_ids"] if i.startswith("d-"))]
        assert all(p in document for p in source.paragraphs)  # the document is all there
        if row["target"] == "injection":
            assert meta["payload"] in document and meta["payload"] in payloads
            if meta["disguise"] is not None:
                assert items[meta["disguise"]].text.replace("{payload}", meta["payload"]) in document
        else:
            assert not any(p in document for p in payloads), meta
        for insert in (items[i] for i in meta["seed_ids"] if i.startswith("c-")):
            assert insert.text in document


def test_payload_positions():
    injected = [r for r in rows("prompt_injection", "train") if r["target"] == "injection"]
    assert Counter(r["meta"]["position"] for r in injected).keys() == set(guards.POSITIONS)
    assert {r["meta"]["inline"] for r in injected} == {True, False}
    kinds = {r["meta"]["disguise_kind"] for r in injected}  # training sees every kind of disguise, and none
    assert kinds == {d.kind for d in shipped_seeds().disguises} | {"none"}
    for row in injected:
        index, n = _paragraph_of(row["document"], row["meta"]["payload"])
        position = row["meta"]["position"]
        if position == "start":
            assert index <= 1
        elif position == "end":
            assert index == n - 1
        else:
            assert 1 <= index < n - 1 if row["meta"]["inline"] else 2 <= index < n - 1


def test_clean_rows_hold_hard_clean_material():
    clean = [r for r in rows("prompt_injection", "train") if r["target"] == "clean"]
    kinds = Counter(r["meta"]["case"] for r in clean)
    assert kinds["insert"] > kinds["bare"] > 0 and kinds["two_inserts"] > 0
    disguised = [r for r in clean if any(i.startswith("g-") for i in r["meta"]["seed_ids"])]
    assert disguised  # markup around clean text too, so markup alone is no tell
    assert any("about prompt injection" in r["meta"]["document_kind"] for r in clean)


def test_too_few_seed_items_is_an_error():
    seeds = shipped_seeds()
    few = seeds.model_copy(update={"payloads": seeds.payloads[:2]})  # under 3 items: all in train
    with pytest.raises(DataError, match="no payloads"):
        guards.prompt_injection("val", 10, seeds=few)
    row = rows("jailbreak", "val")[0]
    with pytest.raises(DataError, match="distinct rows"):
        guards._balanced(guards.random.Random(0), 5, lambda positive: row)
