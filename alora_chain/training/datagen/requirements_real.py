"""Requirement-check rows made from hand-written replies, labelled by real checkers where verifiable.

The replies are ``seeds_requirements/*.json``: 150 answers to everyday questions of 25 domains (six
a domain), some with a casual and a child-level variant and with the facts the semantic kinds
need. Each domain's six seeds go 4/1/1 to train, val and test, fixed whatever ``seed`` is, so no
seed reply is in two splits.

Two families of kinds, each with as many "yes" as "no" rows:
- verifiable (:mod:`.ifeval_kinds`, :mod:`.ifbench_kinds`): an IFEval or IFBench instruction,
  worded as the benchmark words it (or a paraphrase with the same meaning), a reply edited to
  satisfy or break it, and the label that the benchmark's checker gives the final reply
  (:mod:`.ifcheck`);
- semantic (:mod:`.semantic_kinds`): hand-written requirements (mention, avoid, apologise, tone,
  audience, answer the question), labelled by how the reply was built.

Example row (``generate("train", 1)``)::

    {"messages": [{"role": "user", "content": "How do I fix a dripping tap?"},
                  {"role": "assistant", "content": "most drips come from a worn washer ..."}],
     "requirement": "Your entire response should be in English, and in all lowercase letters. ...",
     "target": "yes",
     "meta": {"kind": "ifeval:change_case:english_lowercase", "source": "checker", "seed_id": "home-1", ...}}
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ...errors import DataError
from . import ifbench_kinds, ifcheck, ifeval_kinds, semantic_kinds, verifiable_kinds
from .dialog import assistant, user, word_count

SEEDS_DIR = Path(__file__).with_name("seeds_requirements")
SPLITS = ("train", "val", "test")
SPLIT_OF_SIX = ("train", "train", "train", "train", "val", "test")  # a domain's seeds, shuffled once
MAX_WORDS = 250  # as requirement_check's generated rows: the conversation fits the recipe's window
P_HISTORY = 0.25  # rows with an earlier exchange before the judged reply
P_PARAPHRASE = 0.35  # verifiable rows worded by a paraphrase instead of the benchmark's wording


@dataclass(frozen=True)
class Seed:
    id: str
    domain: str
    question: str
    reply: str
    mention: tuple[str, str] | None = None  # (what, the one sentence of reply that says it)
    avoid: tuple[str, str] | None = None  # (a category, the one sentence of reply in it)
    casual: str | None = None  # the same answer in a chatty tone
    child: str | None = None  # the same answer for a young child


def load_seeds(folder: str | Path | None = None) -> list[Seed]:
    """Every seed of ``folder`` (default: the shipped sheets), checked for what the kinds rely on."""
    seeds, ids = [], set()
    for path in sorted(Path(folder or SEEDS_DIR).glob("*.json")):
        for domain, entries in json.loads(path.read_text(encoding="utf-8")).items():
            for e in entries:
                seed = Seed(
                    e["id"],
                    domain,
                    e["question"],
                    e["reply"],
                    tuple(e["mention"]) if "mention" in e else None,
                    tuple(e["avoid"]) if "avoid" in e else None,
                    e.get("casual"),
                    e.get("child"),
                )
                for field in (seed.mention, seed.avoid):
                    if field and (field[1] not in seed.reply or field[1].strip() == seed.reply.strip()):
                        raise DataError(
                            f"{path.name} {seed.id}: {field[1]!r} must be a sentence of the reply"
                        )
                if seed.id in ids:
                    raise DataError(f"{path.name}: seed id {seed.id!r} is used twice")
                ids.add(seed.id)
                seeds.append(seed)
    return seeds


@cache
def _split_of(folder: str) -> dict[str, str]:
    rng = random.Random("requirements_real:splits")
    by_domain: dict[str, list[str]] = {}
    for seed in load_seeds(folder):
        by_domain.setdefault(seed.domain, []).append(seed.id)
    split_of = {}
    for domain in sorted(by_domain):
        ids = sorted(by_domain[domain])
        rng.shuffle(ids)
        shares = [SPLIT_OF_SIX[i * len(SPLIT_OF_SIX) // len(ids)] for i in range(len(ids))]
        split_of.update(zip(ids, shares))
    return split_of


def seeds_for(split: str, folder: str | Path | None = None) -> list[Seed]:
    """The seeds whose replies ``split`` uses."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    folder = str(folder or SEEDS_DIR)
    split_of = _split_of(folder)
    return [s for s in load_seeds(folder) if split_of[s.id] == split]


def kinds() -> list:
    """Every requirement kind: the verifiable ones (needs ``if-verifiable``) and the semantic ones."""
    if not ifcheck.available():
        raise ImportError(
            "requirement rows labelled by IFEval/IFBench checkers need the if-verifiable package: "
            "pip install 'alora_chain[train]'"
        )
    return [*ifeval_kinds.KINDS, *ifbench_kinds.KINDS, *semantic_kinds.KINDS]


def _conversation(rng: random.Random, seed: Seed, pool: list[Seed], reply: str) -> list[dict]:
    messages = [user(seed.question), assistant(reply)]
    if rng.random() < P_HISTORY:
        others = [s for s in pool if s.id != seed.id]
        earlier = rng.choice([s for s in others if s.domain == seed.domain] or others)
        messages[:0] = [user(earlier.question), assistant(earlier.reply)]
    return messages


def make_row(rng: random.Random, kind, want: bool, pool: list[Seed], split: str) -> dict | None:
    """One row of ``kind`` from a seed of ``pool``; ``want`` steers the edit, the label is the
    checker's verdict (verifiable kinds) or holds by construction (semantic kinds)."""
    eligible = [s for s in pool if kind.eligible(s)]
    if not eligible:
        return None
    seed = rng.choice(eligible)
    meta = {
        "intrinsic": "requirement_check",
        "split": split,
        "kind": kind.name,
        "intended": "yes" if want else "no",
    }
    if isinstance(kind, semantic_kinds.SemanticKind):
        made = kind.make(rng, seed, want, pool)
        reply, requirement, label = made.reply, kind.wording(rng, made), want
        meta |= {"source": "construction", "case": made.case, "wording": "hand-written"}
    else:
        draft = kind.make(rng, seed, want, pool)
        if draft is None:
            return None
        reply = draft.reply
        label = ifcheck.check(kind.benchmark, kind.instruction_id, draft.kwargs, reply)
        paraphrased = (
            verifiable_kinds.paraphrase(kind, draft.kwargs, rng) if rng.random() < P_PARAPHRASE else None
        )
        requirement = paraphrased or ifcheck.describe(kind.benchmark, kind.instruction_id, draft.kwargs)
        meta |= {
            "source": "checker",
            "benchmark": kind.benchmark,
            "instruction_id": kind.instruction_id,
            "kwargs": draft.kwargs,
            "case": draft.case,
            "wording": "paraphrase" if paraphrased else kind.benchmark,
        }
    meta |= {"seed_id": seed.id, "domain": seed.domain}
    return {
        "messages": _conversation(rng, seed, pool, reply),
        "requirement": requirement,
        "target": "yes" if label else "no",
        "meta": meta,
    }


def generate(split: str, n: int, seed: int = 0, folder: str | Path | None = None) -> list[dict]:
    """``n`` rows of ``split``: every kind in turn, each with as many "yes" as "no" rows (one kind
    is one row off when ``n`` is odd). A kind that runs out of distinct rows on a small split
    leaves its share to the others."""
    rng = random.Random(f"requirements_real:{split}:{seed}")
    pool, all_kinds = seeds_for(split, folder), kinds()
    # a margin over the even share: kinds with room make up for those that run out of distinct rows
    per_cell = -(-n // (2 * len(all_kinds))) * 5 // 4 + 1
    seen: set[str] = set()
    pairs: dict[str, list[tuple[dict, dict]]] = {}
    for kind in all_kinds:
        cells: dict[bool, list[dict]] = {True: [], False: []}
        for want in (True, False):
            for _ in range(8 * per_cell + 20):
                if len(cells[want]) == per_cell:
                    break
                row = make_row(rng, kind, want, pool, split)
                if row is None or (row["target"] == "yes") != want or word_count(row) > MAX_WORDS:
                    continue
                key = json.dumps([row["messages"][-2:], row["requirement"]])
                if key not in seen:
                    seen.add(key)
                    cells[want].append(row)
        pairs[kind.name] = list(zip(cells[True], cells[False]))
    order = sorted(pairs)
    rng.shuffle(order)
    # round robin over the kinds, a pair at a time, so a cut at n keeps every kind balanced
    rows = [row for i in range(per_cell) for name in order if i < len(pairs[name]) for row in pairs[name][i]]
    if len(rows) < n:
        raise DataError(f"only {len(rows)} distinct requirement rows for {split} ({n} asked): add seeds")
    rows = rows[:n]
    rng.shuffle(rows)
    return rows
