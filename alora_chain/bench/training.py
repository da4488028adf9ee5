"""Training step time in fp32 against bf16 autocast, on a built-in recipe's rows, in one run.

    python -m alora_chain.bench.training answerability --rows 48 [--kind lora]

Both precisions run the same seeded batches through the same fresh adapter (gradients are
computed and thrown away, so neither changes the weights the other sees), alternating twice to
spread machine noise; it prints seconds per pass, the ratio, and how far the losses moved.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> None:
    from peft import LoraConfig

    from ..data import load_rows
    from ..datagen import GENERATORS, ITEM_GENERATORS, write_jsonl
    from ..model import load_model
    from ..recipes import RECIPES, spec
    from ..train import TrainConfig, _autocast, _batches, batch_loss, encode_example

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # certainty's rows are labelled by answering each with the base model first: not worth it here
    parser.add_argument("name", choices=sorted(n for n in RECIPES if n != "certainty"))
    parser.add_argument("--rows", type=int, default=48, help="training rows to time (batches of 8)")
    parser.add_argument("--kind", choices=["alora", "lora"], default="alora")
    args = parser.parse_args(argv)

    model, intrinsic = load_model(), spec(args.name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl"
        generate = ITEM_GENERATORS if RECIPES[args.name].per_item else GENERATORS  # as the recipe trains
        write_jsonl(path, generate[args.name]("train", args.rows, seed=0))
        rows = load_rows(path, intrinsic, max_length=1024, tokenizer=model.tokenizer)
    examples = [encode_example(model, intrinsic, row) for row in rows]
    batches = _batches(examples, 8, random.Random(0))
    config = TrainConfig(kind=args.kind)
    lora = LoraConfig(
        r=config.resolved_rank(),
        lora_alpha=2 * config.resolved_rank(),
        lora_dropout=0.0,
        target_modules=list(RECIPES[args.name].modules),
        task_type="CAUSAL_LM",
        alora_invocation_tokens=intrinsic.invocation_ids(model.tokenizer) if args.kind == "alora" else None,
    )
    model.add_fresh_adapter("timed", lora)
    model.peft.set_adapter("timed")
    model.peft.train()
    seconds: dict[str, list[float]] = {"fp32": [], "bf16": []}
    losses: dict[str, list[float]] = {}
    for precision in ("fp32", "bf16", "fp32", "bf16"):
        settings = TrainConfig(kind=args.kind, precision=precision)
        started, passed = time.perf_counter(), []
        for batch in batches:
            with _autocast(settings):
                loss, _ = batch_loss(model, batch, args.kind)
            loss.backward()
            model.peft.zero_grad(set_to_none=True)
            passed.append(loss.item())
        seconds[precision].append(time.perf_counter() - started)
        losses[precision] = passed
    model.remove_adapter("timed")
    fp32, bf16 = (statistics.median(seconds[p]) for p in ("fp32", "bf16"))
    moved = max(abs(a - b) for a, b in zip(losses["fp32"], losses["bf16"]))
    print(
        f"{args.name} ({args.kind}, {len(examples)} rows, {len(batches)} steps, {torch.get_num_threads()} threads): "
        f"fp32 {fp32:.1f} s, bf16 {bf16:.1f} s per pass -> bf16 {fp32 / bf16:.2f}x faster; "
        f"largest loss difference {moved:.4f} (fp32 losses {min(losses['fp32']):.3f}..{max(losses['fp32']):.3f})"
    )


if __name__ == "__main__":
    main()
