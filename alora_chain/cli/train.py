"""`alora-chain train`: build an intrinsic folder from a JSONL file with one command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def command(
    data: Annotated[Path, typer.Argument(help="JSONL: messages, the template arguments, target")],
    name: Annotated[str, typer.Option(help="Intrinsic name (also the default invocation <|im_start|>NAME)")],
    kind: Annotated[str, typer.Option(help="alora, or lora for the standard LoRA baseline")] = "alora",
    like: Annotated[str | None, typer.Option(help="Copy template/output/arguments from this intrinsic")] = None,
    template: Annotated[Path | None, typer.Option(help="jinja2 template of the instruction turn")] = None,
    labels: Annotated[str | None, typer.Option(help="Comma-separated labels: a choice intrinsic")] = None,
    positive: Annotated[str | None, typer.Option(help="Label whose probability is the score")] = None,
    output_kind: Annotated[str | None, typer.Option(help="choice, score or text (default: inferred)")] = None,
    invocation: Annotated[str | None, typer.Option(help="Invocation string (default <|im_start|>NAME\\n)")] = None,
    validation: Annotated[Path | None, typer.Option(help="Validation JSONL (default: 10% of DATA)")] = None,
    rank: Annotated[int | None, typer.Option(help="LoRA rank (default 32 aLoRA, 8 LoRA)")] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the data")] = 2,
    lr: Annotated[float, typer.Option(help="Peak learning rate")] = 5e-4,
    batch_size: Annotated[int, typer.Option(help="Examples per step")] = 8,
    max_length: Annotated[int, typer.Option(help="Longest allowed example, in tokens")] = 1024,
    seed: Annotated[int, typer.Option(help="Seed for init and data order")] = 0,
    model: Annotated[Path | None, typer.Option(help="Base model folder or .gguf (default: embedded)")] = None,
    out: Annotated[Path | None, typer.Option(help="Output intrinsic folder (default ./NAME)")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoints")] = False,
    target_modules: Annotated[
        str | None, typer.Option(help="Comma-separated layers to adapt (default q_proj,k_proj,v_proj)")
    ] = None,
    init_from: Annotated[
        str | None, typer.Option(help="Start from this intrinsic's adapter (name or folder; same rank and layers)")
    ] = None,
    precision: Annotated[
        str, typer.Option(help="fp32; bf16: autocast, 1.3-1.6x faster on a CPU with AVX512-BF16; "
                               "bf16-prefill (aLoRA): only the frozen prefix prefill in bf16")
    ] = "fp32",
) -> None:
    """Train an aLoRA intrinsic (or a standard LoRA baseline) and write a ready intrinsic folder."""
    from rich.console import Console

    from ..errors import AloraChainError
    from ..intrinsic import resolve
    from ..training.train import TrainConfig, spec_for_training, train

    console = Console()
    try:
        base = resolve(like) if like else None
        spec = spec_for_training(
            name,
            like=base,
            template=template.name if template else (None if base else _default_template(name)),
            invocation=invocation.replace("\\n", "\n") if invocation else None,
            output=_output(data, labels, positive, output_kind) if (labels or output_kind or not base) else None,
            arguments=None if base else _infer_arguments(data),
        )
        if template is not None:
            spec = spec.with_folder(template.parent)
        start = str(resolve(init_from).adapter_path) if init_from else None
        config = TrainConfig(kind=kind, rank=rank, epochs=epochs, lr=lr, batch_size=batch_size,
                             max_length=max_length, seed=seed, init_from=start, precision=precision,
                             target_modules=tuple(target_modules.split(",")) if target_modules
                             else TrainConfig.target_modules)
        result = train(data, spec, out or Path(name), config, validation=validation, model_path=model,
                       resume=resume)
    except AloraChainError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"[green]wrote {result.folder}[/] ({result.steps} steps, best validation loss "
        f"{result.best_val_loss:.4f}, {result.train_tokens_per_s:.0f} tokens/s, "
        f"{result.examples_per_s:.2f} examples/s, {result.seconds:.0f} s)"
    )


def _default_template(name: str) -> str:
    from ..resources import builtin_template

    if builtin_template(f"{name}.jinja") is not None:
        return f"{name}.jinja"
    raise typer.BadParameter(f"no built-in template {name}.jinja; pass --template FILE or --like INTRINSIC")


def _rows(data: Path) -> list[dict]:
    from ..errors import DataError

    if not data.is_file():
        raise DataError(f"{data}: no such data file")
    try:
        return [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise DataError(f"{data}: not JSONL ({exc})") from None


def _infer_arguments(data: Path) -> dict[str, str]:
    """Template arguments = the keys besides messages/target/meta, typed from the first row."""
    rows = _rows(data)
    first = rows[0] if rows else {}
    kinds = {list: "list[str]", str: "str", int: "int", float: "float", bool: "bool"}
    return {k: kinds.get(type(v), "str") for k, v in first.items() if k not in ("messages", "target", "meta")}


def _output(data: Path, labels, positive, output_kind) -> dict:
    """Explicit labels make a choice; otherwise few distinct targets mean choice, many mean text."""
    if labels:
        names = [label.strip() for label in labels.split(",") if label.strip()]
        return {"kind": output_kind or "choice", "labels": names, "positive": positive} if (
            output_kind or "choice") == "choice" else {"kind": "score", "labels": {n: float(n) / 9 for n in names}}
    targets = sorted({str(row.get("target", "")) for row in _rows(data)})
    if output_kind == "text" or (output_kind is None and len(targets) > 10):
        return {"kind": "text", "max_new_tokens": 64}
    if output_kind == "score":
        return {"kind": "score"}
    return {"kind": "choice", "labels": targets, "positive": positive}
