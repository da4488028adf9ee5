"""`alora-chain export_gguf`: placeholder until its issue lands."""

from __future__ import annotations

import typer


def command() -> None:
    """Not implemented yet."""
    typer.echo("not implemented yet", err=True)
    raise typer.Exit(2)
