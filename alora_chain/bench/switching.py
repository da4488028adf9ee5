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

import argparse
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from ..model import Model
from .timing import alternating_medians_ms

DOCUMENTS = ["The Ossel bridge was rebuilt in 1702 by Tobias Marr.", "Brimwick has 48,000 inhabitants."]


def main(argv: list[str] | None = None) -> None:
    import alora_chain as ac

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loaded", default="6,42", help="adapter counts to measure at (at least 6)")
    parser.add_argument("--calls", type=int, default=48, help="timed intrinsic calls per switch and count")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    try:
        counts = sorted(int(n) for n in args.loaded.split(","))
    except ValueError:
        parser.error(f"--loaded takes whole numbers separated by commas, got {args.loaded!r}")
    if counts[0] < 6:
        parser.error("--loaded counts start at the six built-ins")
    if args.threads:
        torch.set_num_threads(args.threads)

    model = ac.load_model()
    print(f"{torch.get_num_threads()} torch threads")
    for row in measure(model, counts, args.calls):
        print(
            f"{row.adapters_loaded} adapters loaded: one switch PeftModel.set_adapter "
            f"{row.peft_switch_ms:.1f} ms, Model {row.model_switch_ms:.2f} ms "
            f"({row.peft_switch_ms / row.model_switch_ms:.0f}x); alternating calls, median of {args.calls}: "
            f"{row.peft_call_ms:.0f} ms with PEFT's switch, {row.model_call_ms:.0f} ms with Model's "
            f"({row.peft_call_ms / row.model_call_ms:.2f}x)"
        )


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
                model_switch_ms=_switch_ms(model._activate, pair),
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

    def through_peft(name: str) -> None:
        if model.peft.active_adapter != name:
            model.peft.set_adapter(name)

    model._activate = through_peft  # an instance attribute shadows the method for this block
    try:
        yield
    finally:
        del model._activate


if __name__ == "__main__":
    main()
