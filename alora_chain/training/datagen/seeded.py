"""Rows for groundedness, context_relevance and answerability made from the hand-written seed sheets.

Each row draws one sheet of a domain of its split (:func:`~.seedsheets.split_domains`), builds 1-3
documents from the sheets' sentences and filler, and a conversation of 1-3 user turns from their
questions and followups. Hard negatives come from label-preserving changes of the sheets: a value
swapped with another value of the same document, a sibling's value, the other condition's value,
the contradicting yes/no reply, one claim of two unsupported; documents of the same entity
without the asked fact, of a sibling with it, of another domain sharing a word of the question.
``meta["case"]`` names the change. The negative cases come in equal shares.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from ...errors import DataError
from .dialog import word_count
from .seedsheets import Fact, fresh_value, with_value
from .seedtexts import (
    Ask,
    World,
    ask_about,
    ask_parts,
    conversation,
    distractors,
    document,
    others,
    piece,
    pieces,
    sharing_word,
    shuffled,
    sibling,
)

MAX_WORDS = 250
# Positive cases repeat to mirror the negatives built on the same shape (three negatives answer
# one fact; one each answers under a condition, says yes/no, makes two claims).
GROUNDED = ("answer", "answer", "answer", "condition", "yes", "two_claims")
UNGROUNDED = ("absent", "swapped_attribute", "swapped_entity", "other_condition", "polarity", "partial")
RELEVANT = ("gold",)
IRRELEVANT = ("same_entity", "sibling_aspect", "other_domain")
ANSWERABLE = ("gold", "gold", "gold", "condition_gold")
UNANSWERABLE = ("fact_removed", "sibling_only", "other_condition", "topic_only")


def _mentions(text: str, value: str | None) -> bool:
    """Whether ``text`` states ``value`` in any case ("Every 8 minutes" for "every 8 minutes")."""
    return value is not None and value.casefold() in text.casefold()


# -- groundedness -------------------------------------------------------------------------------
def _join(rng: random.Random, first: str, second: str) -> str:
    return f"{first} {second}" if rng.random() < 0.5 else f"{second} {first}"


def _sentence(answers: list[str]) -> str:
    """The answer to join with another: the fullest (a bare "€24." reads badly beside one)."""
    return max(answers, key=len)


def _replaced_value(rng, world: World, file, sheet, fact: Fact, how: str, text: str) -> str | None:
    """A value for ``fact`` that ``text`` (the documents) does not state: another fact's (same
    type preferred) or a fresh one of its type."""
    if how == "unstated":
        pool = [f for s in file.sheets for f in s.facts if f is not fact and not _mentions(text, f.value)]
        same = [f for f in pool if f.type.casefold() == fact.type.casefold()]
        pool = same if same and rng.random() < 0.7 else pool
        value = rng.choice(pool).value if pool else None
    else:
        value = fresh_value(rng, fact.value, fact.type, world.by_type.get(fact.type.casefold(), []))
    return value if value and value != fact.value and not _mentions(text, value) else None


def groundedness_row(rng: random.Random, world: World, split: str, case: str):
    """(row, each document's role) for ``case``, or None where the drawn sheet cannot make it."""
    file, sheet = world.pick(rng)
    a, *rest = rng.sample(sheet.facts, len(sheet.facts))
    conditioned = [f for f in sheet.facts if f.condition]
    yes_no = rng.choice(sheet.yes_no) if sheet.yes_no else None
    if case in ("condition", "other_condition"):
        if not conditioned:
            return None
        a = rng.choice(conditioned)
    if case in ("yes", "polarity") and yes_no is None:
        return None
    ask, own, how, sibling_doc = Ask(fact=a), [a, *others(rng, sheet, [a], 0, 3)], None, None
    cond_rate = 0.3
    if case == "condition" or (case == "other_condition" and rng.random() < 0.5):
        ask = Ask(fact=a, conditional=True)
    if case in ("condition", "other_condition"):
        cond_rate = 1.0
    elif case in ("yes", "polarity"):
        ask, own = Ask(yes_no=yes_no), others(rng, sheet, [], 0, 3)
    elif case == "two_claims" or case == "partial":
        b = rest[0]
        how = "missing" if case == "partial" and rng.random() < 0.5 else ("fresh" if case == "partial" else None)
        own = [a, *([] if how == "missing" else [b]), *others(rng, sheet, [a, b], 0, 2)]
    elif case == "absent":
        how = rng.choice(["missing", "unstated", "fresh"])
        if how == "missing":
            own = others(rng, sheet, [a], 1, 4)
    elif case == "swapped_attribute":
        pool = [f for f in rest if f.value != a.value and a.value not in f.value]
        same = [f for f in pool if f.type.casefold() == a.type.casefold()]
        if not pool:
            return None
        b = rng.choice(same if same and rng.random() < 0.6 else pool)
        how = "same_type" if b.type.casefold() == a.type.casefold() else "other_type"
        own = [a, b, *others(rng, sheet, [a, b], 0, 2)]
    elif case == "swapped_entity":
        sib, borrowed = sibling(rng, file, sheet, a.aspect, a.value)
        if borrowed is None:
            return None
        own = own if rng.random() < 0.7 else others(rng, sheet, [a], 1, 3)
        facts = [borrowed, *others(rng, sib, [borrowed], 0, 2)]
        sibling_doc = ("sibling", document(rng, sib, pieces(rng, facts), (0, 1), 4))

    parts = pieces(rng, [f for f in own if f is not a], 0.3)
    if a in own:
        parts.append(piece(rng, a, rng.random() < cond_rate))
    if ask.yes_no is not None:
        parts.append([yes_no.sentence])
    docs = [sibling_doc] if sibling_doc else []
    docs += distractors(rng, world, file, sheet, a.aspect, 2 - len(docs), with_sibling=not sibling_doc)
    docs.append(("own", document(rng, sheet, parts, (0, 2), 8 if len(docs) == 0 else 6)))
    text = " ".join(d for _, d in docs)

    answer = rng.choice(a.answers)
    claims = [(a.aspect, a.value)]
    if case == "answer":
        reply = answer
    elif case == "condition":
        reply, claims = rng.choice(a.condition.answers), [(ask.aspect, ask.value)]
    elif case in ("yes", "polarity"):
        reply, claims = (yes_no.yes if case == "yes" else yes_no.no), [("yes/no", case)]
    elif case == "other_condition":
        if ask.conditional:
            how, value = "base_for_condition", a.value
            reply = with_value(rng.choice(a.condition.answers), a.condition.value, value)
        else:
            how, value = "condition_for_base", a.condition.value
            reply = with_value(answer, a.value, value)
        claims = [(ask.aspect, value)]
    elif case in ("two_claims", "partial"):
        second, b_value = _sentence(b.answers), b.value
        if how == "fresh":
            b_value = _replaced_value(rng, world, file, sheet, b, "fresh", text)
            if b_value is None:
                return None
            second = with_value(second, b.value, b_value)
        elif how == "missing" and _mentions(text, b.value):
            return None
        reply, claims = _join(rng, _sentence(a.answers), second), [*claims, (b.aspect, b_value)]
    elif case == "absent":
        if how == "missing":
            value = None if _mentions(text, a.value) else a.value
        else:
            value = _replaced_value(rng, world, file, sheet, a, how, text)
        if value is None:
            return None
        reply, claims = with_value(answer, a.value, value), [(a.aspect, value)]
    else:  # a swap: a value the documents state, for another attribute or another entity
        value = borrowed.value if case == "swapped_entity" else b.value
        reply, claims = with_value(answer, a.value, value), [(a.aspect, value)]
    documents, roles = shuffled(rng, docs)
    grounded = case in GROUNDED
    row = {
        "messages": [*conversation(rng, file, sheet, ask), {"role": "assistant", "content": reply}],
        "documents": documents,
        "target": "grounded" if grounded else "ungrounded",
        "meta": _meta("groundedness", split, file, sheet, case, ask, how) | {"claims": claims},
    }
    return row, roles


# -- context relevance and answerability --------------------------------------------------------
def context_relevance_row(rng: random.Random, world: World, split: str, case: str) -> dict | None:
    file, sheet = world.pick(rng)
    ask = ask_about(rng, sheet, fact_only=case == "sibling_aspect")
    messages = conversation(rng, file, sheet, ask)
    exclude = [ask.fact] if ask.fact else []
    if case == "gold":
        parts = [ask_parts(rng, ask, 0.7), *pieces(rng, others(rng, sheet, exclude, 0, 3), 0.2)]
        doc = document(rng, sheet, parts, (1, 2))
    elif case == "same_entity":
        doc = document(rng, sheet, pieces(rng, others(rng, sheet, exclude, 1, 4), 0.2), (1, 2))
    elif case == "sibling_aspect":
        sib, fact = sibling(rng, file, sheet, ask.fact.aspect, ask.value)
        if fact is None:
            return None
        parts = [piece(rng, fact, ask.conditional, paraphrase=0.7), *pieces(rng, others(rng, sib, [fact], 0, 2))]
        doc = document(rng, sib, parts, (1, 2))
    else:
        other, sentence = sharing_word(rng, world, file, sheet, messages[-1]["content"])
        if other is None:
            return None
        rest = [f for f in others(rng, other, [], 0, 2) if sentence not in f.sentences]
        doc = document(rng, other, [[sentence], *pieces(rng, rest)], (0, 1))
    if case != "gold" and (_mentions(doc, ask.value) or (case != "same_entity" and sheet.named_in(doc))):
        return None
    return {
        "messages": messages,
        "document": doc,
        "target": "relevant" if case == "gold" else "irrelevant",
        "meta": _meta("context_relevance", split, file, sheet, case, ask, None),
    }


def answerability_row(rng: random.Random, world: World, split: str, case: str):
    """(row, each document's role), or None where the drawn sheet cannot make ``case``."""
    file, sheet = world.pick(rng)
    conditional = case in ("condition_gold", "other_condition")
    if conditional:
        facts = [f for f in sheet.facts if f.condition]
        if not facts:
            return None
        ask = Ask(fact=rng.choice(facts), conditional=case == "condition_gold" or rng.random() < 0.5)
    else:
        ask = ask_about(rng, sheet, fact_only=case == "sibling_only", conditional=0.0)
    exclude = [ask.fact] if ask.fact else []
    docs, how = [], None
    if case in ("gold", "condition_gold"):
        parts = [ask_parts(rng, ask, 0.6), *pieces(rng, others(rng, sheet, exclude, 0, 3))]
        docs.append(("gold", document(rng, sheet, parts)))
    elif case == "other_condition":  # the asked condition's sentence left out, the other one kept
        how = "base_for_condition" if ask.conditional else "condition_for_base"
        parts = [piece(rng, ask.fact, condition=not ask.conditional, base=ask.conditional)]
        docs.append(("own", document(rng, sheet, parts + pieces(rng, others(rng, sheet, exclude, 0, 3), 0.0))))
    elif case == "fact_removed":
        docs.append(("own", document(rng, sheet, pieces(rng, others(rng, sheet, exclude, 1, 4), 0.0))))
    elif case == "topic_only":
        docs.append(("own", document(rng, sheet, [], (1, 3))))
    if case == "sibling_only" or (case in ("fact_removed", "topic_only") and rng.random() < 0.4):
        sib, fact = sibling(rng, file, sheet, ask.fact.aspect if case == "sibling_only" else None)
        if case == "sibling_only" and fact is None:
            return None
        same_aspect = [f for f in sib.facts if ask.fact and f.aspect.casefold() == ask.fact.aspect.casefold()]
        facts = ([fact] if fact else []) + others(rng, sib, [fact, *same_aspect], 0 if fact else 1, 2)
        docs.append(("sibling", document(rng, sib, pieces(rng, facts, 0.0), (0, 1), 5)))
        if case == "sibling_only" and rng.random() < 0.5:
            docs.append(("own", document(rng, sheet, pieces(rng, others(rng, sheet, exclude, 1, 3), 0.0), (0, 1), 5)))
    if case in ("gold", "condition_gold"):
        docs += distractors(rng, world, file, sheet, ask.fact.aspect if ask.fact else None, 2)
    own_text = " ".join(d for role, d in docs if role == "own")
    if case in UNANSWERABLE and _mentions(own_text, ask.value):
        return None
    documents, roles = shuffled(rng, docs)
    row = {
        "messages": conversation(rng, file, sheet, ask),
        "documents": documents,
        "target": "answerable" if case in ANSWERABLE else "unanswerable",
        "meta": _meta("answerability", split, file, sheet, case, ask, how),
    }
    return row, roles


def _meta(intrinsic, split, file, sheet, case, ask: Ask, how) -> dict:
    meta = {"intrinsic": intrinsic, "split": split, "domain": file.domain, "case": case,
            "entity": sheet.entity, "aspect": ask.aspect, "value": ask.value}
    return meta | ({"how": how} if how else {})


# -- generators ---------------------------------------------------------------------------------
def _generate(stream: str, make: Callable, positives, negatives, split: str, n: int, seed: int, folder):
    """``n`` rows, labels alternating (exactly balanced), each label's cases in turn (equal shares).

    A case that the split's sheets cannot make (no sheet has a condition, say) gives its share to
    the label's other cases.
    """
    rng = random.Random(f"seeded-{stream}:{split}:{seed}")
    world = World(split, seed, folder)
    cases = {True: list(positives), False: list(negatives)}
    queues: dict[bool, list[str]] = {True: [], False: []}
    rows: list[dict] = []
    while len(rows) < n:
        positive = len(rows) % 2 == 0
        if not cases[positive]:
            raise DataError(f"the seed sheets of the {split} domains cannot make {stream} rows of "
                            f"the cases {sorted(set(positives if positive else negatives))}")
        if not queues[positive]:
            queues[positive] = rng.sample(cases[positive], len(cases[positive]))
        case = queues[positive].pop()
        for _ in range(200):
            row = make(rng, world, split, case)
            if row is not None and word_count(row) <= MAX_WORDS:
                rows.append(row)
                break
        else:
            cases[positive] = [c for c in cases[positive] if c != case]
            queues[positive] = [c for c in queues[positive] if c != case]
    rng.shuffle(rows)
    return rows


def _whole(make: Callable) -> Callable:
    def whole(rng, world, split, case):
        made = make(rng, world, split, case)
        return made[0] if made else None

    return whole


def _one_document(make: Callable, gold_role: str) -> Callable:
    """Rows cut down to one of their documents, for a per-document adapter: a positive keeps the
    document that supports it; a negative one of its documents (the entity's own most often)."""

    def item(rng, world, split, case):
        made = make(rng, world, split, case)
        if made is None:
            return None
        row, roles = made
        if row["target"] in ("grounded", "answerable"):
            picks = [i for i, r in enumerate(roles) if r == gold_role]
        else:
            own = [i for i, r in enumerate(roles) if r == "own"]
            picks = own if own and rng.random() < 0.6 else list(range(len(roles)))
        i = rng.choice(picks)
        return row | {"documents": [row["documents"][i]], "meta": row["meta"] | {"document_role": roles[i]}}

    return item


def groundedness(split: str, n: int, seed: int = 0, folder: str | Path | None = None) -> list[dict]:
    """Groundedness rows (1-3 documents) from the seed sheets of ``split``'s domains."""
    return _generate("groundedness", _whole(groundedness_row), GROUNDED, UNGROUNDED, split, n, seed, folder)


def groundedness_items(split: str, n: int, seed: int = 0, folder: str | Path | None = None) -> list[dict]:
    """One-document groundedness rows: does this document support every claim of the reply?"""
    make = _one_document(groundedness_row, "own")
    return _generate("groundedness-items", make, GROUNDED, UNGROUNDED, split, n, seed, folder)


def context_relevance(split: str, n: int, seed: int = 0, folder: str | Path | None = None) -> list[dict]:
    """Context-relevance rows (one document) from the seed sheets of ``split``'s domains."""
    return _generate("context_relevance", context_relevance_row, RELEVANT, IRRELEVANT, split, n, seed, folder)


def answerability(split: str, n: int, seed: int = 0, folder: str | Path | None = None) -> list[dict]:
    """Answerability rows (1-3 documents) from the seed sheets of ``split``'s domains."""
    return _generate("answerability", _whole(answerability_row), ANSWERABLE, UNANSWERABLE, split, n, seed, folder)


def answerability_items(split: str, n: int, seed: int = 0, folder: str | Path | None = None) -> list[dict]:
    """One-document answerability rows: does this document answer the last question?"""
    make = _one_document(answerability_row, "gold")
    return _generate("answerability-items", make, ANSWERABLE, UNANSWERABLE, split, n, seed, folder)


def mixed(rows: list[dict], seeded_rows: list[dict], split: str, seed: int) -> list[dict]:
    """Generated and seeded rows in one seeded order."""
    both = rows + seeded_rows
    random.Random(f"seeded-mix:{split}:{seed}").shuffle(both)
    return both
