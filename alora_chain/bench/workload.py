"""What the benchmark runs: its settings, tiny random intrinsics made in-process, and long histories."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..intrinsic import Intrinsic
from ..model import Model
from ..session import Session
from ..training.standin import random_intrinsic

# the paper's setting: a rank-32 aLoRA on q/k/v (standin.QKV) against a rank-8 standard LoRA
ALORA_RANK = 32
LORA_RANK = 8
SYSTEM = "You are a helpful assistant."
FILLER = (
    ("user", "Tell me about the town of Brimwick, its river the Ossel and its old stone bridge."),
    (
        "assistant",
        "Brimwick was founded in 1204 as a trading post on the Ossel. The river carried wool and timber "
        "to the coast, and the town grew around its stone bridge, rebuilt in granite after the flood "
        "of 1702 by engineer Tobias Marr. Today it exports instruments, cheese and river-sand glass.",
    ),
)
TURN_TEXT = "Write a long story about the river and the people who live along it."


@dataclass
class BenchConfig:
    """What to measure and how often; ``quick()`` is the reduced grid of ``--quick``."""

    lengths: list[int] = field(default_factory=lambda: [256, 1024, 2048, 4096])  # history tokens
    repeats: int = 3  # timed runs per cell; the median is reported
    warmup: int = 1  # untimed runs before each cell (LoRA recompute: only at the first length)
    ks: list[int] = field(default_factory=lambda: [1, 2, 4, 8])  # intrinsics on one prefix
    text_tokens: int = 8  # max_new_tokens of the text intrinsic
    turn_tokens: int = 8  # new tokens of the measured conversation turn
    threads: int | None = None  # torch threads (None: torch's default)

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(lengths=[256, 1024], repeats=2, ks=[1, 2, 4])


@dataclass
class Workload:
    """The intrinsics every path runs (aLoRA and LoRA twins) and where their files live."""

    choice: Intrinsic  # aLoRA, one-pass choice
    text: Intrinsic  # aLoRA, text of ``text_tokens``
    choice_lora: Intrinsic  # the same outputs with a standard LoRA (recomputes the history)
    text_lora: Intrinsic
    many: list[Intrinsic]  # distinct choice aLoRAs for the k-on-one-prefix measurement
    folder: tempfile.TemporaryDirectory

    @property
    def arguments(self) -> dict:
        return {"documents": ["The Ossel bridge was rebuilt in 1702 by Tobias Marr."]}


def tiny_intrinsic(
    model: Model,
    folder: Path,
    name: str,
    *,
    output: dict,
    kind: str = "alora",
    template: str = "Documents: {{ documents | join(' | ') }}\nIs the last question answerable?",
    seed: int = 0,
    scale: float = 0.02,
    **options,
) -> Intrinsic:
    """A random intrinsic at the paper's rank for its kind (see :mod:`alora_chain.training.standin`)."""
    rank = ALORA_RANK if kind == "alora" else LORA_RANK
    return random_intrinsic(
        model,
        folder,
        name,
        output=output,
        kind=kind,
        rank=rank,
        template=template,
        seed=seed,
        b_scale=scale,
        **options,
    )


def make_workload(model: Model, config: BenchConfig) -> Workload:
    tmp = tempfile.TemporaryDirectory(prefix="alora-bench-")
    root = Path(tmp.name)
    choice = {"kind": "choice", "labels": ["answerable", "unanswerable"], "positive": "answerable"}
    text = {"kind": "text", "max_new_tokens": config.text_tokens}
    rewrite = dict(invocation="<|im_start|>rewrite\n", template="Documents: {{ documents | join(' | ') }}")

    def make(name, output, kind="alora", seed=0, **kwargs):
        return tiny_intrinsic(model, root, name, output=output, kind=kind, seed=seed, **kwargs)

    return Workload(
        choice=make("bench_choice", choice),
        text=make("bench_text", text, seed=1, **rewrite),
        choice_lora=make("bench_choice_lora", choice, kind="lora", seed=2),
        text_lora=make("bench_text_lora", text, kind="lora", seed=3, **rewrite),
        many=[make(f"bench_many{i}", choice, seed=10 + i) for i in range(max(config.ks, default=1))],
        folder=tmp,
    )


def grow_history(session: Session, target: int) -> None:
    """Append filler user/assistant turns until the session holds at least ``target`` tokens."""
    while len(session) < target:
        for role, text in FILLER:
            getattr(session, role)(text)
    if session.transcript[-1].role != "user":
        session.user("And what about its football club?")
