"""The generated blocks of README.md and docs/, from every built-in's results.json and the recipes.

README.md's table of built-ins, docs/results.md's per-path tables and docs/training-log.md's history
of each recipe (what was tried, measured limits) sit between markers that
``python -m alora_chain.training.cards --write`` rewrites (:func:`write_generated`); the tests check
that they are current.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from ..intrinsic import Intrinsic
from .cards import (
    VARIANTS,
    bullet,
    cell,
    hand_written_metric,
    lora_note,
    path_metric,
    results_table,
    returns,
    training_verdict,
    verdicts,
)
from .metrics import BOOTSTRAP_RESAMPLES


def _summary(results: dict, path: str) -> str:
    if path not in results["paths"]:
        return "not trained (CPU budget)" if path == "lora" else "—"
    metrics = results["paths"][path]["metrics"]
    shown = {
        "choice": ("accuracy", "macro_f1", "auroc"),
        "score": ("ece", "brier", "auroc"),
        "text": ("recall_at_3", "exact_match", "token_f1"),
    }[results["kind"]]
    short = {
        "accuracy": "acc",
        "macro_f1": "F1",
        "auroc": "AUROC",
        "ece": "ECE",
        "brier": "Brier",
        "recall_at_3": "recall@3",
        "exact_match": "EM",
        "token_f1": "F1",
    }
    cells = ", ".join(f"{short[m]} {cell(metrics.get(m))}" for m in shown if m in metrics)
    return f"{cells} ({results['paths'][path]['latency_median_s'] * 1000:.0f} ms)"


def overview_table(root: Path) -> str:
    """Every built-in on one table (aLoRA / LoRA / prompt, targets) from ``root/*/results.json``.

    Printed in ``docs/results.md``; the README shows :func:`headline_table` instead.
    """
    lines = [
        "| intrinsic | test rows | aLoRA | LoRA baseline | zero-shot prompt | targets |",
        "|---|---|---|---|---|---|",
    ]
    for folder in _scored(root):
        results = json.loads((folder / "results.json").read_text())
        cells = [_summary(results, p) for p in ("alora", "lora", "prompt")]
        training = Intrinsic.load(folder).training if (folder / "intrinsic.yaml").is_file() else {}
        targets = "; ".join([*verdicts(results), training_verdict(training)])
        lines.append(f"| `{folder.name}` | {results['examples']} | " + " | ".join(cells) + f" | {targets} |")
    return "\n".join(lines)


def _scored(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if (p / "results.json").is_file())


# the one figure a reader compares first, per output kind: (metric, its name in a table)
_HEADLINE = {"choice": ("accuracy", "accuracy"), "score": ("auroc", "AUROC"), "text": ("recall_at_3", "BM25 recall@3")}


def headline(results: dict) -> str:
    """The aLoRA's one headline figure on its test split, e.g. ``accuracy 0.94 (100 rows)``."""
    metric, label = _HEADLINE[results["kind"]]
    return f"{label} {path_metric(results, 'alora', metric):.2f} ({results['examples']} rows)"


def hand_written(results: dict) -> str:
    """The aLoRA's figure on its hand-written test suite, e.g. ``accuracy 0.60 (123 rows)``."""
    scored = results.get("hand_written", {}).get("test")
    if scored is None:
        return "no suite yet"
    metric, label = hand_written_metric(results)
    return f"{label} {scored['paths']['alora'][metric]:.2f} ({scored['examples']} rows)"


def headline_table(root: Path) -> str:
    """The README's table of built-ins: the hand-written test figure first, the generated split's beside it."""
    lines = [
        "| intrinsic | what it does | arguments | returns | hand-written test | generated test split |",
        "|---|---|---|---|---|---|",
    ]
    for folder in _scored(root):
        spec = Intrinsic.load(folder)
        results = json.loads((folder / "results.json").read_text())
        # the description's first sentence, without a closing aside: "Is the document relevant ...?"
        does = re.sub(r" \([^)]*\)(?=\.$)", "", re.split(r"(?<=[?.]) ", spec.description)[0])
        args = ", ".join(f"`{k}: {v}`" for k, v in spec.arguments.items()) or "—"
        value, score = returns(spec)
        lines.append(
            f"| `{spec.name}` | {does} | {args} | {value}; score {score} | **{hand_written(results)}** "
            f"| {headline(results)} |"
        )
    return "\n".join(lines)


def variant_sections(results: dict) -> str:
    """docs/results.md's tables for test rows written again another way (``prose_test``, ``dense_test``)."""
    return "".join(_variant_section(results, variant) for variant in VARIANTS)


def _variant_section(results: dict, variant: str) -> str:
    scored = results.get(f"{variant}_test")
    if not scored:
        return ""
    heading, text = VARIANTS[variant]
    text = text.format(rate=scored[variant], n=scored["examples"])
    others = {"prompt": "zero-shot prompting", "lora": "standard LoRA"}
    gaps = " ".join(
        f"aLoRA minus {others[path]} here: {_gap_text(scored['gaps'][path])}."
        for path in ("prompt", "lora") if path in scored["gaps"]
    )
    return f"""
### {heading} (`test_{variant}.jsonl`)

{text}

{results_table(scored)}

{gaps}
"""


def _gap_text(gap: dict) -> str:
    """"+30 pts (95% interval +20 to +41 pts)"; the interval left out where none was measured."""
    bounds = gap.get("interval95")
    interval = f" (95% interval {100 * bounds[0]:+.0f} to {100 * bounds[1]:+.0f} pts)" if bounds else ""
    return f"{100 * gap['difference']:+.0f} pts{interval}"


_INTERVALS = (
    f"\nIntervals: aLoRA minus the other path on the same test rows, {BOOTSTRAP_RESAMPLES:,} paired bootstrap resamples\n"
    "of those rows; a verdict uses the measured figure, the interval shows how far it could move\n"
    "with another draw of test rows of this size.\n"
)

def _seeds_note(seeds: str) -> str:
    if not seeds:
        return ""
    return (
        "\nOther training seeds (`--train-seed N`: the same data, settings and test rows, another "
        f"initialisation and batch order), aLoRA and LoRA alike: {seeds}.\n"
    )


def results_section(folder: Path) -> str:
    """``docs/results.md``'s section for one built-in: every path, the LoRA baseline, variants, targets."""
    spec = Intrinsic.load(folder)
    results = json.loads((folder / "results.json").read_text())
    targets = "\n".join("- " + v for v in [*verdicts(results), training_verdict(spec.training)])
    return f"""### {spec.name} (v{spec.version})

{results["examples"]} test rows (`intrinsics/{spec.name}/test.jsonl`), generated, split from training by template and entity.

{results_table(results)}
{lora_note(results, spec.training)}{variant_sections(results)}
Targets (measured above, never tuned on this split):
{targets}
{_INTERVALS if results.get("gaps") else ""}"""


def _clauses(text: str) -> list[str]:
    """Split a catalog text at its top-level "; " (never inside brackets or `code`)."""
    parts, depth, code, start = [], 0, False, 0
    for i, char in enumerate(text):
        code ^= char == "`"
        depth += (char in "([") - (char in ")]")
        if not code and depth == 0 and text.startswith("; ", i):
            parts.append(text[start:i])
            start = i + 2
    return [p.strip() for p in [*parts, text[start:]] if p.strip()]


# a clause starting so goes on about the run before it ("it was shipped before and scored ...")
_GOES_ON = ("it ", "its ", "at ", "not ", "neither ", "so ", "and ", "but ", "then ", "scored ", "that ", "on the ",
            "the same command", "the LoRA baseline:", "the probes above", "with ")


def _bullets(text: str) -> str:
    """A catalog text as bullets: one per run or setting, its follow-up clauses kept with it."""
    entries: list[str] = []
    for clause in _clauses(text):
        if entries and clause.startswith(_GOES_ON):
            entries[-1] += f"; {clause}"
        else:
            entries.append(clause)
    return "\n".join(bullet(entry) for entry in entries)


def history_section(name: str, tried: str = "", limits: str = "", seeds: str = "", version: str = "") -> str:
    """``docs/training-log.md``'s section for one recipe: other seeds, measured limits, what was tried."""
    parts = [f"### {name}" + (f" (v{version} shipped)" if version else "")]
    if seeds:
        parts.append(_seeds_note(seeds).strip())
    if limits:
        parts.append("Known limits, measured:\n" + _bullets(limits))
    if tried:
        parts.append("Also tried, not shipped:\n" + _bullets(tried))
    if len(parts) == 1:
        parts.append("Nothing else recorded: the recipe's first run shipped.")
    return "\n\n".join(parts) + "\n"


def training_history(root: Path) -> str:
    """Every recipe's :func:`history_section`, with the version shipped in ``root`` ("" when none is:
    a recipe's folder may hold only its template until an adapter ships)."""
    from .recipes import RECIPES

    def shipped(name: str) -> str:
        return Intrinsic.load(root / name).version if (root / name / "intrinsic.yaml").is_file() else ""

    return "\n".join(
        history_section(name, r.tried, r.limits, r.seeds, shipped(name)) for name, r in sorted(RECIPES.items())
    )


def hand_written_table(root: Path) -> str:
    """docs/results.md's table of every built-in on its hand-written suite: test (reported) and dev."""
    lines = [
        "| intrinsic | version | test rows | aLoRA (test) | zero-shot prompt (test) | aLoRA minus prompt | aLoRA (dev) |",
        "|---|---|---|---|---|---|---|",
    ]
    for folder in _scored(root):
        results = json.loads((folder / "results.json").read_text())
        scored = results.get("hand_written", {})
        if "test" not in scored:
            lines.append(f"| `{folder.name}` | | | no suite yet | | | |")
            continue
        test, dev = scored["test"], scored.get("dev")
        metric, _ = hand_written_metric(results)
        alora, prompt = test["paths"]["alora"][metric], test["paths"].get("prompt", {}).get(metric)
        gap = f"{100 * (alora - prompt):+.0f} points" if prompt is not None else "—"
        lines.append(
            f"| `{folder.name}` | {test['version']} | {test['examples']} | {metric} {alora:.2f} "
            f"| {cell(prompt)} | {gap} | {cell(dev['paths']['alora'][metric]) if dev else '—'} |"
        )
    return "\n".join(lines)


def hand_written_cases(root: Path) -> str:
    """Per built-in, the aLoRA's and the prompt's first metric on each kind of case of the test suite."""
    parts = []
    for folder in _scored(root):
        test = json.loads((folder / "results.json").read_text()).get("hand_written", {}).get("test")
        if test is None:
            continue
        rows = [f"| {case} | {c['rows']} | {cell(c.get('alora'))} | {cell(c.get('prompt'))} |"
                for case, c in test["by_case"].items()]
        parts.append(f"### {folder.name}\n\n| case | rows | aLoRA | zero-shot prompt |\n|---|---|---|---|\n"
                     + "\n".join(rows))
    return "\n\n".join(parts)


# the generated blocks: file (relative to the repository) -> block name -> its text from the results
def generated_blocks(repo: Path) -> dict[str, dict[str, str]]:
    root = repo / "intrinsics"
    return {
        "README.md": {"built-ins": headline_table(root)},
        "docs/results.md": {
            "hand-written": hand_written_table(root),
            "hand-written-cases": hand_written_cases(root),
            "overview": overview_table(root),
            "per-intrinsic": "\n".join(results_section(folder) for folder in _scored(root)),
        },
        "docs/training-log.md": {"tried": training_history(root)},
    }


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}: generated by python -m alora_chain.training.cards --write -->", f"<!-- end {name} -->"


def block(text: str, name: str) -> str | None:
    """The text between ``name``'s markers in ``text`` (without their newlines), or None where they are missing."""
    begin, end = _markers(name)
    if f"{begin}\n" not in text or f"\n{end}" not in text:
        return None
    body = text.split(f"{begin}\n", 1)[1]
    return "" if body.startswith(end) else body.split(f"\n{end}", 1)[0]


def write_generated(repo: Path) -> list[Path]:
    """Rewrite every generated block under ``repo``; returns the files that changed."""
    changed = []
    for relative, blocks in generated_blocks(repo).items():
        path = repo / relative
        text = old = path.read_text()
        for name, body in blocks.items():
            current = block(text, name)
            if current is None:
                raise ValueError(f"{relative} has no {name!r} block: add the two marker lines {_markers(name)}")
            begin, end = _markers(name)
            inside = f"{begin}\n{current}\n{end}" if current else f"{begin}\n{end}"
            text = text.replace(inside, f"{begin}\n{body}\n{end}" if body else f"{begin}\n{end}", 1)
        if text != old:
            path.write_text(text)
            changed.append(path)
    return changed


def command(
    write: Annotated[
        bool, typer.Option("--write", help="Rewrite the generated blocks of README.md and docs/.")
    ] = False,
    repo: Annotated[Path, typer.Option(help="The repository whose files --write rewrites.")] = Path("."),
) -> None:
    """Print the overview table of the built-ins, or --write the generated blocks of the docs."""
    if write:
        for path in write_generated(repo):
            print(f"rewrote {path}")
    else:
        from ..resources import builtin_intrinsics_dir

        print(overview_table(builtin_intrinsics_dir()))


def main() -> None:
    """``python -m alora_chain.training.cards``."""
    typer.run(command)
