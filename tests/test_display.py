"""Rich and Jupyter HTML views of a Session and an IntrinsicResult."""

from __future__ import annotations

import io

from rich.console import Console

import alora_chain as ac
from alora_chain.display import score_bar
from alora_chain.parsing import IntrinsicResult, InvokeStats


def _text(renderable) -> str:
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def _result(score: float | None = 0.83, items: list[float] | None = None) -> IntrinsicResult:
    stats = InvokeStats(reused_tokens=120, new_tokens=9, adapter_tokens=7, seconds=0.041)
    return IntrinsicResult.from_verdict("answerability", (True, score, "answerable", None), stats, items)


def test_score_bar():
    assert score_bar(0.8) == "████████░░" and score_bar(0.0) == "░" * 10 and score_bar(1.2) == "█" * 10


def test_a_result_shows_value_score_bar_tokens_and_time():
    result = _result(items=[0.83, 0.1])
    for shown in (_text(result), result._repr_html_()):
        for part in ("answerability", "True", "0.83 ████████░░", "0.83 0.10", "120 reused, 9 new", "41 ms"):
            assert part in shown, (part, shown)
    assert "score" not in _result(score=None)._repr_html_()  # a text output has no score


def test_a_session_shows_its_turns_tokens_cached_calls_and_adapters(model, choice_intrinsic):
    s = ac.Session(model, system="You are terse.").user("Is <b>this</b> answerable?")
    s.invoke(choice_intrinsic, documents=["A document."])
    html, text = s._repr_html_(), " ".join(_text(s).split())  # rich wraps the caption
    for shown in (html, text):
        assert f"Session: 2 turns, {len(s)} tokens cached" in shown
        assert f"1 intrinsic call, {len(s)} tokens reused from the cache" in shown
        assert choice_intrinsic.name in shown and "system" in shown and "You are terse." in shown
    assert "&lt;b&gt;this&lt;/b&gt;" in html and "<b>this</b>" not in html  # content is escaped
    assert "<b>this</b>" in text
    assert repr(s) == f"<Session: 2 turns, {len(s)} tokens cached>"


def test_a_long_session_shows_its_last_turns(model):
    s = ac.Session(model)
    for i in range(12):
        s.user(f"question {i}") if i % 2 == 0 else s.assistant(f"answer {i}")
    html = s._repr_html_()
    assert "2 earlier turns" in html and "question 10" in html and "question 0<" not in html
