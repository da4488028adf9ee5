"""Shared machinery of the verifiable requirement kinds (:mod:`.ifeval_kinds`, :mod:`.keyword_kinds`, :mod:`.ifbench_kinds`).

A kind pairs an IFEval or IFBench instruction with a maker ``make(rng, seed, want, pool) -> Draft |
None``: it edits one of the seed's replies towards ``want`` (satisfy or break) and picks the
instruction's arguments, preferring a threshold that the edit crosses (the reply before the edit
would get the other verdict). ``want`` only steers: the row's label is :func:`~.ifcheck.check` on
the final reply.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from . import reply_edits as edit
from .ifcheck import sentences

RELATIONS = ("less than", "at least")
STOP = set(
    "about above after again against because been before being below between could doing during every "
    "from further having here into itself just more most other over same should some such than that "
    "their them then there these they this those through under until very what when where which while "
    "with would your yours also many much only still whole usually often well even".split()
)


@dataclass
class Draft:
    reply: str
    case: str  # the edit that made the reply, e.g. "truncated", "bullets_miscount"
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    benchmark: str
    instruction_id: str
    make: Callable[..., Draft | None]
    # other wordings with exactly the checker's meaning, by relation ("" for any)
    paraphrases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    eligible: Callable = lambda seed: True

    @property
    def name(self) -> str:
        return f"{self.benchmark}:{self.instruction_id}"


def base(rng: random.Random, seed) -> str:
    """One of the seed's replies: the plain one mostly, else its casual or child variant."""
    others = [t for t in (seed.casual, seed.child) if t]
    return rng.choice(others) if others and rng.random() < 0.3 else seed.reply


def threshold(rng, relation: str, want: bool, value: int, before: int, spread: int = 10) -> int | None:
    """N such that ``value`` meets "``relation`` N" iff ``want``; where the edit moved the count
    from ``before`` to ``value``, N lies between them (the unedited reply gets the other verdict)."""
    if (relation == "less than") == want:  # N above value
        lo, hi = value + 1, before if before > value else value + spread
    else:  # N at or below value
        lo, hi = (before + 1 if before < value else value - spread), value
    lo = max(1, lo)
    if lo > hi:
        return None
    n = rng.randint(lo, hi)
    rounded = 5 * round(n / 5)
    return rounded if lo <= rounded <= hi and rng.random() < 0.5 else n


def resized(rng, text: str, cut_ok: bool = True) -> tuple[str, str]:
    parts = sentences(text)
    how = rng.choice(
        ["as_is", "truncated", "extended"] if cut_ok and len(parts) > 1 else ["as_is", "extended"]
    )
    if how == "truncated":
        return edit.truncate(text, rng.randint(1, len(parts) - 1)), how
    if how == "extended":
        return edit.extend(rng, text, rng.randint(1, 2)), how
    return text, how


def counted(
    count: Callable[[str], int],
    arg: str,
    relation_arg: str | None,
    spread: int,
    edits=None,
    relation: str | None = None,
):
    """A maker for "the count of something is less than / at least N" (``relation`` fixed, or drawn per row)."""

    def make(rng, seed, want, pool):
        text = base(rng, seed)
        reply, how = (edits or resized)(rng, text)
        rel = relation or rng.choice(RELATIONS)
        n = threshold(rng, rel, want, count(reply), count(text), spread)
        if n is None:
            return None
        kwargs = {arg: n, relation_arg: rel} if relation_arg else {arg: n}
        return Draft(reply, how, kwargs)

    return make


def sentence_edits(rng, text):
    how = rng.choice(["as_is", "truncated", "extended", "split", "merged"])
    if how == "split":
        return edit.split_long(text), how
    if how == "merged":
        return edit.merge(text, rng), how
    return resized(rng, text) if how != "as_is" else (text, how)


def words_lower(text: str) -> list[str]:
    return [w.strip(string.punctuation) for w in text.lower().split()]


def content_words(text: str) -> list[str]:
    words = {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 5 and w not in STOP}
    return sorted(words)


def render(kwargs: dict) -> dict:
    """Arguments as a paraphrase shows them: lists as "'a', 'b' and 'c'"."""

    def show(v):
        if isinstance(v, list):
            quoted = [f"'{w}'" for w in v]
            return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        return v

    return {k: show(v) for k, v in kwargs.items()}


def paraphrase(kind: Kind, kwargs: dict, rng: random.Random) -> str | None:
    relation = kwargs.get("relation", "")
    pool = kind.paraphrases.get(relation, ()) + (kind.paraphrases.get("", ()) if relation else ())
    return rng.choice(pool).format(**render(kwargs)) if pool else None
