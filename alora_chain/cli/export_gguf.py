"""`alora-chain export-gguf`: write an intrinsic's adapter as a GGUF LoRA adapter for llama.cpp."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def command(
    intrinsic: Annotated[str, typer.Argument(help="Built-in intrinsic name or intrinsic folder")],
    out: Annotated[Path | None, typer.Option(help="Output file (default ./NAME.gguf)")] = None,
    model: Annotated[
        Path | None, typer.Option(help="Base .gguf or HF folder llama.cpp will run (default: embedded)")
    ] = None,
    dtype: Annotated[str, typer.Option(help="f32 or f16")] = "f32",
) -> None:
    """Export INTRINSIC's PEFT (a)LoRA adapter as a GGUF adapter for llama-server --lora."""
    from rich.console import Console

    from ..errors import AloraChainError
    from ..export_gguf import export_gguf
    from ..intrinsic import resolve
    from ..model import embedded_gguf

    console = Console()
    try:
        spec = resolve(Path(intrinsic) if Path(intrinsic).is_dir() else intrinsic)
        path = export_gguf(spec, out or Path(f"{spec.name}.gguf"), base=model, dtype=dtype)
        base = model or embedded_gguf()
    except AloraChainError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    kind = "aLoRA" if spec.adapter_kind == "alora" else "LoRA"
    console.print(f"[green]wrote[/] {path} ({kind}, {path.stat().st_size / 1e6:.1f} MB)")
    console.print(f"serve it with: llama-server -m {base} --lora {path} --lora-init-without-apply")
