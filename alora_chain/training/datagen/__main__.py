"""CLI: ``python -m alora_chain.training.datagen NAME --out DIR [--seed S] [--train N --val N --test N]``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

import typer

from . import DEFAULT_SIZES, GENERATORS, write_splits

GeneratorName = Literal[tuple(sorted(GENERATORS))]  # the choices of NAME

# markdown: the help (the module docstring) keeps its paragraphs and example commands
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="markdown")


@app.command(help=__doc__)
def command(
    name: Annotated[GeneratorName, typer.Argument()],
    out: Annotated[Path, typer.Option(help="output directory")],
    seed: Annotated[int, typer.Option()] = 0,
    train: Annotated[int, typer.Option(help="rows")] = DEFAULT_SIZES["train"],
    val: Annotated[int, typer.Option(help="rows")] = DEFAULT_SIZES["val"],
    test: Annotated[int, typer.Option(help="rows")] = DEFAULT_SIZES["test"],
) -> None:
    sizes = {"train": train, "val": val, "test": test}
    for split, rows in write_splits(name, out, sizes, seed).items():
        if name == "certainty":  # unlabelled until the base model answers
            balance = Counter(r["meta"]["category"] for r in rows)
        elif name == "query_rewrite":
            balance = Counter(r["meta"]["pattern"] for r in rows)
        else:
            balance = Counter(r["target"] for r in rows)
        shares = ", ".join(f"{k}: {v} ({v / len(rows):.0%})" for k, v in balance.most_common())
        print(f"{split}: {len(rows)} rows -> {shares}")


def main() -> None:
    """``python -m alora_chain.training.datagen``: run the command on ``sys.argv``."""
    app(prog_name="python -m alora_chain.training.datagen")


if __name__ == "__main__":
    main()
