"""Handing aLoRA offsets to the adapter layers: PEFT's module walk against Model's, in one run.

    python -m alora_chain.bench.offsets [--calls 24] [--threads 2]

An aLoRA forward must tell each injected LoRA layer how many of the last tokens get the adapter.
``PeftModel.forward(alora_offsets=...)`` does so with a pre-forward hook per layer, after walking
every module of the model to find them; ``Model`` registers the same hook on the layers it has
already found. With the six built-ins bound, this times handing the offsets on for one forward
both ways (no forward run), then calls of a text intrinsic (``query_rewrite``: one forward per
generated token) and a choice intrinsic (``context_relevance``: one forward) on a short chat,
the two ways taking turns by rounds (medians of ``--calls`` each).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import torch

from ..model import Model
from .timing import alternating_medians_ms


def main(argv: list[str] | None = None) -> None:
    import alora_chain as ac

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=24, help="timed calls per intrinsic and way")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = ac.load_model()
    row = measure(model, args.calls)
    print(f"{torch.get_num_threads()} torch threads, {row.modules} modules, {row.lora_layers} LoRA layers")
    print(
        f"handing offsets on for one forward: PEFT {row.peft_hooks_ms:.2f} ms, Model {row.model_hooks_ms:.2f} ms "
        f"({row.peft_hooks_ms / row.model_hooks_ms:.0f}x)"
    )
    for name, peft_ms, model_ms in (
        ("query_rewrite (text)", row.text_peft_ms, row.text_model_ms),
        ("context_relevance (choice)", row.choice_peft_ms, row.choice_model_ms),
    ):
        print(
            f"{name}, median of {args.calls}: {peft_ms:.0f} ms with PEFT's hooks, {model_ms:.0f} ms with "
            f"Model's ({peft_ms / model_ms:.2f}x)"
        )


@dataclass
class OffsetsRow:
    modules: int  # modules PEFT walks per aLoRA forward
    lora_layers: int  # injected LoRA layers that get the hook
    peft_hooks_ms: float  # entering and leaving PEFT's offset hooks, no forward
    model_hooks_ms: float  # the same with Model's
    text_peft_ms: float  # median query_rewrite call, offsets through PEFT's hooks
    text_model_ms: float  # the same through Model's
    choice_peft_ms: float  # median context_relevance call, offsets through PEFT's hooks
    choice_model_ms: float  # the same through Model's


def measure(model: Model, calls: int) -> OffsetsRow:
    """Both ways of handing offsets on, with the six built-ins bound, on one short chat."""
    import alora_chain as ac
    from alora_chain.intrinsic import builtin

    for name in ac.intrinsics():
        builtin(name).bind(model)
    session = ac.Session(model, system="You are a helpful assistant.")
    session.user("I'm looking at the Tavra Air 8 laptop. How heavy is it?")
    session.assistant("The Tavra Air 8 weighs 458 grams.").user("And when did it first go on sale?")
    document = "The Tavra Air 8 first went on sale in 2018."
    text_peft, text_model = alternating_medians_ms(
        [lambda: session.invoke("query_rewrite")], calls, lambda: _peft_offsets(model)
    )
    choice_peft, choice_model = alternating_medians_ms(
        [lambda: session.invoke("context_relevance", document=document)], calls, lambda: _peft_offsets(model)
    )
    return OffsetsRow(
        modules=sum(1 for _ in model.peft.modules()),
        lora_layers=len(model._injected_layers()),
        peft_hooks_ms=_enter_and_leave_ms(lambda: _peft_hooks(model, [4])),
        model_hooks_ms=_enter_and_leave_ms(lambda: model._alora_offsets([4])),
        text_peft_ms=text_peft,
        text_model_ms=text_model,
        choice_peft_ms=choice_peft,
        choice_model_ms=choice_model,
    )


def _enter_and_leave_ms(hooks: Callable[[], AbstractContextManager], repeats: int = 40) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        with hooks():
            pass
    return (time.perf_counter() - started) / repeats * 1000


def _peft_hooks(model: Model, offsets: list[int]) -> AbstractContextManager:
    """What ``PeftModel.forward(alora_offsets=...)`` enters around the forward."""
    return model.peft.base_model._enable_peft_forward_hooks(alora_offsets=offsets)


@contextmanager
def _peft_offsets(model: Model):
    """``Model`` handing offsets on through PEFT's hooks, as it did before its own."""
    model._alora_offsets = lambda offsets: _peft_hooks(model, offsets)  # shadows the method here
    try:
        yield
    finally:
        del model._alora_offsets


if __name__ == "__main__":
    main()
