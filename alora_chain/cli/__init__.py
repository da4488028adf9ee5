"""The `alora-chain` command: one subcommand per module in this package, each importing heavy modules lazily."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    help="Call aLoRA intrinsics mid-conversation on a base model's KV cache.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# subcommand name -> module in this package exposing ``command``
COMMANDS = {
    "demo": "demo",
    "chat": "chat",
    "train": "train",
    "eval": "evaluate",
    "bench": "bench",
    "export-gguf": "export_gguf",
}
# subcommand groups: name -> module in this package exposing a typer ``app``
GROUPS = {"server": "server"}

for _name, _module in COMMANDS.items():
    app.command(_name)(importlib.import_module(f"alora_chain.cli.{_module}").command)
for _name, _module in GROUPS.items():
    app.add_typer(importlib.import_module(f"alora_chain.cli.{_module}").app, name=_name)


def main() -> None:  # pragma: no cover - entry point
    app()
