"""IFEval's keyword instructions as requirement kinds (part of :mod:`.ifeval_kinds`' list)."""

from __future__ import annotations

import re
from collections import Counter

from .ifcheck import sentences
from .verifiable_kinds import RELATIONS, Draft, Kind, base, content_words, resized, threshold


def _other_words(seed, pool, text: str) -> list[str]:
    """Content words of the domain's other replies (the split's, where it has no other seed of the
    domain) that ``text`` does not contain."""
    others = [s for s in pool if s.id != seed.id]
    neighbours = [s for s in others if s.domain == seed.domain] or others
    words = {w for s in neighbours for w in content_words(s.reply)}
    return sorted(w for w in words if w not in text.lower())


def _dropped(rng, text: str, words: list[str]) -> tuple[str, str] | None:
    """``text`` without the sentences containing one of ``words``: (text, the word) or None."""
    parts = sentences(text)
    for word in rng.sample(words, len(words)):
        kept = [p for p in parts if word not in p.lower()]
        if 0 < len(kept) < len(parts):
            return " ".join(kept), word
    return None


def _existence(rng, seed, want, pool):
    text = base(rng, seed)
    present = content_words(text)
    k = rng.randint(1, min(3, len(present)))
    chosen = rng.sample(present, k)
    if want:
        return Draft(text, "present", {"keywords": chosen})
    if rng.random() < 0.5 and (dropped := _dropped(rng, text, chosen)):
        return Draft(dropped[0], "sentence_dropped", {"keywords": chosen})
    absent = _other_words(seed, pool, text)
    if not absent:
        return None
    return Draft(text, "one_absent", {"keywords": [*chosen[: k - 1], rng.choice(absent)]})


def _forbidden(rng, seed, want, pool):
    text = base(rng, seed)
    present, absent = content_words(text), _other_words(seed, pool, text)
    if len(absent) < 3:
        return None
    if not want:
        words = [rng.choice(present), *rng.sample(absent, rng.randint(0, 2))]
        return Draft(text, "present", {"forbidden_words": words})
    if rng.random() < 0.5 and (dropped := _dropped(rng, text, present)):
        return Draft(dropped[0], "sentence_dropped", {"forbidden_words": [dropped[1]]})
    return Draft(text, "absent", {"forbidden_words": rng.sample(absent, rng.randint(1, 3))})


def _frequency(rng, seed, want, pool):
    text = base(rng, seed)
    counts = Counter(re.findall(r"[a-z]+", text.lower()))
    keyword = rng.choice([w for w in content_words(text) if counts[w]] or ["the"])
    reply, how = text, "as_is"
    if rng.random() < 0.4 and (dropped := _dropped(rng, text, [keyword])):
        reply, how = dropped[0], "sentence_dropped"
    relation = rng.choice(RELATIONS)
    occurs = lambda t: len(re.findall(keyword, t, flags=re.IGNORECASE))  # noqa: E731 - as the checker counts
    n = threshold(rng, relation, want, occurs(reply), occurs(text), 3)
    return (
        None if n is None else Draft(reply, how, {"keyword": keyword, "frequency": n, "relation": relation})
    )


def _letters(rng, seed, want, pool):
    text = base(rng, seed)
    reply, how = resized(rng, text)
    letter, relation = rng.choice("abcdeghilmnoprstuwy"), rng.choice(RELATIONS)
    n = threshold(rng, relation, want, reply.lower().count(letter), text.lower().count(letter), 12)
    return (
        None
        if n is None
        else Draft(reply, how, {"letter": letter, "let_frequency": n, "let_relation": relation})
    )


KINDS = [
    Kind("ifeval", "keywords:existence", _existence, {"": ("Make sure your answer uses {keywords}.",)}),
    Kind(
        "ifeval", "keywords:forbidden_words", _forbidden, {"": ("Never use {forbidden_words} in the reply.",)}
    ),
    Kind(
        "ifeval",
        "keywords:frequency",
        _frequency,
        {
            "less than": ('Use the word "{keyword}" fewer than {frequency} times.',),
            "at least": ('Use the word "{keyword}" at least {frequency} times.',),
        },
    ),
    Kind("ifeval", "keywords:letter_frequency", _letters),
]
