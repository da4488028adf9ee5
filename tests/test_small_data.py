"""The small-data path: an intrinsic inferred from its rows, the zero-shot question, the one-label check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alora_chain.errors import DataError
from alora_chain.training.data import load_rows
from alora_chain.training.evaluate import EvalReport, PathReport, Prediction
from alora_chain.training.small_data import default_template, infer_intrinsic, one_label, zero_shot_template

COMPLAINT = Path(__file__).parent / "data" / "complaint"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_labels_come_from_the_targets_and_no_template_is_needed(tmp_path):
    spec = infer_intrinsic(COMPLAINT / "train.jsonl", "complaint", tmp_path)
    assert spec.output.kind == "choice" and spec.labels == ["complaint", "other"]
    assert spec.output.positive is None and spec.arguments == {}
    assert spec.template_obj.source == ""  # the adapter reads the conversation alone
    rows = load_rows(COMPLAINT / "train.jsonl", spec)
    assert len(rows) == 40 and spec.prompt_turn(rows[0].messages, {}) is None
    # the prompted base model is asked to pick a label, since the template asks nothing
    assert zero_shot_template(spec) == "Answer with one of these words and nothing else: complaint, other.\n"


def test_argument_keys_are_laid_out_by_the_default_template(tmp_path):
    rows = [
        {
            "messages": [{"role": "user", "content": "When is high tide?"}],
            "documents": ["High tide: 6 am.", "Low: noon."],
            "topic": "tides",
            "target": "yes",
        },
        {
            "messages": [{"role": "user", "content": "Who built it?"}],
            "documents": ["It is old."],
            "topic": "bridge",
            "target": "no",
            "meta": {"why": "not ours to read"},
        },
    ]
    spec = infer_intrinsic(_write(tmp_path / "rows.jsonl", rows), "answers", tmp_path / "spec")
    assert spec.arguments == {"documents": "list[str]", "topic": "str"}
    assert spec.output.positive == "yes"  # yes/true is the score's label when present
    [first, _] = load_rows(tmp_path / "rows.jsonl", spec)
    turn = spec.prompt_turn(first.messages, first.arguments)
    assert turn.content == "documents:\n- High tide: 6 am.\n- Low: noon.\ntopic: tides"
    assert default_template({}) == ""
    assert zero_shot_template(spec).endswith(
        "topic: {{ topic }}\nAnswer with one of these words and nothing else: no, yes.\n"
    )


def test_a_given_template_and_labels_are_kept(tmp_path):
    (tmp_path / "ask.jinja").write_text("Is this a complaint?")
    spec = infer_intrinsic(
        COMPLAINT / "train.jsonl",
        "complaint",
        tmp_path / "unused",
        template=tmp_path / "ask.jinja",
        labels=["other", "complaint"],
        positive="complaint",
    )
    assert spec.labels == ["other", "complaint"] and spec.output.positive == "complaint"
    assert zero_shot_template(spec) == "Is this a complaint?"  # it asks something: asked as it is
    assert not (tmp_path / "unused").exists()


def test_one_target_everywhere_is_refused_and_many_make_text(tmp_path):
    same = [{"messages": [{"role": "user", "content": f"hi {i}"}], "target": "yes"} for i in range(5)]
    with pytest.raises(DataError, match="at least two labels"):
        infer_intrinsic(_write(tmp_path / "same.jsonl", same), "x", tmp_path)
    many = [{"messages": [{"role": "user", "content": f"hi {i}"}], "target": f"hello {i}"} for i in range(11)]
    assert infer_intrinsic(_write(tmp_path / "many.jsonl", many), "x", tmp_path).output.kind == "text"


def _report(kind: str, outputs: list[str]) -> EvalReport:
    predictions = [
        Prediction(line=i, target="a", output=o, probability=None, seconds=0.0) for i, o in enumerate(outputs)
    ]
    path = PathReport(
        path="alora", intrinsic="x", metrics={}, latency_median_s=0, latency_mean_s=0, predictions=predictions
    )
    return EvalReport(intrinsic="x", kind=kind, examples=len(outputs), paths={"alora": path})


def test_one_label_for_every_row_is_named():
    assert one_label(_report("choice", ["other"] * 6)) == "other"
    assert one_label(_report("choice", ["other"] * 5 + ["complaint"])) is None
    assert one_label(_report("text", ["same"] * 6)) is None  # text is not a label
