"""Score a trained built-in on its held-out split (aLoRA, LoRA baseline, prompting) and write its card."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path

from ...errors import DataError
from ...intrinsic import Intrinsic
from ..datagen import GENERATORS, write_jsonl
from .catalog import RECIPES, SPLITS


def _write_recipe_card(name: str, folder: Path, results: dict) -> Path:
    from ..cards import write_card

    recipe = RECIPES[name]
    return write_card(
        folder, results, recipe.tried, recipe.limits, recipe.stages, seeds=recipe.seeds,
        setup=recipe.setup, lora_stages=recipe.lora_stages,
    )


def rerender_card(name: str, folder: Path) -> Path:
    """Rewrite ``folder``'s card from its ``results.json`` and the catalog, without scoring again.

    What was tried lives in the catalog, so recording a candidate that was not shipped changes the
    card's text, not its figures: re-scoring for that would cost minutes and could only repeat them.
    """
    scored = folder / "results.json"
    if not scored.is_file():
        raise DataError(f"{folder} has no results.json to render a card from; score it first with --evaluate")
    return _write_recipe_card(name, folder, json.loads(scored.read_text()))


def evaluate_builtin(
    name: str,
    folder: Path,
    paths: dict[str, Path],
    *,
    lora: Path | None,
    seed: int,
    limit: int | None = None,
    split: str = "test",
    lora_results: Path | None = None,
) -> dict:
    """Score the trained ``folder`` on the test split (aLoRA, LoRA if given, prompting); write its card.

    ``split="val"`` scores the validation split instead, to choose between settings without
    looking at the test split; it prints the figures and writes nothing. ``lora_results``: an
    earlier ``results.json`` whose LoRA row (scored on these same rows) stands in for re-running
    a baseline whose adapter is gone; see :func:`_earlier_lora`.
    """
    from ... import load_model
    from ..cards import baseline_record
    from ..data import load_rows
    from ..evaluate import evaluate

    intrinsic = Intrinsic.load(folder)
    if intrinsic.adapter_kind != "alora":  # every figure here is aLoRA against the others
        raise DataError(
            f"{folder} holds a standard LoRA adapter; score it as the baseline of an aLoRA one: "
            f"--out ALORA_FOLDER --lora {folder}"
        )
    model = load_model()
    rows = load_rows(paths[split], intrinsic)[:limit]
    baseline = Intrinsic.load(lora) if lora else None
    report = evaluate(
        model, intrinsic, rows, lora=baseline, compare=("lora", "prompt") if lora else ("prompt",)
    )
    results = json.loads(report.model_dump_json())
    if baseline is not None:
        results["baseline"] = baseline_record(baseline)
    predictions = {p: got.predictions for p, got in report.paths.items()}
    earlier_results = json.loads(Path(lora_results).read_text()) if lora_results else None
    earlier = _earlier_lora(earlier_results, rows, str(lora_results)) if earlier_results is not None else None
    if earlier is not None:
        results["paths"]["lora"], results["baseline"] = earlier["path"], earlier["baseline"]
        if earlier["predictions"] is not None:
            predictions["lora"] = earlier["predictions"]
    hits = None
    if name == "query_rewrite":
        hits = {path: _recall_hits(rows, [p.output for p in got], seed, split) for path, got in predictions.items()}
    # each row's answer stays in results.json (a few KB): any figure, interval or per-case
    # breakdown can be recomputed, and a later adapter compared row by row, without the run
    for path, path_hits in (hits or {}).items():
        got = results["paths"][path]
        got["metrics"]["recall_at_3"] = sum(path_hits) / len(path_hits)
        for prediction, hit in zip(got["predictions"], path_hits):
            prediction["retrieved_at_3"] = hit
    results["gaps"] = gaps_to_alora(intrinsic, predictions, hits)
    if earlier is not None and earlier["predictions"] is None:  # its figure alone: no pairing
        metric = HEADLINE[intrinsic.output.kind]
        ours, theirs = (results["paths"][p]["metrics"][metric] for p in ("alora", "lora"))
        results["gaps"]["lora"] = {"metric": metric, "difference": ours - theirs, "interval95": None}
    if name == "query_rewrite":
        raw = [r.messages[-1].content for r in rows]
        results["reference"] = {
            "raw_last_turn_recall_at_3": _recall_at_3(rows, raw, seed, split),
            "gold_rewrite_recall_at_3": _recall_at_3(rows, [r.target for r in rows], seed, split),
        }
    for variant in RECIPES[name].test_variants if split == "test" else ():
        results[f"{variant}_test"] = _score_variant_test(
            name, variant, folder, model, intrinsic, baseline, seed, limit,
            earlier=(earlier_results or {}).get(f"{variant}_test"), label=f"{lora_results} ({variant} rows)",
        )
    if split == "test":
        shutil.copy(paths["test"], folder / "test.jsonl")
        _write_recipe_card(name, folder, results)
    variants = [f"{variant}_test" for variant in RECIPES[name].test_variants]

    def figures(scored: dict) -> dict:  # without the per-row answers, which stay in results.json
        return {k: v for k, v in scored.items() if k != "paths" and k not in variants} | {
            p: v["metrics"] for p, v in scored["paths"].items()
        }

    print(json.dumps(figures(results) | {k: figures(results[k]) for k in variants if k in results}, indent=1))
    return results


def _score_variant_test(
    name: str, variant: str, folder: Path, model, intrinsic, baseline, seed: int, limit: int | None,
    *, earlier: dict | None = None, label: str = "",
) -> dict:
    """Test rows written again with the generator option ``variant`` at the recipe's rate
    (``folder/test_<variant>.jsonl``, see ``Recipe.test_variants``), scored as ``test.jsonl`` is.

    ``prose`` keeps the conversations, replies and labels of ``test.jsonl`` and loosens only
    how the documents are written, so the two tables differ by that alone; ``dense`` draws its
    own rows. ``earlier``: this variant's section of ``evaluate_builtin``'s ``lora_results``
    (named ``label``); its LoRA row stands in for a baseline not re-run, if made at the same rate.
    """
    from ..data import load_rows
    from ..evaluate import evaluate

    rate = RECIPES[name].test_variants[variant]
    path = folder / f"test_{variant}.jsonl"
    n = dict(zip(SPLITS, RECIPES[name].sizes))["test"]
    write_jsonl(path, GENERATORS[name]("test", n, seed=seed, **{variant: rate}))
    rows = load_rows(path, intrinsic)[:limit]
    compare = ("lora", "prompt") if baseline is not None else ("prompt",)
    report = evaluate(model, intrinsic, rows, lora=baseline, compare=compare)
    scored = json.loads(report.model_dump_json())
    predictions = {p: got.predictions for p, got in report.paths.items()}
    if baseline is None and earlier is not None and "lora" in earlier.get("paths", {}):
        if earlier.get(variant) != rate:
            raise DataError(f"{label} were made at {variant} {earlier.get(variant)}, not {rate}")
        stand_in = _earlier_lora(earlier, rows, label)
        scored["paths"]["lora"] = stand_in["path"]
        if stand_in["predictions"] is not None:
            predictions["lora"] = stand_in["predictions"]
    return scored | {variant: rate, "gaps": gaps_to_alora(intrinsic, predictions)}


def _earlier_lora(earlier: dict, rows, label: str) -> dict:
    """The LoRA row of an earlier ``results.json`` (or of a scored section of one), named
    ``label`` in the card and in errors, checked against this evaluation's ``rows``.

    A LoRA baseline costs hours of this CPU and its run folder does not outlive a session, so a
    new aLoRA can be compared with a baseline scored before on the same test rows. Row by row
    (paired interval) when that file kept its predictions; else its figures alone, with no
    interval, and the card says so. Returns ``{"path", "baseline", "predictions" or None}``.
    """
    from ..evaluate import Prediction

    lora = earlier.get("paths", {}).get("lora")
    if lora is None:
        raise DataError(f"{label} has no LoRA row to compare with")
    if earlier.get("examples") != len(rows):
        raise DataError(f"{label} scored {earlier.get('examples')} rows; this evaluation has {len(rows)}")
    kept = lora.get("predictions")
    if kept is not None and [(p["line"], p["target"]) for p in kept] != [(r.line, r.target) for r in rows]:
        raise DataError(f"{label}'s LoRA predictions are for other rows than this evaluation's")
    figures = {k: v for k, v in lora.items() if k != "predictions"}
    scored_earlier = figures | {"scored_earlier": label} | ({"predictions": kept} if kept else {})
    return {
        "path": scored_earlier,
        "baseline": earlier.get("baseline"),
        "predictions": [Prediction.model_validate(p) for p in kept] if kept else None,
    }


def _recall_at_3(rows, queries: list[str], seed: int, split: str = "test") -> float:
    """BM25 (bm25s) recall@3 of each row's gold document in the split's corpus."""
    hits = _recall_hits(rows, queries, seed, split)
    return sum(hits) / len(hits)


def _recall_hits(rows, queries: list[str], seed: int, split: str = "test") -> list[bool]:
    """Per row: is its gold document among BM25's top 3 for its query?"""
    import bm25s

    retriever, ids = _corpus_index(split, seed)
    found, _ = retriever.retrieve(
        bm25s.tokenize(queries, stopwords="en", show_progress=False), k=3, show_progress=False
    )
    return [row.meta["gold_doc_id"] in {ids[int(i)] for i in top} for row, top in zip(rows, found)]


# the figure each target compares between paths, per output kind
HEADLINE = {"choice": "accuracy", "score": "auroc", "text": "recall_at_3"}


def gaps_to_alora(intrinsic: Intrinsic, predictions: dict, hits: dict[str, list[bool]] | None = None) -> dict:
    """aLoRA minus each other path on the headline figure, with a paired bootstrap 95% interval.

    ``predictions``: each path's per-row predictions (same rows, same order); ``hits``: each
    path's per-row retrieval hits, for query_rewrite, whose figure is recall@3.
    """
    import numpy as np

    from ..evaluate import compute_metrics
    from ..metrics import paired_bootstrap_interval

    metric = HEADLINE[intrinsic.output.kind]

    def value(path: str, rows: np.ndarray) -> float | None:
        if hits is not None:
            return float(np.mean(np.asarray(hits[path])[rows]))
        return compute_metrics(intrinsic, [predictions[path][i] for i in rows])[metric]

    n = len(predictions["alora"])
    gaps = {}
    for path in predictions:
        if path == "alora":
            continue

        def difference(rows: np.ndarray, path: str = path) -> float | None:
            ours, theirs = value("alora", rows), value(path, rows)
            return None if ours is None or theirs is None else ours - theirs

        gaps[path] = {
            "metric": metric,
            "difference": difference(np.arange(n)),
            "interval95": paired_bootstrap_interval(difference, n),
        }
    return gaps


@cache
def _corpus_index(split: str, seed: int):
    """The split's query_rewrite corpus as a BM25 index and its document ids, built once.

    One evaluation scores five query lists against it (aLoRA, LoRA, prompting, the raw last turn,
    the gold rewrites); rebuilding the corpus and the index for each repeated the same work.
    """
    import bm25s

    from ..datagen import query_rewrite

    rows = dict(zip(SPLITS, RECIPES["query_rewrite"].sizes))[split]
    corpus = query_rewrite.corpus(split, rows, seed)
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize([d["text"] for d in corpus], stopwords="en", show_progress=False), show_progress=False
    )
    return retriever, [d["id"] for d in corpus]
