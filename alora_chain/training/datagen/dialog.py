"""Render questions, facts, replies, documents and conversation history from the knowledge base."""

from __future__ import annotations

import random
from collections.abc import Callable, Collection

from . import phrasing, statements
from .kb import OBJ, POSS, Entity, World, split_indexed

_LOWER_STARTERS = {"The", "About", "Around", "Some", "Every", "On", "You", "By", "Records", "It"}


def pick(
    rng: random.Random, split: str, pool_name: str, items: list, avoid: Collection[str] = ()
) -> tuple[str, object]:
    """Choose a template from the split's share of ``items``; returns (template id, template).

    Templates whose id is in ``avoid`` are skipped unless nothing else is left.
    """
    choices = [(f"{pool_name}/{i}", t) for i, t in split_indexed(items, split)]
    return rng.choice([c for c in choices if c[0] not in avoid] or choices)


def fill(template: str, entity: Entity, refer: str = "name", value: str = "", noun: str = "") -> str:
    """Fill placeholders. ``refer``: "name", "pronoun", or a literal phrase ("the second one")."""
    if refer == "name":
        subj = obj = entity.ref
        # "Mara Okonkwo has made Ashford her home", not "... Mara Okonkwo's home"
        named_twice = "{name}" in template or "{obj}" in template
        pos = POSS[entity.pronoun] if named_twice else possessive(entity.ref)
    elif refer == "pronoun":
        subj, obj, pos = entity.pronoun, OBJ[entity.pronoun], POSS[entity.pronoun]
    else:
        subj = obj = refer
        # "the second one's price", never "the second's price"
        pos = possessive(refer if refer.endswith("one") else refer + " one")
    text = template.format(name=subj, obj=obj, pos=pos, value=value, noun=noun, ref=subj)
    return text[0].upper() + text[1:]


def possessive(ref: str) -> str:
    return ref + ("'" if ref.endswith("s") else "'s")


def decap(sentence: str) -> str:
    """Lower-case a leading function word so the sentence can follow "According to ..."."""
    first = sentence.split(" ", 1)[0]
    return sentence[0].lower() + sentence[1:] if first in _LOWER_STARTERS else sentence


def styled(rng: random.Random, text: str, protect: str = "", preamble: bool = True) -> str:
    """Make a clean question look typed by a person: preambles, casing, typos, no '?'."""
    if preamble and rng.random() < 0.35:
        keep = text.split(" ", 1)[0] in protect.split() or text.startswith("I ")
        text = rng.choice(phrasing.PREAMBLES) + (text if keep else text[0].lower() + text[1:])
    if rng.random() < 0.12:
        text = text.rstrip("?.")
    if rng.random() < 0.2:
        text += rng.choice(phrasing.SUFFIXES)
    if rng.random() < 0.06:
        words = text.split(" ")
        spots = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha() and w not in protect]
        if spots:  # swap two inner letters of one word, never inside the entity name
            i = rng.choice(spots)
            w = words[i]
            j = rng.randint(1, len(w) - 3)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
            text = " ".join(words)
    if rng.random() < 0.15:
        text = text.lower()
    return text[0].upper() + text[1:] if rng.random() < 0.7 and text[0].islower() else text


def question(
    rng: random.Random, split: str, entity: Entity, attr: str, refer: str = "name", style: bool = True
) -> tuple[str, str]:
    tid, tpl = pick(rng, split, f"q:{attr}", phrasing.QUESTIONS[attr])
    text = fill(tpl, entity, refer)
    return (styled(rng, text, protect=entity.name) if style else text), tid


def fact(
    rng: random.Random,
    split: str,
    entity: Entity,
    attr: str,
    value: str | None = None,
    refer: str = "name",
    avoid: Collection[str] = (),
) -> tuple[str, str]:
    tid, tpl = pick(rng, split, f"fact:{attr}", statements.FACTS[attr], avoid=avoid)
    if refer == "pronoun" and not tpl.startswith(("{name}", "{pos}")):
        refer = "name"  # "The weight of it is ..." reads badly; pronouns only as sentence subject
    return fill(tpl, entity, refer, entity.attrs[attr] if value is None else value), tid


def reply(rng: random.Random, split: str, facts: list[str], value: str | None = None) -> tuple[str, str]:
    """An assistant answer: a frame around fact sentences, or (with ``value``) a short answer."""
    if value is not None and len(facts) == 1 and rng.random() < 0.25:
        tid, tpl = pick(rng, split, "short", statements.SHORT_FRAMES)
        text = tpl.format(value=value)
        return text[0].upper() + text[1:], tid
    tid, tpl = pick(rng, split, "frame", statements.REPLY_FRAMES)
    body = " ".join(facts)
    return tpl.format(fact=body, fact_lc=decap(body)), tid


def document(
    rng: random.Random,
    split: str,
    entity: Entity,
    attrs: list[str],
    values: dict[str, str] | None = None,
    neutral: float = 0.35,
    after_value: Callable[[str, str, str], tuple[str, str | None]] | None = None,
) -> tuple[str, list[str]]:
    """A 1-4 sentence document about ``entity`` stating exactly ``attrs``.

    ``after_value(attr, template, sentence)`` may let a fact sentence go on after its value
    (:func:`alora_chain.training.datagen.prose.continue_after_value`); it draws from its own generator,
    so ``rng``'s draws, and the rows made without it, stay the same.
    """
    values = values or {}
    sentences, tids = [], []
    for i, attr in enumerate(rng.sample(attrs, len(attrs))):
        refer = "name" if i == 0 or rng.random() < 0.5 else "pronoun"
        text, tid = fact(rng, split, entity, attr, values.get(attr), refer)
        if after_value is not None:
            template = statements.FACTS[attr][int(tid.rsplit("/", 1)[1])]  # ids are list positions
            text, phrase_id = after_value(attr, template, text)
            tids += [phrase_id] if phrase_id else []
        sentences.append(text)
        tids.append(tid)
    if len(sentences) < 4 and rng.random() < neutral:
        tid, tpl = pick(rng, split, f"neutral:{entity.kind}", statements.NEUTRAL[entity.kind])
        pos = rng.randint(1, len(sentences)) if sentences else 0
        pronoun_ok = pos > 0 and tpl.startswith(("{name}", "{pos}"))
        sentences.insert(pos, fill(tpl, entity, "pronoun" if pronoun_ok else "name"))
        tids.append(tid)
    return " ".join(sentences), tids


def qa_pair(
    rng: random.Random, split: str, entity: Entity, attr: str, refer: str = "name"
) -> tuple[list[dict], list[str]]:
    """A user question and a correct assistant answer (for conversation history)."""
    q, qtid = question(rng, split, entity, attr, refer)
    f, ftid = fact(rng, split, entity, attr, refer="name" if rng.random() < 0.6 else "pronoun")
    r, rtid = reply(rng, split, [f], entity.attrs[attr])
    return [user(q), assistant(r)], [qtid, ftid, rtid]


def history(
    rng: random.Random, world: World, split: str, focus: Entity, avoid_attr: str, p_multi: float = 0.45
) -> tuple[list[dict], list[str], list[str], bool]:
    """Earlier turns. Returns (messages, template ids, entity ids, focus_was_introduced).

    When ``focus`` is introduced, it is the last entity discussed, so a pronoun in the next
    question resolves to it.
    """
    msgs: list[dict] = []
    tids: list[str] = []
    eids: list[str] = []
    if rng.random() >= p_multi:
        return msgs, tids, eids, False
    if rng.random() < 0.35:
        tid, (u, a) = pick(rng, split, "smalltalk", phrasing.SMALL_TALK)
        msgs += [user(u), assistant(a)]
        tids.append(tid)
    elif rng.random() < 0.5:
        other = world.other(rng, focus, kind=rng.choice(list(world.by_kind)))
        pair, t = qa_pair(rng, split, other, rng.choice(list(other.attrs)))
        msgs += pair
        tids += t
        eids.append(other.id)
    others = [a for a in focus.attrs if a != avoid_attr]
    introduced = not msgs or rng.random() < 0.6
    if introduced:
        pair, t = qa_pair(rng, split, focus, rng.choice(others))
        msgs += pair
        tids += t
    return msgs, tids, eids, introduced


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def word_count(row: dict) -> int:
    texts = [m["content"] for m in row["messages"]] + row.get("documents", [])
    if "document" in row:
        texts.append(row["document"])
    return sum(len(t.split()) for t in texts)


def balanced(rng: random.Random, n: int, make: Callable[[bool], dict | None], max_words: int) -> list[dict]:
    """``n`` rows from ``make(positive)``, labels alternating for an exact 50/50 balance, then
    shuffled to hide the pattern; rows over ``max_words`` (and ``None``: no row this draw) are
    skipped."""
    rows: list[dict] = []
    while len(rows) < n:
        row = make(len(rows) % 2 == 0)
        if row is not None and word_count(row) <= max_words:
            rows.append(row)
    rng.shuffle(rows)
    return rows
