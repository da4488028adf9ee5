"""Edits of a reply that make it satisfy or break a requirement: cut, extend, bulletise, recase, wrap.

Each edit is a pure function of its text (and an ``rng`` where it chooses). None of them decides a
label: the checker reads the edited reply afterwards.

Example: ``bullets(["Rest.", "Drink water."], "*")`` -> "* Rest.\\n* Drink water."
"""

from __future__ import annotations

import json
import random
import re

from .ifcheck import sentences

# Sentences that lengthen a reply without changing what it says.
FILLERS = [
    "I hope this helps.",
    "Let me know if you would like more detail on any of this.",
    "It is worth checking the details for your own situation.",
    "Rules and prices can change, so it is worth double-checking before you act.",
    "If you have a more specific case in mind, tell me and I can narrow it down.",
    "Many people find this confusing at first, so you are not alone in asking.",
    "That covers the main points.",
    "Feel free to ask a follow-up question.",
    "In short, a little planning goes a long way here.",
    "Everyone's situation is a bit different, so take this as a general guide.",
]
# Words that open a paragraph (IFEval's nth_paragraph_first_word); none has punctuation inside.
OPENERS = [
    "however",
    "also",
    "finally",
    "first",
    "overall",
    "meanwhile",
    "remember",
    "still",
    "besides",
    "next",
]
POSTSCRIPTS = [
    "Let me know how it goes.",
    "Rules change from time to time, so check the latest guidance.",
    "I can go into more detail if that would help.",
    "A quick search for local advice is worth it too.",
    "Keep a note of this for next time.",
]
EMOJIS = ["🙂", "👍", "✅", "💡", "🌟", "📌", "🙌", "😊"]
_WORD = re.compile(r"\w+")


def count_words(text: str) -> int:
    """Words as IFEval counts them: runs of word characters ("don't" is two)."""
    return len(_WORD.findall(text))


def decap(text: str) -> str:
    """Lowercase the first letter unless the first word is an acronym or "I"."""
    first = text.split(" ", 1)[0]
    if first == "I" or first.startswith("I'") or (len(first) > 1 and first[:2].isupper()):
        return text
    return text[:1].lower() + text[1:]


def truncate(text: str, k: int) -> str:
    """The first ``k`` sentences."""
    return " ".join(sentences(text)[:k])


def extend(rng: random.Random, text: str, k: int) -> str:
    """``text`` and ``k`` filler sentences after it."""
    return " ".join([text, *rng.sample(FILLERS, k)])


def split_long(text: str) -> str:
    """One sentence more where a clause joins two: "A, and b." -> "A. B." (first match only)."""
    for joint in (", and ", ", but ", ", so ", "; "):
        at = text.find(joint)
        if at > 0:
            rest = text[at + len(joint) :]
            lead = (
                "And "
                if joint == ", and "
                else "But "
                if joint == ", but "
                else "So "
                if joint == ", so "
                else ""
            )
            rest = lead + decap(rest) if lead else rest[:1].upper() + rest[1:]
            return text[:at] + ". " + rest
    return text


def merge(text: str, rng: random.Random) -> str:
    """One sentence fewer: two neighbouring sentences joined with a conjunction."""
    parts = sentences(text)
    if len(parts) < 2:
        return text
    i = rng.randrange(len(parts) - 1)
    joint = rng.choice([", and ", ", but ", "; ", ", so "])
    joined = parts[i].rstrip(".!?") + joint + decap(parts[i + 1])
    return " ".join([*parts[:i], joined, *parts[i + 2 :]])


def bullets(items: list[str], mark: str = "*") -> str:
    return "\n".join(f"{mark} {item}" for item in items)


def numbered(items: list[str]) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def groups(items: list[str], n: int) -> list[str]:
    """``items`` in ``n`` consecutive, near-equal groups, each joined into one paragraph."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for g in range(n):
        end = start + size + (g < extra)
        out.append(" ".join(items[start:end]))
        start = end
    return out


def no_commas(text: str) -> str:
    """Every comma removed ("1,000" -> "1000", "Yes, it is" -> "Yes it is")."""
    return re.sub(r",(?=\d)", "", text).replace(",", "")


def lowercase_but(text: str, keep: str) -> str:
    """All lowercase except the first occurrence of ``keep`` (a capitalised name stays)."""
    low = text.lower()
    at = low.find(keep.lower())
    return low if at < 0 else low[:at] + keep + low[at + len(keep) :]


def json_wrap(rng: random.Random, question: str, text: str) -> str:
    """``text`` as a JSON object (fenced in ```json sometimes)."""
    shape = rng.choice(["answer", "qa", "points"])
    if shape == "answer":
        obj = {"answer": text}
    elif shape == "qa":
        obj = {"question": question, "answer": text}
    else:
        obj = {"points": sentences(text)}
    out = json.dumps(obj, indent=rng.choice([None, 2]), ensure_ascii=False)
    return f"```json\n{out}\n```" if rng.random() < 0.3 else out


def emojify(rng: random.Random, text: str, skip: int | None = None) -> str:
    """An emoji after each sentence, except sentence ``skip`` (an index) if given."""
    parts = sentences(text)
    return " ".join(p if i == skip else f"{p} {rng.choice(EMOJIS)}" for i, p in enumerate(parts))


def highlight(rng: random.Random, text: str, k: int) -> str:
    """``k`` sentences (at most all) wrapped as markdown *highlights*."""
    parts = sentences(text)
    chosen = set(rng.sample(range(len(parts)), min(k, len(parts))))
    return " ".join(f"*{p}*" if i in chosen else p for i, p in enumerate(parts))


def title_of(question: str) -> str:
    """A short title made from the question: "How do I fix a dripping tap?" -> "Fixing a dripping tap"."""
    q = question.rstrip("?").strip()
    for lead, repl in (("How do I ", ""), ("How can I ", ""), ("What is ", ""), ("What are ", "")):
        if q.startswith(lead):
            q = repl + q[len(lead) :]
            break
    return q[:1].upper() + q[1:]
