"""Training step time in fp32 against bf16 autocast, on a built-in recipe's rows, in one run.

    python -m alora_chain.bench.training answerability --rows 48 [--kind lora]

Each precision (fp32, bf16, and for aLoRA bf16-prefill: only the frozen prefix in bf16) runs
the same seeded batches through the same fresh adapter (gradients are computed and thrown away,
so none changes the weights another sees), in turn twice to spread machine noise; it prints
seconds per first-epoch pass (prefill included), each ratio, and how far the losses moved.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Literal

import torch
import typer

from ..training.recipes.catalog import RECIPES, spec

# certainty's rows are labelled by answering each with the base model first: not worth it here
RecipeName = Literal[tuple(sorted(n for n in RECIPES if n != "certainty"))]

# markdown: the help (the module docstring) keeps its paragraphs and example commands
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="markdown")


@app.command(help=__doc__)
def command(
    name: Annotated[RecipeName, typer.Argument()],
    row_count: Annotated[int, typer.Option("--rows", help="training rows to time (batches of 8)")] = 48,
    kind: Annotated[Literal["alora", "lora"], typer.Option()] = "alora",
) -> None:
    from peft import LoraConfig

    from ..model import load_model
    from ..training.data import load_rows
    from ..training.datagen import GENERATORS, ITEM_GENERATORS, write_jsonl
    from ..training.train import (
        PRECISIONS,
        TrainConfig,
        _autocast,
        _batches,
        _prefill,
        _prefill_autocast,
        batch_loss,
        encode_example,
    )

    model, intrinsic = load_model(), spec(name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl"
        generate = ITEM_GENERATORS if RECIPES[name].per_item else GENERATORS  # as the recipe trains
        write_jsonl(path, generate[name]("train", row_count, seed=0))
        rows = load_rows(path, intrinsic, max_length=1024, tokenizer=model.tokenizer)
    examples = [encode_example(model, intrinsic, row) for row in rows]
    batches = _batches(examples, 8, random.Random(0))
    config = TrainConfig(kind=kind)
    lora = LoraConfig(
        r=config.resolved_rank(),
        lora_alpha=2 * config.resolved_rank(),
        lora_dropout=0.0,
        target_modules=list(RECIPES[name].modules),
        task_type="CAUSAL_LM",
        alora_invocation_tokens=intrinsic.invocation_ids(model.tokenizer) if kind == "alora" else None,
    )
    model.add_fresh_adapter("timed", lora)
    model.peft.set_adapter("timed")
    model.peft.train()
    precisions = [p for p in PRECISIONS if kind == "alora" or p != "bf16-prefill"]
    seconds: dict[str, list[float]] = {p: [] for p in precisions}
    losses: dict[str, list[float]] = {}
    for precision in precisions * 2:
        settings = TrainConfig(kind=kind, precision=precision)
        started, passed = time.perf_counter(), []
        for batch in batches:
            prefix = None
            if kind == "alora":
                with _prefill_autocast(settings):
                    prefix = _prefill(model, batch)
            with _autocast(settings):
                loss, _ = batch_loss(model, batch, kind, prefix)
            loss.backward()
            model.peft.zero_grad(set_to_none=True)
            passed.append(loss.item())
        seconds[precision].append(time.perf_counter() - started)
        losses[precision] = passed
    model.remove_adapter("timed")
    median = {p: statistics.median(seconds[p]) for p in precisions}
    print(
        f"{name} ({kind}, {len(examples)} rows, {len(batches)} steps, {torch.get_num_threads()} threads): "
        f"fp32 {median['fp32']:.1f} s per pass (losses {min(losses['fp32']):.3f}..{max(losses['fp32']):.3f})"
    )
    for p in precisions[1:]:
        moved = max(abs(a - b) for a, b in zip(losses["fp32"], losses[p]))
        print(f"  {p} {median[p]:.1f} s per pass -> {median['fp32'] / median[p]:.2f}x faster; "
              f"largest loss difference {moved:.4f}")


def main() -> None:
    """``python -m alora_chain.bench.training``: run the command on ``sys.argv``."""
    app(prog_name="python -m alora_chain.bench.training")


if __name__ == "__main__":
    main()
