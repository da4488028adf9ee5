"""Fact-sheet groundedness rows: topics kept apart by split, labels that match the document."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from alora_chain.training.datagen import groundedness
from alora_chain.training.datagen.factsheet_topics import TOPICS
from alora_chain.training.datagen.factsheets import Names, row
from alora_chain.training.datagen.kb import SPLITS, split_items


def _rows(split: str, n: int, seed: int = 0) -> list[dict]:
    rng, names = random.Random(seed), Names(split)
    return [row(rng, split, i % 2 == 0, names) for i in range(n)]


def _states(document: str, value: str) -> bool:
    """Whether ``document`` has ``value``: a whole number ("64", not the end of "1,064"), or a name."""
    if re.fullmatch(r"[\d,]+", value):
        return value in re.findall(r"\d[\d,]*\d|\d", document)
    return value in document


def test_every_topic_parses_into_relations_a_document_and_a_reply_can_state():
    assert len(TOPICS) == 22 and len({t.key for t in TOPICS}) == 22
    for topic in TOPICS:
        assert len(topic.relations) == 5 and topic.flavour and topic.names, topic.key
        for relation in topic.relations:
            assert relation.kind in "nypt" and relation.low <= relation.high, relation
            assert all("{n}" in p for p in relation.states + relation.claims), relation
            assert all("{s}" in q for q in relation.questions), relation


def test_topics_names_and_wording_do_not_cross_splits():
    topics = {split: {r["meta"]["sheet"] for r in _rows(split, 200)} for split in SPLITS}
    assert topics["train"] == {t.key for t in split_items(TOPICS, "train")}
    assert not (topics["train"] & topics["val"]) and not (topics["train"] & topics["test"])
    assert not (topics["val"] & topics["test"])
    subjects = {split: {r["meta"]["entity"] for r in _rows(split, 200)} for split in SPLITS}
    assert not (subjects["train"] & subjects["test"]) and not (subjects["train"] & subjects["val"])


def test_labels_match_what_the_document_states():
    cases, coincide = Counter(), 0
    for r in _rows("train", 300, seed=5):
        (document,), case = r["documents"], r["meta"]["case"]
        cases[case] += 1
        (_asked, claimed), *more = r["meta"]["claims"]
        assert (r["target"] == "grounded") == (case == "faithful")
        if case == "faithful":  # every claimed value is in the document
            assert all(value in document for _, value in r["meta"]["claims"]), r
        elif case == "borrowed":  # the value is in the document, stated for another relation
            assert claimed in document, r
        elif case == "misstated":  # a value the document does not state, or by chance states elsewhere
            coincide += _states(document, claimed)
        elif case == "wrong_second":
            assert len(more) == 1
            coincide += _states(document, more[0][1])
        assert claimed in r["messages"][-1]["content"]
    assert min(cases[c] for c in ("borrowed", "misstated", "unsupported", "wrong_second")) > 5, cases
    assert cases["faithful"] == 150
    assert coincide <= 0.1 * (cases["misstated"] + cases["wrong_second"]), coincide


def test_borrowed_values_could_pass_for_the_asked_relation():
    """120 staff passed off as rooms, never 1,979 euros as a screen size."""
    for r in _rows("train", 600, seed=2):
        if r["meta"]["case"] != "borrowed":
            continue
        topic = next(t for t in TOPICS if t.key == r["meta"]["sheet"])
        relation = next(x for x in topic.relations if x.key == r["meta"]["attr"])
        value = r["meta"]["claims"][0][1]
        if relation.kind in "ny":
            assert relation.low / 2 <= int(value.replace(",", "")) <= relation.high * 1.5, (relation, value)


@pytest.mark.parametrize("make", [groundedness.generate, groundedness.generate_items])
def test_sheets_share_mixes_sheet_rows_in_and_zero_changes_nothing(make):
    assert make("val", 60, sheets=0.0) == make("val", 60)
    mixed = make("val", 200, sheets=0.5)
    sheets = [r for r in mixed if "sheet" in r["meta"]]
    assert len(sheets) in range(70, 131)
    assert Counter(r["target"] for r in mixed) == {"grounded": 100, "ungrounded": 100}
    if make is groundedness.generate_items:
        assert all(len(r["documents"]) == 1 for r in sheets)
    else:  # beside up to two other subjects' sheets, of other topics
        assert {len(r["documents"]) for r in sheets} == {1, 2, 3}


def test_make_data_keeps_sheets_to_groundedness(tmp_path):
    from alora_chain.errors import DataError
    from alora_chain.training.recipes import make_data

    with pytest.raises(DataError, match="--sheets writes fact-sheet rows for groundedness only"):
        make_data("context_relevance", tmp_path, train_rows=8, sheets=0.5)
