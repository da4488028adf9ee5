"""Documents and conversations written from seed sheets, the pieces every seeded row is built of.

A document states some facts of one sheet (either wording, a condition's sentence after its
fact's) among the sheet's filler, shuffled, and names its entity; a conversation asks other facts
of the entity before the last question, which may lean on them (a followup).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from .seedsheets import Fact, SeedFile, Sheet, YesNo, load_seeds, split_domains, with_condition

_STOPWORDS = set(
    """about after also and any are been before being between both can could does doing down each
    from have having here how into just like long many more most much need only other over same
    should some such than that their them then there these they this those through under very
    what when where which while will with would your yours tell know want""".split()
)
_HEADINGS = ("{E}. ", "{E}: ", "About {e}. ", "{E}\n")


@dataclass(frozen=True)
class Ask:
    """What the last user turn asks: a fact (under its condition when ``conditional``) or a yes/no."""

    fact: Fact | None = None
    yes_no: YesNo | None = None
    conditional: bool = False

    @property
    def aspect(self) -> str:
        if self.fact is None:
            return "yes/no"
        return f"{self.fact.aspect} {self.fact.condition.text}" if self.conditional else self.fact.aspect

    @property
    def value(self) -> str | None:
        if self.fact is None:
            return None
        return self.fact.condition.value if self.conditional else self.fact.value


class World:
    """The seed files of one split's domains, and each value type's values (for fresh values)."""

    def __init__(self, split: str, seed: int, folder: str | Path | None = None):
        files = load_seeds(folder)
        names = split_domains([f.domain for f in files], seed)[split]
        self.files = [f for f in files if f.domain in names]
        self.by_type: dict[str, list[str]] = {}
        for fact in (f for file in self.files for s in file.sheets for f in s.facts):
            values = [fact.value] + ([fact.condition.value] if fact.condition else [])
            self.by_type.setdefault(fact.type.casefold(), []).extend(values)

    def pick(self, rng: random.Random) -> tuple[SeedFile, Sheet]:
        file = rng.choice(self.files)
        return file, rng.choice(file.sheets)

    def other_domain(self, rng: random.Random, file: SeedFile) -> Sheet | None:
        others = [f for f in self.files if f is not file]
        return rng.choice(rng.choice(others).sheets) if others else None


# -- documents and conversations ----------------------------------------------------------------
def piece(rng: random.Random, fact: Fact, condition: bool = False, base: bool = True, paraphrase=0.5) -> list[str]:
    """The sentences stating ``fact`` (one wording of two), its condition's sentence after them."""
    wording = fact.sentences[-1] if rng.random() < paraphrase else fact.sentences[0]
    return ([wording] if base else []) + ([fact.condition.sentence] if condition and fact.condition else [])


def pieces(rng: random.Random, facts: list[Fact], condition_rate: float = 0.3) -> list[list[str]]:
    """Each fact's sentences, with its condition's sentence at ``condition_rate``."""
    return [piece(rng, f, rng.random() < condition_rate) for f in facts]


def document(rng: random.Random, sheet: Sheet, parts: list[list[str]], filler: tuple[int, int] = (0, 2),
             limit: int = 8) -> str:
    """One document about ``sheet``'s entity: ``parts`` (each kept together) and filler sentences,
    shuffled, at most ``limit`` sentences; it names the entity (a heading where no sentence does)."""
    parts = [list(p) for p in parts if p]
    spare = [s for s in sheet.filler if not any(s in p for p in parts)]
    room = max(0, limit - sum(len(p) for p in parts))
    low = max(filler[0], 0 if parts else 1)
    k = min(rng.randint(low, max(low, filler[1])), room, len(spare))
    parts += [[s] for s in rng.sample(spare, k)]
    rng.shuffle(parts)
    named = [i for i, p in enumerate(parts) if any(sheet.named_in(s) for s in p)]
    if named and rng.random() < 0.7:
        parts.insert(0, parts.pop(named[0]))
    text = " ".join(s for p in parts for s in p)
    if not named:
        name = rng.choice(sheet.names)
        text = rng.choice(_HEADINGS).format(E=name[0].upper() + name[1:], e=name) + text
    return text.strip()


def others(rng: random.Random, sheet: Sheet, exclude: list[Fact], low: int, high: int) -> list[Fact]:
    """``low`` to ``high`` facts of ``sheet`` not in ``exclude`` (fewer where it has fewer)."""
    rest = [f for f in sheet.facts if f not in exclude]
    return rng.sample(rest, min(rng.randint(low, high), len(rest)))


def conversation(rng: random.Random, file: SeedFile, sheet: Sheet, ask: Ask) -> list[dict]:
    """1-3 user turns ending with ``ask``; earlier turns ask other facts by name and a followup
    leans on them. Now and then the talk starts about a sibling and the last turn names the entity."""
    turns = rng.choice([1, 1, 2, 2, 3])
    lead = sheet
    if turns > 1 and rng.random() < 0.15:
        lead = rng.choice([s for s in file.sheets if s is not sheet])
    asked = [f for f in lead.facts if ask.fact is not None and f.aspect == ask.fact.aspect]
    earlier = others(rng, lead, asked, turns - 1, turns - 1)
    messages: list[dict] = []
    for i, fact in enumerate(earlier):
        follow = i > 0 and fact.followups and rng.random() < 0.5
        messages.append(user(rng.choice(fact.followups if follow else fact.questions)))
        messages.append({"role": "assistant", "content": rng.choice(fact.answers)})
    if ask.yes_no is not None:
        standalone, follows = [ask.yes_no.question], [ask.yes_no.followup] if ask.yes_no.followup else []
    else:
        standalone, follows = ask.fact.questions, ask.fact.followups
    follow = bool(messages) and lead is sheet and follows and rng.random() < 0.6
    question = rng.choice(follows if follow else standalone)
    if ask.conditional:
        question = with_condition(question, ask.fact.condition.text)
    return [*messages, user(question)]


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def shuffled(rng: random.Random, docs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(documents, roles) in a random order."""
    rng.shuffle(docs)
    return [d for _, d in docs], [r for r, _ in docs]


def sibling(rng: random.Random, file: SeedFile, sheet: Sheet, aspect: str | None = None,
             value: str | None = None) -> tuple[Sheet, Fact | None]:
    """A sibling sheet, with its fact of ``aspect`` (whose value is not ``value``) when asked for one;
    (sheet, None) when none has it."""
    siblings = [s for s in file.sheets if s is not sheet]
    if aspect is None:
        return rng.choice(siblings), None
    having = [(s, s.fact(aspect)) for s in siblings if s.fact(aspect) and s.fact(aspect).value != value]
    return rng.choice(having) if having else (sheet, None)


def distractors(rng, world: World, file, sheet, aspect: str | None, room: int, with_sibling: bool = True):
    """0-2 other (role, document)s: a sibling's (with the asked aspect half the time), another domain's."""
    docs = []
    if with_sibling and room > 0 and rng.random() < 0.4:
        sib, fact = sibling(rng, file, sheet, aspect if rng.random() < 0.5 else None)
        if sib is not sheet:
            facts = ([fact] if fact else []) + others(rng, sib, [fact], 0 if fact else 1, 2)
            docs.append(("sibling", document(rng, sib, pieces(rng, facts), (0, 1), 4)))
    other = world.other_domain(rng, file) if room > len(docs) and rng.random() < 0.3 else None
    if other is not None and not sheet.named_in(" ".join(s for f in other.facts for s in f.sentences)):
        docs.append(("other_domain", document(rng, other, pieces(rng, others(rng, other, [], 1, 2)), (0, 1), 4)))
    return docs


# -- what the last turn asks --------------------------------------------------------------------
def ask_about(rng: random.Random, sheet: Sheet, fact_only: bool = False, conditional: float = 0.15) -> Ask:
    """A fact of ``sheet`` (under its condition at rate ``conditional``), or one time in five a yes/no."""
    if sheet.yes_no and not fact_only and rng.random() < 0.2:
        return Ask(yes_no=rng.choice(sheet.yes_no))
    fact = rng.choice(sheet.facts)
    return Ask(fact=fact, conditional=bool(fact.condition) and rng.random() < conditional)


def ask_parts(rng: random.Random, ask: Ask, paraphrase: float) -> list[str]:
    """The sentences that answer ``ask``."""
    if ask.yes_no is not None:
        return [ask.yes_no.sentence]
    return piece(rng, ask.fact, ask.conditional or rng.random() < 0.3, paraphrase=paraphrase)


def _words(text: str, sheet: Sheet) -> set[str]:
    name_words = {w.casefold() for n in sheet.names for w in re.findall(r"\w+", n)}
    return {w for w in re.findall(r"[a-z]{4,}", text.casefold()) if w not in _STOPWORDS | name_words}


def sharing_word(rng, world: World, file, sheet, question: str):
    """(sheet of another domain, one of its sentences sharing a content word with ``question``)."""
    words = _words(question, sheet)
    found = [
        (other, s)
        for f in world.files if f is not file
        for other in f.sheets
        for s in [s for fact in other.facts for s in fact.sentences] + other.filler
        if words & set(re.findall(r"[a-z]{4,}", s.casefold())) and not sheet.named_in(s)
    ]
    return rng.choice(found) if found else (None, None)
