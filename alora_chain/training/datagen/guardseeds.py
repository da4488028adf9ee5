"""Hand-written seeds for the input guards (``seeds_guard/*.json``): their schema, loading, and the split by item.

Each pool is a list of items with an ``id``. :func:`split_pool` gives each split its own items, so
no request, wrapper, document, payload or disguise is seen in two splits;
:mod:`alora_chain.training.datagen.guards` composes the rows.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ...errors import DataError
from .encodings import SCHEMES

SEEDS_DIR = Path(__file__).parent / "seeds_guard"
# Share of each pool held out for validation, and again for test; pools under 3 items stay in train.
HELD_OUT = 0.15
SPLITS = ("train", "val", "test")


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1)


def _holds(text: str, names: Sequence[str], where: str) -> None:
    for name in names:
        if "{" + name + "}" not in text:
            raise ValueError(f"{where} {text!r} lacks the placeholder {{{name}}}")


def _one_paragraph(text: str) -> str:
    """Rows join paragraphs with a blank line, so none may hold one (then they can be told apart)."""
    if "\n\n" in text or not text.strip():
        raise ValueError(f"{text[:40]!r}...: empty, or holds a blank line")
    return text


class Request(_Item):
    """A request as typed (``ask``) and as a phrase to fit in a sentence (``topic``)."""

    domain: str
    ask: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    kind: str = "harmful"


class Wrapper(_Item):
    """A framing around a request: ``{ask}`` or ``{topic}`` marks where it goes."""

    kind: str
    overrides: bool  # the framing itself asks the assistant to drop its rules
    text: str

    @model_validator(mode="after")
    def _one_slot(self) -> Wrapper:
        if ("{ask}" in self.text) == ("{topic}" in self.text):
            raise ValueError(f"wrapper {self.id}: needs exactly one of {{ask}} and {{topic}}")
        return self

    @property
    def slot(self) -> str:
        return "ask" if "{ask}" in self.text else "topic"


class Snippet(_Item):
    """A piece of text of some kind: a standalone attempt, a payload, a clean insert."""

    kind: str
    text: str = Field(min_length=1)

    @field_validator("text")
    @classmethod
    def _text(cls, text: str) -> str:
        return _one_paragraph(text)


class Encoder(_Item):
    schemes: list[str] = Field(min_length=1)
    text: str

    @field_validator("schemes")
    @classmethod
    def _known(cls, schemes: list[str]) -> list[str]:
        unknown = set(schemes) - set(SCHEMES)
        if unknown:
            raise ValueError(f"unknown schemes {sorted(unknown)}; expected some of {list(SCHEMES)}")
        return schemes

    @model_validator(mode="after")
    def _slot(self) -> Encoder:
        _holds(self.text, ["encoded"], f"encoder {self.id}")
        return self


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    role: Literal["user", "assistant"]
    content: str


class SplitFraming(_Item):
    """A request cut in two (``{part1}``, ``{part2}``) over one or more turns, ending with the user."""

    turns: list[Turn] = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> SplitFraming:
        _holds(" ".join(t.content for t in self.turns), ["part1", "part2"], f"split {self.id}")
        roles = [t.role for t in self.turns]
        if roles[0] != "user" or roles[-1] != "user" or any(a == b for a, b in itertools.pairwise(roles)):
            raise ValueError(f"split {self.id}: turns must alternate, from user to user")
        return self


class Text(_Item):
    text: str = Field(min_length=1)


class Exchange(_Item):
    domain: str
    user: str
    assistant: str


class Document(_Item):
    domain: str
    kind: str
    paragraphs: list[str] = Field(min_length=3)
    questions: list[str] = Field(min_length=1)

    @field_validator("paragraphs")
    @classmethod
    def _paragraphs(cls, paragraphs: list[str]) -> list[str]:
        return [_one_paragraph(p) for p in paragraphs]


class Disguise(_Item):
    kind: str
    text: str

    @model_validator(mode="after")
    def _slot(self) -> Disguise:
        _holds(self.text, ["payload"], f"disguise {self.id}")
        _one_paragraph(self.text)
        return self


class GuardSeeds(BaseModel):
    """Every pool, read from the seed files."""

    model_config = ConfigDict(frozen=True)
    harmful: list[Request]
    benign: list[Request]
    wrappers: list[Wrapper]
    standalone: list[Snippet]
    encoders: list[Encoder]
    splits: list[SplitFraming]
    refusals: list[Text]
    exchanges: list[Exchange]
    systems: list[Text]
    documents: list[Document]
    questions: list[Text]
    payloads: list[Snippet]
    disguises: list[Disguise]
    clean_inserts: list[Snippet]

    @model_validator(mode="after")
    def _ids_unique(self) -> GuardSeeds:
        ids = [item.id for name in type(self).model_fields for item in getattr(self, name)]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"seed ids used twice: {twice[:5]}")
        return self


# file -> {pool: key in that file} (a file's list under "items" is the pool of the file's name)
_FILES = {
    "harmful.json": {"harmful": "items"},
    "benign.json": {"benign": "items"},
    "framings.json": {k: k for k in ("wrappers", "standalone", "encoders", "splits", "refusals")},
    "conversation.json": {"exchanges": "exchanges", "systems": "systems"},
    "documents.json": {"documents": "documents", "questions": "questions"},
    "injection.json": {"payloads": "payloads", "disguises": "disguises", "clean_inserts": "clean_inserts"},
}


def load_guard_seeds(folder: str | Path | None = None) -> GuardSeeds:
    """Read and validate the seed files in ``folder`` (default: the shipped ``seeds_guard/``)."""
    folder = Path(folder) if folder is not None else SEEDS_DIR
    pools: dict[str, list] = {}
    for name, keys in _FILES.items():
        path = folder / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path}: missing guard seed file") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        for pool, key in keys.items():
            if key not in data:
                raise DataError(f"{path}: no list {key!r}")
            pools[pool] = data[key]
    try:
        return GuardSeeds.model_validate(pools)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{folder}: {loc}: {first['msg']} ({exc.error_count()} errors)") from None


@cache
def shipped_seeds() -> GuardSeeds:
    """The shipped seeds, read once."""
    return load_guard_seeds()


T = TypeVar("T", bound=_Item)


def split_pool(
    items: Sequence[T], split: str, seed: int = 0, by: Callable[[T], object] | None = None
) -> list[T]:
    """The items of ``split``: within each group (``by``), a seeded ranking of the ids puts
    ``HELD_OUT`` of them in val, as many in test, the rest in train. An item added later moves no
    other item unless its group's held-out count grows.

    Example: 20 wrappers -> 14 train, 3 val, 3 test; 2 items -> both train.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    groups: dict[object, list[T]] = {}
    for item in items:
        groups.setdefault(by(item) if by else None, []).append(item)
    chosen: set[str] = set()
    for group in groups.values():
        ranked = sorted(group, key=lambda it: hashlib.sha256(f"{seed}:{it.id}".encode()).hexdigest())
        held = max(1, round(len(ranked) * HELD_OUT)) if len(ranked) >= 3 else 0
        part = {"val": ranked[:held], "test": ranked[held : 2 * held], "train": ranked[2 * held :]}[split]
        chosen.update(it.id for it in part)
    return [it for it in items if it.id in chosen]
