"""Generate context-relevance rows: does one document help answer the last user question?"""

from __future__ import annotations

import random

from . import dialog
from .kb import KIND_ATTRS, LINKS, build_world

MAX_WORDS = 250
NEGATIVES = ["look_alike", "same_kind", "other_kind", "mentions_entity"]


def _mention_index(world) -> dict[str, list]:
    """name -> (entity, attr) pairs whose value is that name: docs that name it but are off-topic."""
    index: dict[str, list] = {}
    for e in world.entities:
        for a in KIND_ATTRS[e.kind]:
            if a in LINKS:
                index.setdefault(e.attrs[a], []).append((e, a))
    return index


def _row(rng: random.Random, world, split: str, relevant: bool, mentions_of: dict) -> dict:
    entity = world.pick(rng)
    attr = rng.choice(KIND_ATTRS[entity.kind])
    # More multi-turn rows here: the pronoun must be resolved against an earlier turn.
    messages, tids, eids, introduced = dialog.history(rng, world, split, entity, attr, 0.55)
    q, qtid = dialog.question(
        rng, split, entity, attr, "pronoun" if introduced and rng.random() < 0.75 else "name"
    )
    messages.append(dialog.user(q))
    tids.append(qtid)
    eids.append(entity.id)

    others = [a for a in KIND_ATTRS[entity.kind] if a != attr]
    if relevant:
        case = "gold"
        doc, doc_tids = dialog.document(rng, split, entity, [attr, *rng.sample(others, rng.randint(0, 2))])
    else:
        # "Halvard Labs is run by Mara" would answer "who does Mara work for?": not a negative.
        mentions = [] if attr == "employer" else mentions_of.get(entity.name, [])
        case = rng.choices(NEGATIVES, weights=[4, 2, 2, 2 if mentions else 0])[0]
        if case == "mentions_entity":
            subject, link = rng.choice(mentions)
            attrs = [link, *rng.sample([a for a in KIND_ATTRS[subject.kind] if a != link], rng.randint(0, 1))]
        else:
            subject = {
                "look_alike": lambda: world.similar(rng, entity),
                "same_kind": lambda: world.other(rng, entity),
                "other_kind": lambda: world.pick(
                    rng, rng.choice([k for k in world.by_kind if k != entity.kind])
                ),
            }[case]()
            same_attr = attr in KIND_ATTRS[subject.kind] and rng.random() < 0.7
            attrs = [attr] if same_attr else []
            rest = [a for a in KIND_ATTRS[subject.kind] if a not in attrs]
            attrs += rng.sample(rest, rng.randint(0 if attrs else 1, 2))
        doc, doc_tids = dialog.document(rng, split, subject, attrs)
        eids.append(subject.id)
    return {
        "messages": messages,
        "document": doc,
        "target": "relevant" if relevant else "irrelevant",
        "meta": {
            "intrinsic": "context_relevance",
            "split": split,
            "case": case,
            "attr": attr,
            "entity": entity.name,
            "entity_ids": sorted(set(eids)),
            "template_ids": sorted(set(tids + doc_tids)),
        },
    }


def generate(split: str, n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(f"context_relevance:{split}:{seed}")
    world = build_world(split, seed, size=max(30, n // 3))
    mentions_of = _mention_index(world)
    return dialog.balanced(rng, n, lambda positive: _row(rng, world, split, positive, mentions_of), MAX_WORDS)
