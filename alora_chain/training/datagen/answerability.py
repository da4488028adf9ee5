"""Generate answerability rows: can the last user question be answered from the documents?

``generate`` writes the intrinsic's own rows (2-4 documents, the test split). ``generate_items``
writes one-document rows for training the per-document adapter (``per_item`` in the spec):
the shipped answerability invokes the adapter on each document and answers "answerable" when
one of them does.
"""

from __future__ import annotations

import random

from . import dialog
from .kb import KIND_ATTRS, build_world

MAX_WORDS = 250


def _other_attrs(entity, attr, rng, k):
    others = [a for a in KIND_ATTRS[entity.kind] if a != attr]
    return rng.sample(others, min(k, len(others)))


def _conversation(rng: random.Random, world, split: str):
    """(entity, attr, messages, template ids, entity ids): history, then the question about attr."""
    entity = world.pick(rng)
    attr = rng.choice(KIND_ATTRS[entity.kind])
    messages, tids, eids, introduced = dialog.history(rng, world, split, entity, attr)
    refer = "pronoun" if introduced and rng.random() < 0.7 else "name"
    q, qtid = dialog.question(rng, split, entity, attr, refer)
    messages.append(dialog.user(q))
    tids.append(qtid)
    eids.append(entity.id)
    return entity, attr, messages, tids, eids


def _row(rng: random.Random, world, split: str, answerable: bool) -> dict:
    entity, attr, messages, tids, eids = _conversation(rng, world, split)

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
    return _as_row(split, case, entity, attr, messages, [d for d, _ in docs], answerable, eids, tids)


def _as_row(split, case, entity, attr, messages, documents, answerable, eids, tids) -> dict:
    return {
        "messages": messages,
        "documents": documents,
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
    return dialog.balanced(rng, n, lambda positive: _row(rng, world, split, answerable=positive), MAX_WORDS)


# One-document rows: what one document can look like next to the question. The same entity
# without the asked attribute is the case the multi-document rows hinge on (context_relevance
# never sees it), so it gets the largest share of the negatives.
ITEM_NEGATIVES = {"same_entity": 3, "similar_entity": 2, "other_entity": 1}


def _item_row(rng: random.Random, world, split: str, answerable: bool) -> dict | None:
    """A one-document row, or None where a distractor happens to name the asked-about entity."""
    entity, attr, messages, tids, eids = _conversation(rng, world, split)
    if answerable:
        case, subject = "gold", entity
        attrs = [attr, *_other_attrs(entity, attr, rng, rng.randint(0, 2))]
    else:
        case = rng.choices(list(ITEM_NEGATIVES), weights=list(ITEM_NEGATIVES.values()))[0]
        if case == "same_entity":
            subject, attrs = entity, _other_attrs(entity, attr, rng, rng.randint(1, 3))
        elif case == "similar_entity":
            subject = world.similar(rng, entity)
            attrs = [attr] if rng.random() < 0.7 else _other_attrs(subject, attr, rng, 1)
        else:
            subject = world.other(rng, entity, kind=rng.choice(list(world.by_kind)))
            attrs = rng.sample(KIND_ATTRS[subject.kind], rng.randint(1, 2))
    doc, doc_tids = dialog.document(rng, split, subject, attrs)
    if subject is not entity and entity.name in doc:
        return None  # "Halvard Labs is run by Mara Okonkwo" would answer "who employs her?"
    eids.append(subject.id)
    return _as_row(split, case, entity, attr, messages, [doc], answerable, eids, tids + doc_tids)


def generate_items(split: str, n: int, seed: int = 0) -> list[dict]:
    """One-document rows, balanced: does this document answer the last question?"""
    rng = random.Random(f"answerability-items:{split}:{seed}")
    world = build_world(split, seed, size=max(30, n // 3))
    return dialog.balanced(rng, n, lambda positive: _item_row(rng, world, split, answerable=positive), MAX_WORDS)
