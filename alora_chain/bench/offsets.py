"""Handing aLoRA offsets to the adapter layers: PEFT's module walk against Model's, in one run.

    python -m alora_chain.bench.offsets [--calls 24] [--threads 2]

An aLoRA forward must tell each injected LoRA layer how many of the last tokens get the adapter
(and, in a batch with an adapter per row, which adapter each row gets).
``PeftModel.forward(alora_offsets=..., adapter_names=...)`` does so with a pre-forward hook per
layer, after walking every module of the model to find them; ``Model`` registers the same hook
on the layers it has already found. With the six built-ins bound, this times handing the
offsets on for one forward both ways (no forward run), then calls on a short chat, the two ways
taking turns by rounds (medians of ``--calls`` each): a text intrinsic (``query_rewrite``: one
forward per generated token), a choice intrinsic (``context_relevance``: one forward) and a
per-item one (``answerability`` over three documents: one forward, a row per document).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Annotated

import torch
import typer

from ..model import Model
from .timing import alternating_medians_ms

# markdown: the help (the module docstring) keeps its paragraphs and example commands
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="markdown")


@app.command(help=__doc__)
def command(
    calls: Annotated[int, typer.Option(help="timed calls per intrinsic and way")] = 24,
    threads: Annotated[int | None, typer.Option(help="torch threads (default: torch's)")] = None,
) -> None:
    import alora_chain as ac

    if threads:
        torch.set_num_threads(threads)
    model = ac.load_model()
    row = measure(model, calls)
    print(f"{torch.get_num_threads()} torch threads, {row.modules} modules, {row.lora_layers} LoRA layers")
    print(
        f"handing offsets on for one forward: PEFT {row.peft_hooks_ms:.2f} ms, Model {row.model_hooks_ms:.2f} ms "
        f"({row.peft_hooks_ms / row.model_hooks_ms:.0f}x)"
    )
    for name, (peft_ms, model_ms) in row.calls_ms.items():
        print(
            f"{name}, median of {calls}: {peft_ms:.0f} ms with PEFT's hooks, {model_ms:.0f} ms with "
            f"Model's ({peft_ms / model_ms:.2f}x)"
        )


def main() -> None:
    """``python -m alora_chain.bench.offsets``: run the command on ``sys.argv``."""
    app(prog_name="python -m alora_chain.bench.offsets")


@dataclass
class OffsetsRow:
    modules: int  # modules PEFT walks per aLoRA forward
    lora_layers: int  # injected LoRA layers that get the hook
    peft_hooks_ms: float  # entering and leaving PEFT's offset hooks, no forward
    model_hooks_ms: float  # the same with Model's
    calls_ms: dict[str, tuple[float, float]]  # call -> median ms (PEFT's hooks, Model's)


def measure(model: Model, calls: int) -> OffsetsRow:
    """Both ways of handing offsets on, with the six built-ins bound, on one short chat."""
    import alora_chain as ac
    from alora_chain.intrinsic import builtin

    for name in ac.intrinsics():
        builtin(name).bind(model)
    session = ac.Session(model, system="You are a helpful assistant.")
    session.user("I'm looking at the Tavra Air 8 laptop. How heavy is it?")
    session.assistant("The Tavra Air 8 weighs 458 grams.").user("And when did it first go on sale?")
    documents = [
        "The Tavra Air 8 first went on sale in 2018.",
        "The Tavra Air 8 comes in at 458 grams.",
        "Brimwick has 48,000 inhabitants.",
    ]
    invocations = {
        "query_rewrite (text)": lambda: session.invoke("query_rewrite"),
        "context_relevance (choice)": lambda: session.invoke("context_relevance", document=documents[0]),
        "answerability, 3 documents (per item, a row each)": (
            lambda: session.invoke("answerability", documents=documents)
        ),
    }
    return OffsetsRow(
        modules=sum(1 for _ in model.peft.modules()),
        lora_layers=len(model.adapter_layers()),
        peft_hooks_ms=_enter_and_leave_ms(lambda: _peft_hooks(model, alora_offsets=[4])),
        model_hooks_ms=_enter_and_leave_ms(lambda: model.layer_arguments(alora_offsets=[4])),
        calls_ms={
            name: alternating_medians_ms([call], calls, lambda: _peft_hooks_in_place(model))
            for name, call in invocations.items()
        },
    )


def _enter_and_leave_ms(hooks: Callable[[], AbstractContextManager], repeats: int = 40) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        with hooks():
            pass
    return (time.perf_counter() - started) / repeats * 1000


def _peft_hooks(model: Model, **arguments) -> AbstractContextManager:
    """What ``PeftModel.forward(alora_offsets=..., adapter_names=...)`` enters around the forward."""
    return model.peft.base_model._enable_peft_forward_hooks(**arguments)


@contextmanager
def _peft_hooks_in_place(model: Model):
    """``Model`` handing its layer arguments on through PEFT's hooks, as it did before its own."""
    model.peft_hooks = True
    try:
        yield
    finally:
        model.peft_hooks = False


if __name__ == "__main__":
    main()
