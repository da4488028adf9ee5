"""Adapter switching against the number of adapters loaded: PEFT's switch and Model's, in one run.

    python -m alora_chain.bench.switching [--loaded 6,42] [--calls 48]

Binds the six built-ins, then loads copies of one built-in's adapter under new names up to each
count in ``--loaded``. At each count it times one switch between two built-ins through
``PeftModel.set_adapter`` and through ``Model``'s own switch (setting each injected layer's active
adapter), then calls alternating between ``context_relevance`` and ``certainty`` on a short chat
with either switch in place (median of ``--calls`` each, the two switches taking turns by
rounds of four calls).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import torch
import typer

from ..model import Model
from .timing import alternating_medians_ms

DOCUMENTS = ["The Ossel bridge was rebuilt in 1702 by Tobias Marr.", "Brimwick has 48,000 inhabitants."]


# markdown: the help (the module docstring) keeps its paragraphs and example commands
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="markdown")


@app.command(help=__doc__)
def command(
    loaded: Annotated[str, typer.Option(help="adapter counts to measure at (at least 6)")] = "6,42",
    calls: Annotated[int, typer.Option(help="timed intrinsic calls per switch and count")] = 48,
    threads: Annotated[int | None, typer.Option(help="torch threads (default: torch's)")] = None,
) -> None:
    import alora_chain as ac

    try:
        counts = sorted(int(n) for n in loaded.split(","))
    except ValueError:
        raise typer.BadParameter(f"--loaded takes whole numbers separated by commas, got {loaded!r}") from None
    if counts[0] < 6:
        raise typer.BadParameter("--loaded counts start at the six built-ins")
    if threads:
        torch.set_num_threads(threads)

    model = ac.load_model()
    print(f"{torch.get_num_threads()} torch threads")
    for row in measure(model, counts, calls):
        print(
            f"{row.adapters_loaded} adapters loaded: one switch PeftModel.set_adapter "
            f"{row.peft_switch_ms:.1f} ms, Model {row.model_switch_ms:.2f} ms "
            f"({row.peft_switch_ms / row.model_switch_ms:.0f}x); alternating calls, median of {calls}: "
            f"{row.peft_call_ms:.0f} ms with PEFT's switch, {row.model_call_ms:.0f} ms with Model's "
            f"({row.peft_call_ms / row.model_call_ms:.2f}x)"
        )


def main() -> None:
    """``python -m alora_chain.bench.switching``: run the command on ``sys.argv``."""
    app(prog_name="python -m alora_chain.bench.switching")


@dataclass
class SwitchRow:
    adapters_loaded: int
    peft_switch_ms: float  # one switch between two built-ins through PeftModel.set_adapter
    model_switch_ms: float  # the same through Model's own switch
    peft_call_ms: float  # median alternating intrinsic call, Model switching through PEFT
    model_call_ms: float  # the same with Model's own switch


def measure(model: Model, counts: list[int], calls_per_count: int) -> list[SwitchRow]:
    """One row per adapter count: the six built-ins bound, then copies of one up to ``count``."""
    import alora_chain as ac
    from alora_chain.intrinsic import builtin

    intrinsics = {name: builtin(name) for name in ac.intrinsics()}
    bound = {name: intrinsic.bind(model) for name, intrinsic in intrinsics.items()}
    pair = [bound["context_relevance"], bound["certainty"]]
    copied = intrinsics["certainty"].adapter_path
    session = ac.Session(model, system="You are a helpful assistant.")
    session.user("Who rebuilt the Ossel bridge?").assistant("Tobias Marr rebuilt it in 1702.")
    calls = [
        lambda: session.invoke("context_relevance", document=DOCUMENTS[0]),
        lambda: session.invoke("certainty"),
        lambda: session.invoke("context_relevance", document=DOCUMENTS[1]),
        lambda: session.invoke("certainty"),
    ]
    rows = []
    for count in counts:
        for index in range(len(model.adapters), count):
            model.load_adapter(f"switching-copy{index}", copied, invocation_ids=None)
        peft_call, model_call = alternating_medians_ms(calls, calls_per_count, lambda: _peft_switch(model))
        rows.append(
            SwitchRow(
                adapters_loaded=len(model.adapters),
                peft_switch_ms=_switch_ms(lambda name: model.peft.set_adapter(name), pair),
                model_switch_ms=_switch_ms(model.activate, pair),
                peft_call_ms=peft_call,
                model_call_ms=model_call,
            )
        )
    return rows


def _switch_ms(switch: Callable[[str], None], pair: list[str], repeats: int = 40) -> float:
    with torch.inference_mode():
        started = time.perf_counter()
        for index in range(repeats):
            switch(pair[index % 2])
    return (time.perf_counter() - started) / repeats * 1000


@contextmanager
def _peft_switch(model: Model):
    """``Model`` switching through ``PeftModel.set_adapter``, as it did before its own switch."""
    model.peft_switch = True
    try:
        yield
    finally:
        model.peft_switch = False


if __name__ == "__main__":
    main()
