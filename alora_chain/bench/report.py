"""Benchmark results: the serialised record, the ratios checked against the targets (docs/design.md), table and plot."""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, Field

PATHS = ("alora", "lora", "floor", "deepcopy")  # intrinsic latency paths, see paths.py


class LatencyRow(BaseModel):
    intrinsic: str  # "choice" or "text"
    history_tokens: int
    seconds: dict[str, float]  # path -> median seconds
    new_tokens: int  # tokens one aLoRA call computes (the floor computes the same)
    generated_tokens: int  # text tokens produced (0 for choice)


class ForkRow(BaseModel):
    history_tokens: int
    fork_us: float  # SessionCache.fork() + release(), median
    allocated_bytes: int  # storage the fork and its suffix added
    suffix_bytes: int  # keys + values of the suffix itself
    history_bytes: int  # what a deep copy of the history would allocate
    nbytes_shared: int  # storage behind the parent (shared with the fork)


class MultiRow(BaseModel):
    k: int
    history_tokens: int
    sequential_s: float  # k separate Session.invoke calls
    batched_s: float  # one Session.invoke_many call


class TurnRow(BaseModel):
    history_tokens: int
    seconds: float
    generated_tokens: int


class Target(BaseModel):
    name: str
    value: float
    limit: float
    higher_is_better: bool

    @property
    def ok(self) -> bool:
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit


class BenchResults(BaseModel):
    machine: dict[str, str | int | None]
    config: dict
    latency: list[LatencyRow] = Field(default_factory=list)
    fork: list[ForkRow] = Field(default_factory=list)
    multi: list[MultiRow] = Field(default_factory=list)
    turn: list[TurnRow] = Field(default_factory=list)
    ratios: dict[str, float] = Field(default_factory=dict)
    targets: list[Target] = Field(default_factory=list)

    def compute_ratios(self) -> None:
        """Fill ``ratios`` and ``targets`` from the measurements (named as in the table)."""
        ratios: dict[str, float] = {}
        targets: list[Target] = []
        lo, hi = min(r.history_tokens for r in self.latency), max(r.history_tokens for r in self.latency)
        for row in self.latency:
            s, tag = row.seconds, f"{row.intrinsic}@{row.history_tokens}"
            ratios[f"lora/alora {tag}"] = s["lora"] / s["alora"]
            ratios[f"alora/floor {tag}"] = s["alora"] / s["floor"]
            ratios[f"deepcopy/alora {tag}"] = s["deepcopy"] / s["alora"]
        worst_floor = max(ratios[f"alora/floor {r.intrinsic}@{r.history_tokens}"] for r in self.latency)
        targets.append(
            Target(name="aLoRA / floor (worst cell)", value=worst_floor, limit=1.15, higher_is_better=False)
        )
        for intrinsic, limit in (("text", 30.0), ("choice", 100.0)):
            key = f"lora/alora {intrinsic}@{hi}"
            if key in ratios:
                targets.append(
                    Target(
                        name=f"LoRA / aLoRA, {intrinsic} @ {hi}",
                        value=ratios[key],
                        limit=limit,
                        higher_is_better=True,
                    )
                )
            key = f"deepcopy/alora {intrinsic}@{hi}"
            if key in ratios:
                targets.append(
                    Target(
                        name=f"deepcopy / aLoRA, {intrinsic} @ {hi}",
                        value=ratios[key],
                        limit=1.3,
                        higher_is_better=True,
                    )
                )
        choice = {r.history_tokens: r.seconds["alora"] for r in self.latency if r.intrinsic == "choice"}
        if lo in choice and hi in choice and hi != lo:
            ratios[f"choice {hi}/{lo}"] = choice[hi] / choice[lo]
            targets.append(
                Target(
                    name=f"choice @ {hi} / @ {lo}",
                    value=ratios[f"choice {hi}/{lo}"],
                    limit=1.3,
                    higher_is_better=False,
                )
            )
        if self.fork:
            worst = max(r.fork_us for r in self.fork)
            targets.append(
                Target(name="fork, worst (ms)", value=worst / 1000, limit=1.0, higher_is_better=False)
            )
        multi = {r.k: r for r in self.multi}
        if 1 in multi:
            for k, row in multi.items():
                ratios[f"batched k={k}/k=1"] = row.batched_s / multi[1].batched_s
                ratios[f"sequential k={k}/k=1"] = row.sequential_s / multi[1].sequential_s
            k = 4 if 4 in multi else max(multi)
            if k > 1:
                targets.append(
                    Target(
                        name=f"{k} intrinsics / 1 (invoke_many)",
                        value=ratios[f"batched k={k}/k=1"],
                        limit=2.0,
                        higher_is_better=False,
                    )
                )
        turns = {r.history_tokens: r.seconds for r in self.turn}
        if lo in turns and hi in turns and hi != lo:
            ratios[f"turn {hi}/{lo}"] = turns[hi] / turns[lo]
            targets.append(
                Target(
                    name=f"turn @ {hi} / @ {lo}",
                    value=ratios[f"turn {hi}/{lo}"],
                    limit=1.5,
                    higher_is_better=False,
                )
            )
        self.ratios = {k: v for k, v in ratios.items() if math.isfinite(v)}
        self.targets = targets

    def write(self, folder: Path) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        json_path = folder / "results.json"
        json_path.write_text(self.model_dump_json(indent=2))
        return json_path, plot(self, folder / "plot.png")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.01 else f"{seconds * 1000:.2f}"


def tables(results: BenchResults) -> list:
    """Rich tables: latency per path with ratios, fork, k intrinsics, turns, targets."""
    from rich.table import Table

    latency = Table(title="Intrinsic latency (ms, median) and ratios")
    for col in (
        "intrinsic",
        "history",
        "aLoRA",
        "LoRA",
        "floor",
        "deepcopy",
        "LoRA/aLoRA",
        "aLoRA/floor",
        "deepcopy/aLoRA",
    ):
        latency.add_column(col, justify="right")
    for r in results.latency:
        s = r.seconds
        latency.add_row(
            f"{r.intrinsic} ({r.new_tokens} tok)",
            str(r.history_tokens),
            *(_ms(s[p]) for p in PATHS),
            f"{s['lora'] / s['alora']:.1f}x",
            f"{s['alora'] / s['floor']:.2f}x",
            f"{s['deepcopy'] / s['alora']:.2f}x",
        )
    fork = Table(title="Fork")
    for col in ("history", "fork (µs)", "allocated", "suffix", "deep copy would be"):
        fork.add_column(col, justify="right")
    for r in results.fork:
        fork.add_row(
            str(r.history_tokens),
            f"{r.fork_us:.1f}",
            _mb(r.allocated_bytes),
            _mb(r.suffix_bytes),
            _mb(r.history_bytes),
        )
    multi = Table(title="k choice intrinsics on one prefix (ms)")
    for col in ("k", "history", "k x invoke", "invoke_many", "invoke_many vs k=1"):
        multi.add_column(col, justify="right")
    for r in results.multi:
        multi.add_row(
            str(r.k),
            str(r.history_tokens),
            _ms(r.sequential_s),
            _ms(r.batched_s),
            f"{results.ratios.get(f'batched k={r.k}/k=1', math.nan):.2f}x",
        )
    turn = Table(title="One conversation turn (user turn + generation)")
    for col in ("history", "ms", "generated tokens"):
        turn.add_column(col, justify="right")
    for r in results.turn:
        turn.add_row(str(r.history_tokens), _ms(r.seconds), str(r.generated_tokens))
    targets = Table(title="Targets (docs/design.md)")
    for col in ("target", "measured", "limit", ""):
        targets.add_column(col, justify="right")
    for t in results.targets:
        targets.add_row(
            t.name,
            f"{t.value:.2f}",
            ("≥ " if t.higher_is_better else "≤ ") + f"{t.limit:g}",
            "[green]ok[/]" if t.ok else "[red]missed[/]",
        )
    return [latency, fork, multi, turn, targets]


def _mb(n: int) -> str:
    return f"{n / 2**20:.2f} MB"


def plot(results: BenchResults, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for ax, intrinsic in zip(axes[0], ("choice", "text")):
        rows = [r for r in results.latency if r.intrinsic == intrinsic]
        for p in PATHS:
            ax.plot(
                [r.history_tokens for r in rows], [r.seconds[p] * 1000 for r in rows], marker="o", label=p
            )
        ax.set(title=f"{intrinsic} intrinsic", xlabel="history tokens", ylabel="ms (median)", yscale="log")
        ax.legend()
    ax = axes[1][0]
    ax.plot(
        [r.k for r in results.multi],
        [r.sequential_s * 1000 for r in results.multi],
        marker="o",
        label="k x invoke",
    )
    ax.plot(
        [r.k for r in results.multi],
        [r.batched_s * 1000 for r in results.multi],
        marker="o",
        label="invoke_many",
    )
    ax.set(title="k intrinsics on one prefix", xlabel="k", ylabel="ms")
    ax.legend()
    ax = axes[1][1]
    ax.plot(
        [r.history_tokens for r in results.turn],
        [r.seconds * 1000 for r in results.turn],
        marker="o",
        label="turn",
    )
    ax.set(title="conversation turn", xlabel="history tokens", ylabel="ms", ylim=(0, None))
    ax.legend()
    fig.suptitle(f"alora_chain bench — {results.machine.get('cpu', '')}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
