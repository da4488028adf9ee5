"""Cards, the README's table and docs/ are rendered from results and the catalog, never typed by hand."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest

from alora_chain.training.cards import training_verdict, verdicts
from alora_chain.training.docs import headline, overview_table


def _choice(alora: float, prompt: float, lora: float | None = None) -> dict:
    paths = {"alora": alora, "prompt": prompt} | ({"lora": lora} if lora is not None else {})
    return {
        "kind": "choice",
        "examples": 100,
        "paths": {p: {"metrics": {"accuracy": a}, "latency_median_s": 0.1} for p, a in paths.items()},
    }


def test_choice_verdicts_follow_the_figures():
    met = verdicts(_choice(0.90, 0.60, lora=0.91))
    assert [v.split(": ")[1].split(" ")[0] for v in met] == ["met", "met", "met"]
    missed = verdicts(_choice(0.80, 0.70, lora=0.85))
    assert [v.split(": ")[1].split(" ")[0] for v in missed] == ["missed", "missed", "missed"]
    assert "not measured" in verdicts(_choice(0.90, 0.60))[2]


def test_the_results_table_lists_alora_lora_prompt_whatever_order_they_were_scored_in():
    from alora_chain.training.cards import results_table

    table = results_table(_choice(0.90, 0.60, lora=0.91))  # a LoRA row from --lora-results comes last
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]] == ["| alora", "| lora", "| prompt"]


def test_score_and_text_verdicts():
    score = {
        "kind": "score",
        "examples": 10,
        "paths": {"alora": {"metrics": {"ece": 0.12, "auroc": 0.8}, "latency_median_s": 0.1}},
    }
    assert verdicts(score)[:2] == ["ECE ≤ 0.10: missed (0.120)", "AUROC ≥ 0.75: met (0.800)"]
    assert "not measured" in verdicts(score)[2]
    text = {
        "kind": "text",
        "examples": 10,
        "reference": {"raw_last_turn_recall_at_3": 0.2},
        "paths": {"alora": {"metrics": {"recall_at_3": 0.3}, "latency_median_s": 0.1}},
    }
    assert verdicts(text)[0].startswith("BM25 recall@3 ≥ raw last turn + 15 points: missed")
    assert verdicts(text)[1] == "recall@3 within 2 points of standard LoRA: not measured (LoRA not trained)"
    text["paths"]["lora"] = {"metrics": {"recall_at_3": 0.33}, "latency_median_s": 0.2}
    assert verdicts(text)[1] == "recall@3 within 2 points of standard LoRA: missed (LoRA 0.33, -3 pts)"


def test_training_time_verdict_reads_the_recorded_wall_time():
    assert training_verdict({"wall_seconds": 1272.6}).endswith(": met (21 min)")
    assert training_verdict({"wall_seconds": 45 * 60 + 1}).endswith(": missed (45 min)")
    assert "not measured" in training_verdict({})


def test_overview_table_has_a_row_per_result(tmp_path):
    for name, acc in (("a", 0.9), ("b", 0.5)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(_choice(acc, 0.5)))
    (tmp_path / "untrained").mkdir()
    table = overview_table(tmp_path).splitlines()
    assert len(table) == 4 and table[2].startswith("| `a` |") and "LoRA baseline" in table[0]


def test_the_headline_figure_is_the_aloras_first_metric_of_its_kind():
    assert headline(_choice(0.904, 0.5)) == "accuracy 0.90 (100 rows)"
    score = {"kind": "score", "examples": 160, "paths": {"alora": {"metrics": {"ece": 0.1, "auroc": 0.862}}}}
    assert headline(score) == "AUROC 0.86 (160 rows)"
    text = {"kind": "text", "examples": 10, "paths": {"alora": {"metrics": {"recall_at_3": 0.69}}}}
    assert headline(text) == "BM25 recall@3 0.69 (10 rows)"


def test_card_states_per_item_reading_and_points_to_the_history_in_the_training_log(tmp_path):
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.cards import write_card
    from alora_chain.training.docs import history_section

    folder = tmp_path / "answerability"
    shutil.copytree(builtin_intrinsics_dir() / "answerability", folder)
    results = json.loads((folder / "results.json").read_text())
    card = write_card(folder, results, tried="a smaller run", limits="misses X", seeds="0.9 and 0.8").read_text()
    assert "one call per item of `documents`, combined with `any` (P = the largest item probability)" in card
    assert "measured limits, other seeds, what else was tried: [docs/training-log.md]" in card
    assert "a smaller run" not in card and "misses X" not in card  # the history lives in docs/, not the card
    assert "Run history: [docs/training-log.md](../../docs/training-log.md#answerability)." in write_card(
        folder, results
    ).read_text()
    history = history_section("answerability", tried="a smaller run", limits="misses X", seeds="0.9 and 0.8")
    assert "Known limits, measured:\n- misses X" in history and "Also tried, not shipped:\n- a smaller run" in history
    assert "Other training seeds (`--train-seed N`" in history and "aLoRA and LoRA alike: 0.9 and 0.8." in history
    assert history.index("Other training seeds") < history.index("Known limits") < history.index("Also tried")
    assert "Other training seeds" not in history_section("answerability", tried="a smaller run")
    # one bullet per run, a clause that goes on about it kept with it; never split inside brackets
    runs = history_section("x", tried="v0.2 (a; b): 0.5; it was shipped before; v0.1: 0.4").split("not shipped:\n")[1]
    assert runs == "- v0.2 (a; b): 0.5; it was shipped before\n- v0.1: 0.4\n"


def test_a_card_lists_each_training_stage_when_the_recipe_names_them(tmp_path):
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.cards import write_card

    folder = tmp_path / "requirement_check"
    shutil.copytree(builtin_intrinsics_dir() / "requirement_check", folder)
    results = json.loads((folder / "results.json").read_text())
    card = write_card(
        folder, results, stages=("--train-rows 8 --out runs/a", "--init-from runs/a")
    ).read_text()
    first = "python -m alora_chain.training.recipes requirement_check --train-rows 8 --out runs/a  # stage 1"
    second = "python -m alora_chain.training.recipes requirement_check --init-from runs/a  # stage 2"
    assert card.index(first) < card.index(second) and "# data + aLoRA" not in card
    assert "# data + aLoRA" in write_card(folder, results).read_text()
    # a start a later release replaced comes back from git before the first stage
    setup = "git archive abc1234 intrinsics/x | tar -x -C runs/x"
    card = write_card(folder, results, stages=("--init-from runs/x",), setup=setup).read_text()
    assert card.index(setup) < card.index("--init-from runs/x  # stage 1")


def test_a_card_names_the_machine_its_adapter_trained_on_when_recorded(tmp_path):
    import yaml

    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.cards import write_card

    folder = tmp_path / "requirement_check"
    shutil.copytree(builtin_intrinsics_dir() / "requirement_check", folder)
    results = json.loads((folder / "results.json").read_text())
    assert "s wall on the 2-core CPU" in write_card(folder, results).read_text()  # not recorded then
    spec = yaml.safe_load((folder / "intrinsic.yaml").read_text())
    spec["training"]["environment"] = {
        "cpu": "Test CPU", "cpu_features": ["avx2", "avx512f"], "torch_threads": 2, "python": "3.11.7",
        "torch": "2.13.0+cpu", "transformers": "5.24.0", "peft": "0.21.2",
    }
    (folder / "intrinsic.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    card = write_card(folder, results).read_text()
    assert "s wall on a Test CPU with avx2/avx512f, 2 torch threads, torch 2.13.0+cpu, transformers 5.24.0, peft 0.21.2 (" in card
    spec["training"]["environment"]["cores"] = 2
    (folder / "intrinsic.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    assert "s wall on a 2-core Test CPU with avx2" in write_card(folder, results).read_text()


def test_a_card_lists_each_lora_baseline_stage_when_the_recipe_names_them(tmp_path):
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.cards import write_card

    folder = tmp_path / "requirement_check"
    shutil.copytree(builtin_intrinsics_dir() / "requirement_check", folder)
    results = json.loads((folder / "results.json").read_text())
    card = write_card(folder, results, lora_stages=("--out runs/l1", "--init-from runs/l1 --out runs/l")).read_text()
    first = "requirement_check --kind lora --out runs/l1  # LoRA baseline, stage 1"
    second = "requirement_check --kind lora --init-from runs/l1 --out runs/l  # LoRA baseline, stage 2"
    assert card.index(first) < card.index(second) and "# LoRA baseline\n" not in card
    assert "--out runs/requirement_check-lora # LoRA baseline\n" in write_card(folder, results).read_text()


def test_built_ins_started_from_a_replaced_release_restore_it_in_their_cards():
    from alora_chain import Intrinsic
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.recipes import RECIPES

    starts = {"answerability": ("v0.2", "6e674ff"), "groundedness": ("v0.1", "eb8b9cd")}
    for name, (version, commit) in starts.items():
        recipe = RECIPES[name]
        start = Intrinsic.load(builtin_intrinsics_dir() / name).training["config"]["init_from"]
        assert f"{version}.0 (commit {commit}" in start, name
        assert f"git archive {commit} intrinsics/context_relevance" in recipe.setup, name
        assert recipe.stages == (f"--init-from runs/context_relevance-{version} --out intrinsics/{name}",)
        card = (builtin_intrinsics_dir() / name / "README.md").read_text()
        assert recipe.setup in card and recipe.stages[0] in card, name


def test_every_shipped_lora_row_was_trained_with_its_aloras_rows_layers_epochs_and_rate():
    from alora_chain import Intrinsic
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.cards import budget_differences

    compared = 0
    for folder in sorted(p.parent for p in builtin_intrinsics_dir().glob("*/results.json")):
        results = json.loads((folder / "results.json").read_text())
        if "lora" not in results["paths"]:
            continue
        assert "baseline" in results, f"{folder.name}: how its LoRA row was trained is not recorded"
        assert budget_differences(results["baseline"], Intrinsic.load(folder).training) == [], folder.name
        compared += 1
    assert compared >= 3


def test_a_card_says_when_its_lora_baseline_was_trained_differently(tmp_path):
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.cards import baseline_note, write_card

    folder = tmp_path / "context_relevance"
    shutil.copytree(builtin_intrinsics_dir() / "context_relevance", folder)
    results = json.loads((folder / "results.json").read_text())
    assert "the same rows, layers, epochs and learning rate" in write_card(folder, results).read_text()
    results["baseline"] |= {"target_modules": ["q_proj"], "epochs": 9}
    card = write_card(folder, results).read_text()
    assert "NOT the same layers, epochs as the aLoRA" in card
    assert "not recorded" in baseline_note(None, {})
    results["paths"]["lora"]["scored_earlier"] = "runs/old/results.json"
    card = write_card(folder, results).read_text()
    assert "scored in an earlier evaluation of these test rows (`runs/old/results.json` then)" in card
    assert "kept no per-row answers" not in card  # this LoRA row kept them
    results["paths"]["lora"].pop("predictions")  # as an older results.json
    card = write_card(folder, results).read_text()
    assert "kept no per-row answers, so the gap has no interval" in card
    assert "its latency is that sitting's" in card


def test_a_lora_baseline_from_zeros_against_an_alora_with_a_head_start_is_said_and_reproducible(tmp_path):
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.cards import write_card

    folder = tmp_path / "answerability"  # its aLoRA and its LoRA baseline both started from context_relevance
    shutil.copytree(builtin_intrinsics_dir() / "answerability", folder)
    results = json.loads((folder / "results.json").read_text())
    card = write_card(folder, results).read_text()
    assert "--kind lora --init-from runs/context_relevance-lora --out" in card
    assert "from zeros" not in card.split("## Reproduce")[0].replace("(not from zeros)", "")
    results["baseline"]["init_from"] = None
    card = write_card(folder, results).read_text()
    assert "from zeros (the aLoRA started from `intrinsics/context_relevance v0.2.0 (commit 6e674ff;" in card
    # the recipe's own start is the aLoRA's adapter (rank 32): the LoRA line must override it
    assert "--kind lora --init-from none --out" in card


def test_gaps_to_alora_pairs_the_paths_row_by_row_and_the_card_shows_the_interval():
    from alora_chain import Intrinsic
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.evaluate import Prediction
    from alora_chain.training.recipes import gaps_to_alora

    spec = Intrinsic.load(builtin_intrinsics_dir() / "context_relevance")
    targets = ["relevant", "irrelevant"] * 20

    def path(wrong: set[int]) -> list[Prediction]:
        flip = {"relevant": "irrelevant", "irrelevant": "relevant"}
        return [
            Prediction(line=i, target=t, output=flip[t] if i in wrong else t, probability=0.5, seconds=0.1)
            for i, t in enumerate(targets)
        ]

    gaps = gaps_to_alora(spec, {"alora": path({0, 1}), "lora": path({0, 1, 2, 3, 4, 5}), "prompt": path(set())})
    assert gaps["lora"]["metric"] == "accuracy" and abs(gaps["lora"]["difference"] - 0.10) < 1e-9
    low, high = gaps["lora"]["interval95"]
    assert 0.0 <= low < 0.10 < high  # the same two misses on both sides never count against aLoRA
    assert abs(gaps["prompt"]["difference"] + 0.05) < 1e-9
    results = _choice(0.95, 1.0, lora=0.85) | {"gaps": gaps}
    assert f"+10 pts; 95% interval {100 * low:+.0f} to {100 * high:+.0f} pts" in verdicts(results)[2]


def test_a_lora_row_scored_earlier_is_checked_against_the_rows_and_stays_paired_when_it_can(tmp_path):
    from alora_chain.errors import DataError
    from alora_chain.training.recipes.scoring import _earlier_lora

    rows = [SimpleNamespace(line=i + 1, target=t) for i, t in enumerate(["yes", "no", "yes"])]
    kept = [{"line": r.line, "target": r.target, "output": "yes", "probability": 0.9, "seconds": 0.2} for r in rows]
    lora = {"path": "lora", "intrinsic": "x", "metrics": {"accuracy": 2 / 3}, "latency_median_s": 0.2,
            "latency_mean_s": 0.2}
    earlier = tmp_path / "results.json"
    earlier.write_text(json.dumps({"examples": 3, "paths": {"lora": lora | {"predictions": kept}},
                                   "baseline": {"epochs": 3}}))

    def _earlier_lora_of_file(rows):  # as evaluate_builtin reads --lora-results
        return _earlier_lora(json.loads(earlier.read_text()), rows, str(earlier))

    got = _earlier_lora_of_file(rows)
    assert [p.output for p in got["predictions"]] == ["yes"] * 3 and got["baseline"] == {"epochs": 3}
    assert got["path"]["scored_earlier"] == str(earlier) and got["path"]["metrics"] == lora["metrics"]
    with pytest.raises(DataError, match="other rows"):
        _earlier_lora_of_file([rows[1], rows[0], rows[2]])
    with pytest.raises(DataError, match="3 rows"):
        _earlier_lora_of_file(rows[:2])
    earlier.write_text(json.dumps({"examples": 3, "paths": {"lora": lora}}))  # figures only
    assert _earlier_lora_of_file(rows)["predictions"] is None
    earlier.write_text(json.dumps({"examples": 3, "paths": {}}))
    with pytest.raises(DataError, match="no LoRA row"):
        _earlier_lora_of_file(rows)
    # a section of one (its prose rows) is named by its label in the card and in errors
    section = {"examples": 3, "paths": {"lora": lora | {"predictions": kept}}}
    got = _earlier_lora(section, rows, "results.json (prose rows)")
    assert got["path"]["scored_earlier"] == "results.json (prose rows)" and len(got["predictions"]) == 3
    with pytest.raises(DataError, match=r"results.json \(prose rows\) scored 3 rows"):
        _earlier_lora(section, rows[:2], "results.json (prose rows)")


def test_a_card_says_when_its_adapter_was_trained_under_bf16(tmp_path):
    import yaml

    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.cards import write_card

    folder = tmp_path / "context_relevance"
    shutil.copytree(builtin_intrinsics_dir() / "context_relevance", folder)
    results = json.loads((folder / "results.json").read_text())
    assert "bfloat16" not in write_card(folder, results).read_text()
    fields = yaml.safe_load((folder / "intrinsic.yaml").read_text())
    fields["training"]["config"]["precision"] = "bf16"
    (folder / "intrinsic.yaml").write_text(yaml.safe_dump(fields, sort_keys=False, allow_unicode=True))
    assert "under bfloat16 autocast (`--precision bf16`)" in write_card(folder, results).read_text()


def test_a_card_shows_the_test_rows_scored_again_with_documents_in_prose(tmp_path):
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.cards import write_card
    from alora_chain.training.docs import variant_sections

    folder = tmp_path / "groundedness"
    shutil.copytree(builtin_intrinsics_dir() / "groundedness", folder)
    results = json.loads((folder / "results.json").read_text())
    results.pop("prose_test", None)
    results.pop("dense_test", None)  # the shipped card has both; this test adds them back one at a time
    assert "loosened into prose" not in write_card(folder, results).read_text()
    results["prose_test"] = _choice(0.8, 0.5) | {
        "prose": 0.5, "gaps": {"prompt": {"difference": 0.3, "interval95": [0.2, 0.41]}}
    }
    card = write_card(folder, results).read_text()  # one line per variant; the tables are in docs/results.md
    assert "- The same test rows, documents loosened into prose (`test_prose.jsonl`, 100 rows): accuracy alora 0.800, prompt 0.500" in card
    sections = variant_sections(results)
    assert "### The same test rows, documents loosened into prose (`test_prose.jsonl`)" in sections
    assert "| alora | 0.800 | 100 ms |" in sections
    assert "prompting here: +30 pts (95% interval +20 to +41 pts)." in sections
    assert "test_dense.jsonl" not in card and "test_dense.jsonl" not in sections
    results["dense_test"] = _choice(0.9, 0.6) | {
        "dense": 1.0,
        "gaps": {
            "prompt": {"difference": 0.3, "interval95": [0.2, 0.4]},
            "lora": {"difference": -0.04, "interval95": [-0.1, 0.02]},
        },
    }
    card = write_card(folder, results).read_text()
    sections = variant_sections(results)
    dense = sections[sections.index("### Test rows whose documents state every fact of their entity (`test_dense.jsonl`)"):]
    assert "in a share 1.0 of\nrows the entity's own document states every attribute" in dense
    assert "standard LoRA here: -4 pts (95% interval -10 to +2 pts)." in dense
    assert sections.index("loosened into prose") < sections.index("test_dense.jsonl")
    assert card.index("loosened into prose") < card.index("(`test_dense.jsonl`, 100 rows): accuracy alora 0.900")


@pytest.mark.parametrize("name", ["answerability", "groundedness", "requirement_check", "query_rewrite", "certainty", "context_relevance"])
def test_each_shipped_card_is_what_its_results_and_the_catalog_render(tmp_path, name):
    """A card edited by hand, or a catalog entry changed without re-rendering, shows up here."""
    from alora_chain.resources import builtin_intrinsics_dir
    from alora_chain.training.recipes.scoring import rerender_card

    shipped = builtin_intrinsics_dir() / name
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(shipped / "results.json", folder / "results.json")
    shutil.copy(shipped / "intrinsic.yaml", folder / "intrinsic.yaml")
    card = rerender_card(name, folder).read_text()
    assert card == (shipped / "README.md").read_text()
    # a card is short: what it does, a usage snippet, figures, limits, the reproduce command
    assert len(card.splitlines()) <= 60
    sections = [line for line in card.splitlines() if line.startswith("## ")]
    assert [s.split(":")[0] for s in sections] == ["## Use", "## Figures", "## Limits", "## Reproduce"]
    assert f'r = s.invoke("{name}"' in card and ("**Hand-written suite**" in card or "No hand-written suite" in card)


def test_rendering_a_card_without_scored_results_says_how_to_score_it(tmp_path):
    from alora_chain.errors import DataError
    from alora_chain.training.recipes.scoring import rerender_card

    with pytest.raises(DataError, match="--evaluate"):
        rerender_card("certainty", tmp_path)


def test_the_recipes_command_reports_a_typed_error_without_a_traceback(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "alora_chain.training.recipes", "certainty", "--card-only", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "--evaluate" in done.stderr
    assert "Traceback" not in done.stderr
