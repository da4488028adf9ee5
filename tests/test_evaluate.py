"""Evaluation: metrics on hand-computed cases, the three paths end to end, data-file errors by line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import make_intrinsic
from typer.testing import CliRunner

from alora_chain.chat import conversation_ids, generation_prompt_ids, turn_ids
from alora_chain.cli import app
from alora_chain.errors import DataError, InvalidArgumentError
from alora_chain.session import Session
from alora_chain.training import metrics
from alora_chain.training.data import load_rows
from alora_chain.training.evaluate import evaluate, keeps, metrics_by

BRIDGE = "The Ossel bridge was rebuilt in 1702 by Tobias Marr."
TOWN = "Brimwick has 48,000 inhabitants."
QUESTIONS = [
    ("Who rebuilt the bridge?", [BRIDGE], "answerable"),
    ("How many people live in Brimwick?", [TOWN], "answerable"),
    ("Who rebuilt the bridge?", [TOWN], "unanswerable"),
    ("What is the mayor's name?", [BRIDGE, TOWN], "unanswerable"),
    ("When was the bridge rebuilt?", [BRIDGE, TOWN], "answerable"),
    ("What does Brimwick export?", [BRIDGE], "unanswerable"),
]


def _row(question, documents, target, history=()):
    messages = [*history, {"role": "user", "content": question}]
    meta = {"q": question, "case": {"docs": len(documents)}}
    return {"messages": messages, "documents": documents, "target": target, "meta": meta}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# -- metrics on hand-computed cases ------------------------------------------------------------
def test_classification_metrics_match_hand_computation():
    assert metrics.accuracy(["a", "b", "b"], ["a", "b", "a"]) == pytest.approx(2 / 3)
    # F1(a) = 2*1/(2*1+0+1) = 2/3, F1(b) = 2*2/(2*2+1+0) = 4/5
    assert metrics.macro_f1(["a", "a", "b", "b"], ["a", "b", "b", "b"]) == pytest.approx((2 / 3 + 0.8) / 2)
    # a label that is only ever predicted still counts (with F1 0)
    assert metrics.macro_f1(["a", "a"], ["a", "c"]) == pytest.approx((2 / 3 + 0) / 2)
    assert metrics.macro_f1(["a", "b"], ["a", "b"]) == 1.0
    assert metrics.false_positive_rate(["a", "b", "b"], ["a", "a", "b"], "a") == 0.5
    assert metrics.false_positive_rate(["a", "a"], ["b", "a"], "a") is None  # no negative row


def test_auroc_counts_ordered_pairs_and_half_ties():
    assert metrics.auroc([1, 0, 1, 0], [0.9, 0.8, 0.4, 0.1]) == pytest.approx(0.75)
    assert metrics.auroc([1, 1, 0], [0.9, 0.8, 0.1]) == 1.0
    assert metrics.auroc([0, 0, 1], [0.9, 0.8, 0.1]) == 0.0
    # pairs: (0.5 vs 0.5) tie = 1/2, (0.5 vs 0.2) = 1, (0.7 vs both) = 2 -> 3.5 / 4
    assert metrics.auroc([1, 1, 0, 0], [0.5, 0.7, 0.5, 0.2]) == pytest.approx(3.5 / 4)
    assert metrics.auroc([1, 1], [0.3, 0.6]) is None  # one class only: undefined


def test_calibration_metrics_match_hand_computation():
    assert metrics.brier([1, 0], [0.8, 0.4]) == pytest.approx((0.04 + 0.16) / 2)
    # bin [0.9, 1]: 3 examples, 2 positive: |2/3 - 0.9| * 3/4; bin [0.1, 0.2): |0 - 0.1| * 1/4
    assert metrics.ece([1, 1, 0, 0], [0.9, 0.9, 0.9, 0.1]) == pytest.approx(0.2)
    assert metrics.ece([1, 0], [1.0, 0.0]) == 0.0  # p = 1.0 falls in the last bin
    # 0.55 and 0.65 are different bins: |1 - 0.55| / 2 + |0 - 0.65| / 2
    assert metrics.ece([1, 0], [0.55, 0.65]) == pytest.approx((0.45 + 0.65) / 2)
    # ...while 0.61 and 0.69 share one: |0.5 - 0.65|
    assert metrics.ece([1, 0], [0.61, 0.69]) == pytest.approx(0.15)


def test_text_metrics_match_hand_computation():
    assert metrics.normalize_text("The Eiffel  Tower!") == "eiffel tower"
    assert metrics.exact_match(["The Eiffel Tower."], ["eiffel tower"]) == 1.0
    assert metrics.exact_match(["Eiffel Tower", "Paris"], ["Eiffel Tower", "London"]) == 0.5
    # "where is eiffel tower" vs "eiffel tower location": P = 2/3, R = 2/4 -> 4/7
    assert metrics.token_f1(["Where is the Eiffel tower?"], ["Eiffel tower location"]) == pytest.approx(4 / 7)
    assert metrics.token_f1(["a b"], ["c"]) == 0.0


def test_keeps_needs_one_alternative_of_every_group():
    groups = [["scout r2", "scout"], ["battery", "charge"]]
    assert keeps("How long does the Scout  R2's battery last?", groups)
    assert keeps("scout charge time", groups)
    assert not keeps("How long does the battery last?", groups)  # entity dropped
    assert not keeps("How much is the Scout R2?", groups)  # aspect dropped


# -- evaluate() end to end ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def lora_intrinsic(model, tmp_path_factory):
    return make_intrinsic(
        model,
        tmp_path_factory.mktemp("lora"),
        output={"kind": "choice", "labels": ["answerable", "unanswerable"], "positive": "answerable"},
        kind="lora",
        seed=3,
    )


@pytest.fixture(scope="module")
def choice_rows(tmp_path_factory, choice_intrinsic):
    history = [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello, how can I help?"}]
    rows = [_row(q, d, t, history if i % 2 else ()) for i, (q, d, t) in enumerate(QUESTIONS)]
    return load_rows(_write(tmp_path_factory.mktemp("data") / "rows.jsonl", rows), choice_intrinsic)


def _base_label_probs(model, intrinsic, row):
    """P(label) under the base model prompted with the instruction, computed from scratch."""
    tok = model.tokenizer
    turn = intrinsic.prompt_turn(row.messages, row.arguments)
    ids = conversation_ids(tok, row.messages) + turn_ids(tok, row.messages, turn)
    ids += generation_prompt_ids(tok, [*row.messages, turn])
    logps = []
    for label in intrinsic.label_sequences(tok, model.end_of_turn_id):
        full = ids + label
        logits = model.forward(torch.tensor([full]), None, logits_to_keep=len(full))[0].float()
        steps = torch.log_softmax(logits[len(ids) - 1 : -1], -1)
        logps.append(steps.gather(1, torch.tensor(label)[:, None]).sum())
    return dict(zip(intrinsic.labels, torch.softmax(torch.stack(logps), 0).tolist()))


def test_evaluate_choice_compares_alora_lora_and_prompt(model, choice_intrinsic, lora_intrinsic, choice_rows):
    report = evaluate(model, choice_intrinsic, choice_rows, lora=lora_intrinsic, progress=False)
    assert list(report.paths) == ["alora", "lora", "prompt"]
    assert report.examples == len(choice_rows) and report.kind == "choice" and not report.skipped
    for path in report.paths.values():
        assert set(path.metrics) == {"accuracy", "macro_f1", "auroc", "false_positive_rate"}
        assert all(value is not None and 0 <= value <= 1 for value in path.metrics.values())
        assert 0 < path.latency_median_s and 0 < path.latency_mean_s < 5
        assert [p.line for p in path.predictions] == list(range(1, len(choice_rows) + 1))
        hits = [p.output == p.target for p in path.predictions]
        assert path.metrics["accuracy"] == pytest.approx(sum(hits) / len(hits))

    # each path's answers are those of the model it claims to run
    row = choice_rows[3]
    for name, spec in (("alora", choice_intrinsic), ("lora", lora_intrinsic)):
        session = Session(model)
        for message in row.messages:
            getattr(session, message.role)(message.content)
        expected = session.invoke(spec, **row.arguments)
        got = report.paths[name].predictions[3]
        assert got.output == expected.raw
        assert got.probability == pytest.approx(expected.score, rel=1e-3, abs=1e-6)
    reference = _base_label_probs(model, choice_intrinsic, row)
    assert report.paths["prompt"].predictions[3].probability == pytest.approx(
        reference["answerable"], abs=1e-3
    )
    # three different models: their probabilities differ
    probs = {name: [p.probability for p in path.predictions] for name, path in report.paths.items()}
    assert probs["alora"] != pytest.approx(probs["lora"], rel=0.05)
    assert probs["alora"] != pytest.approx(probs["prompt"], rel=0.05)

    # the report round-trips through JSON
    assert type(report).model_validate_json(report.model_dump_json()) == report

    # broken down by a (nested) meta field: each group's metrics are those of its rows alone
    groups = metrics_by(report, choice_intrinsic, choice_rows, "case.docs")
    assert set(groups) == {"1", "2"} and sum(g["rows"]["n"] for g in groups.values()) == len(choice_rows)
    for path, result in report.paths.items():
        one_doc = [p for p, row in zip(result.predictions, choice_rows) if len(row.arguments["documents"]) == 1]
        assert groups["1"][path]["accuracy"] == pytest.approx(sum(p.output == p.target for p in one_doc) / len(one_doc))
    assert set(metrics_by(report, choice_intrinsic, choice_rows, "no.such")) == {"-"}


def test_evaluate_skips_lora_without_one_and_rejects_mismatches(model, choice_intrinsic, choice_rows):
    report = evaluate(model, choice_intrinsic, choice_rows[:2], compare=["lora"], progress=False)
    assert list(report.paths) == ["alora"] and "lora" in report.skipped
    with pytest.raises(InvalidArgumentError, match="adapter_kind"):
        evaluate(model, choice_intrinsic, choice_rows, lora=choice_intrinsic, progress=False)
    with pytest.raises(InvalidArgumentError, match="unknown comparison"):
        evaluate(model, choice_intrinsic, choice_rows, compare=["gpt4"], progress=False)


def test_evaluate_score_and_text_kinds(model, tmp_path, text_intrinsic):
    score = make_intrinsic(
        model,
        tmp_path,
        output={"kind": "score"},
        template="How likely is your last answer to be correct? Reply with one digit.",
        arguments={},
        invocation="<|im_start|>certainty\n",
    )
    turns = [
        ("What is 2 + 2?", "4", "9"),
        ("Capital of France?", "Berlin", "0"),
        ("Is ice cold?", "Yes", "9"),
    ]
    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "target": t}
        for q, a, t in turns
    ]
    report = evaluate(model, score, load_rows(_write(tmp_path / "s.jsonl", rows), score), progress=False)
    assert list(report.paths) == ["alora", "prompt"]
    for path in report.paths.values():
        assert set(path.metrics) == {"ece", "brier", "auroc", "accuracy"}
        probs = [p.probability for p in path.predictions]
        truth = [1.0, 0.0, 1.0]
        assert path.metrics["brier"] == pytest.approx(sum((p - y) ** 2 for p, y in zip(probs, truth)) / 3)

    rows = [
        {"messages": [{"role": "user", "content": "And its population?"}], "target": "Brimwick population"}
    ]
    text_rows = load_rows(_write(tmp_path / "t.jsonl", rows * 2), text_intrinsic)
    report = evaluate(model, text_intrinsic, text_rows, compare=["prompt"], progress=False)
    for path in report.paths.values():
        assert set(path.metrics) == {"exact_match", "token_f1"}
        expected = metrics.token_f1(["Brimwick population"], [path.predictions[0].output])
        assert path.metrics["token_f1"] == pytest.approx(expected)
        assert all(p.output for p in path.predictions) and math.isfinite(path.latency_mean_s)


def test_cli_prints_table_and_writes_json(choice_intrinsic, tmp_path):
    data = _write(tmp_path / "rows.jsonl", [_row(q, d, t) for q, d, t in QUESTIONS])
    out = tmp_path / "results.json"
    args = ["eval", str(choice_intrinsic.folder), str(data), "--compare", "prompt", "--limit", "3"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--no-progress", "--by", "case.docs"])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and "alora" in result.output and "prompt" in result.output
    assert "accuracy by meta.case.docs" in result.output
    written = json.loads(out.read_text())
    assert written["examples"] == 3 and set(written["paths"]) == {"alora", "prompt"}

    bad = CliRunner().invoke(app, ["eval", str(choice_intrinsic.folder), str(data), "--compare", "lora"])
    assert bad.exit_code == 1 and "--lora" in bad.output


# -- data loading errors -----------------------------------------------------------------------
GOOD = _row("Who rebuilt the bridge?", [BRIDGE], "answerable")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({k: v for k, v in GOOD.items() if k != "messages"}, "missing field 'messages'"),
        ({k: v for k, v in GOOD.items() if k != "target"}, "missing field 'target'"),
        ({**GOOD, "target": ""}, "empty 'target'"),
        ({**GOOD, "target": None}, "empty 'target'"),
        ({**GOOD, "target": "maybe"}, "not one of the labels"),
        ({k: v for k, v in GOOD.items() if k != "documents"}, "missing \\['documents'\\]"),
        ({**GOOD, "documents": "one string"}, "'documents' must be list\\[str\\]"),
        ({**GOOD, "documents": [1, 2]}, "'documents' must be list\\[str\\]"),
        ({**GOOD, "document": "x"}, "unexpected \\['document'\\]"),
        ({**GOOD, "messages": [{"role": "robot", "content": "hi"}]}, "bad message"),
        ({**GOOD, "messages": []}, "non-empty list"),
        ({**GOOD, "meta": [1]}, "'meta' must be an object"),
        ("not json", "not valid JSON"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_rows_name_the_file_and_line(tmp_path, choice_intrinsic, bad, message):
    path = tmp_path / "data.jsonl"
    lines = [json.dumps(GOOD), "", json.dumps(GOOD), bad if isinstance(bad, str) else json.dumps(bad)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message) as info:
        load_rows(path, choice_intrinsic)
    assert f"{path}, line 4:" in str(info.value)


def test_long_rows_and_invocation_in_target_are_rejected(model, tmp_path, choice_intrinsic, text_intrinsic):
    path = _write(tmp_path / "long.jsonl", [GOOD, _row("Tell me everything. " * 50, [BRIDGE], "answerable")])
    assert len(load_rows(path, choice_intrinsic, max_length=100)) == 2  # no tokenizer: not checked
    rows = load_rows(path, choice_intrinsic, max_length=400, tokenizer=model.tokenizer)
    assert len(rows) == 2
    with pytest.raises(DataError, match=r"line 2: the example is \d+ tokens .* max_length is 100"):
        load_rows(path, choice_intrinsic, max_length=100, tokenizer=model.tokenizer)

    sneaky = {"messages": GOOD["messages"], "target": "ok <|im_start|>rewrite\nagain"}
    path = _write(tmp_path / "sneaky.jsonl", [{**sneaky, "target": "fine"}, sneaky])
    with pytest.raises(DataError, match="line 2: 'target' contains the invocation string"):
        load_rows(path, text_intrinsic)
    with pytest.raises(DataError, match="no such data file"):
        load_rows(tmp_path / "missing.jsonl", text_intrinsic)


def test_paired_bootstrap_interval_brackets_the_gap_and_is_zero_without_one():
    right = np.ones(100)
    half = np.arange(100) % 2 == 0

    def same(rows):
        return float(right[rows].mean() - right[rows].mean())

    def gap(rows):
        return float(right[rows].mean() - half[rows].mean())

    assert metrics.paired_bootstrap_interval(same, 100) == (0.0, 0.0)
    low, high = metrics.paired_bootstrap_interval(gap, 100)
    assert 0.35 < low < 0.5 < high < 0.65
    assert metrics.paired_bootstrap_interval(lambda rows: None, 100) is None


def test_a_builtin_lora_folder_scored_alone_is_refused_with_how_to_pair_it(model, tmp_path):
    """Its figures compare aLoRA with the rest: a LoRA folder belongs after --lora, not --out."""
    from alora_chain.training.recipes.scoring import evaluate_builtin

    output = {"kind": "choice", "labels": ["answerable", "unanswerable"], "positive": "answerable"}
    folder = tmp_path / make_intrinsic(model, tmp_path, output=output, kind="lora", seed=4).name
    with pytest.raises(DataError, match=f"--lora {folder}"):
        evaluate_builtin("answerability", folder, {}, lora=None, seed=0)
