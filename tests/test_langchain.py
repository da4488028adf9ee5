"""LangChain Runnables: intrinsic calls and the RAG guard inside real LCEL chains."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("langchain_core", reason="the langchain extra is not installed")
from conftest import make_intrinsic
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda, RunnableParallel

import alora_chain as ac
from alora_chain.errors import InvalidArgumentError
from alora_chain.integrations.langchain import IntrinsicRunnable, to_messages

DOCS = ["The Ossel bridge was rebuilt in 1702 by Tobias Marr.", "Brimwick has 48,000 inhabitants."]
QUESTIONS = ["Who rebuilt the bridge?", "How many people live in Brimwick?", "What is its football club?"]
GRANITE = Path(__file__).parent / "data" / "granite"


def prepare(inputs: dict) -> dict:
    """A user's own chain step: shape a question and retrieved documents for the intrinsic."""
    return {"messages": [("human", inputs["question"])], "documents": inputs["docs"]}


def _direct(model, intrinsic, question: str, docs: list[str], system: str | None = None):
    s = ac.Session(model, system=system)
    return s.user(question).invoke(intrinsic, documents=docs)


def test_importing_alora_chain_does_not_need_langchain():
    code = "import sys; sys.modules['langchain_core'] = None; import alora_chain; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "alora_chain.integrations.langchain")
    for name in [m for m in sys.modules if m.startswith("langchain_core")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"alora_chain\[langchain\]"):
        importlib.import_module("alora_chain.integrations.langchain")


def test_intrinsic_runnable_in_a_chain_matches_invoke(model, choice_intrinsic):
    chain = RunnableLambda(prepare) | IntrinsicRunnable(model, choice_intrinsic)
    result = chain.invoke({"question": QUESTIONS[0], "docs": DOCS})
    expected = _direct(model, choice_intrinsic, QUESTIONS[0], DOCS)
    assert isinstance(result, ac.IntrinsicResult)
    assert result.value == expected.value
    assert result.score == pytest.approx(expected.score, abs=1e-5)


def test_batch_keeps_order_and_matches_single_calls(model, choice_intrinsic):
    base = ac.Session(model, system="You are a helpful assistant.")
    before = base.token_ids
    chain = RunnableLambda(prepare) | IntrinsicRunnable(base, choice_intrinsic)
    inputs = [{"question": q, "docs": DOCS[i % 2 :]} for i, q in enumerate(QUESTIONS)]
    results = chain.batch(inputs, config={"max_concurrency": 3})  # threads: calls take turns
    assert base.token_ids == before  # the base session is only ever forked
    for item, result in zip(inputs, results):
        expected = _direct(
            model, choice_intrinsic, item["question"], item["docs"], system="You are a helpful assistant."
        )
        assert result.score == pytest.approx(expected.score, abs=1e-5)
        assert result.stats.reused_tokens > len(
            before
        )  # the system prompt and the question came from the cache
    assert len({round(r.score, 6) for r in results}) > 1  # different inputs, different scores


def test_fixed_args_value_only_and_parallel_intrinsics(model, choice_intrinsic, text_intrinsic):
    both = RunnableParallel(
        answerable=IntrinsicRunnable(model, choice_intrinsic, documents=DOCS, value_only=True),
        rewrite=IntrinsicRunnable(model, text_intrinsic, value_only=True),
    )
    out = (RunnableLambda(lambda q: {"messages": [HumanMessage(q)]}) | both).invoke(QUESTIONS[0])
    assert out["answerable"] == _direct(model, choice_intrinsic, QUESTIONS[0], DOCS).value
    s = ac.Session(model).user(QUESTIONS[0])
    assert out["rewrite"] == s.invoke(text_intrinsic).value


def test_messages_of_every_shape():
    assert [
        (m.role, m.content)
        for m in to_messages(
            [
                SystemMessage("Be brief."),
                HumanMessage("hi"),
                AIMessage("hello"),
                {"role": "user", "content": "q"},
                ("ai", "a"),
            ]
        )
    ] == [("system", "Be brief."), ("user", "hi"), ("assistant", "hello"), ("user", "q"), ("assistant", "a")]
    with pytest.raises(InvalidArgumentError, match="role"):
        to_messages([{"role": "tool", "content": "x"}])


def test_bad_inputs_are_refused(model, choice_intrinsic):
    runnable = IntrinsicRunnable(model, choice_intrinsic)
    with pytest.raises(InvalidArgumentError, match="dict"):
        runnable.invoke("just a string")
    with pytest.raises(InvalidArgumentError, match="missing"):
        runnable.invoke({"messages": [("human", "hi")]})
    with pytest.raises(InvalidArgumentError, match="Session or Model"):
        IntrinsicRunnable("model", choice_intrinsic)


def test_guard_runnable_in_a_chain(model, tmp_path_factory):
    try:
        from alora_chain.integrations.langchain import GuardRunnable
        from alora_chain.rag import GuardVerdict
    except ImportError as exc:  # rag.py is written in parallel; its absence is not this module's bug
        pytest.skip(f"alora_chain.rag is not available: {exc}")
    folder = tmp_path_factory.mktemp("guard")
    grounded = make_intrinsic(
        model,
        folder,
        output={"kind": "choice", "labels": ["grounded", "ungrounded"], "positive": "grounded"},
        seed=5,
    )
    mapped = {
        name: ac.Intrinsic.from_granite_io(
            GRANITE / f"{name}.yaml", adapter=grounded.adapter_path, base_model=model
        )
        for name in ("answerability", "certainty")
    }
    guard = GuardRunnable(model, intrinsics={"context_relevance": None, "groundedness": grounded, **mapped})
    chain = RunnableLambda(lambda q: {"question": q, "documents": DOCS, "draft": "Tobias Marr."}) | guard
    verdicts = chain.batch(QUESTIONS[:2])
    assert all(isinstance(v, GuardVerdict) for v in verdicts)
    first = verdicts[0]
    assert first.question == QUESTIONS[0]
    assert first.relevant_documents == DOCS  # relevance turned off: every document is kept
    assert 0.0 <= first.p_answerable <= 1.0 and 0.05 <= first.certainty <= 0.95
    assert first.p_grounded is not None and first.skipped.get("context_relevance") == "turned off"
    assert verdicts[0].p_answerable != verdicts[1].p_answerable
    with pytest.raises(InvalidArgumentError, match="question"):
        guard.invoke({"documents": DOCS})
