"""Fact-sheet groundedness rows: a person's paragraph that packs several facts about one subject.

Written for the failure measured on groundedness v0.8: given "The Alder Hotel ... has 84 rooms
over six floors and a staff of 120", it accepted "The Alder Hotel has 120 rooms." The knowledge
base's documents state one fact per sentence over 19 attribute kinds; here a document states
three to five facts of one of 22 topics (:mod:`alora_chain.training.datagen.factsheet_topics`), joined
two or three to a sentence, and a wrong reply most often *borrows* another number, person or
town of the same document for the asked relation, or misstates it.

Example (train split)::

    document: "Hotel Szabo opened in 1961 and has 212 rooms. It employs a staff of 85,
               charges from 140 euros a night and sits on the waterfront."
    grounded:   "Hotel Szabo has 212 rooms."
    ungrounded: "Hotel Szabo has 85 rooms."   (case "borrowed")
"""

from __future__ import annotations

import random

from . import dialog
from .factsheet_topics import TOPICS, Relation, Topic
from .kb import BRANDS, COMPANY_ROOTS, FEMALE, MALE, SURNAMES, TOWN_PREFIXES, TOWN_SUFFIXES, split_items

# How an ungrounded reply goes wrong, drawn with these weights.
FAILURES = {"borrowed": 4, "misstated": 3, "unsupported": 1, "wrong_second": 2}


class Names:
    """The split's share of every name pool, so no subject, person or town crosses splits."""

    def __init__(self, split: str):
        self.first = split_items(FEMALE + MALE, split)
        self.surname = split_items(SURNAMES, split)
        self.brand = split_items(BRANDS, split)
        self.root = split_items(COMPANY_ROOTS, split)
        self.town = [p + s for p in split_items(TOWN_PREFIXES, split) for s in TOWN_SUFFIXES]

    def person(self, rng: random.Random) -> str:
        return f"{rng.choice(self.first)} {rng.choice(self.surname)}"

    def subject(self, rng: random.Random, topic: Topic) -> str:
        pattern = rng.choice(topic.names)
        return pattern.format(
            town=rng.choice(self.town), surname=rng.choice(self.surname), first=rng.choice(self.first),
            brand=rng.choice(self.brand), root=rng.choice(self.root), n2=rng.randint(2, 99),
        )


def _value(rng: random.Random, names: Names, relation: Relation) -> str:
    if relation.kind == "p":
        return names.person(rng)
    if relation.kind == "t":
        return rng.choice(names.town)
    n = rng.randrange(relation.low, relation.high + 1, relation.step)
    return str(n) if relation.kind == "y" else f"{n:,}"


def _misstated(rng: random.Random, names: Names, relation: Relation, value: str) -> str:
    """Another value of the same kind, near enough to be a plausible slip."""
    for _ in range(50):
        if relation.kind in "pt" or rng.random() < 0.3:
            other = _value(rng, names, relation)
        else:
            other = _near(rng, relation, value)
        if other != value:
            return other
    return value + "0"


def _near(rng: random.Random, relation: Relation, value: str) -> str:
    """A digit swap or a shift of 10-60%: 1921 -> 1912, 410 -> 520."""
    digits = value.replace(",", "")
    n = int(digits)
    if len(set(digits)) > 1 and rng.random() < 0.4:
        i = rng.randrange(len(digits) - 1)
        swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:]
        if not swapped.startswith("0"):
            n = int(swapped)
    elif relation.kind == "y":
        n += rng.choice([-1, 1]) * rng.randint(1, 30)
    else:
        n = max(1, round(n * rng.choice([rng.uniform(0.4, 0.9), rng.uniform(1.1, 1.6)])))
        n = max(relation.step, n // relation.step * relation.step) if n >= relation.step else n
    return str(n) if relation.kind == "y" else f"{n:,}"


def _passes_for(relation: Relation, other: Relation, value: str) -> bool:
    """Whether ``other``'s value could pass for ``relation``'s: a person for a person, a town for
    a town, a number within reach of the relation's range (120 staff for rooms, not 1,979 euros
    for a screen size: a borrowed value that is absurd is too easy to catch)."""
    if relation.kind in "pt" or other.kind in "pt":
        return other.kind == relation.kind
    n = int(value.replace(",", ""))
    return relation.low / 2 <= n <= relation.high * 1.5 and (relation.kind == "y") == (other.kind == "y")


def _document(rng: random.Random, subject: str, topic: Topic, facts: list[tuple[Relation, str]]) -> str:
    """Two or three sentences: the subject named, then referred back to ("It", "The hotel")."""
    phrases = [rng.choice(r.states).format(n=v) for r, v in facts]
    if rng.random() < 0.6:
        phrases.insert(rng.randint(1, len(phrases)), rng.choice(topic.flavour))
    sentences, i = [], 0
    while i < len(phrases):
        take = min(len(phrases) - i, rng.choice([1, 2, 2, 3]))
        group = phrases[i:i + take]
        i += take
        ref = subject if not sentences else rng.choice(["It", f"The {topic.noun}", "It"])
        body = group[0] if len(group) == 1 else ", ".join(group[:-1]) + " and " + group[-1]
        sentences.append(f"{_cap(ref)} {body}.")
    return " ".join(sentences)


def _claim(rng: random.Random, subject: str, relation: Relation, value: str, first: bool) -> str:
    ref = subject if first or rng.random() < 0.5 else "It"
    return f"{_cap(ref)} {rng.choice(relation.claims).format(n=value)}."


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def row(rng: random.Random, split: str, grounded: bool, names: Names | None = None) -> dict:
    """One one-document row of ``split``'s topics; see the module docstring."""
    names = names or Names(split)
    topic = rng.choice(split_items(TOPICS, split))
    subject = names.subject(rng, topic)
    values = {r.key: _value(rng, names, r) for r in topic.relations}
    asked = rng.choice(topic.relations)
    case = "faithful" if grounded else rng.choices(list(FAILURES), weights=list(FAILURES.values()))[0]
    others = [r for r in topic.relations if r is not asked]
    sources = [
        r for r in others if _passes_for(asked, r, values[r.key]) and values[r.key] != values[asked.key]
    ]
    if case == "borrowed" and not sources:
        case = "misstated"
    stated = rng.sample(others, rng.randint(2, len(others)))
    if case == "borrowed" and not set(stated) & set(sources):
        stated.append(rng.choice(sources))
    if case != "unsupported":
        stated.append(asked)
    claims = [(asked, values[asked.key])]
    if case == "misstated":
        claims = [(asked, _misstated(rng, names, asked, values[asked.key]))]
    elif case == "borrowed":
        claims = [(asked, values[rng.choice([r for r in stated if r in sources]).key])]
    elif case == "wrong_second":
        second = rng.choice([r for r in stated if r is not asked])
        claims.append((second, _misstated(rng, names, second, values[second.key])))
    elif grounded and rng.random() < 0.35:
        second = rng.choice([r for r in stated if r is not asked])
        claims.append((second, values[second.key]))
    rng.shuffle(stated)
    document = _document(rng, subject, topic, [(r, values[r.key]) for r in stated])
    question = dialog.styled(rng, rng.choice(asked.questions).format(s=subject))
    facts = [_claim(rng, subject, r, v, i == 0) for i, (r, v) in enumerate(claims)]
    reply, frame_id = dialog.reply(rng, split, facts)  # no short answer: bare numbers lack units
    return {
        "messages": [dialog.user(question), dialog.assistant(reply)],
        "documents": [document],
        "target": "grounded" if grounded else "ungrounded",
        "meta": {
            "intrinsic": "groundedness",
            "split": split,
            "case": case,
            "sheet": topic.key,
            "attr": asked.key,
            "entity": subject,
            "claims": [(r.key, v) for r, v in claims],
            "entity_ids": [f"sheet:{topic.key}:{subject}"],
            "template_ids": [f"sheet/{topic.key}", frame_id],
        },
    }
