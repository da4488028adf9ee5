"""RagGuard: verdicts match direct intrinsic calls, thresholds drive each branch, wrap refuses and flags."""

from __future__ import annotations

import pytest
from conftest import make_standin

import alora_chain as ac
from alora_chain.errors import InvalidArgumentError, UnknownIntrinsicError
from alora_chain.rag import CHECKS, INPUT_CHECKS, RagGuard
from alora_chain.retrieval import Retriever, load_knowledge_base

DOCS = ["The Scout R2 battery lasts 14 hours.", "Pip the puffin is the mascot."]
QUESTION = "How long does the battery last?"
DRAFT = "It lasts 14 hours."


@pytest.fixture(scope="module")
def standins(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("standins")
    return {name: make_standin(model, root, name, seed=i) for i, name in enumerate(CHECKS)}


@pytest.fixture
def history(model):
    return ac.Session(model, system="You answer from documents.").user("Hi").assistant("Hello!")


def guard(model_or_session, standins, inputs: bool = False, **options) -> RagGuard:
    """A guard on the stand-ins; the input checks only with ``inputs`` (they are opt-in)."""
    chosen = {k: v for k, v in standins.items() if inputs or k not in INPUT_CHECKS}
    return RagGuard(model_or_session, intrinsics=chosen, **options)


def test_check_runs_every_check_on_forks_and_matches_direct_calls(model, standins, history):
    before = (history.transcript, history.token_ids)
    verdict = guard(model, standins).check(history, QUESTION, DOCS, draft=DRAFT)
    assert (history.transcript, history.token_ids) == before  # the caller's session is untouched
    gated = ["answerability"] if verdict.relevant_documents else []
    expected = ["context_relevance"] * len(DOCS) + gated + ["groundedness", "certainty"]
    assert [c.intrinsic for c in verdict.calls] == expected
    assert list(verdict.skipped) == [*INPUT_CHECKS] + ([] if gated else ["answerability"])  # inputs: opt-in
    # every call reused the conversation + question (+ draft) from the cache
    asked = history.fork().user(QUESTION)
    assert all(c.stats.reused_tokens >= len(asked) for c in verdict.calls)
    for document, p in zip(DOCS, verdict.relevance):
        direct = asked.invoke(standins["context_relevance"], document=document)
        assert p == pytest.approx(direct.score, abs=1e-4)
        assert (document in verdict.relevant_documents) == (p >= 0.5)
    if verdict.relevant_documents:
        direct = asked.invoke(standins["answerability"], documents=verdict.relevant_documents)
        assert verdict.p_answerable == pytest.approx(direct.score, abs=1e-4)
        assert verdict.answerable == (direct.score >= 0.5)
    answered = asked.fork().assistant(DRAFT)
    judged = verdict.relevant_documents or DOCS
    direct = answered.invoke(standins["groundedness"], documents=judged)
    assert verdict.draft == DRAFT
    assert verdict.p_grounded == pytest.approx(direct.score, abs=1e-4)
    assert verdict.certainty == pytest.approx(answered.invoke(standins["certainty"]).value, abs=1e-4)
    assert 0.0 <= verdict.certainty <= 1.0
    assert verdict.timings["total"] >= verdict.timings["context_relevance"] > 0


def test_relevance_threshold_zero_keeps_all_and_one_keeps_none(model, standins, history):
    kept = guard(model, standins, relevance_threshold=0.0).check(history, QUESTION, DOCS)
    assert kept.relevant_documents == DOCS
    assert kept.calls[-1].intrinsic == "answerability" and kept.answerable is not None
    assert kept.grounded is None and kept.certainty is None  # no draft, no judging

    none = guard(model, standins, relevance_threshold=1.0).check(history, QUESTION, DOCS)
    assert none.relevant_documents == []
    assert none.answerable is False and none.p_answerable == 0.0
    assert "answerability" in none.skipped
    assert [c.intrinsic for c in none.calls] == ["context_relevance"] * len(DOCS)


@pytest.mark.parametrize("threshold, expected", [(0.0, True), (1.0, False)])
def test_answerable_and_grounded_thresholds_decide(model, standins, history, threshold, expected):
    verdict = guard(
        model,
        standins,
        relevance_threshold=0.0,
        answerable_threshold=threshold,
        grounded_threshold=threshold,
    ).check(history, QUESTION, DOCS, draft=DRAFT)
    assert verdict.answerable is expected and verdict.grounded is expected
    assert 0.0 < verdict.p_answerable < 1.0 and 0.0 < verdict.p_grounded < 1.0


def test_conversation_as_messages_equals_session(model, standins, history):
    g = guard(history, standins, relevance_threshold=0.0)
    from_session = g.check(None, QUESTION, DOCS, draft=DRAFT)  # None: the guard's own session
    from_dicts = g.check([m.model_dump() for m in history.transcript], QUESTION, DOCS, draft=DRAFT)
    assert from_dicts.relevance == pytest.approx(from_session.relevance, abs=1e-4)
    assert from_dicts.p_answerable == pytest.approx(from_session.p_answerable, abs=1e-4)
    assert from_dicts.p_grounded == pytest.approx(from_session.p_grounded, abs=1e-4)


def test_wrap_refuses_without_generating_when_unanswerable(model, standins):
    calls = []
    ask = guard(model, standins, relevance_threshold=0.0, answerable_threshold=1.0).wrap(
        lambda q, docs: calls.append(docs) or "never"
    )
    answer = ask(QUESTION, DOCS)
    assert answer.refused and answer.text.startswith("I'm sorry") and answer.attempts == 0
    assert calls == []


def test_wrap_flags_or_regenerates_ungrounded_answers(model, standins):
    drafts = iter(["It lasts 14 hours.", "Fourteen hours.", "Pip is a puffin."])
    seen = []

    def generate(question, documents):
        seen.append(documents)
        return next(drafts)

    strict = guard(model, standins, relevance_threshold=0.0, answerable_threshold=0.0, grounded_threshold=1.0)
    flagged = strict.wrap(generate)(QUESTION, DOCS)
    assert flagged.flagged and not flagged.refused and flagged.attempts == 1
    assert flagged.text == "It lasts 14 hours." and seen == [DOCS]

    drafts = iter(["It lasts 14 hours.", "Fourteen hours.", "Pip is a puffin."])
    seen.clear()
    retried = strict.wrap(generate, on_ungrounded="regenerate", max_attempts=3)(QUESTION, DOCS)
    assert retried.attempts == 3 and len(seen) == 3 and retried.flagged
    asked = ac.Session(model).user(QUESTION)  # relevance_threshold=0: judged against all DOCS
    p = {
        text: asked.fork().assistant(text).invoke(standins["groundedness"], documents=DOCS).score
        for text in ["It lasts 14 hours.", "Fourteen hours.", "Pip is a puffin."]
    }
    assert retried.text == max(p, key=p.get)  # the most grounded attempt is kept

    lenient = guard(
        model, standins, relevance_threshold=0.0, answerable_threshold=0.0, grounded_threshold=0.0
    )
    drafts = iter(["It lasts 14 hours."])
    ok = lenient.wrap(generate, on_ungrounded="regenerate", max_attempts=3)(QUESTION, DOCS)
    assert not ok.flagged and ok.attempts == 1 and ok.verdict.grounded is True


def test_missing_intrinsics_are_skipped_or_raise(model, standins, history):
    overrides = {**standins, "jailbreak": None, "answerability": "no_such_intrinsic", "certainty": None}
    verdict = RagGuard(model, intrinsics=overrides, relevance_threshold=0.0, missing="skip").check(
        history, QUESTION, DOCS, draft=DRAFT
    )
    assert verdict.answerable is None and verdict.certainty is None
    assert "no built-in intrinsic" in verdict.skipped["answerability"]
    assert verdict.skipped["certainty"] == "turned off"
    assert verdict.grounded is not None
    with pytest.raises(UnknownIntrinsicError):
        RagGuard(model, intrinsics=overrides, relevance_threshold=0.0).check(history, QUESTION, DOCS)


def test_bad_input_raises(model, standins, history):
    with pytest.raises(InvalidArgumentError, match="relevance_threshold"):
        RagGuard(model, relevance_threshold=1.5)
    with pytest.raises(InvalidArgumentError, match="unknown checks"):
        RagGuard(model, intrinsics={"toxicity": "x"})
    with pytest.raises(InvalidArgumentError, match="Model or a Session"):
        RagGuard("model")
    g = guard(model, standins)
    with pytest.raises(InvalidArgumentError, match="last turn is the user"):
        g.screen(history, DOCS)  # history ends with the assistant
    with pytest.raises(InvalidArgumentError, match="list of strings"):
        g.check(history, QUESTION, "one document, not a list")


def test_retriever_finds_the_knowledge_base_documents():
    kb = load_knowledge_base()
    assert len(kb.documents) >= 20 and len({d.id for d in kb.documents}) == len(kb.documents)
    retriever = Retriever(kb.documents)
    hits = retriever.search("What is the battery life of the Scout R2?", k=3)
    assert hits[0].document.id == "product-scout-r2"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert "product-scout-r2-price" in [h.document.id for h in retriever.search("Scout R2 price")]
    assert retriever.search("the of and") == []
    with pytest.raises(InvalidArgumentError):
        retriever.search("Scout", k=0)


def test_input_checks_are_opt_in(model, standins, history):
    verdict = guard(model, standins).check(history, QUESTION, DOCS)
    assert verdict.jailbreak is None and verdict.injection == [None] * len(DOCS) and verdict.injected_documents == []
    assert "opt-in" in verdict.skipped["jailbreak"] and "opt-in" in verdict.skipped["prompt_injection"]
    assert not {c.intrinsic for c in verdict.calls} & set(INPUT_CHECKS)


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_injected_documents_are_dropped_before_relevance(model, standins, history, threshold):
    verdict = guard(
        model, standins, inputs=True, injection_threshold=threshold, jailbreak_threshold=1.0, relevance_threshold=0.0
    ).check(history, QUESTION, DOCS)
    asked = history.fork().user(QUESTION)
    for document, p in zip(DOCS, verdict.injection):
        assert p == pytest.approx(asked.invoke(standins["prompt_injection"], document=document).score, abs=1e-4)
    dropped = [d for d, p in zip(DOCS, verdict.injection) if p >= threshold]
    assert verdict.injected_documents == dropped
    assert verdict.relevant_documents == [d for d in DOCS if d not in dropped]  # relevance 0: the rest kept
    checked = ["context_relevance"] * (len(DOCS) - len(dropped))
    gated = ["answerability"] if verdict.relevant_documents else []
    expected = ["jailbreak"] + ["prompt_injection"] * len(DOCS) + checked + gated
    assert [c.intrinsic for c in verdict.calls] == expected
    assert gated or verdict.answerable is False  # every document dropped: unanswerable, nothing asked


def test_a_jailbreak_turn_is_refused_or_flagged(model, standins, history):
    calls = []

    def generate(question, documents):
        calls.append(question)
        return "It lasts 14 hours."

    refusing = guard(model, standins, inputs=True, jailbreak_threshold=0.0, relevance_threshold=0.0)
    refused = refusing.wrap(generate)(QUESTION, DOCS, history)
    assert refused.refused and refused.refused_for == "jailbreak" and calls == []
    assert refused.text == refusing.jailbreak_refusal
    assert refused.verdict.jailbreak is True and [c.intrinsic for c in refused.verdict.calls] == ["jailbreak"]
    direct = history.fork().user(QUESTION).invoke(standins["jailbreak"]).score
    assert refused.verdict.p_jailbreak == pytest.approx(direct, abs=1e-4)

    flagging = guard(
        model, standins, inputs=True, jailbreak_threshold=0.0, injection_threshold=1.0,
        relevance_threshold=0.0, answerable_threshold=0.0, on_jailbreak="flag",
    )  # fmt: skip
    answered = flagging.wrap(generate)(QUESTION, DOCS, history)
    assert not answered.refused and answered.verdict.jailbreak is True and calls == [QUESTION]

    passing = guard(model, standins, inputs=True, jailbreak_threshold=1.0, relevance_threshold=0.0)
    assert passing.check(history, QUESTION, DOCS).jailbreak is False
    with pytest.raises(InvalidArgumentError, match="on_jailbreak"):
        RagGuard(model, on_jailbreak="ignore")
    with pytest.raises(InvalidArgumentError, match="injection_threshold"):
        RagGuard(model, injection_threshold=2.0)
