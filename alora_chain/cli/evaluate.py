"""`alora-chain eval`: score an intrinsic on labelled JSONL rows against a standard LoRA and prompting."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_LABELS = {
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "auroc": "AUROC",
    "ece": "ECE",
    "brier": "Brier",
    "exact_match": "exact match",
    "token_f1": "token F1",
    "keeps": "keeps entity+aspect",
    "valid_json": "valid JSON",
}


def command(
    intrinsic: Annotated[str, typer.Argument(help="Built-in intrinsic name or intrinsic folder.")],
    data: Annotated[Path, typer.Argument(help="JSONL rows: messages, the intrinsic's arguments, target.")],
    compare: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated paths to compare with: lora, prompt ('' for none); default lora,prompt"
        ),
    ] = None,
    lora: Annotated[
        Path | None, typer.Option(help="Folder of the standard-LoRA intrinsic (adapter_kind: lora).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the full report (with predictions) as JSON here.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N rows.")] = None,
    model_path: Annotated[
        str | None, typer.Option("--model", help="Base model (default: the embedded SmolLM2).")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Also break the first metric down by this field of each row's meta "
            "(dotted for nested, e.g. case or requirement_spec.type)."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Compare the aLoRA intrinsic (cache reuse), a standard LoRA (recompute) and the prompted base model."""
    from rich.console import Console

    import alora_chain as ac
    from alora_chain.errors import AloraChainError
    from alora_chain.intrinsic import resolve
    from alora_chain.training.data import load_rows
    from alora_chain.training.evaluate import evaluate, metrics_by

    console, errors = Console(), Console(stderr=True)
    paths = ["lora", "prompt"] if compare is None else [p.strip() for p in compare.split(",") if p.strip()]
    try:
        if compare is not None and "lora" in paths and lora is None:
            raise ac.errors.InvalidArgumentError(
                "--compare lora needs --lora PATH (a standard-LoRA intrinsic)"
            )
        spec = resolve(intrinsic)
        lora_spec = ac.Intrinsic.load(lora) if lora is not None else None
        rows = load_rows(data, spec)[:limit]
        model = ac.load_model(model_path)
        report = evaluate(model, spec, rows, lora=lora_spec, compare=paths, progress=progress)
    except AloraChainError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    console.print(render(report))
    if by is not None:
        console.print(render_by(report, metrics_by(report, spec, rows, by), by))
    for path, why in report.skipped.items():
        console.print(f"[yellow]skipped {path}:[/yellow] {why}", highlight=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {out}")


def render(report):
    """A rich table: one row per path, one column per metric, then latency per example."""
    from rich.table import Table

    table = Table(title=f"{report.intrinsic} ({report.kind}) on {report.examples} examples")
    table.add_column("path")
    names = list(next(iter(report.paths.values())).metrics)
    for name in names:
        table.add_column(_LABELS.get(name, name), justify="right")
    table.add_column("median ms", justify="right")
    table.add_column("mean ms", justify="right")
    for path, result in report.paths.items():
        cells = ["—" if result.metrics[n] is None else f"{result.metrics[n]:.3f}" for n in names]
        latency = [f"{result.latency_median_s * 1000:.1f}", f"{result.latency_mean_s * 1000:.1f}"]
        table.add_row(path, *cells, *latency)
    return table


def render_by(report, groups: dict, field: str):
    """A rich table: one row per meta value, its row count, then each path's first metric."""
    from rich.table import Table

    metric = next(iter(next(iter(report.paths.values())).metrics))
    table = Table(title=f"{_LABELS.get(metric, metric)} by meta.{field}")
    table.add_column(field)
    table.add_column("rows", justify="right")
    for path in report.paths:
        table.add_column(path, justify="right")
    for group, by_path in groups.items():
        cells = [by_path[path][metric] for path in report.paths]
        table.add_row(group, str(by_path["rows"]["n"]), *("—" if c is None else f"{c:.3f}" for c in cells))
    return table
