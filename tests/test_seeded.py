"""Seed-sheet rows: labels that agree with their documents, the split by domain, determinism, the eval-leak guard."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from alora_chain.errors import DataError
from alora_chain.training import leakage
from alora_chain.training import train as train_module
from alora_chain.training.data import load_rows
from alora_chain.training.datagen import seeded, seedsheets, write_jsonl
from alora_chain.training.datagen.seedsheets import SeedFile, fresh_value, split_domains, with_value
from alora_chain.training.recipes import spec
from alora_chain.training.recipes.datasets import make_data

NOUNS = ("ferry", "bus", "tram", "cable car", "barge")  # one domain each
NAMES = ("Kellan", "Marrow", "Ostby")
ROWS = 240


def _fact(aspect, kind, value, sentences, question, followup, answers, condition=None) -> dict:
    fact = {"aspect": aspect, "type": kind, "value": value, "sentences": sentences, "questions": [question],
            "followups": [followup], "answers": answers}
    return fact | ({"condition": condition} if condition else {})


def _sheet(noun: str, d: int, i: int) -> dict:
    """One route; every value differs from every other sheet's, so a value names its fact."""
    e = f"the {NAMES[i]} {noun}"
    fare, weekend, minutes, winter = f"€{20 + 9 * i + d}", f"€{70 + 9 * i + d}", f"{30 + 9 * i + d} minutes", \
        f"{90 + 9 * i + d} minutes"
    year, seats, driver = f"{1900 + 10 * d + i}", f"{200 + 10 * d + i} seats", f"{'Ada Tomas Irena Joss Vera'.split()[d]} {'Brook Vell Kolb'.split()[i]}"
    return {
        "entity": e,
        "aliases": [f"{NAMES[i]} {noun}"],
        "facts": [
            _fact("return fare", "money", fare, [f"A return on {e} costs {fare}.", f"Round trips are priced at {fare}."],
                  f"How much is a return on {e}?", "And a return?", [f"{fare}.", f"A return costs {fare}."],
                  {"text": "on weekends", "value": weekend, "sentence": f"At weekends the fare rises to {weekend}.",
                   "answers": [f"On weekends a return costs {weekend}."]}),
            _fact("trip time", "duration", minutes, [f"{e.capitalize()} takes {minutes}.", f"The ride lasts {minutes} end to end."],
                  f"How long does {e} take?", "how long is the ride?", [f"About {minutes}.", f"It takes {minutes}."],
                  {"text": "in winter", "value": winter, "sentence": f"In winter it stretches to {winter}.",
                   "answers": [f"In winter it takes {winter}."]}),
            _fact("opening year", "year", year, [f"{e.capitalize()} opened in {year}.", f"Service began in {year}."],
                  f"When did {e} open?", "when did it start?", [f"In {year}.", f"It opened in {year}."]),
            _fact("capacity", "count", seats, [f"{e.capitalize()} has {seats}.", f"Up to {seats} are on offer."],
                  f"How many seats does {e} have?", "and how many seats?", [f"{seats}.", f"It has {seats}."]),
            _fact("driver", "person", driver, [f"{e.capitalize()} is run by {driver}.", f"{driver} is in charge."],
                  f"Who runs {e}?", "who runs it?", [f"{driver}.", f"It is run by {driver}."]),
        ],
        "yes_no": [{"question": f"Can I take a bike on {e}?", "followup": "can bikes go on it?",
                    "sentence": f"Bicycles ride free on the {NAMES[i]} line.", "yes": "Yes, bikes go free.",
                    "no": "No, bicycles aren't allowed."}],
        "filler": [f"Gulls often follow {e}.", "The station cafe sells warm pastries.", "Locals say dusk is loveliest."],
    }


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seeds")
    for d, noun in enumerate(NOUNS):
        data = {"domain": noun.replace(" ", "_"), "kind": noun, "sheets": [_sheet(noun, d, i) for i in range(3)]}
        (folder / f"{data['domain']}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1))
    return folder


@pytest.fixture(scope="module")
def sheets(seeds) -> dict:
    """entity -> (domain, sheet), for checking rows against their sheets."""
    return {s.entity: (f.domain, s) for f in seedsheets.load_seeds(seeds) for s in f.sheets}


_cache: dict = {}


def rows(seeds: Path, name: str, split: str = "train", n: int = ROWS, seed: int = 0) -> list[dict]:
    key = (name, split, n, seed)
    if key not in _cache:
        _cache[key] = getattr(seeded, name)(split, n, seed, seeds)
    return _cache[key]


def _text(row: dict) -> str:
    return " ".join(row.get("documents", [])) + row.get("document", "")


@pytest.mark.parametrize("path", sorted(seedsheets.SEEDS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_shipped_seed_file_follows_the_schema(path):
    seed_file = seedsheets.load_file(path)
    assert seed_file.domain == path.stem
    assert isinstance(seed_file, SeedFile)


def test_a_value_missing_from_a_sentence_is_refused(seeds, tmp_path):
    data = json.loads(next(seeds.glob("*.json")).read_text())
    data["sheets"][0]["facts"][0]["sentences"][1] = "Round trips are cheap."
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"sheets\.0\.facts\.0.*verbatim"):
        seedsheets.load_seeds(tmp_path)


@pytest.mark.parametrize("name", ["groundedness", "context_relevance", "answerability"])
def test_rows_load_for_training_and_are_balanced(seeds, tmp_path, name):
    got = rows(seeds, name)
    write_jsonl(tmp_path / "rows.jsonl", got)
    assert len(load_rows(tmp_path / "rows.jsonl", spec(name))) == ROWS
    assert Counter(r["target"] for r in got).most_common()[0][1] == ROWS // 2
    negatives = Counter(r["meta"]["case"] for r in got if r["target"] in ("ungrounded", "irrelevant", "unanswerable"))
    assert max(negatives.values()) - min(negatives.values()) <= 1, negatives  # equal shares
    last = "assistant" if name == "groundedness" else "user"
    for row in got:
        assert row["messages"][-1]["role"] == last and row["messages"][0]["role"] == "user"
        assert 1 <= len(row.get("documents", [row.get("document")])) <= 3
        assert {"intrinsic", "split", "domain", "case", "entity"} <= set(row["meta"])


def test_groundedness_labels_agree_with_the_documents(seeds, sheets):
    for row in rows(seeds, "groundedness"):
        text, case, claims = _text(row), row["meta"]["case"], row["meta"]["claims"]
        reply = row["messages"][-1]["content"]
        domain, sheet = sheets[row["meta"]["entity"]]
        values = [v for _, v in claims]
        assert all(v in reply for v in values if case not in ("yes", "polarity"))
        if case in ("answer", "condition", "two_claims"):
            assert all(v in text for v in values), row
        elif case in ("yes", "polarity"):
            yes_no = sheet.yes_no[0]
            assert yes_no.sentence in text and reply == (yes_no.yes if case == "yes" else yes_no.no)
        elif case == "absent":
            assert values[0] not in text, row
        elif case == "partial":
            assert values[0] in text and values[1] not in text, row
        elif case == "swapped_attribute":  # in the documents, but as another fact's value of the entity
            assert values[0] in text and values[0] != row["meta"]["value"]
            assert values[0] in {f.value for f in sheet.facts}
        elif case == "swapped_entity":  # in the documents, as a sibling's value of the same aspect
            sibling_values = {s.fact(claims[0][0]).value for d, s in sheets.values() if d == domain and s is not sheet}
            assert values[0] in text and values[0] in sibling_values
        else:
            assert case == "other_condition"
            fact = sheet.fact(row["meta"]["aspect"].removesuffix(" on weekends").removesuffix(" in winter"))
            assert values[0] in text and {values[0], row["meta"]["value"]} == {fact.value, fact.condition.value}


def test_one_document_groundedness_rows_keep_a_supporting_document(seeds):
    for row in rows(seeds, "groundedness_items"):
        assert len(row["documents"]) == 1
        values = [v for _, v in row["meta"]["claims"]]
        if row["target"] == "grounded":
            assert row["meta"]["document_role"] == "own"
            assert all(v in row["documents"][0] for v in values if row["meta"]["case"] != "yes")
        elif row["meta"]["case"] in ("absent", "partial"):
            assert values[-1] not in row["documents"][0]


def test_context_relevance_labels_agree_with_the_document(seeds, sheets):
    for row in rows(seeds, "context_relevance"):
        domain, sheet = sheets[row["meta"]["entity"]]
        value, case, doc = row["meta"]["value"], row["meta"]["case"], row["document"]
        if case == "gold":
            assert value in doc if value else sheet.yes_no[0].sentence in doc
            continue
        assert value is None or value not in doc, row
        if case == "same_entity":
            assert sheet.named_in(doc)
        else:
            assert not sheet.named_in(doc)
            named = {d for d, s in sheets.values() if s.named_in(doc)}  # the domains of what the document is about
            assert named == {domain} if case == "sibling_aspect" else named and domain not in named, row


def test_answerability_labels_agree_with_the_documents(seeds, sheets):
    for row in rows(seeds, "answerability") + rows(seeds, "answerability_items"):
        _, sheet = sheets[row["meta"]["entity"]]
        value, text = row["meta"]["value"], _text(row)
        answer = value if value else sheet.yes_no[0].sentence
        assert (answer in text) == (row["target"] == "answerable"), row


@pytest.mark.parametrize("name", ["groundedness", "context_relevance", "answerability"])
def test_validation_rows_come_from_held_out_domains_only(seeds, sheets, name):
    split = split_domains(sorted({d for d, _ in sheets.values()}), seed=0)
    assert not set(split["train"]) & set(split["val"]) and split["val"] == split["test"]
    for part in ("train", "val"):
        own = set(split[part])
        for row in rows(seeds, name, part, 80):
            assert row["meta"]["domain"] in own
            named = {d for d, s in sheets.values() if s.named_in(_text(row) + json.dumps(row["messages"]))}
            assert named <= own, (part, named)


def test_rows_are_deterministic_per_seed(seeds):
    first = seeded.groundedness("train", 40, 3, seeds)
    assert json.dumps(first) == json.dumps(seeded.groundedness("train", 40, 3, seeds))
    assert json.dumps(first) != json.dumps(seeded.groundedness("train", 40, 4, seeds))


def test_recipes_mix_seeded_rows_only_when_asked(seeds, tmp_path, monkeypatch):
    monkeypatch.setattr(seedsheets, "SEEDS_DIR", seeds)
    paths = make_data("context_relevance", tmp_path / "mixed", train_rows=40, seeded_share=0.5)
    train = [json.loads(line) for line in paths["train"].read_text().splitlines()]
    assert len(train) == 40 and sum("domain" in r["meta"] for r in train) == 20
    assert json.loads((tmp_path / "mixed" / "data.json").read_text())["train"]["seeded"] == 0.5
    plain = make_data("context_relevance", tmp_path / "plain", train_rows=40)
    assert not any("domain" in json.loads(line)["meta"] for line in plain["train"].read_text().splitlines())
    with pytest.raises(DataError, match="--seeded"):
        make_data("requirement_check", tmp_path / "rc", train_rows=4, seeded_share=0.5)


def test_values_are_swapped_whole_and_fresh_values_keep_their_type():
    assert with_value("It's €24, not €240.", "€24", "45 minutes") == "It's 45 minutes, not €240."
    rng = random.Random(0)
    for value, kind in [("€24", "money"), ("1998", "year"), ("8:30 am", "time_of_day"), ("+44 20 7946 0958", "phone")]:
        fresh = fresh_value(rng, value, kind, [])
        assert fresh and fresh != value and len(fresh) - len(value) in (-1, 0, 1), (value, fresh)
    assert fresh_value(rng, "Ada Brook", "person", ["Ada Brook", "Tomas Vell"]) == "Tomas Vell"


def _case(messages, **arguments) -> dict:
    return {"messages": messages, **arguments, "target": "relevant", "meta": {}}


def test_training_refuses_a_row_of_the_evaluation_suites(tmp_path, monkeypatch):
    question = [{"role": "user", "content": "How long does the Ostby tram take?"}]
    evals = tmp_path / "evals" / "context_relevance"
    evals.mkdir(parents=True)
    write_jsonl(evals / "dev.jsonl", [_case(question, document="The Ostby tram takes 40 minutes.")])
    data = tmp_path / "train.jsonl"
    spaced = [{"role": "user", "content": "How long does the  Ostby tram take? "}]
    write_jsonl(data, [_case(question, document="Another text."), _case(spaced, document="The Ostby tram takes 40 minutes.")])
    monkeypatch.setattr(leakage, "EVALS_DIR", tmp_path / "evals")
    monkeypatch.setattr(train_module, "load_model", lambda path=None: SimpleNamespace(tokenizer=None))
    with pytest.raises(DataError, match=r"train\.jsonl, line 2: .*evals/context_relevance/dev\.jsonl, line 1"):
        train_module.train(data, spec("context_relevance"), tmp_path / "out")
    assert leakage.eval_cases(tmp_path / "absent") == {}  # an installed wheel has no suites: nothing to check
