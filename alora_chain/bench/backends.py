"""The torch backend against llama-server, operation by operation, in one run.

    python -m alora_chain.bench.backends [--lengths 256,1024,4096] [--repeats 3] [--threads 2]

For each history length (a chat of filler turns about that long) it times, on both backends with
the embedded model and the shipped built-ins: prefilling the history into a new session, decoding
(ms per token, 32 greedy tokens after the history), a choice intrinsic (``answerability``, one
pass), a text intrinsic (``query_rewrite``), and ``fork()`` + one user turn on the fork. Medians
of ``--repeats``, the two backends taking turns; ratios are server / torch (below 1: the server
is faster). The CPU model and thread counts are printed with the table and written to --out.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Annotated

import typer

DOCUMENTS = ["The Ossel bridge was rebuilt in 1702 by Tobias Marr.", "Brimwick has 48,000 inhabitants."]
FILLER = "The committee met again to review the harbour budget, the ferry timetable and the new library plans. "

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="markdown")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def history_session(model, length: int):
    """A session whose conversation is about ``length`` tokens of user/assistant turns."""
    import alora_chain as ac

    s = ac.Session(model, system="You are a helpful assistant.")
    per_turn = len(model.tokenizer.encode(FILLER * 4))
    turns = []
    for _ in range(max(1, length // (2 * per_turn + 10))):
        turns += [("user", FILLER * 4), ("assistant", FILLER * 4)]
    turns.append(("user", "Where was the Ossel bridge rebuilt, and by whom?"))
    return s, turns


def measure(model, length: int) -> dict[str, float]:
    """One round of every operation at ``length``; seconds (decode: per token)."""
    import alora_chain as ac

    s, turns = history_session(model, length)
    started = time.perf_counter()
    for role, text in turns:
        getattr(s, role)(text)
    out = {"prefill_s": time.perf_counter() - started, "tokens": len(s)}
    started = time.perf_counter()
    r = s.invoke("answerability", documents=DOCUMENTS)
    out["choice_s"] = time.perf_counter() - started
    started = time.perf_counter()
    s.invoke("query_rewrite")
    out["text_s"] = time.perf_counter() - started
    child = s.fork()
    started = time.perf_counter()
    child.assistant("Tobias Marr rebuilt it.")
    child.user("When?")
    out["fork_turn_s"] = time.perf_counter() - started
    config = ac.GenerationConfig(max_new_tokens=32)
    d = s.fork()
    d.generation = config
    started = time.perf_counter()
    d.generate()
    generated = d.stats.generated_tokens
    out["decode_s_per_token"] = (time.perf_counter() - started) / max(1, generated)
    out["score"] = r.score
    return out


@app.command(help=__doc__)
def command(
    lengths: Annotated[str, typer.Option(help="history lengths in tokens")] = "256,1024,4096",
    repeats: Annotated[int, typer.Option(help="timed rounds per backend and length (median)")] = 3,
    threads: Annotated[int, typer.Option(help="threads for torch and for llama-server")] = 2,
    out: Annotated[Path, typer.Option(help="results file")] = Path("bench-results/backends.json"),
) -> None:
    import torch
    from rich.console import Console
    from rich.table import Table

    import alora_chain as ac
    from alora_chain.backends.server_process import ServerConfig

    torch.set_num_threads(threads)
    console = Console()
    server = ac.load_model(backend="llama-server", server=ServerConfig(threads=threads))
    models = {"torch": ac.load_model(), "llama-server": server}
    results: dict[str, dict[int, list[dict]]] = {name: {} for name in models}
    try:
        for length in [int(x) for x in lengths.split(",")]:
            for name, model in models.items():  # warm-up: exports, conversions, first-call costs
                measure(model, min(length, 256))
            for _ in range(repeats):
                for name, model in models.items():  # taking turns: drift in machine load hits both
                    results[name].setdefault(length, []).append(measure(model, length))
            console.log(f"history {length}: done")
    finally:
        models["llama-server"].close()
    table = Table(title=f"torch vs llama-server, {cpu_model()}, {threads} threads each (median of {repeats})")
    for column in ("history", "operation", "torch", "llama-server", "server / torch"):
        table.add_column(column, justify="right" if column != "operation" else "left")
    rows = []
    for length in results["torch"]:
        medians = {
            n: {k: statistics.median(r[k] for r in results[n][length]) for k in results[n][length][0]}
            for n in results
        }
        for key, label in (
            ("prefill_s", "prefill the history"),
            ("decode_s_per_token", "decode, per token"),
            ("choice_s", "choice intrinsic (answerability)"),
            ("text_s", "text intrinsic (query_rewrite)"),
            ("fork_turn_s", "fork + two turns on it"),
        ):
            t, s = medians["torch"][key], medians["llama-server"][key]
            tokens = int(medians["torch"]["tokens"])
            rows.append({"history": tokens, "operation": label, "torch_ms": t * 1e3, "server_ms": s * 1e3})
            table.add_row(str(tokens), label, f"{t * 1e3:,.1f} ms", f"{s * 1e3:,.1f} ms", f"{s / t:.2f}×")
    console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpu": cpu_model(), "threads": threads, "torch": torch.__version__, "repeats": repeats}
    out.write_text(json.dumps({"machine": machine, "rows": rows, "raw": results}, indent=1))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
