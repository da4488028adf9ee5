"""Loosen generated documents into prose a person writes: details after a value, two facts in one sentence.

The generators' documents state one fact per sentence and end each sentence at its value
("The Harbor Museum opened in 1987."). Written text goes on after the value ("... opened its
doors in 1987 on Pier 4") and joins facts ("... weighs 180 grams, and it comes in blue"), and
an adapter trained on the first kind was seen to balk at the second (groundedness's card). Two
steps, neither
changing what a document states, so a row's label stands: :func:`continue_after_value` lets a
fact sentence go on after its value as it is written (per attribute, no comma), and
:func:`loosen` then adds comma clauses and joins sentences of the finished documents.

Both draw from generators of their own: rows made without them stay exactly as they were.
Phrase lists follow :mod:`alora_chain.training.datagen.phrasing` (ids by position, 60/20/20 splits,
append only).
"""

from __future__ import annotations

import random
import re

from .dialog import pick
from .phrasing import blocks, lines

# Said straight after a value, per attribute, with no comma ("opened in 1987 on Pier 4"), as a
# person goes on. None states another attribute or changes the value's meaning.
CONTINUATIONS = blocks(
    """
[birth_year]
in a small village
in the middle of a cold winter
to a family of teachers
during a long strike
in a hospital by the sea
[city]
with family
near the old harbour
in a flat above a bakery
close to the town centre
in a quiet street
[profession]
on weekdays
with many years of experience
on a freelance basis
by training
in shifts
[employer]
on a full-time contract
in a senior role
since leaving university
as part of a small team
on a temporary basis
[price]
before tax
at most shops
in its basic version
without any discounts
at launch
[battery]
with the screen at half brightness
in normal use
under light use
with wireless switched off
on its default settings
[weight]
without its case
including the battery
in its lightest version
with the strap attached
straight out of the box
[colour]
with silver trim
with a matte texture
in most shops
in its standard edition
with matching accessories
[release_year]
after a long delay
to mixed reviews
in time for the holidays
after two years of development
with little fanfare
[population]
at the last census
in the most recent count
across its districts
including outlying farms
by the latest estimate
[river]
near the old mill
along its southern edge
at a wide bend
just below a weir
for most of its length
[founded]
in difficult times
with only a handful of people
after years of planning
near the old harbour
under a different name
[headquarters]
in a converted warehouse
near the railway station
on the edge of town
in a glass tower
on a business park
[ceo]
with a small board
from a home office
after a reshuffle
together with two deputies
on a day-to-day basis
[employees]
across three sites
in total
including part-time staff
at the last count
worldwide
[month]
in the main square
on the old fairground
whatever the weather
along the seafront
in the town park
[first_held]
in a small field
with a few hundred guests
as a one-day affair
in the old market hall
on a shoestring budget
[visitors]
from around the region
over its three days
from many countries
on average
of all ages
"""
)
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


def continue_after_value(
    rng: random.Random, split: str, rate: float, attr: str, template: str, text: str
) -> tuple[str, str | None]:
    """``text`` (a fact sentence from ``template``) going on after its value with probability
    ``rate``, and the phrase's template id; unchanged (id None) otherwise, and always when the
    template does not end at the value ("{value} employs {obj}.").

    Example: "Kestreldale was founded in 1700." -> "Kestreldale was founded in 1700 after years of planning."
    """
    if not template.endswith("{value}.") or attr not in CONTINUATIONS or rng.random() >= rate:
        return text, None
    tid, phrase = pick(rng, split, f"prose:after:{attr}", CONTINUATIONS[attr])
    return f"{text[:-1]} {phrase}.", tid


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
