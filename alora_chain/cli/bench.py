"""`alora-chain bench`: measure intrinsic latency against LoRA recompute, the floor and deep copy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def command(
    quick: Annotated[
        bool, typer.Option("--quick", help="Reduced grid (256 and 1k tokens, 2 repeats): < 2 min.")
    ] = False,
    out: Annotated[Path, typer.Option("--out", help="Folder for results.json and plot.png.")] = Path(
        "bench-results"
    ),
    lengths: Annotated[
        str | None, typer.Option("--lengths", help="History lengths, e.g. 256,1024,2048,4096.")
    ] = None,
    repeats: Annotated[
        int | None, typer.Option("--repeats", min=1, help="Timed runs per cell (median).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="torch threads (default: torch's).")
    ] = None,
    model_path: Annotated[
        str | None, typer.Option("--model", help="Model folder or GGUF (default: embedded).")
    ] = None,
) -> None:
    """Benchmark intrinsic calls: aLoRA on a fork vs LoRA recompute, the floor and deep copy + generate."""
    from rich.console import Console

    from ..bench import BenchConfig, run_bench
    from ..model import load_model

    console = Console()
    config = BenchConfig.quick() if quick else BenchConfig()
    if lengths:
        try:
            config.lengths = [int(x) for x in lengths.split(",") if x.strip()]
        except ValueError:
            raise typer.BadParameter(
                f"--lengths must be integers separated by commas, got {lengths!r}"
            ) from None
    if repeats:
        config.repeats = repeats
    config.threads = threads
    with console.status("loading the model"):
        model = load_model(model_path)
    results = run_bench(model, config, log=lambda msg: console.log(msg))
    for table in _tables(results):
        console.print(table)
    json_path, png_path = results.write(out)
    console.print(f"wrote {json_path} and {png_path}")


def _tables(results):
    from ..bench.report import tables

    return tables(results)
