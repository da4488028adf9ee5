"""Documents in the conversation: the turn carries them, intrinsics read them from the cache."""

from __future__ import annotations

import pytest
from conftest import make_intrinsic

import alora_chain as ac
from alora_chain.chat import Message, conversation_ids, documents_block
from alora_chain.errors import InvalidArgumentError
from alora_chain.invocation import invocation_tokens, with_documents

DOCS = ["The Scout R2 costs 650 euros.", "Its battery lasts 14 hours."]
OTHER = ["The Scout R2 weighs 2 kg."]
CHOICE = {"kind": "choice", "labels": ["grounded", "ungrounded"], "positive": "grounded"}


@pytest.fixture(scope="module")
def reader(model, tmp_path_factory) -> ac.Intrinsic:
    """A random one-pass intrinsic that reads the conversation's documents (a short instruction only)."""
    spec = make_intrinsic(model, tmp_path_factory.mktemp("reader"), output=CHOICE, template="Grounded?")
    return spec.model_copy(update={"documents_from": "conversation"})


def rag_session(model, documents=DOCS) -> ac.Session:
    s = ac.Session(model, system="Answer from the documents.")
    s.user("How long does the Scout R2's battery last?", documents=documents)
    s.assistant("About 14 hours.")
    return s


def test_documents_block_numbers_each_document_on_one_line():
    assert documents_block(["A  b.", "C\nd."]) == "Documents:\n[1] A b.\n[2] C d.\n\n"
    assert Message(role="user", content="Q?", documents=("A.",)).text == "Documents:\n[1] A.\n\nQ?"


def test_a_turn_with_documents_is_prefilled_once_as_its_text(model):
    s = rag_session(model)
    assert s.documents == DOCS
    assert s.transcript[1].documents == tuple(DOCS)
    assert s.token_ids == conversation_ids(model.tokenizer, s.transcript)
    text = model.tokenizer.decode(s.token_ids)
    assert "[2] Its battery lasts 14 hours." in text and text.index("[1]") < text.index("How long")


def test_bad_documents_are_refused_and_change_nothing(model):
    s = ac.Session(model)
    for bad in ["one string", [1, 2]]:
        with pytest.raises(InvalidArgumentError, match="list of str"):
            s.user("Q?", documents=bad)
    assert s.transcript == [] and len(s) == 0


def test_the_reader_reads_the_cache_and_runs_only_its_suffix(model, reader):
    s = rag_session(model)
    before = (s.token_ids, s.transcript)
    result = s.invoke(reader)
    assert (s.token_ids, s.transcript) == before
    assert result.stats.reused_tokens == len(s)
    suffix = invocation_tokens(model.tokenizer, reader, s.transcript, {}, s.token_ids)
    labels = reader.label_sequences(model.tokenizer, model.end_of_turn_id)
    assert result.stats.new_tokens <= len(suffix.prompt) + len(suffix.invocation) + sum(map(len, labels))
    assert "Scout" not in model.tokenizer.decode(suffix.prompt + suffix.invocation)  # not read again


def test_documents_passed_to_the_call_read_as_a_conversation_holding_them(model, reader):
    """Other documents for one call equal a session that held them, and the session is unchanged."""
    s = rag_session(model)
    before = s.token_ids
    passed = s.invoke(reader, documents=OTHER)
    held = rag_session(model, documents=OTHER).invoke(reader)
    assert s.token_ids == before and s.documents == DOCS
    assert passed.probabilities == pytest.approx(held.probabilities, abs=1e-5)
    assert passed.stats.reused_tokens < len(s)  # only the tail after the documents' turn was recomputed
    plain = ac.Session(model, system="Answer from the documents.")
    plain.user("How long does the Scout R2's battery last?")
    plain.assistant("About 14 hours.")
    assert plain.invoke(reader, documents=OTHER).probabilities == pytest.approx(held.probabilities, abs=1e-5)


def test_a_reader_without_documents_anywhere_says_where_to_put_them(model, reader):
    s = ac.Session(model)
    s.user("Hello?")
    with pytest.raises(InvalidArgumentError, match=r"s.user\(question, documents=docs\)"):
        s.invoke(reader)
    with pytest.raises(InvalidArgumentError, match="documents"):
        s.invoke_many([(reader, {}), (reader, {})])  # the batched path checks it too


def test_training_and_invoke_build_the_same_tokens(model, reader):
    messages = rag_session(model, documents=[]).transcript
    tokens = invocation_tokens(model.tokenizer, reader, messages, {"documents": DOCS}, [])
    held = rag_session(model)
    assert tokens.history == held.token_ids
    assert with_documents(messages, DOCS) == held.transcript


def test_a_conversation_reader_needs_a_documents_argument_and_no_per_item(model, reader):
    data = reader.model_dump(by_alias=True)
    for update in [{"arguments": {"requirement": "str"}}, {"per_item": {"argument": "documents"}}]:
        with pytest.raises(ValueError, match="documents_from"):
            ac.Intrinsic.model_validate({**data, **update})


def test_saved_sessions_keep_their_documents(model, tmp_path):
    s = rag_session(model)
    loaded = ac.Session.load(s.save(tmp_path / "s.safetensors"), model)
    assert loaded.transcript == s.transcript and loaded.token_ids == s.token_ids


def test_a_template_that_renders_documents_gets_the_conversations_when_the_call_gives_none(model, tmp_path):
    """A built-in such as answerability renders its documents argument: left out, the conversation's are used."""
    renders = make_intrinsic(
        model, tmp_path, output=CHOICE, template="{{ documents | join(' ') }} Grounded?",
        arguments={"documents": "list[str]"},
    )  # fmt: skip
    s = rag_session(model)
    assert s.invoke(renders).probabilities == pytest.approx(s.invoke(renders, documents=DOCS).probabilities, abs=1e-5)
    [batched] = s.invoke_many([(renders, {})])
    assert batched.probabilities == pytest.approx(s.invoke(renders, documents=DOCS).probabilities, abs=1e-5)
    plain = ac.Session(model).user("Hello?")
    with pytest.raises(InvalidArgumentError, match=r"missing \['documents'\]"):
        plain.invoke(renders)  # no documents anywhere: the argument is still required
