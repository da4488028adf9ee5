"""Per-sentence checks: each sentence judged alone on a fork, equal to a direct call, session untouched."""

from __future__ import annotations

import pytest

import alora_chain as ac
from alora_chain.errors import InvalidArgumentError
from alora_chain.rag import RagGuard
from alora_chain.sentences import check_sentences, split_sentences

DOCS = [
    "Marta Osei has been the chief executive of Pelling Dairy since 2019.",
    "Pelling is a village of 900 people.",
]
QUESTION = "Who runs Pelling Dairy, and how big is Pelling?"


def session(model, reply: str) -> ac.Session:
    return ac.Session(model, system="You answer from documents.").user(QUESTION).assistant(reply)


def test_split_sentences_keeps_abbreviations_and_decimals_and_gives_offsets():
    text = "Dr. Osei paid $3.50 at 5 p.m. on Monday.  Is it open? Yes!\nIt is."
    spans = split_sentences(text)
    assert [s for _, s in spans] == [
        "Dr. Osei paid $3.50 at 5 p.m. on Monday.",
        "Is it open?",
        "Yes!",
        "It is.",
    ]
    assert all(text[start : start + len(s)] == s for start, s in spans)
    assert split_sentences("  \n ") == []


def test_each_sentence_is_judged_alone_and_the_session_is_untouched(model):
    # the first sentence names the wrong CEO, the second is right: one call judges the reply as a
    # whole (groundedness v0.4 let it pass, P 0.99), check_sentences says which sentence fails
    s = session(model, "Pelling Dairy is run by Jonas Whitlock. Pelling is a village of 900 people.")
    before = (s.transcript, s.token_ids)
    whole = s.invoke("groundedness", documents=DOCS)
    sentences = check_sentences(s, "groundedness", documents=DOCS)
    assert (s.transcript, s.token_ids) == before
    assert [x.text for x in sentences] == [
        "Pelling Dairy is run by Jonas Whitlock.",
        "Pelling is a village of 900 people.",
    ]
    assert [x.start for x in sentences] == [0, 40]
    assert whole.value is False
    assert sentences[0].value is False and sentences[0].score < 0.1
    assert sentences[1].value is True and sentences[1].score > 0.9
    again = s.invoke("groundedness", documents=DOCS)  # the cache still holds the whole reply
    assert again.score == pytest.approx(whole.score, abs=1e-4)


def test_a_one_sentence_reply_equals_the_direct_call(model):
    s = session(model, "Pelling Dairy is run by Marta Osei.")
    (only,) = check_sentences(s, "groundedness", documents=DOCS)
    direct = s.invoke("groundedness", documents=DOCS)
    assert only.score == pytest.approx(direct.score, abs=1e-4) and only.value == direct.value


def test_check_sentences_needs_a_last_assistant_reply(model):
    with pytest.raises(InvalidArgumentError, match="must end with one"):
        check_sentences(ac.Session(model).user(QUESTION), documents=DOCS)
    with pytest.raises(InvalidArgumentError, match="no sentence to judge"):
        check_sentences(session(model, "   "), documents=DOCS)
    s = session(model, "Pelling Dairy is run by Marta Osei. It is small.")
    before = (s.transcript, s.token_ids)
    with pytest.raises(InvalidArgumentError):  # the intrinsic's own argument check, on the first sentence
        check_sentences(s, "groundedness", documents="not a list")
    assert (s.transcript, s.token_ids) == before


def test_rag_guard_per_sentence_names_the_unsupported_sentence(model):
    guard = RagGuard(model, intrinsics={"context_relevance": None, "certainty": None})
    draft = "Pelling Dairy is run by Jonas Whitlock. Pelling is a village of 900 people."
    whole = guard.check(None, QUESTION, DOCS, draft=draft)
    assert whole.sentences == [] and whole.grounded is False  # one call over the whole draft names no sentence
    judged = guard.judge(session(model, draft), DOCS, per_sentence=True)
    assert [c.intrinsic for c in judged.calls] == ["groundedness"] * 2  # a call per sentence, no other
    assert judged.unsupported_sentences == ["Pelling Dairy is run by Jonas Whitlock."]
    assert judged.grounded is False and judged.p_grounded == min(x.score for x in judged.sentences)
    assert "groundedness" in judged.timings


def test_per_sentence_does_not_fail_a_draft_that_takes_a_fact_from_each_of_two_documents(model):
    # groundedness reads one document per call (any supports -> grounded): neither document
    # alone supports both sentences, so the whole draft is judged ungrounded; each sentence is supported
    docs = [
        "The Scout R2 is Northwind's warehouse robot. It carries up to 60 kg, drives at 2 metres per "
        "second and its battery lasts 14 hours on one charge.",
        "The Scout R2 costs 18,500 euros, or 650 euros per month on a three-year lease.",
    ]
    draft = "The Scout R2's battery lasts 14 hours on one charge. It costs 18,500 euros."
    s = ac.Session(model).user("Tell me about the Scout R2's battery and price.").assistant(draft)
    guard = RagGuard(model, intrinsics={"context_relevance": None, "certainty": None})
    whole = guard.judge(s, docs)
    judged = guard.judge(s, docs, per_sentence=True)
    assert whole.grounded is False
    assert judged.grounded is True and judged.unsupported_sentences == []
