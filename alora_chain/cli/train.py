"""`alora-chain train`: a ready intrinsic folder from a JSONL file, scored on held-out rows against prompting."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ..training.config import PRECISIONS, TrainConfig

_DEFAULT_MODULES = ",".join(TrainConfig.target_modules)


def command(
    data: Annotated[Path, typer.Argument(help="JSONL: messages, target, and any template arguments")],
    name: Annotated[str, typer.Option(help="Intrinsic name (also the default invocation <|im_start|>NAME)")],
    test: Annotated[
        Path | None, typer.Option(help="Held-out JSONL to report accuracy on (default: the validation rows)")
    ] = None,
    template: Annotated[
        Path | None,
        typer.Option(help="jinja2 template of the instruction turn (default: none; only the arguments laid out)"),
    ] = None,
    like: Annotated[str | None, typer.Option(help="Copy template/output/arguments from this intrinsic")] = None,
    labels: Annotated[
        str | None, typer.Option(help="Comma-separated labels (default: the targets, when 10 or fewer)")
    ] = None,
    positive: Annotated[
        str | None, typer.Option(help="Label whose probability is the score (default: yes/true if a label)")
    ] = None,
    output_kind: Annotated[str | None, typer.Option(help="choice, score or text (default: inferred)")] = None,
    invocation: Annotated[str | None, typer.Option(help="Invocation string (default <|im_start|>NAME\\n)")] = None,
    validation: Annotated[
        Path | None,
        typer.Option(help=f"Validation JSONL (default: {TrainConfig.val_fraction:.0%} of DATA held out)"),
    ] = None,
    kind: Annotated[str, typer.Option(help="alora, or lora for the standard LoRA baseline")] = TrainConfig.kind,
    rank: Annotated[int | None, typer.Option(help="LoRA rank (default 32 aLoRA, 8 LoRA)")] = TrainConfig.rank,
    epochs: Annotated[
        int | None, typer.Option(help="Passes over the data (default: enough for --min-steps, at least 2)")
    ] = TrainConfig.epochs,
    min_steps: Annotated[
        int, typer.Option(help="Optimiser steps a small file is repeated to reach")
    ] = TrainConfig.min_steps,
    lr: Annotated[float, typer.Option(help="Peak learning rate")] = TrainConfig.lr,
    warmup_steps: Annotated[
        int | None, typer.Option(help="Warmup steps (default: a tenth of the steps, at most 10)")
    ] = TrainConfig.warmup_steps,
    batch_size: Annotated[int, typer.Option(help="Examples per step")] = TrainConfig.batch_size,
    max_length: Annotated[int, typer.Option(help="Longest allowed example, in tokens")] = TrainConfig.max_length,
    seed: Annotated[int, typer.Option(help="Seed for init, data order and the validation split")] = TrainConfig.seed,
    model: Annotated[Path | None, typer.Option(help="Base model folder or .gguf (default: embedded)")] = None,
    out: Annotated[Path | None, typer.Option(help="Output intrinsic folder (default ./NAME)")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoints")] = False,
    report: Annotated[
        bool, typer.Option(help="Score the adapter on the held-out rows against prompting the base model")
    ] = True,
    target_modules: Annotated[
        str, typer.Option(help="Comma-separated layers to adapt")
    ] = _DEFAULT_MODULES,
    init_from: Annotated[
        str | None, typer.Option(help="Start from this intrinsic's adapter (name or folder; same rank and layers)")
    ] = None,
    precision: Annotated[
        str,
        typer.Option(
            help=f"One of {', '.join(PRECISIONS)}. bf16: autocast, 1.3-1.6x faster on a CPU with AVX512-BF16; "
            "bf16-prefill (aLoRA): only the frozen prefix prefill in bf16"
        ),
    ] = TrainConfig.precision,
) -> None:
    """Train an aLoRA intrinsic (or a standard LoRA baseline) and write a ready intrinsic folder.

    Nothing but DATA and --name is needed: the labels come from the targets, the schedule from the rows' number.

    The run ends by scoring the adapter on held-out rows (--test, or the validation rows) against prompting.
    """
    from rich.console import Console

    from ..errors import AloraChainError
    from ..intrinsic import resolve
    from ..training.small_data import infer_intrinsic
    from ..training.train import train

    console = Console()
    out = out or Path(name)
    try:
        with tempfile.TemporaryDirectory(prefix="alora-chain-train-") as scratch:  # the inferred template
            spec = infer_intrinsic(
                data, name, scratch,
                like=resolve(like) if like else None,
                template=template,
                labels=[label.strip() for label in labels.split(",") if label.strip()] if labels else None,
                positive=positive,
                output_kind=output_kind,
                invocation=invocation.replace("\\n", "\n") if invocation else None,
            )
            config = TrainConfig(
                kind=kind, rank=rank, epochs=epochs, min_steps=min_steps, lr=lr, warmup_steps=warmup_steps,
                batch_size=batch_size, max_length=max_length, seed=seed, precision=precision,
                init_from=str(resolve(init_from).adapter_path) if init_from else None,
                target_modules=tuple(m.strip() for m in target_modules.split(",") if m.strip()),
            )
            result = train(data, spec, out, config, validation=validation, model_path=model, resume=resume)
        console.print(
            f"[green]wrote {result.folder}[/] ({result.steps} steps, validation loss "
            f"{result.best_val_loss:.4f}, {result.train_tokens_per_s:.0f} tokens/s, "
            f"{result.examples_per_s:.2f} examples/s, {result.seconds:.0f} s)"
        )
        if report:
            _report(console, result, test, model)
    except AloraChainError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


def _report(console, result, test: Path | None, model_path: Path | None) -> None:
    """Held-out accuracy against zero-shot prompting, and a loud warning for a one-label adapter."""
    from rich.panel import Panel

    from ..intrinsic import Intrinsic
    from ..model import load_model
    from ..training.data import load_rows
    from ..training.small_data import compare_with_prompting, one_label
    from .evaluate import render

    trained = Intrinsic.load(result.folder)
    rows = load_rows(test, trained) if test is not None else result.validation
    if not rows:
        console.print("[yellow]no held-out rows to score: pass --test FILE[/]")
        return
    report = compare_with_prompting(load_model(model_path), trained, rows)
    console.print(render(report))
    adapter, prompted = report.paths.values()
    metric = next(iter(adapter.metrics))
    where = f"{len(rows)} rows of {test}" if test is not None else f"{len(rows)} validation rows held out"
    console.print(
        f"held-out {metric}: [bold]{adapter.metrics[metric]:.2f}[/] with the adapter, "
        f"{prompted.metrics[metric]:.2f} prompting the base model zero-shot ({where})",
        highlight=False,
    )
    if test is None and len(rows) < 20:
        console.print(f"[yellow]{len(rows)} rows give a rough figure: pass --test FILE with more[/]")
    label = one_label(report)
    if label is not None:
        console.print(
            Panel(
                f"The adapter answered {label!r} for all {len(rows)} held-out rows: it learned how often each "
                "label occurs, not the task. Check that the targets depend on what the adapter reads (the "
                "conversation and the arguments), balance the labels, or add rows or steps (--min-steps).",
                title="warning: one label for everything",
                border_style="bold red",
            )
        )
    elif adapter.metrics[metric] is not None and adapter.metrics[metric] <= (prompted.metrics[metric] or 0):
        console.print("[bold yellow]warning:[/] the adapter does no better than prompting the base model")
