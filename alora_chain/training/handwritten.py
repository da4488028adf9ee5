"""Score a built-in on its hand-written suite (``evals/NAME/``) and record the figures in its results.json.

The hand-written suites judge; the generated test splits only show that training worked. The figures
recorded here are the README's headline (:func:`alora_chain.training.docs.headline_table`).

Example: ``python -m alora_chain.training.handwritten groundedness --split test`` -> scores the shipped
adapter and zero-shot prompting on ``evals/groundedness/test.jsonl`` and writes
``results.json["hand_written"]["test"]``: rows, each path's metrics and the first metric by case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from ..errors import AloraChainError, DataError
from ..intrinsic import builtin
from ..resources import builtin_intrinsics_dir
from .evaluate import EvalReport, evaluate, metrics_by
from .leakage import EVALS_DIR


def suite(name: str, split: str) -> Path:
    path = EVALS_DIR / name / f"{split}.jsonl"  # in a checkout; a wheel ships no suites
    if not path.is_file():
        raise DataError(f"no hand-written suite at {path} (the suites live in a checkout's evals/ folder)")
    return path


def summary(report: EvalReport, by_case: dict, version: str) -> dict:
    """What results.json keeps of a report: no predictions; by case, the headline metric (``keeps``
    for rows judged by their must_keep groups, else the output kind's first metric)."""
    paths = {path: result.metrics for path, result in report.paths.items()}
    metrics = next(iter(paths.values()))
    first = "keeps" if "keeps" in metrics else next(iter(metrics))
    cases = {case: {"rows": scores["rows"]["n"], **{p: scores[p][first] for p in paths}}
             for case, scores in by_case.items()}
    return {"version": version, "examples": report.examples, "paths": paths, "by_case": cases}


def record(name: str, split: str, entry: dict, root: Path | None = None) -> Path:
    """Write ``entry`` as ``results.json["hand_written"][split]`` of built-in ``name``."""
    path = (root or builtin_intrinsics_dir()) / name / "results.json"
    results = json.loads(path.read_text())
    results.setdefault("hand_written", {})[split] = entry
    path.write_text(json.dumps(results, indent=1))
    return path


def command(
    name: Annotated[str, typer.Argument(help="Built-in intrinsic name.")],
    split: Annotated[Literal["dev", "test"], typer.Option(help="Which half of the suite.")] = "test",
    report: Annotated[
        Path | None,
        typer.Option(help="Record this `alora-chain eval --out` report of the suite instead of scoring again."),
    ] = None,
) -> None:
    """Score a built-in (and zero-shot prompting) on its hand-written suite; record it in results.json."""
    from ..model import load_model
    from .data import load_rows

    try:
        spec = builtin(name)
        rows = load_rows(suite(name, split), spec)
        if report is None:
            scored = evaluate(load_model(), spec, rows, compare=["prompt"])
        else:
            scored = EvalReport.model_validate_json(report.read_text())
            if scored.intrinsic != name or scored.examples != len(rows):
                raise DataError(f"{report} scores {scored.intrinsic} on {scored.examples} rows, not this suite")
        written = record(name, split, summary(scored, metrics_by(scored, spec, rows, "case"), spec.version))
    except AloraChainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {written}")


def main() -> None:
    typer.run(command)


if __name__ == "__main__":
    main()
