"""Generate answerability rows: can the last user question be answered from the documents?"""

from __future__ import annotations

import random

from . import dialog
from .kb import KIND_ATTRS, build_world

MAX_WORDS = 250


def _other_attrs(entity, attr, rng, k):
    others = [a for a in KIND_ATTRS[entity.kind] if a != attr]
    return rng.sample(others, min(k, len(others)))


def _row(rng: random.Random, world, split: str, answerable: bool) -> dict:
    entity = world.pick(rng)
    attr = rng.choice(KIND_ATTRS[entity.kind])
    messages, tids, eids, introduced = dialog.history(rng, world, split, entity, attr)
    refer = "pronoun" if introduced and rng.random() < 0.7 else "name"
    q, qtid = dialog.question(rng, split, entity, attr, refer)
    messages.append(dialog.user(q))
    tids.append(qtid)
    eids.append(entity.id)

    docs: list[tuple[str, list[str]]] = []
    if answerable:
        case = "gold"
        docs.append(
            dialog.document(rng, split, entity, [attr, *_other_attrs(entity, attr, rng, rng.randint(0, 2))])
        )
    else:
        # Hard negatives: the right entity without the asked attribute, and/or a look-alike
        # entity that does have it.
        case = rng.choice(["same_entity", "similar_entity", "both"])
        if case in ("same_entity", "both"):
            docs.append(
                dialog.document(rng, split, entity, _other_attrs(entity, attr, rng, rng.randint(1, 3)))
            )
        if case in ("similar_entity", "both"):
            look_alike = world.similar(rng, entity)
            eids.append(look_alike.id)
            docs.append(dialog.document(rng, split, look_alike, [attr]))
    want = rng.randint(2, 4)
    while len(docs) < want:
        roll = rng.random()
        if roll < 0.3 and answerable:
            look_alike = world.similar(rng, entity)
            distractor_attrs = [attr] if rng.random() < 0.6 else _other_attrs(look_alike, attr, rng, 1)
        else:
            look_alike = world.other(rng, entity, kind=rng.choice(list(world.by_kind)))
            distractor_attrs = rng.sample(KIND_ATTRS[look_alike.kind], rng.randint(1, 2))
        doc = dialog.document(rng, split, look_alike, distractor_attrs)
        if not answerable and entity.name in doc[0]:
            continue  # e.g. "Halvard Labs is run by Mara Okonkwo" would answer "who employs her?"
        eids.append(look_alike.id)
        docs.append(doc)
    rng.shuffle(docs)
    for _, doc_tids in docs:
        tids += doc_tids
    return {
        "messages": messages,
        "documents": [d for d, _ in docs],
        "target": "answerable" if answerable else "unanswerable",
        "meta": {
            "intrinsic": "answerability",
            "split": split,
            "case": case,
            "attr": attr,
            "entity": entity.name,
            "entity_ids": sorted(set(eids)),
            "template_ids": sorted(set(tids)),
        },
    }


def generate(split: str, n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(f"answerability:{split}:{seed}")
    world = build_world(split, seed, size=max(30, n // 3))
    rows: list[dict] = []
    while len(rows) < n:
        # Alternate labels for an exact 50/50 balance, then shuffle away the pattern.
        row = _row(rng, world, split, answerable=len(rows) % 2 == 0)
        if dialog.word_count(row) <= MAX_WORDS:
            rows.append(row)
    rng.shuffle(rows)
    return rows
