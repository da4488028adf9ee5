"""An intrinsic's card (``intrinsics/<name>/README.md``), from its results.json and recipe.

A card is short: what the intrinsic does, a usage snippet, its figures, limits and the reproduce
command. The target verdicts ("met" / "missed") are computed from ``results.json``, never typed by
hand. The tables and verdicts here are shared with :mod:`.docs`, which renders the generated blocks
of README.md and docs/; ``python -m alora_chain.training.cards --write`` (the command their markers
name) runs it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from ..intrinsic import Intrinsic

_SHOWN = ("accuracy", "macro_f1", "auroc", "ece", "brier", "exact_match", "token_f1", "recall_at_3")


def hand_written_metric(results: dict) -> tuple[str, str]:
    """(metric, label) a hand-written suite is judged by: ``keeps`` where its rows carry must_keep groups."""
    test = results.get("hand_written", {}).get("test", {})
    if "keeps" in test.get("paths", {}).get("alora", {}):
        return "keeps", "keeps entity and aspect"
    return {"score": ("auroc", "AUROC")}.get(results["kind"], ("accuracy", "accuracy"))


def hand_written_line(name: str, results: dict) -> str:
    """The card's sentence on the hand-written suite, the figure to trust, before the generated split's."""
    test = results.get("hand_written", {}).get("test")
    if test is None:
        return (f"No hand-written suite scores this intrinsic yet. The table: the generated test split "
                f"({results['examples']} rows, `test.jsonl`), from the training generator's family, so not a "
                "held-out judge.")
    metric, label = hand_written_metric(results)
    prompt = test["paths"].get("prompt", {}).get(metric)
    versus = f", zero-shot prompting {prompt:.2f}" if prompt is not None else ""
    return (f"**Hand-written suite** (`evals/{name}/test.jsonl`, {test['examples']} rows, the figure to trust): "
            f"{label} {test['paths']['alora'][metric]:.2f}{versus} ([by case](../../docs/results.md)). "
            f"The table: the generated test split ({results['examples']} rows, `test.jsonl`), from the training "
            "generator's family, so not a held-out judge.")


def cell(value) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


# a LoRA row taken from an earlier results.json (--lora-results) is added last: tables keep this order
_PATH_ORDER = {"alora": 0, "lora": 1, "prompt": 2}


def results_table(results: dict) -> str:
    """Markdown table: one row per path (aLoRA / LoRA / prompt), metrics and median latency."""
    paths = results["paths"]
    metrics = [m for m in _SHOWN if any(m in p["metrics"] for p in paths.values())]
    lines = ["| path | " + " | ".join(metrics) + " | median latency |", "|---" * (len(metrics) + 2) + "|"]
    for name, path in sorted(paths.items(), key=lambda item: _PATH_ORDER.get(item[0], len(_PATH_ORDER))):
        cells = [cell(path["metrics"].get(m)) for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {path['latency_median_s'] * 1000:.0f} ms |")
    return "\n".join(lines)


def path_metric(results: dict, path: str, name: str) -> float | None:
    return results["paths"].get(path, {}).get("metrics", {}).get(name)


def verdicts(results: dict) -> list[str]:
    """Each target of the issue, with the measured figure and whether it is met."""

    def line(target: str, ok: bool | None, figure: str) -> str:
        return f"{target}: {'not measured' if ok is None else 'met' if ok else 'missed'} ({figure})"

    def interval(path: str, points: str) -> str:
        """The paired bootstrap 95% interval of aLoRA minus ``path``, where it was recorded."""
        bounds = results.get("gaps", {}).get(path, {}).get("interval95")
        if not bounds:
            return ""
        low, high = (format(100 * b, points) for b in bounds)
        return f"; 95% interval {low} to {high} pts"

    def versus_lora(target: str, ours: float, lora: float | None, value: str, points: str) -> str:
        if lora is None:
            return line(target, None, "LoRA not trained")
        figure = f"LoRA {lora:{value}}, {100 * (ours - lora):{points}} pts{interval('lora', points)}"
        return line(target, ours >= lora - 0.02, figure)

    kind = results["kind"]
    if kind == "choice":
        acc, prompt, lora = (path_metric(results, p, "accuracy") for p in ("alora", "prompt", "lora"))
        return [
            line("≥ 85% accuracy", acc >= 0.85, f"{acc:.0%}"),
            line(
                "≥ 20 points above zero-shot prompting",
                acc - prompt >= 0.20,
                f"{100 * (acc - prompt):+.0f} pts{interval('prompt', '+.0f')}",
            ),
            versus_lora("within 2 points of standard LoRA", acc, lora, ".0%", "+.0f"),
        ]
    if kind == "score":
        ece, auroc = path_metric(results, "alora", "ece"), path_metric(results, "alora", "auroc")
        lora = path_metric(results, "lora", "auroc")
        return [
            line("ECE ≤ 0.10", ece <= 0.10, f"{ece:.3f}"),
            line("AUROC ≥ 0.75", auroc is not None and auroc >= 0.75, cell(auroc)),
            versus_lora("AUROC within 2 points of standard LoRA", auroc, lora, ".3f", "+.1f"),
        ]
    raw = results.get("reference", {}).get("raw_last_turn_recall_at_3")
    recall = path_metric(results, "alora", "recall_at_3")
    if raw is None or recall is None:
        return []
    return [
        line(
            "BM25 recall@3 ≥ raw last turn + 15 points",
            recall - raw >= 0.15,
            f"{raw:.2f} → {recall:.2f}, {100 * (recall - raw):+.0f} pts",
        ),
        versus_lora(
            "recall@3 within 2 points of standard LoRA",
            recall,
            path_metric(results, "lora", "recall_at_3"),
            ".2f",
            "+.0f",
        ),
    ]


# the issue asks for "each training run well under an hour on this CPU"; "well under" read as
# three quarters of one, so that a run that only just fits is not counted as met
TRAINING_SECONDS_TARGET = 45 * 60


def training_verdict(training: dict) -> str:
    """The training-time target, from the wall time ``intrinsic.yaml`` recorded for the aLoRA run."""
    seconds = training.get("wall_seconds")
    target = f"training run well under an hour (≤ {TRAINING_SECONDS_TARGET // 60} min on this CPU)"
    if seconds is None:
        return f"{target}: not measured (no wall time recorded)"
    verdict = "met" if seconds <= TRAINING_SECONDS_TARGET else "missed"
    return f"{target}: {verdict} ({seconds / 60:.0f} min)"


def returns(spec: Intrinsic) -> tuple[str, str]:
    """What ``invoke`` gives back as ``(value, score)``, from the output spec: ``("bool", "P(answerable)")``."""
    output = spec.output
    positive = getattr(output, "positive", None)
    if output.kind == "choice":
        return ("bool", f"P({positive})") if positive else ("a label", "its probability")
    return {"score": ("float in [0, 1]", "the same"), "text": ("str", "None")}.get(output.kind, ("validated JSON", "None"))


# how each test-row variant (Recipe.test_variants) was written: its heading (a card's line, a section of
# docs/results.md) and the section's text
VARIANTS = {
    "prose": (
        "The same test rows, documents loosened into prose",
        "Each fact sentence, at rate {rate} each, goes on after its value, gains a comma clause, or is\n"
        "joined to the next (`alora_chain.training.datagen.prose`): the same {n} conversations, replies and labels.",
    ),
    "dense": (
        "Test rows whose documents state every fact of their entity",
        "Drawn like `test.jsonl` (the same entities and templates, new rows), but in a share {rate} of\n"
        "rows the entity's own document states every attribute it has (all but one where a claim must\n"
        "be missing), and wrong replies misstate one of those values or borrow another one's number\n"
        "(`alora_chain.training.datagen.groundedness`, `--dense`): {n} rows.",
    ),
    "sheets": (
        "Test rows with fact sheets on topics training never saw",
        "Drawn like `test.jsonl`, but in a share {rate} of rows the reply is checked against a person's\n"
        "paragraph that packs three to five facts of one subject (a novel, a mountain, a bridge, a band:\n"
        "topics of the test split only), beside 0-2 other subjects' sheets; wrong replies mostly borrow\n"
        "another number, person or town of the same paragraph (`alora_chain.training.datagen.factsheets`,\n"
        "`--sheets`): {n} rows.",
    ),
}


# what "the same data and budget" compares: a training setting and its name in a card
_BUDGET = {"data_sha256": "rows", "target_modules": "layers", "epochs": "epochs", "lr": "learning rate"}


def _rank(spec: Intrinsic) -> int:
    """The rank the adapter was trained with (its config leaves it empty for the default)."""
    from .train import TrainConfig

    return TrainConfig(
        kind=spec.adapter_kind, rank=spec.training.get("config", {}).get("rank")
    ).resolved_rank()


def baseline_record(baseline: Intrinsic) -> dict:
    """How a LoRA baseline was trained, from its ``intrinsic.yaml``, for ``results.json``.

    Recorded beside the scores so that a card states what the ``lora`` row was trained with,
    checked against the aLoRA's own settings, instead of a fixed sentence saying they match.
    """
    config = baseline.training.get("config", {})
    return {
        "rank": _rank(baseline),
        "target_modules": config.get("target_modules"),
        "epochs": config.get("epochs"),
        "lr": config.get("lr"),
        "data_sha256": baseline.training.get("data_sha256"),
        "init_from": config.get("init_from"),
        "steps": baseline.training.get("steps"),
        "wall_seconds": baseline.training.get("wall_seconds"),
    }


def budget_differences(baseline: dict, training: dict) -> list[str]:
    """The settings of "the same data and budget" in which the baseline differs from the aLoRA."""
    ours = training.get("config", {}) | {"data_sha256": training.get("data_sha256")}
    return [name for key, name in _BUDGET.items() if baseline.get(key) != ours.get(key)]


def baseline_note(baseline: dict | None, training: dict) -> str:
    """The card's sentence on the ``lora`` row: what it was trained with, against the aLoRA."""
    if baseline is None:
        return "\nThe standard-LoRA baseline (`lora` row): its training settings were not recorded.\n"
    differs = budget_differences(baseline, training)
    start = f", starting from `{baseline['init_from']}`" if baseline.get("init_from") else ""
    alora_start = training.get("config", {}).get("init_from")
    if alora_start and not baseline.get("init_from"):
        # rows, layers, epochs and rate can match while the starts do not: say which way it leans
        start = f", from zeros (the aLoRA started from `{alora_start}`, a head start the LoRA did not get)"
    same = (
        "the same rows, layers, epochs and learning rate as the aLoRA"
        if not differs
        else f"NOT the same {', '.join(differs)} as the aLoRA: the comparison is not like for like"
    )
    return (
        f"\nThe standard-LoRA baseline (`lora` row, `--kind lora`): rank {baseline['rank']} on "
        f"{', '.join(baseline['target_modules'] or [])},\n{baseline['epochs']} epoch{'' if baseline['epochs'] == 1 else 's'} at lr {baseline['lr']}{start}; "
        f"{same}; it recomputes the whole conversation\n({baseline['steps']} steps, {baseline['wall_seconds']} s wall).\n"
    )


def _machine(training: dict) -> str:
    """The machine a run trained on, as far as its ``intrinsic.yaml`` recorded it (older runs did not)."""
    environment = training.get("environment")
    if not environment:
        return "the 2-core CPU"
    features = "/".join(environment.get("cpu_features") or []) or "no AVX2"
    cores = f"{environment['cores']}-core " if environment.get("cores") else ""
    return (
        f"a {cores}{environment['cpu']} with {features}, {environment['torch_threads']} torch thread{'' if environment['torch_threads'] == 1 else 's'}, "
        f"torch {environment['torch']}, transformers {environment['transformers']}, peft {environment['peft']}"
    )


# a conversation and arguments per built-in for its card's usage snippet; another intrinsic gets
# a generic one built from its argument types
_BATTERY = "The Scout R2's battery lasts 14 hours on one charge."
_ASKED = ("user", "How long does the Scout R2's battery last?")
_EXAMPLES: dict[str, tuple[tuple[tuple[str, str], ...], dict]] = {
    "answerability": ((_ASKED,), {"documents": [_BATTERY]}),
    "context_relevance": ((_ASKED,), {"document": _BATTERY}),
    "groundedness": ((_ASKED, ("assistant", "It lasts 14 hours.")), {"documents": [_BATTERY]}),
    "requirement_check": (
        (("user", "Describe the Scout R2 in one sentence."), ("assistant", "It is a warehouse robot that carries 60 kg.")),
        {"requirement": "Mention the weight it carries."},
    ),
    "certainty": ((("user", "What is the capital of Kenya?"), ("assistant", "Nairobi.")), {}),
    "query_rewrite": ((_ASKED, ("assistant", "14 hours."), ("user", "How much does it cost?")), {}),
}

# what each shipped adapter is known to get wrong, in a reader's words; the measurements behind
# each bullet are the recipe's ``limits`` and ``tried`` (docs/training-log.md)
_LIMITS: dict[str, tuple[str, ...]] = {
    "answerability": (
        "Judges each document alone: a question that needs two documents together can be called unanswerable.",
        "Test misses: 3 of 51 answerable rows, 3 of 49 whose documents are a look-alike's or lack the fact.",
    ),
    "groundedness": (
        "Checks a reply's subject more than its values: caught 2 of 12 misstatements in hand-written prose.",
        "Accepts a value the document gives for something else (\"120 rooms\" where the staff is 120).",
        "Reads one document per call: claims from two documents can be called ungrounded (`check_sentences` helps).",
    ),
    "requirement_check": (
        "Knows only the 17 kinds of requirement its generator writes; a sentence count is not one of them.",
        "Weakest on bullets, word limits and yes/no openings (validation split).",
        "Less sure on replies unlike its generator's: it called \"Don't use any commas.\" met on a reply with one.",
    ),
    "context_relevance": (
        "Calls a document on the asked entity relevant even without the asked fact (the Scout R2's price document"
        " scores 1.00 for its battery life); `answerability`, which `RagGuard` runs next, is trained on that case.",
    ),
    "query_rewrite": (
        "One training run: its 1-point lead over the LoRA baseline is inside the interval (-6 to +8).",
        "More rewrites retrieve the right document, fewer match the gold word for word (exact match 0.04, LoRA 0.10).",
        "The adapter is 20 MB (rank 128 on q/k/v).",
    ),
    "certainty": (
        "Learnt from the embedded model's own answers to short checkable questions (sums, capitals, spelling),"
        " graded right or wrong: its scores describe that model on such questions.",
    ),
}


def bullet(text: str) -> str:
    """``text`` as a markdown bullet, wrapped at 110 characters."""
    return textwrap.fill(text, width=110, initial_indent="- ", subsequent_indent="  ", break_long_words=False,
                         break_on_hyphens=False)


def usage(spec: Intrinsic) -> str:
    """The card's snippet: a short conversation, the call and what it returns."""
    turns, arguments = _EXAMPLES.get(spec.name) or (
        (("user", "..."), ("assistant", "...")),
        {name: ["..."] if kind == "list[str]" else "..." for name, kind in spec.arguments.items()},
    )
    def quoted(value) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["import alora_chain as ac", "s = ac.Session(ac.load_model())"]
    lines += [f"s.{role}({quoted(text)})" for role, text in turns]
    call = "".join(f", {name}={quoted(value)}" for name, value in arguments.items())
    lines.append(f"r = s.invoke({quoted(spec.name)}{call})")
    lines.append(f"r.value, r.score  # {', '.join(returns(spec))}")
    return "\n".join(lines)


def lora_note(results: dict, training: dict) -> str:
    """How the ``lora`` row was trained (or that it was not), and where it was scored."""
    if "lora" not in results["paths"]:
        return "\nThe standard-LoRA baseline was not trained for this intrinsic (CPU budget).\n"
    note = baseline_note(results.get("baseline"), training)
    scored_earlier = results["paths"]["lora"].get("scored_earlier")
    if scored_earlier:
        note += (
            f"Its row was scored in an earlier evaluation of these test rows (`{scored_earlier}` then), not re-run"
            + ("; that file kept no per-row answers, so the gap has no interval"
               if "predictions" not in results["paths"]["lora"] else "")
            # latency depends on the machine and how busy it was: only rows of one sitting compare
            + "; its latency is that sitting's, not comparable with the other rows.\n"
        )
    return note


def _variant_lines(results: dict) -> str:
    """One line per test-row variant for a card (the full tables are in docs/results.md)."""
    lines = []
    for variant, (heading, _) in VARIANTS.items():
        scored = results.get(f"{variant}_test")
        if scored:
            metric = next(m for m in _SHOWN if m in scored["paths"]["alora"]["metrics"])
            figures = ", ".join(
                f"{path} {cell(scored['paths'][path]['metrics'].get(metric))}"
                for path in sorted(scored["paths"], key=lambda p: _PATH_ORDER.get(p, len(_PATH_ORDER)))
            )
            lines.append(f"- {heading} (`test_{variant}.jsonl`, {scored['examples']} rows): {metric} {figures}")
    return "".join(line + "\n" for line in lines)


def _start(training: dict) -> str:
    """Where the run started and how it computed, for the card's training line."""
    config = training["config"]
    start = f", starting from the adapter in `{config['init_from']}` (not from zeros)" if config.get("init_from") else ""
    if config.get("precision") == "bf16":
        start += ", forward and backward under bfloat16 autocast (`--precision bf16`)"
    elif config.get("precision") == "bf16-prefill":
        start += ", the frozen prefix prefilled under bfloat16 autocast, the adapter in fp32 (`--precision bf16-prefill`)"
    return start


def write_card(
    folder: Path, results: dict, tried: str = "", limits: str = "", stages: tuple[str, ...] = (),
    *, seeds: str = "", setup: str = "", lora_stages: tuple[str, ...] = (),
) -> Path:
    """Write ``folder/README.md`` (at most 60 lines) for the trained intrinsic in ``folder``.

    ``stages``: the recipes arguments, one training run each, that made the adapter when the
    recipe's defaults alone do not (a run continued from an earlier one). ``setup``: a shell
    command the training commands need first (a start restored from git). ``lora_stages``: the
    same as ``stages`` for the LoRA baseline. ``tried``, ``limits`` and ``seeds`` are the recipe's
    history; the card links to docs/training-log.md, where :func:`.docs.history_section` renders them.
    """
    spec = Intrinsic.load(folder)
    training = spec.training
    args = ", ".join(f"`{k}: {v}`" for k, v in spec.arguments.items()) or "none"
    labels = f" over {' / '.join(f'`{label}`' for label in spec.labels)}" if spec.output.kind == "choice" else ""
    value, score = returns(spec)
    about = [f"* arguments: {args}", f"* output: `{spec.output.kind}`{labels}; `r.value` {value}, `r.score` {score}"]
    if spec.per_item:
        about.append(
            f"* one call per item of `{spec.per_item.argument}`, combined with `{spec.per_item.combine}` "
            f"(P = the {'largest' if spec.per_item.combine == 'any' else 'smallest'} item probability)"
        )
    if spec.template_weights == "adapter":
        about.append("* the adapter reads its template too (`template_weights: adapter`); the history comes from the base cache")
    init_from = training["config"].get("init_from")
    lora_init = (results.get("baseline") or {}).get("init_from")
    # without --init-from the recipe would start the LoRA from the aLoRA's start, of another rank
    lora_start = f" --init-from {lora_init}" if lora_init else " --init-from none" if init_from else ""
    train_commands = [
        f"python -m alora_chain.training.recipes {spec.name} {arguments}  # stage {number}"
        for number, arguments in enumerate(stages, 1)
    ] or [f"python -m alora_chain.training.recipes {spec.name} --out intrinsics/{spec.name}            # data + aLoRA"]
    train_commands = [setup, *train_commands] if setup else train_commands
    lora_commands = [
        f"python -m alora_chain.training.recipes {spec.name} --kind lora {arguments}  # LoRA baseline, stage {number}"
        for number, arguments in enumerate(lora_stages, 1)
    ] or [f"python -m alora_chain.training.recipes {spec.name} --kind lora{lora_start} --out runs/{spec.name}-lora # LoRA baseline"]
    limit_lines = [*_LIMITS.get(spec.name, ()), f"Trained and tested on generated rows: measure on your own with `alora-chain eval {spec.name} FILE`."]
    recorded = ["run history", *(["measured limits"] if limits else []), *(["other seeds"] if seeds else []),
                *(["what else was tried"] if tried else [])]
    history = f"{', '.join(recorded).capitalize()}: [docs/training-log.md](../../docs/training-log.md#{spec.name})."
    text = f"""# {spec.name}

{spec.description}

{chr(10).join(about)}

## Use

```python
{usage(spec)}
```

## Figures

{hand_written_line(spec.name, results)}

{results_table(results)}
{lora_note(results, training)}
{_variant_lines(results)}{chr(10).join("- " + v for v in [*verdicts(results), training_verdict(training)])}

## Limits

{chr(10).join(bullet(line) for line in limit_lines)}

## Reproduce

```bash
{chr(10).join(train_commands)}
{chr(10).join(lora_commands)}
python -m alora_chain.training.recipes {spec.name} --evaluate --limit {results["examples"]} --out intrinsics/{spec.name} [--lora runs/{spec.name}-lora]
```
Trained {training.get("steps")} steps on `{training.get("data")}` (`alora_chain.training.datagen.{spec.name}`, seed 0; sha256 `{training.get("data_sha256")}`), {training.get("wall_seconds")} s wall on {_machine(training)} (load: docs/training-log.md){_start(training)}.
{history}
"""
    path = folder / "README.md"
    path.write_text(text.rstrip("\n") + "\n")
    (folder / "results.json").write_text(json.dumps(results, indent=1))
    return path



if __name__ == "__main__":
    # the command the generated blocks' markers name; the blocks themselves are docs.py's
    from .docs import main

    main()
