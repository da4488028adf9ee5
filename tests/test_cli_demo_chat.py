"""`alora-chain chat` driven through standard input; `alora-chain demo --json` output."""

from __future__ import annotations

import json
import re

import pytest
from conftest import BUILTIN_SHAPES, make_standin
from typer.testing import CliRunner

import alora_chain as ac
from alora_chain.cli import app
from alora_chain.cli.chat import parse_arguments
from alora_chain.cli.demo import NAMES, QUESTIONS, _available
from alora_chain.errors import InvalidArgumentError
from alora_chain.rag import DEFAULT_REFUSAL, INPUT_CHECKS

runner = CliRunner()


@pytest.fixture(scope="module")
def standins(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("standins")
    for i, name in enumerate(BUILTIN_SHAPES):
        make_standin(model, root, name, seed=10 + i)
    return root


def test_parse_arguments():
    assert parse_arguments('documents=["a b", "c"] requirement=Be brief') == {
        "documents": ["a b", "c"],
        "requirement": "Be brief",
    }
    assert parse_arguments('n=3 flag=true text="quoted x=1" tail=[1]x') == {
        "n": 3,
        "flag": True,
        "text": "quoted x=1",
        "tail": "[1]x",
    }
    assert parse_arguments("  ") == {}
    with pytest.raises(InvalidArgumentError, match="key=value"):
        parse_arguments("no equals sign")


def test_chat_through_stdin(model, standins, tmp_path):
    folder = standins / "answerability"
    saved = tmp_path / "chat.session"
    script = "\n".join(
        [
            "Hi",
            "/help",
            "/intrinsics",
            f'/invoke {folder} documents=["The sky is blue."]',
            f"/invoke {folder} documents=oops",
            '/invoke answerability documents=["The sky is blue.", "Grass is green."]',
            "/fork",
            "What colour is the sky?",
            "/undo",
            "/back",
            "/bogus",
            f"/save {saved}",
            "/quit",
            "This line comes after /quit.",
        ]
    )
    result = runner.invoke(
        app, ["chat", "--max-new-tokens", "5", "--system", "Be brief."], input=script + "\n"
    )
    out = result.stdout
    assert result.exit_code == 0, result.output
    replies = re.findall(r"assistant: (.*)\n", out)
    assert len(replies) == 2  # "Hi" and the question on the fork; nothing after /quit
    assert "/invoke NAME key=value" in out and "unknown command /bogus" in out
    assert "[forked: depth 1" in out and "[removed 2 turn(s)]" in out and "[back: depth 0]" in out
    assert "error: intrinsic 'answerability': argument 'documents' must be list[str]" in out
    assert re.search(r"\[answerability\] value=\w+  score=[0-9.]+  items=\[[0-9.]+, [0-9.]+\]", out), out

    # the /invoke ran on the conversation as it stood: same score as a direct call
    score = float(re.search(r"\[answerability\] value=\w+  score=([0-9.]+)", out).group(1))
    session = ac.Session(model, system="Be brief.").user("Hi").assistant(replies[0])
    direct = session.invoke(ac.Intrinsic.load(folder), documents=["The sky is blue."])
    assert score == pytest.approx(direct.score, abs=2e-3)

    assert "[saved 3 turns" in out and saved.is_file()  # the fork's exchange is not in the parent
    if hasattr(ac.Session, "load"):
        restored = ac.Session.load(saved, model).transcript
    else:
        restored = [ac.Message(**m) for m in json.loads(saved.read_text())["transcript"]]
    assert [m.role for m in restored] == ["system", "user", "assistant"]
    assert restored[-1].content == replies[0]


def test_chat_rejects_a_missing_model(tmp_path):
    result = runner.invoke(app, ["chat", "--model", str(tmp_path / "nope")], input="")
    assert result.exit_code == 1 and "does not exist" in result.output


def _check_report(report: dict) -> None:
    assert [t["user"] for t in report["turns"]] == QUESTIONS
    reused = []
    for turn in report["turns"]:
        names = [s["name"] for s in turn["steps"]]
        assert "retrieval (bm25s)" in names
        if turn["declined"]:
            assert turn["answer"] == DEFAULT_REFUSAL and "answer (base model)" not in names
        else:
            assert "answer (base model)" in names and turn["answer"]
        reused += [s["reused_tokens"] for s in turn["steps"] if s["name"] == "query_rewrite"]
    assert reused == sorted(reused) and reused[0] > 0  # each turn reuses a longer cached history
    summary = report["summary"]
    steps = [s for t in report["turns"] for s in t["steps"] if s["reused_tokens"] is not None]
    checks = sum(len(a["verdicts"]) for a in report["agent"]["attempts"]) if report["agent"] else 0
    inputs = report["input_guards"]  # a jailbreak check per screened turn, an injection check per document
    guarded = 0
    if inputs:
        scores = [inputs["jailbreak"]["p_jailbreak"], inputs["jailbreak"]["question_p_jailbreak"]]
        scores += [d["p_injection"] for d in inputs["prompt_injection"]["documents"]]
        guarded = sum(p is not None for p in scores)
    assert summary["intrinsic_calls"] == len(steps) + checks + guarded
    assert summary["reused_tokens"] >= sum(s["reused_tokens"] for s in steps)
    assert summary["lora_estimate_seconds"] > summary["intrinsic_seconds"] > 0


def test_demo_json_with_standin_intrinsics(standins):
    args = ["demo", "--json", "--intrinsics", str(standins), "--max-new-tokens", "8"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert report["intrinsics"] == dict.fromkeys(NAMES, "ok")
    _check_report(report)
    assert 1 <= report["agent"]["attempts_used"] <= 2
    _check_input_guards(report["input_guards"])


def _check_input_guards(inputs):
    """The input step's verdicts follow RagGuard's default thresholds (0.5)."""
    jailbreak = inputs["jailbreak"]
    assert jailbreak["refused"] == (jailbreak["p_jailbreak"] >= 0.5)
    assert 0.0 <= jailbreak["question_p_jailbreak"] <= 1.0
    documents = inputs["prompt_injection"]["documents"]
    assert len(documents) == 2 and "AI assistant reading this page" in documents[1]["text"]
    assert all(d["dropped"] == (d["p_injection"] >= 0.5) for d in documents)


@pytest.mark.skipif(
    not set(NAMES) - set(INPUT_CHECKS) <= set(ac.intrinsics()),
    reason="the built-in intrinsics (intrinsics/<name>/) are not all installed",
)
def test_demo_json_with_builtin_intrinsics():
    result = runner.invoke(app, ["demo", "--json", "--max-new-tokens", "24"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    installed = set(ac.intrinsics())
    assert report["intrinsics"] == {n: "ok" if n in installed else "not installed" for n in NAMES}
    _check_report(report)
    if set(INPUT_CHECKS) <= installed:
        _check_input_guards(report["input_guards"])
    # the Scout R3 is not in the knowledge base (its look-alike, the Scout R2, is): answerability
    # declines it; the answered turns before it were not declined
    assert [turn["declined"] for turn in report["turns"]] == [False, False, True]


def test_demo_skips_what_is_not_installed_and_rejects_bad_paths(model, tmp_path):
    assert _available("no_such_intrinsic", model) == (None, "not installed")
    result = runner.invoke(app, ["demo", "--intrinsics", str(tmp_path / "missing")])
    message = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())  # unwrap rich's error box
    assert result.exit_code != 0 and "is not a folder" in message
