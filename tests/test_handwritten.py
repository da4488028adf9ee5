"""Hand-written suite figures: recorded in results.json, printed as the README's headline."""

from __future__ import annotations

import json

from alora_chain.training.docs import hand_written, hand_written_table
from alora_chain.training.evaluate import EvalReport, PathReport
from alora_chain.training.handwritten import record, suite, summary


def _report(accuracy: float, prompt: float, rows: int) -> EvalReport:
    paths = {
        name: PathReport(path=name, intrinsic=None, metrics={"accuracy": acc}, latency_median_s=0.1,
                         latency_mean_s=0.1, predictions=[])
        for name, acc in (("alora", accuracy), ("prompt", prompt))
    }
    return EvalReport(intrinsic="groundedness", kind="choice", examples=rows, paths=paths)


def test_a_recorded_test_figure_becomes_the_headline(tmp_path):
    folder = tmp_path / "groundedness"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({"kind": "choice", "examples": 100}))
    by_case = {"swapped_entity": {"rows": {"n": 9}, "alora": {"accuracy": 0.25}, "prompt": {"accuracy": 0.5}}}
    entry = summary(_report(0.6, 0.45, 123), by_case, "0.8.0")
    assert entry["by_case"] == {"swapped_entity": {"rows": 9, "alora": 0.25, "prompt": 0.5}}
    record("groundedness", "test", entry, root=tmp_path)
    results = json.loads((folder / "results.json").read_text())
    assert results["examples"] == 100  # the generated split's figures are kept
    assert hand_written(results) == "accuracy 0.60 (123 rows)"
    assert "| 0.8.0 | 123 | accuracy 0.60 | 0.450 | +15 points |" in hand_written_table(tmp_path)


def test_a_builtin_without_a_recorded_suite_says_so():
    assert hand_written({"kind": "choice"}) == "no suite yet"


def test_every_suite_file_is_found():
    for name in ("answerability", "groundedness", "context_relevance", "requirement_check", "query_rewrite"):
        assert suite(name, "test").is_file() and suite(name, "dev").is_file()
