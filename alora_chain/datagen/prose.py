"""Loosen generated documents into prose a person writes: details after a value, two facts in one sentence.

The generators' documents state one fact per sentence and end each sentence at its value
("The Harbor Museum opened in 1987."). Written text goes on after the value ("... opened its
doors in 1987 on Pier 4") and joins facts ("... weighs 180 grams, and it comes in blue"); an
adapter that only saw the first kind reads the trailing words as a mismatch. :func:`loosen`
rewrites a row's documents that way without changing what they state, so its label stands.

It draws from its own generator, seeded per row: rows made without it stay exactly as they were.
Phrase lists follow :mod:`alora_chain.datagen.phrasing` (ids by position, 60/20/20 splits,
append only).
"""

from __future__ import annotations

import random
import re

from .dialog import pick
from .phrasing import lines

# Said after a fact's value; none states an attribute, so a document keeps exactly its facts.
TRAILING = lines(
    """
, according to the official website
, as public records show
, as the latest listing shows
, according to a recent profile
, the records say
, as a local newspaper reported
, as several sources confirm
, according to the annual report
, as the press release put it
, according to the catalogue
, by all accounts
, as most guides mention
, according to a short biography online
, as the fact sheet states
, as far as anyone can tell
 according to the most recent figures
, which few people know
, as the website notes
 at the time of writing
, as listed in the directory
"""
)
# How two fact sentences become one: "A, and it ..." (the second sentence's first word lowercased
# when it is not a name).
JOINS = lines(
    """
, and
; also,
, while
 and
, and what is more,
; in addition,
, and besides that
; on top of that,
, plus
; moreover,
"""
)
# the words that open the generators' sentences other than names (statements.FACTS, NEUTRAL)
_COMMON_OPENERS = set(
    "It Its He His She Her They Their The About Analysts Around By Every Many On Records Reviewers "
    "Some Tickets Tourism Visitors Volunteers You".split()
)
# a sentence ends at ". " before a capital: "4.5 hours" and "$1.50" stay whole
_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z])")


def loosen(row: dict, split: str, seed: int, index: int, rate: float) -> dict:
    """``row`` with each document sentence given a trailing detail, or joined to the next,
    each with probability ``rate``; its label and meta stay, plus the phrase template ids.

    Example: "Vexa X2 weighs 180 grams. It comes in blue." ->
    "Vexa X2 weighs 180 grams, as the fact sheet states, and it comes in blue."
    """
    rng = random.Random(f"prose:{row['meta']['intrinsic']}:{split}:{seed}:{index}")
    tids: list[str] = []
    documents = [_loosen_document(rng, split, text, rate, tids) for text in row["documents"]]
    meta = row["meta"] | {"template_ids": sorted(set(row["meta"]["template_ids"]) | set(tids)), "prose": rate}
    return row | {"documents": documents, "meta": meta}


def _loosen_document(rng: random.Random, split: str, text: str, rate: float, tids: list[str]) -> str:
    sentences = _SENTENCE_END.split(text)
    out: list[str] = []
    for sentence in sentences:
        if rng.random() < rate and sentence.endswith("."):
            tid, phrase = pick(rng, split, "prose:trailing", TRAILING)
            sentence = _attach(sentence[:-1], phrase) + "."
            tids.append(tid)
        if out and out[-1].endswith(".") and rng.random() < rate:
            tid, join = pick(rng, split, "prose:join", JOINS)
            first, _, rest = sentence.partition(" ")
            lead = first.lower() if first in _COMMON_OPENERS else first
            out[-1] = f"{_attach(out[-1][:-1], join)} {lead} {rest}".rstrip()
            tids.append(tid)
        else:
            out.append(sentence)
    return " ".join(out)


def _attach(text: str, phrase: str) -> str:
    """``phrase`` after ``text``: straight after a comma or semicolon, else after a space
    (``lines`` strips the lists' leading spaces)."""
    return text + (phrase if phrase[0] in ",;" else " " + phrase)
