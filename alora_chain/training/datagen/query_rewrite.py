"""Generate query-rewrite rows (context-dependent last turn -> standalone query) and a BM25 corpus.

Dialogue patterns for the last user turn:
- ``pronoun``: "and when was she born?" / "what about its battery life?" about the entity just
  discussed;
- ``ordinal``: the assistant listed 2-3 entities, then "how much does the second one cost?";
- ``switch``: same question, another entity: "what about the Novix Air 3?";
- ``cross``: the assistant's answer named a new entity, which the follow-up refers to
  ("Where does Mara live?" -> "In Ashford." -> "what's its population?").
The corpus (``corpus_<split>.jsonl``) holds 1-2 attributes per document for every entity of the
split's world, so many documents share the asked attribute and look-alike names.
"""

from __future__ import annotations

import random

from . import dialog, phrasing
from .kb import KIND_ATTRS, LINKS, build_world

PATTERNS = ["pronoun", "ordinal", "switch", "cross"]
PATTERN_WEIGHTS = [40, 20, 15, 25]
LEAD_INS = ["", "", "", "and ", "ok, ", "also, ", "thanks. ", "got it. ", "great, "]
INDUSTRY = {
    "Labs": "research",
    "Systems": "software",
    "Foods": "food",
    "Logistics": "logistics",
    "Analytics": "analytics",
    "Robotics": "robotics",
    "Energy": "energy",
    "Textiles": "textile",
}
# kind -> (how entities are grouped for a list question, list questions with {x})
LIST_QUESTIONS = {
    "person": (
        lambda e: e.attrs["profession"].split(" ", 1)[1] + "s",
        [
            "Do you know any {x}?",
            "Can you name a few {x}?",
            "Who are some {x} I could contact?",
            "I'm looking for {x}, any names?",
            "Give me some {x}, please.",
            "Which {x} do you know?",
        ],
    ),
    "product": (
        lambda e: e.noun + "s",
        [
            "Can you recommend a few {x}?",
            "Which {x} would you suggest?",
            "What are some good {x}?",
            "List a few {x} for me.",
            "Any {x} you'd recommend?",
            "I need new {x}. Ideas?",
        ],
    ),
    "town": (
        lambda e: e.attrs["river"],
        [
            "Which towns lie on {x}?",
            "Name some towns along {x}.",
            "What towns are on {x}?",
            "Are there towns near {x}?",
            "Give me a few towns by {x}.",
            "What places sit on {x}?",
        ],
    ),
    "company": (
        lambda e: INDUSTRY[e.keys[1]],
        [
            "Which {x} companies do you know?",
            "Name a few {x} companies.",
            "What {x} firms are there?",
            "Can you list some {x} companies?",
            "Any {x} businesses you know of?",
            "Tell me a few {x} companies.",
        ],
    ),
    "event": (
        lambda e: e.attrs["month"],
        [
            "What events happen in {x}?",
            "Which festivals take place in {x}?",
            "Any events in {x} worth visiting?",
            "Name some events held in {x}.",
            "What's on in {x}?",
            "Which events run in {x}?",
        ],
    ),
}
LISTINGS = [
    "Sure: {items}.",
    "Here are a few: {items}.",
    "A few options are {items}.",
    "You could look at {items}.",
    "Some examples: {items}.",
    "{numbered}",
    "I know of {items}.",
    "Off the top of my head: {items}.",
]
ORDINAL_PHRASES = {
    0: ["the first one", "the first"],
    1: ["the second one", "the second"],
    2: ["the third one", "the third"],
    -1: ["the last one", "the last"],
}


def build_corpus(rng: random.Random, world, split: str) -> tuple[list[dict], dict]:
    """Documents stating 1-2 attributes each; returns (corpus, {(entity name, attr): doc id})."""
    corpus, gold = [], {}
    for entity in world.entities:
        attrs = rng.sample(KIND_ATTRS[entity.kind], len(KIND_ATTRS[entity.kind]))
        while attrs:
            size = rng.randint(1, 2)
            chunk, attrs = attrs[:size], attrs[size:]
            text, _ = dialog.document(rng, split, entity, chunk, neutral=0.3)
            doc_id = f"{split}-{len(corpus):05d}"
            corpus.append({"id": doc_id, "text": text})
            gold.update({(entity.name, a): doc_id for a in chunk})
    return corpus, gold


def _answer(rng, split, entity, attr) -> tuple[dict, list[str]]:
    f, ftid = dialog.fact(rng, split, entity, attr, refer="name" if rng.random() < 0.6 else "pronoun")
    text, rtid = dialog.reply(rng, split, [f], entity.attrs[attr])
    return dialog.assistant(text), [ftid, rtid]


def _follow_up(rng, split, entity, attr, refer="pronoun") -> tuple[str, str]:
    """The context-dependent last turn about ``attr`` of ``entity``."""
    if refer == "pronoun" and rng.random() < 0.45:
        tid, tpl = dialog.pick(rng, split, "follow", phrasing.FOLLOW_UPS)
        if rng.random() < 0.25:
            tpl = tpl.replace("{pos}", "the")  # bare ellipsis: "and the weight?"
        text = dialog.fill(tpl, entity, refer, noun=rng.choice(phrasing.NOUNS[attr]))
        return dialog.styled(rng, text, preamble=False), tid
    text, tid = dialog.question(rng, split, entity, attr, refer, style=False)
    lead = rng.choice(LEAD_INS)
    text = lead + text[0].lower() + text[1:] if lead else text
    return dialog.styled(rng, text, preamble=not lead), tid


def _pronoun(rng, world, split):
    entity = world.pick(rng)
    first, attr, *rest = rng.sample(KIND_ATTRS[entity.kind], len(KIND_ATTRS[entity.kind]))
    q, qtid = dialog.question(rng, split, entity, first)
    answer, atids = _answer(rng, split, entity, first)
    msgs, tids = [dialog.user(q), answer], [qtid, *atids]
    if rest and rng.random() < 0.3:  # one more pronoun turn in between
        q2, tid2 = _follow_up(rng, split, entity, rest[0])
        answer2, atids2 = _answer(rng, split, entity, rest[0])
        msgs += [dialog.user(q2), answer2]
        tids += [tid2, *atids2]
    last, ltid = _follow_up(rng, split, entity, attr)
    return msgs + [dialog.user(last)], tids + [ltid], entity, attr, [entity.id]


def _ordinal(rng, world, split):
    kind = rng.choice(list(LIST_QUESTIONS))
    key, questions = LIST_QUESTIONS[kind]
    groups: dict[str, list] = {}
    for e in world.by_kind[kind]:
        groups.setdefault(key(e), []).append(e)
    label, members = rng.choice(sorted((k, v) for k, v in groups.items() if len(v) >= 2))
    items = rng.sample(members, min(len(members), rng.choice([2, 3, 3])))
    tid, tpl = dialog.pick(rng, split, f"list:{kind}", questions)
    ltid, listing = dialog.pick(rng, split, "listing", LISTINGS)
    refs = [e.ref for e in items]
    numbered = "\n".join(f"{i + 1}. {e.name}" for i, e in enumerate(items))
    listing = listing.format(items=", ".join(refs[:-1]) + " and " + refs[-1], numbered=numbered)
    idx = rng.choice([0, 1, -1] + ([2] if len(items) == 3 else []))
    target_entity = items[idx]
    attr = rng.choice(KIND_ATTRS[kind])
    last, qtid = _follow_up(rng, split, target_entity, attr, refer=rng.choice(ORDINAL_PHRASES[idx]))
    msgs = [
        dialog.user(dialog.styled(rng, tpl.format(x=label))),
        dialog.assistant(listing),
        dialog.user(last),
    ]
    return msgs, [tid, ltid, qtid], target_entity, attr, [e.id for e in items]


def _switch(rng, world, split):
    first = world.pick(rng)
    entity = world.similar(rng, first) if rng.random() < 0.6 else world.other(rng, first)
    attr = rng.choice(KIND_ATTRS[first.kind])
    q, qtid = dialog.question(rng, split, first, attr)
    answer, atids = _answer(rng, split, first, attr)
    stid, tpl = dialog.pick(rng, split, "switch", phrasing.SWITCHES)
    last = dialog.styled(rng, dialog.fill(tpl, entity, "name"), protect=entity.name)
    return (
        [dialog.user(q), answer, dialog.user(last)],
        [qtid, *atids, stid],
        entity,
        attr,
        [first.id, entity.id],
    )


def _cross(rng, world, split):
    linked = [(e, a) for e in world.entities for a in KIND_ATTRS[e.kind] if a in LINKS]
    first, link = rng.choice(linked)
    entity = world.by_name[first.attrs[link]]
    # "it" after a company->town hop could mean either, so skip attributes both kinds have.
    attrs = [a for a in KIND_ATTRS[entity.kind] if a not in KIND_ATTRS[first.kind]]
    attr = rng.choice(attrs)
    q, qtid = dialog.question(rng, split, first, link)
    answer, atids = _answer(rng, split, first, link)
    last, ltid = _follow_up(rng, split, entity, attr)
    return (
        [dialog.user(q), answer, dialog.user(last)],
        [qtid, *atids, ltid],
        entity,
        attr,
        [first.id, entity.id],
    )


def build(split: str, n: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Rows and the corpus their ``meta.gold_doc_id`` points into."""
    rng = random.Random(f"query_rewrite:{split}:{seed}")
    # About 12 documents per entity-quintet: size n/2 gives a corpus of roughly 6x n.
    world = build_world(split, seed, size=max(20, n // 2))
    corpus, gold = build_corpus(rng, world, split)
    makers = {"pronoun": _pronoun, "ordinal": _ordinal, "switch": _switch, "cross": _cross}
    rows = []
    for _ in range(n):
        pattern = rng.choices(PATTERNS, PATTERN_WEIGHTS)[0]
        msgs, tids, entity, attr, eids = makers[pattern](rng, world, split)
        if rng.random() < 0.1:
            tid, (u, a) = dialog.pick(rng, split, "smalltalk", phrasing.SMALL_TALK)
            msgs = [dialog.user(u), dialog.assistant(a), *msgs]
            tids.append(tid)
        target, ttid = dialog.question(rng, split, entity, attr, style=False)
        rows.append(
            {
                "messages": msgs,
                "target": target,
                "meta": {
                    "intrinsic": "query_rewrite",
                    "split": split,
                    "pattern": pattern,
                    "attr": attr,
                    "entity": entity.name,
                    "gold_doc_id": gold[entity.name, attr],
                    "entity_ids": sorted({entity.id, *eids}),
                    "template_ids": sorted({*tids, ttid}),
                },
            }
        )
    return rows, corpus


def generate(split: str, n: int, seed: int = 0) -> list[dict]:
    return build(split, n, seed)[0]


def corpus(split: str, n: int, seed: int = 0) -> list[dict]:
    return build(split, n, seed)[1]
