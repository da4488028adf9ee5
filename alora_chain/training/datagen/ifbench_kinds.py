"""IFBench's instructions as requirement kinds: for each, edits that satisfy or break it."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable

from . import reply_edits as edit
from .ifcheck import ifbench_sentences, sentences
from .verifiable_kinds import (
    Draft,
    Kind,
    base,
    content_words,
    counted,
    resized,
    sentence_edits,
    words_lower,
)

CONJUNCTIONS = {"and", "but", "for", "nor", "or", "so", "yet"}
PRONOUNS = set(
    "i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself "
    "she her hers herself it its itself they them their theirs themselves".split()
)


def _word_range(rng, seed, want, pool):
    text = base(rng, seed)
    reply, how = resized(rng, text)
    c = edit.count_words(reply)
    if want:
        lo, hi = c - rng.randint(0, 10), c + rng.randint(0, 10)
    elif rng.random() < 0.5:  # range above the reply
        lo = c + rng.randint(1, 8)
        hi = lo + rng.randint(5, 20)
    else:
        hi = c - rng.randint(1, 8)
        lo = hi - rng.randint(5, 20)
    return None if lo < 1 else Draft(reply, how, {"min_words": lo, "max_words": hi})


def _numbers(rng, seed, want, pool):
    text = base(rng, seed)
    count = lambda t: len(re.findall(r"\d+", t.translate(str.maketrans("", "", string.punctuation))))  # noqa: E731
    reply, how = text, "as_is"
    digits = [p for p in sentences(text) if re.search(r"\d", p)]
    if digits and rng.random() < 0.4:
        gone = rng.choice(digits)
        reply, how = " ".join(p for p in sentences(text) if p != gone), "number_sentence_dropped"
    c = count(reply)
    n = c if want else c + rng.choice([-1, 1])
    return None if n < 1 or not reply else Draft(reply, how, {"N": n})


def _repeats(rng, seed, want, pool):
    text = base(rng, seed)
    reply, how = resized(rng, text)
    counts = Counter(reply.lower().translate(str.maketrans("", "", string.punctuation)).split())
    top = max(counts.values())
    n = rng.randint(top, top + 2) if want else rng.randint(max(1, top - 2), top - 1) if top > 1 else None
    return None if n is None else Draft(reply, how, {"small_n": n})


def _sentence_keyword(rng, seed, want, pool):
    text = base(rng, seed)
    parts = ifbench_sentences(text)
    i = rng.randrange(len(parts))
    words = content_words(parts[i])
    if not words:
        return None
    word = rng.choice(words)
    if want:
        return Draft(text, "in_sentence", {"word": word, "N": i + 1})
    others = [j for j, p in enumerate(parts) if word not in p.lower()]
    j = rng.choice(others) if others and rng.random() < 0.8 else len(parts)
    return Draft(text, "other_sentence" if j < len(parts) else "past_the_end", {"word": word, "N": j + 1})


def _special_list(rng, seed, want, pool):
    parts = sentences(base(rng, seed))
    if len(parts) < 2:
        return None
    sep = rng.choice(["...", "SEPARATOR", "!?!?"])
    how = "separated" if want else rng.choice(["bullets", "numbered", "prose", "one_item"])
    reply = {
        "separated": "\n".join(f"{sep} {p}" for p in parts),
        "bullets": edit.bullets(parts, rng.choice(["*", "-"])),
        "numbered": edit.numbered(parts),
        "prose": " ".join(parts),
        "one_item": f"{sep} {' '.join(parts)}",
    }[how]
    return Draft(reply, how, {"sep": sep})


def _prose_then_bullets(rng, seed, want, pool):
    parts = sentences(base(rng, seed))
    if len(parts) < 4:
        return None
    head, items = " ".join(parts[:2]), parts[2:]
    how = (
        "prose_then_bullets"
        if want
        else rng.choice(["bullets_only", "one_sentence_first", "dashes", "prose_after"])
    )
    reply = {
        "prose_then_bullets": f"{head}\n{edit.bullets(items)}",
        "bullets_only": edit.bullets(parts),
        "one_sentence_first": f"{parts[0]}\n{edit.bullets(parts[1:])}",
        "dashes": f"{head}\n{edit.bullets(items, '-')}",
        "prose_after": f"{head}\n{edit.bullets(items[:-1])}\n{items[-1]}",
    }[how]
    return Draft(reply, how, {})


def _emoji(rng, seed, want, pool):
    text = base(rng, seed)
    n = len(sentences(text))
    how = "every_sentence" if want else rng.choice(["one_missing", "none", "last_only"])
    reply = {
        "every_sentence": edit.emojify(rng, text),
        "one_missing": edit.emojify(rng, text, skip=rng.randrange(max(1, n - 1))),
        "none": text,
        "last_only": f"{text} {rng.choice(edit.EMOJIS)}",
    }[how]
    return Draft(reply, how, {})


def _conjunction_count(text: str) -> int:  # as IFBench counts: distinct surface forms
    return len({w for w in text.split() if w.strip(string.punctuation).lower() in CONJUNCTIONS})


def _at_least(count: Callable[[str], int], arg: str, spread: int, edits=None):
    """IFBench's count instructions are all "at least N", with no relation argument."""
    return counted(count, arg, None, spread, edits, relation="at least")


KINDS = [
    Kind(
        "ifbench",
        "count:word_count_range",
        _word_range,
        {"": ("Your answer should be {min_words} to {max_words} words long.",)},
    ),
    Kind("ifbench", "count:unique_word_count", _at_least(lambda t: len(set(words_lower(t))), "N", 10)),
    Kind("ifbench", "count:conjunctions", _at_least(_conjunction_count, "small_n", 2, sentence_edits)),
    Kind("ifbench", "count:numbers", _numbers, {"": ("Use exactly {N} numbers in your answer.",)}),
    Kind(
        "ifbench",
        "count:pronouns",
        _at_least(lambda t: sum(w in PRONOUNS for w in words_lower(t.replace("/", " "))), "N", 4),
    ),
    Kind("ifbench", "words:repeats", _repeats),
    Kind("ifbench", "sentence:keyword", _sentence_keyword),
    Kind("ifbench", "format:list", _special_list),
    Kind("ifbench", "format:no_bullets_bullets", _prose_then_bullets),
    Kind("ifbench", "format:emoji", _emoji),
]
