"""Generate groundedness rows: is every claim in the last assistant reply supported by the documents?

``generate`` writes the intrinsic's own rows (1-4 documents, the test split). ``generate_items``
writes one-document rows for a per-document adapter (``per_item`` in the spec): does this one
document support every claim of the reply?

``dense`` rows give the entity's own document every attribute it has (all but one where a
claim must be missing), as a product page or a company profile does. Their wrong replies
misstate one of those values or borrow another one's number ("a battery of 1,299 hours" where
the page says $1,299): an adapter trained on one-to-three-fact documents accepts such replies,
because the value it looks for is somewhere in the document.
"""

from __future__ import annotations

import random
from functools import partial

from . import dialog, factsheets
from .kb import KIND_ATTRS, NUMBER_FREE_ATTRS, build_world, fmt_value, fresh_value, number_in, perturb
from .prose import continue_after_value, loosen

MAX_WORDS = 250
# How an ungrounded reply goes wrong.
FAILURES = ["wrong_value", "wrong_entity", "invented_extra", "unsupported", "wrong_second"]
# ... in a dense row: a value misstated or borrowed among many is the case it exists for.
DENSE_FAILURES = ["wrong_value", "borrowed", "wrong_second", "wrong_value", "borrowed", "wrong_entity",
                  "invented_extra", "unsupported"]


def _gold_attrs(rng: random.Random, attr: str, others: list[str], case: str) -> list[str]:
    """Attributes the entity's own document states, chosen so each failure case is possible."""
    if case == "unsupported":  # the document talks about the entity, but not the asked attribute
        return rng.sample(others, rng.randint(1, min(2, len(others))))
    if case == "wrong_second":
        return [attr, *rng.sample(others, rng.randint(1, 2))]
    if case == "invented_extra":  # leave at least one attribute out, to invent it
        return [attr, *rng.sample(others, rng.randint(0, min(2, len(others) - 1)))]
    return [attr, *rng.sample(others, rng.randint(0, 2))]


def _dense_attrs(rng: random.Random, attr: str, others: list[str], case: str) -> list[str]:
    """Every attribute, except the one a reply must claim without support."""
    if case == "unsupported":
        return list(others)
    if case == "invented_extra":
        return [attr, *rng.sample(others, len(others) - 1)]
    return [attr, *others]


def _borrowed(rng: random.Random, world, entity, attr: str, stated: list[str]) -> str | None:
    """``attr`` given the number of another attribute the document states, in ``attr``'s unit;
    None when the document states no other number."""
    sources = [a for a in stated if a != attr and a not in NUMBER_FREE_ATTRS]
    if attr in NUMBER_FREE_ATTRS or not sources:
        return None
    value = fmt_value(attr, number_in(entity.attrs[rng.choice(sources)]))
    return value if value != entity.attrs[attr] else perturb(rng, world, entity, attr, entity.attrs[attr])


def _row(
    rng: random.Random, world, split: str, grounded: bool, after_value=None, dense: bool = False
) -> tuple[dict, list[str]]:
    """The row, and how each of its documents relates to the reply (see ``_item_row``);
    ``after_value``: see :func:`alora_chain.training.datagen.dialog.document`; ``dense``: see the module
    docstring (False draws exactly as before it existed)."""
    entity = world.pick(rng)
    attr = rng.choice(KIND_ATTRS[entity.kind])
    others = [a for a in KIND_ATTRS[entity.kind] if a != attr]
    messages, tids, eids, introduced = dialog.history(rng, world, split, entity, attr)
    q, qtid = dialog.question(
        rng, split, entity, attr, "pronoun" if introduced and rng.random() < 0.7 else "name"
    )
    messages.append(dialog.user(q))
    tids.append(qtid)
    eids.append(entity.id)

    case = "faithful" if grounded else rng.choice(DENSE_FAILURES if dense else FAILURES)
    gold_attrs = (_dense_attrs if dense else _gold_attrs)(rng, attr, others, case)
    borrowed = _borrowed(rng, world, entity, attr, gold_attrs) if case == "borrowed" else None
    if case == "borrowed" and borrowed is None:
        case = "wrong_value"  # nothing to borrow from: a plain misstated value
    docs = [dialog.document(rng, split, entity, gold_attrs, after_value=after_value)]
    roles = ["gold" if grounded else f"own_{case}"]
    true = entity.attrs[attr]
    claims = [(attr, true)]
    if case == "wrong_value":
        claims = [(attr, perturb(rng, world, entity, attr, true))]
    elif case == "borrowed":
        claims = [(attr, borrowed)]
    elif case == "wrong_entity" or (grounded and rng.random() < 0.3):
        # A look-alike's document holds a different value; the wrong reply borrows it.
        look_alike = world.similar(rng, entity)
        value = look_alike.attrs[attr]
        if value == true:
            value = perturb(rng, world, entity, attr, true)
        docs.append(dialog.document(rng, split, look_alike, [attr], values={attr: value}, after_value=after_value))
        roles.append("look_alike")
        eids.append(look_alike.id)
        if case == "wrong_entity":
            claims = [(attr, value)]
    elif case == "invented_extra":
        extra = rng.choice([a for a in others if a not in gold_attrs])
        claims.append((extra, fresh_value(rng, world, entity, extra)))
    elif case == "wrong_second":
        second = rng.choice(gold_attrs[1:])
        claims.append((second, perturb(rng, world, entity, second, entity.attrs[second])))
    if grounded and len(gold_attrs) > 1 and rng.random() < 0.35:
        second = rng.choice(gold_attrs[1:])
        claims.append((second, entity.attrs[second]))

    for _ in range(rng.randint(0, 2)):
        distractor = world.other(rng, entity, kind=rng.choice(list(world.by_kind)))
        eids.append(distractor.id)
        docs.append(
            dialog.document(
                rng, split, distractor, rng.sample(KIND_ATTRS[distractor.kind], rng.randint(1, 2)),
                after_value=after_value,
            )
        )
        roles.append("other_entity")
    order = list(range(len(docs)))
    rng.shuffle(order)  # the same draws as shuffling docs itself: the rows stay as they were
    docs, roles = [docs[i] for i in order], [roles[i] for i in order]
    doc_tids = {t for _, ts in docs for t in ts}
    facts = []
    for i, (a, value) in enumerate(claims):
        refer = "name" if i == 0 and rng.random() < 0.7 else "pronoun"
        text, ftid = dialog.fact(rng, split, entity, a, value, refer, avoid=doc_tids)
        facts.append(text)
        tids.append(ftid)
    text, rtid = dialog.reply(rng, split, facts, claims[0][1])
    messages.append(dialog.assistant(text))
    tids += [rtid, *doc_tids]
    row = {
        "messages": messages,
        "documents": [d for d, _ in docs],
        "target": "grounded" if grounded else "ungrounded",
        "meta": {
            "intrinsic": "groundedness",
            "split": split,
            "case": case,
            **({"dense": True} if dense else {}),
            "attr": attr,
            "entity": entity.name,
            "claims": claims,
            "entity_ids": sorted(set(eids)),
            "template_ids": sorted(set(tids)),
        },
    }
    return row, roles


def generate(
    split: str, n: int, seed: int = 0, prose: float = 0.0, dense: float = 0.0, sheets: float = 0.0
) -> list[dict]:
    """Rows with 1-4 documents; ``prose``: the rate at which a document sentence goes on after
    its value, gains a comma clause or joins the next (:mod:`alora_chain.training.datagen.prose`);
    ``dense``: the share of dense rows (module docstring); ``sheets``: the share of fact-sheet
    rows (:mod:`alora_chain.training.datagen.factsheets`), each beside 0-2 other subjects' sheets; 0
    leaves the rows exactly as they were."""
    rng = random.Random(f"groundedness:{split}:{seed}")
    world = build_world(split, seed, size=max(30, n // 3))
    after = _after_value("groundedness", split, seed, prose)
    is_dense = _share_draw("dense", "groundedness", split, seed, dense)
    sheet = _SheetMaker("groundedness", split, seed, sheets, distractors=True)

    def make(positive: bool) -> dict:
        if sheet.due():
            return sheet.row(positive)
        return _row(rng, world, split, grounded=positive, after_value=after, dense=is_dense())[0]

    return _loosened(dialog.balanced(rng, n, make, MAX_WORDS), split, seed, prose)


def _share_draw(option: str, stream: str, split: str, seed: int, rate: float):
    """Whether the next row is made the ``option`` way, from its own generator so that
    ``rate=0`` draws nothing."""
    draws = random.Random(f"{option}:{stream}:{split}:{seed}")
    return lambda: bool(rate) and draws.random() < rate


class _SheetMaker:
    """Fact-sheet rows for one stream, from generators of their own (``sheets=0`` draws nothing)."""

    def __init__(self, stream: str, split: str, seed: int, rate: float, distractors: bool):
        self.due = _share_draw("sheets", stream, split, seed, rate)
        self.rng = random.Random(f"sheets-rows:{stream}:{split}:{seed}")
        self.split, self.distractors = split, distractors
        self.names = factsheets.Names(split)

    def row(self, grounded: bool) -> dict:
        row = factsheets.row(self.rng, self.split, grounded, self.names)
        if not self.distractors:
            return row
        others = [factsheets.row(self.rng, self.split, True, self.names) for _ in range(self.rng.randint(0, 2))]
        docs = row["documents"] + [o["documents"][0] for o in others if o["meta"]["sheet"] != row["meta"]["sheet"]]
        self.rng.shuffle(docs)
        ids = row["meta"]["entity_ids"] + [o["meta"]["entity_ids"][0] for o in others]
        return row | {"documents": docs, "meta": row["meta"] | {"entity_ids": sorted(set(ids))}}


def _after_value(stream: str, split: str, seed: int, prose: float):
    """The hook that lets fact sentences go on after their value, or None when ``prose`` is 0."""
    if not prose:
        return None
    return partial(continue_after_value, random.Random(f"prose-after:{stream}:{split}:{seed}"), split, prose)


def _loosened(rows: list[dict], split: str, seed: int, prose: float) -> list[dict]:
    return [loosen(row, split, seed, i, prose) for i, row in enumerate(rows)] if prose else rows


# Which document of a full row a one-document negative shows. The entity's own document under
# a reply that misstates it, and a look-alike's document (right value, wrong entity, or the
# reverse), are where the multi-document adapter errs, so they get the largest shares.
ITEM_NEGATIVES = {"own": 3, "look_alike": 2, "other_entity": 1}


def _item_row(rng: random.Random, world, split: str, grounded: bool, after_value=None, dense: bool = False) -> dict:
    """A one-document row cut from a full row that has the wanted kind of document."""
    want = "gold" if grounded else rng.choices(list(ITEM_NEGATIVES), weights=list(ITEM_NEGATIVES.values()))[0]
    while True:
        # A look-alike's document sits beside a faithful reply (where it contradicts it) or an
        # ungrounded one (where it is the source of the borrowed value): draw both.
        row, roles = _row(
            rng, world, split, grounded=grounded or (want == "look_alike" and rng.random() < 0.5),
            after_value=after_value, dense=dense,
        )
        picks = [i for i, role in enumerate(roles) if role == want or role.startswith(f"{want}_")]
        if picks:
            break
    i = rng.choice(picks)
    meta = row["meta"] | {"case": roles[i], "reply_case": row["meta"]["case"]}
    target = "grounded" if grounded else "ungrounded"
    return row | {"documents": [row["documents"][i]], "target": target, "meta": meta}


def generate_items(
    split: str, n: int, seed: int = 0, prose: float = 0.0, dense: float = 0.0, sheets: float = 0.0
) -> list[dict]:
    """One-document rows, balanced: does this document support every claim of the reply?"""
    rng = random.Random(f"groundedness-items:{split}:{seed}")
    world = build_world(split, seed, size=max(30, n // 3))
    after = _after_value("groundedness-items", split, seed, prose)
    is_dense = _share_draw("dense", "groundedness-items", split, seed, dense)
    sheet = _SheetMaker("groundedness-items", split, seed, sheets, distractors=False)

    def make(positive: bool) -> dict:
        if sheet.due():
            return sheet.row(positive)
        return _item_row(rng, world, split, grounded=positive, after_value=after, dense=is_dense())

    return _loosened(dialog.balanced(rng, n, make, MAX_WORDS), split, seed, prose)
