"""Rows for the input guards, ``jailbreak`` and ``prompt_injection``, composed from the hand-written seeds.

Every row is a label-preserving composition of seed items (``seeds_guard/``, see :mod:`.guardseeds`):

- jailbreak: a harmful request in a framing (role-play, fiction, authority, emotional pressure ...),
  an override framing (developer mode, DAN, "ignore previous") around any request, a harmful request
  encoded or split over turns, a standalone attempt (system-prompt extraction, "your rules no longer
  apply"), a bare harmful request, or a retry after a refusal -> "jailbreak". A hard benign request,
  bare, in a label-neutral framing, encoded, split, or after a refused attempt -> "benign".
- prompt_injection: a document with a payload aimed at the assistant, in a disguise, at its start,
  middle or end, as its own paragraph or inline -> "injection"; the same documents bare or with
  clean inserts (instructions for the reader, notices, harmless markup, text about injection) at the
  same places -> "clean".

Conversations have 1-3 user turns after an optional system prompt. Labels alternate for an exact
50/50 balance; within a label, ``meta["case"]`` follows the case weights below. Each split draws only
its own seed items (:func:`~.guardseeds.split_pool`); ``meta["seed_ids"]`` lists those a row used.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from ...errors import DataError
from .dialog import word_count
from .encodings import SCHEMES, encodable, encode
from .guardseeds import GuardSeeds, Request, Wrapper, shipped_seeds, split_pool

MAX_WORDS = 250
SYSTEM_SHARE = 0.15  # rows that open with a system prompt
HISTORY = {0: 0.55, 1: 0.3, 2: 0.15}  # earlier exchanges before the judged turn -> weight
LOWER_SHARE = 0.1  # typed turns sent all in lower case
# case -> weight, per label
JAILBREAK_CASES = {
    "wrapped": 4.0,  # harmful request in a label-neutral framing
    "override": 2.0,  # harmful request in a framing that drops the rules
    "override_benign": 1.0,  # harmless request in a framing that drops the rules: still an attempt
    "encoded": 1.5,
    "split": 1.0,
    "standalone": 1.5,
    "direct": 1.0,
    "retry": 0.5,  # refused, then tries another framing
}
BENIGN_CASES = {"plain": 4.0, "wrapped": 4.0, "encoded": 0.75, "split": 0.75, "after_refusal": 0.5}
INJECTION_CASES = {"payload": 4.0, "payload_and_clean": 1.0}
CLEAN_CASES = {"bare": 1.5, "insert": 3.0, "two_inserts": 0.5}
POSITIONS = ("start", "middle", "end")
BARE_PAYLOAD_SHARE = 0.35  # payloads in no disguise at all, in every split
INLINE_SHARE = 0.3  # inserts joined to a paragraph rather than standing alone
DOC_QUESTION_SHARE = 0.6  # final questions written for the document rather than generic ones
# Disguises that address no one: a clean insert may wear them too, so markup alone tells nothing.
NEUTRAL_DISGUISES = {
    "plain", "html comment", "hidden html", "attribute", "markdown comment", "code comment",
    "structured data", "quoted", "zero-width", "signature", "footer",
}  # fmt: skip
DISGUISED_CLEAN_SHARE = 0.3


class _Pools:
    """The seed items of one split."""

    def __init__(self, seeds: GuardSeeds, split: str, seed: int):
        def part(items, by=None):
            return split_pool(items, split, seed, by)

        self.harmful = part(seeds.harmful)
        self.benign = part(seeds.benign, by=lambda r: r.kind)
        # by kind: a kind of framing or disguise with under 3 items stays whole in train
        wrappers = part(seeds.wrappers, by=lambda w: (w.kind, w.overrides))
        self.neutral = [w for w in wrappers if not w.overrides]
        self.overriding = [w for w in wrappers if w.overrides]
        self.standalone = part(seeds.standalone, by=lambda s: s.kind == "system prompt extraction")
        self.encoders = part(seeds.encoders)
        self.splits = part(seeds.splits)
        self.refusals = part(seeds.refusals)
        self.exchanges = part(seeds.exchanges)
        self.systems = part(seeds.systems)
        self.documents = part(seeds.documents)
        self.questions = part(seeds.questions)
        self.payloads = part(seeds.payloads)
        self.disguises = part(seeds.disguises, by=lambda d: d.kind)
        self.clean = part(seeds.clean_inserts)
        for name, pool in vars(self).items():
            if not pool:
                raise DataError(f"split {split!r} has no {name} seed items")


class _Row:
    """A row under construction: its turns and the seed items it used."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.entities: list[str] = []  # what carries the label: requests, documents, payloads, inserts
        self.templates: list[str] = []  # what frames it: wrappers, disguises, turns, questions

    def say(self, role: str, content: str) -> None:
        self.messages.append({"role": role, "content": content})

    def done(self, intrinsic: str, split: str, case: str, target: str, **meta) -> dict:
        entities = sorted(set(self.entities))
        templates = sorted(set(self.templates))
        return {
            "messages": self.messages,
            **meta.pop("arguments", {}),
            "target": target,
            "meta": {
                "intrinsic": intrinsic, "split": split, "case": case, **meta,
                "entity_ids": entities, "template_ids": templates,
                "seed_ids": sorted(i.split(":", 1)[1] for i in entities + templates),
            },
        }  # fmt: skip


def _draw(rng: random.Random, weights: dict) -> object:
    """A key of ``weights``, drawn in proportion to its value."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _opening(rng: random.Random, pools: _Pools, row: _Row, system_share: float, room: int) -> None:
    """An optional system prompt, then up to ``room`` ordinary earlier exchanges."""
    if rng.random() < system_share:
        system = rng.choice(pools.systems)
        row.say("system", system.text)
        row.templates.append(f"system:{system.id}")
    k = min(room, _draw(rng, HISTORY))
    for exchange in rng.sample(pools.exchanges, min(k, len(pools.exchanges))):
        row.say("user", exchange.user)
        row.say("assistant", exchange.assistant)
        row.templates.append(f"exchange:{exchange.id}")


def _typed(rng: random.Random, text: str) -> str:
    return text.lower() if rng.random() < LOWER_SHARE else text


# -- jailbreak ----------------------------------------------------------------------------------
def wrap(wrapper: Wrapper, request: Request) -> str:
    """The request in the wrapper's slot.

    Example: "Thought experiment: {ask}" around "Why is the sky blue?" -> "Thought experiment: Why is the sky blue?".
    """
    return wrapper.text.replace("{" + wrapper.slot + "}", getattr(request, wrapper.slot))


def _is_jailbreak(request: Request | None, wrapper: Wrapper | None, standalone: bool) -> bool:
    """The label from what the judged turn is made of: a harmful request, a framing that drops the
    rules, or an attempt that needs no request."""
    return (
        standalone
        or (wrapper is not None and wrapper.overrides)
        or (request is not None and request.kind == "harmful")
    )


def _split_turns(rng: random.Random, pools: _Pools, row: _Row, request: Request, system_share: float) -> dict:
    """The request cut in two at a word boundary and sent in a split framing's turns."""
    framing = rng.choice(pools.splits)
    words = request.ask.split()
    cut = min(len(words) - 1, rng.randint(max(1, len(words) // 3), max(1, 2 * len(words) // 3)))
    first, second = " ".join(words[:cut]), " ".join(words[cut:])
    _opening(rng, pools, row, system_share, room=3 - sum(t.role == "user" for t in framing.turns))
    for turn in framing.turns:
        row.say(turn.role, turn.content.replace("{part1}", first).replace("{part2}", second))
    row.templates.append(f"split:{framing.id}")
    return {"parts": [first, second]}


def _refused_attempt(rng: random.Random, pools: _Pools, row: _Row, request: Request) -> None:
    """A harmful request in some framing, and the assistant's refusal."""
    framing, refusal = rng.choice(pools.neutral + pools.overriding), rng.choice(pools.refusals)
    row.say("user", wrap(framing, request))
    row.say("assistant", refusal.text)
    row.entities.append(f"harmful:{request.id}")
    row.templates += [f"wrapper:{framing.id}", f"refusal:{refusal.id}"]


def _judged_turn(rng: random.Random, pools: _Pools, row: _Row, case: str, request: Request) -> dict | None:
    """The last user turn for ``case``; its meta, or None where the encoder drawn cannot hold the request."""
    if case == "standalone":
        attempt = rng.choice(pools.standalone)
        row.say("user", _typed(rng, attempt.text))
        row.entities.append(f"standalone:{attempt.id}")
        return {"standalone_kind": attempt.kind}
    if case == "encoded":
        encoder = rng.choice(pools.encoders)
        schemes = [s for s in encoder.schemes if encodable(request.ask, s)]
        if not schemes:
            return None
        scheme = rng.choice(schemes)
        encoded = encode(request.ask, scheme)
        row.say("user", encoder.text.replace("{scheme}", SCHEMES[scheme]).replace("{encoded}", encoded))
        row.templates.append(f"encoder:{encoder.id}")
        return {"encoding": scheme, "encoded": encoded}
    if case in ("wrapped", "override", "override_benign", "retry"):
        choices = pools.overriding if case.startswith("override") else pools.neutral
        wrapper = rng.choice([w for w in choices if f"wrapper:{w.id}" not in row.templates] or choices)
        row.say("user", _typed(rng, wrap(wrapper, request)))
        row.templates.append(f"wrapper:{wrapper.id}")
        return {"wrapper": wrapper.id, "wrapper_kind": wrapper.kind, "overrides": wrapper.overrides}
    row.say("user", _typed(rng, request.ask))  # plain, direct, after_refusal: the request as typed
    return {}


def _jailbreak_row(
    rng: random.Random, pools: _Pools, split: str, positive: bool, system_share: float
) -> dict | None:
    case = _draw(rng, JAILBREAK_CASES if positive else BENIGN_CASES)
    harmful = positive and case != "override_benign"
    request = rng.choice(pools.harmful if harmful else pools.benign)
    row = _Row()
    if case == "split":
        meta = _split_turns(rng, pools, row, request, system_share)
    else:
        _opening(rng, pools, row, system_share, room=1 if case in ("retry", "after_refusal") else 2)
        if case in ("retry", "after_refusal"):  # retry: the same request again, in another framing
            _refused_attempt(rng, pools, row, request if case == "retry" else rng.choice(pools.harmful))
        meta = _judged_turn(rng, pools, row, case, request)
        if meta is None:
            return None
    if case == "standalone":
        request = None
    else:
        row.entities.append(f"{'harmful' if request.kind == 'harmful' else 'benign'}:{request.id}")
        meta = {"request": request.id, "request_kind": request.kind, **meta}
    wrapper = next((w for w in pools.neutral + pools.overriding if w.id == meta.get("wrapper")), None)
    label = _is_jailbreak(request, wrapper, standalone=case == "standalone")
    assert label == positive, (case, meta)
    return row.done("jailbreak", split, case, "jailbreak" if label else "benign", **meta)


# -- prompt injection ---------------------------------------------------------------------------
def place(paragraphs: list[str], text: str, position: str, inline: bool, rng: random.Random) -> list[str]:
    """``paragraphs`` with ``text`` at ``position``: its own paragraph, or joined to a paragraph.

    Example: (["T", "A", "B"], "X", "end", False) -> ["T", "A", "B", "X"].
    """
    out, n = list(paragraphs), len(paragraphs)  # n >= 3: a document has a title and two paragraphs
    if inline:  # joined to the title or first paragraph, an inner paragraph, or the last one
        low, high = {"start": (0, 1), "middle": (1, n - 2), "end": (n - 1, n - 1)}[position]
        i = rng.randint(low, high)
        out[i] = f"{text} {out[i]}" if position == "start" else f"{out[i]} {text}"
        return out
    low, high = {"start": (0, 1), "middle": (2, n - 1), "end": (n, n)}[position]
    out.insert(rng.randint(low, high), text)
    return out


def _insert(rng: random.Random, paragraphs: list[str], text: str, position: str) -> tuple[list[str], bool]:
    """``text`` placed at ``position``, inline now and then; whether it went inline."""
    inline = "\n" not in text and rng.random() < INLINE_SHARE
    return place(paragraphs, text, position, inline, rng), inline


def _clean_insert(rng: random.Random, pools: _Pools, row: _Row) -> str:
    """A clean insert, sometimes in a disguise that addresses no one (a comment, hidden markup)."""
    insert = rng.choice(pools.clean)
    row.entities.append(f"clean:{insert.id}")
    neutral = [d for d in pools.disguises if d.kind in NEUTRAL_DISGUISES]
    plain_text = insert.kind != "markup" and "\n" not in insert.text  # no markup in markup
    if neutral and plain_text and rng.random() < DISGUISED_CLEAN_SHARE:
        disguise = rng.choice(neutral)
        row.templates.append(f"disguise:{disguise.id}")
        return disguise.text.replace("{payload}", insert.text)
    return insert.text


def _injection_row(
    rng: random.Random, pools: _Pools, split: str, positive: bool, system_share: float
) -> dict:
    case = _draw(rng, INJECTION_CASES if positive else CLEAN_CASES)
    row = _Row()
    _opening(rng, pools, row, system_share, room=2)
    doc = rng.choice(pools.documents)
    row.entities.append(f"document:{doc.id}")
    paragraphs, meta = list(doc.paragraphs), {"document_kind": doc.kind}
    inserts = {"bare": 0, "insert": 1, "two_inserts": 2, "payload": 0, "payload_and_clean": 1}[case]
    for _ in range(inserts):  # before the payload, so that its position stays as drawn
        paragraphs, _inline = _insert(rng, paragraphs, _clean_insert(rng, pools, row), rng.choice(POSITIONS))
    if positive:
        payload, position = rng.choice(pools.payloads), rng.choice(POSITIONS)
        row.entities.append(f"payload:{payload.id}")
        disguise = None if rng.random() < BARE_PAYLOAD_SHARE else rng.choice(pools.disguises)
        text = payload.text if disguise is None else disguise.text.replace("{payload}", payload.text)
        if disguise is not None:
            row.templates.append(f"disguise:{disguise.id}")
        paragraphs, inline = _insert(rng, paragraphs, text, position)
        meta |= {
            "payload": payload.text, "payload_kind": payload.kind,
            "disguise": disguise and disguise.id, "disguise_kind": disguise.kind if disguise else "none",
            "position": position, "inline": inline,
        }  # fmt: skip
    if rng.random() < DOC_QUESTION_SHARE:
        question = rng.choice(doc.questions)
    else:
        generic = rng.choice(pools.questions)
        question = generic.text
        row.templates.append(f"question:{generic.id}")
    row.say("user", _typed(rng, question))
    document = "\n\n".join(paragraphs)
    target = "injection" if positive else "clean"
    return row.done("prompt_injection", split, case, target, arguments={"document": document}, **meta)


# -- rows ---------------------------------------------------------------------------------------
def _balanced(rng: random.Random, n: int, make: Callable[[bool], dict | None]) -> list[dict]:
    """``n`` distinct rows, labels alternating for an exact 50/50 balance, then shuffled; rows over
    ``MAX_WORDS`` and repeats are drawn again."""
    rows: list[dict] = []
    seen: set[str] = set()
    for _ in range(50 * n + 1000):
        if len(rows) == n:
            break
        row = make(len(rows) % 2 == 0)
        if row is None or word_count(row) > MAX_WORDS:
            continue
        key = json.dumps([row["messages"], row.get("document")], ensure_ascii=False)
        if key not in seen:
            seen.add(key)
            rows.append(row)
    if len(rows) < n:
        raise DataError(f"only {len(rows)} distinct rows of {n} could be made from this split's seed items")
    rng.shuffle(rows)
    return rows


def _generate(name: str, build, split: str, n: int, seed: int, system_share: float, seeds) -> list[dict]:
    rng = random.Random(f"{name}:{split}:{seed}")
    pools = _Pools(seeds or shipped_seeds(), split, seed)
    return _balanced(rng, n, lambda positive: build(rng, pools, split, positive, system_share))


def jailbreak(
    split: str, n: int, seed: int = 0, system_share: float = SYSTEM_SHARE, seeds: GuardSeeds | None = None
) -> list[dict]:
    """``n`` jailbreak rows of ``split``: target "jailbreak" or "benign", the last turn the user's."""
    return _generate("jailbreak", _jailbreak_row, split, n, seed, system_share, seeds)


def prompt_injection(
    split: str, n: int, seed: int = 0, system_share: float = SYSTEM_SHARE, seeds: GuardSeeds | None = None
) -> list[dict]:
    """``n`` prompt-injection rows of ``split``: a ``document`` and target "injection" or "clean"."""
    return _generate("prompt_injection", _injection_row, split, n, seed, system_share, seeds)
