"""Hand-written seed sheets (``seeds/<domain>.json``): their schema, loading, and the split by domain.

A sheet describes one entity (a ferry route, a clinic, a laptop) by facts, each stated two ways,
asked several ways and answered two ways; its siblings in the same file share the aspects with
other values. :mod:`alora_chain.training.datagen.seeded` turns the sheets into training rows.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ...errors import DataError

SEEDS_DIR = Path(__file__).parent / "seeds"
# Share of domains held out of training: validation and test rows come from these alone, so that
# they measure how the data transfers to a domain no training row came from.
HELD_OUT = 0.15


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _states(value: str, texts: list[str], where: str) -> None:
    """The generator swaps ``value`` inside these texts, so each must hold it verbatim."""
    for text in texts:
        if value not in text:
            raise ValueError(f"{where} {text!r} does not contain the value {value!r} verbatim")


class Condition(_Strict):
    """Another condition under which a fact takes another value (weekends, children, winter)."""

    text: str  # "on summer weekends": appended to a question to ask under the condition
    value: str
    sentence: str
    answers: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _value_stated(self) -> Condition:
        _states(self.value, [self.sentence], "condition sentence")
        _states(self.value, self.answers, "condition answer")
        return self


class Fact(_Strict):
    aspect: str
    type: str  # money, duration, year, person ...: swaps prefer a value of the same type
    value: str = Field(min_length=1)
    sentences: list[str] = Field(min_length=1)  # how a document states it
    questions: list[str] = Field(min_length=1)  # standalone, naming the entity
    followups: list[str] = []  # relying on an earlier turn for the entity
    answers: list[str] = Field(min_length=1)
    condition: Condition | None = None

    @model_validator(mode="after")
    def _value_stated(self) -> Fact:
        _states(self.value, self.sentences, "sentence")
        _states(self.value, self.answers, "answer")
        if self.condition is not None and self.condition.value == self.value:
            raise ValueError(f"condition value {self.value!r} equals the fact's own value")
        return self


class YesNo(_Strict):
    question: str
    followup: str | None = None
    sentence: str
    yes: str  # the reply that agrees with ``sentence``
    no: str  # the reply that contradicts it


class Sheet(_Strict):
    entity: str
    aliases: list[str] = []
    facts: list[Fact] = Field(min_length=2)
    yes_no: list[YesNo] = []
    filler: list[str] = []

    @model_validator(mode="after")
    def _aspects_unique(self) -> Sheet:
        aspects = [f.aspect.casefold() for f in self.facts]
        if len(set(aspects)) != len(aspects):
            raise ValueError(f"{self.entity}: two facts share an aspect")
        return self

    @property
    def names(self) -> list[str]:
        """The entity's name and aliases, longest first."""
        return sorted(dict.fromkeys([self.entity, *self.aliases]), key=len, reverse=True)  # ties as written

    def named_in(self, text: str) -> bool:
        folded = text.casefold()
        return any(_bare(name).casefold() in folded for name in self.names)

    def fact(self, aspect: str) -> Fact | None:
        return next((f for f in self.facts if f.aspect.casefold() == aspect.casefold()), None)


class SeedFile(_Strict):
    domain: str
    kind: str
    sheets: list[Sheet] = Field(min_length=2)  # siblings: an entity swap needs one


def _bare(name: str) -> str:
    """"the Kellan Sound ferry" -> "Kellan Sound ferry": what a text mentions whatever its article."""
    return re.sub(r"^(the|a|an) ", "", name, flags=re.IGNORECASE)


def load_file(path: Path) -> SeedFile:
    try:
        return SeedFile.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{path}: {loc}: {first['msg']} ({exc.error_count()} errors)") from None


def load_seeds(folder: str | Path | None = None) -> list[SeedFile]:
    """Every ``*.json`` seed file in ``folder`` (default: the shipped ``seeds/``), by domain name."""
    folder = Path(folder) if folder is not None else SEEDS_DIR
    files = [load_file(p) for p in sorted(folder.glob("*.json"))]
    domains = [f.domain for f in files]
    if len(set(domains)) != len(domains):
        raise DataError(f"{folder}: two seed files name the same domain")
    return sorted(files, key=lambda f: f.domain)


def split_domains(domains: list[str], seed: int = 0) -> dict[str, list[str]]:
    """Domains per split: a seeded ranking holds ``HELD_OUT`` of them (at least one) out of
    training; validation and test share those. A domain added later moves no other domain
    between training and held-out unless the held-out count grows.

    Example: 28 domains -> 24 train, 4 held out (val and test).
    """
    if len(domains) < 2:
        raise DataError(f"the seed sheets span {len(domains)} domain(s); a split by domain needs at least 2")
    ranked = sorted(domains, key=lambda d: hashlib.sha256(f"{seed}:{d}".encode()).hexdigest())
    held = sorted(ranked[: max(1, round(len(domains) * HELD_OUT))])
    train = sorted(d for d in domains if d not in held)
    return {"train": train, "val": held, "test": held}


# -- texts --------------------------------------------------------------------------------------
def with_value(text: str, old: str, new: str) -> str:
    """``text`` with the value ``old`` replaced by ``new``, whole values only where possible.

    Example: ("It's €24 for the round trip.", "€24", "45 minutes") -> "It's 45 minutes for the round trip."
    """
    pattern = rf"(?<![\w.,]){re.escape(old)}(?![\w]|[.,]\d)"
    swapped = re.sub(pattern, lambda _: new, text)
    return swapped if swapped != text else text.replace(old, new)


def with_condition(question: str, condition: str) -> str:
    """Ask ``question`` under ``condition``: "How much is a return?" -> "How much is a return on summer weekends?"."""
    stripped = question.rstrip(" ?.!")
    return f"{stripped} {condition}{'?' if question.rstrip().endswith('?') else ''}"


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\b")


def fresh_value(rng: random.Random, value: str, kind: str, pool: list[str]) -> str | None:
    """A plausible value of the same type that differs from ``value``: its number changed, or
    for a value without one (a name, a place), another value of that type from ``pool``; None
    when there is none. Codes and phone numbers change digits, clock times their hour, years a
    few years.

    Example: "€24" -> "€30"; "1998" -> "2003"; "8:30 am" -> "10:30 am"; "Dr Imre Vass" -> a pooled name.
    """
    clock = _CLOCK.search(value)
    numbers = list(_NUMBER.finditer(value))
    if clock and not any(t in kind.lower() for t in ("phone", "code")):
        hour = (int(clock.group(1)) + rng.choice([-3, -2, -1, 1, 2, 3]) - 1) % 12 + 1
        return value[: clock.start(1)] + str(hour) + value[clock.end(1) :]
    if not numbers:
        others = sorted({p for p in pool if p != value and value not in p and p not in value})
        return rng.choice(others) if others else None
    number = max(numbers, key=lambda m: len(m.group()))
    text = number.group()
    if any(t in kind.lower() for t in ("phone", "code")) or (text.startswith("0") and len(text) > 1):
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        chars = list(text)
        for i in rng.sample(digits, min(2, len(digits))):
            chars[i] = rng.choice([d for d in "0123456789" if d != chars[i]])
        new = "".join(chars)
    else:
        decimals = len(text.split(".")[1]) if "." in text else 0
        n = float(text.replace(",", ""))
        if decimals == 0 and len(text) == 4 and 1000 <= n <= 2100:  # a year
            m = n + rng.choice([-1, 1]) * rng.randint(2, 15)
        elif n < 10 and decimals == 0:
            m = n + rng.choice([-1, 1]) * rng.randint(1, 3)
            m = m if m > 0 else n + rng.randint(1, 3)
        else:
            m = n * rng.choice([0.5, 0.6, 0.75, 1.25, 1.4, 1.5, 2.0])
        new = f"{m:,.{decimals}f}" if "," in text else f"{m:.{decimals}f}"
    fresh = value[: number.start()] + new + value[number.end() :]
    return fresh if fresh != value else None
