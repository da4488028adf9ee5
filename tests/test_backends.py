"""Backends: the same Session invariants in process (torch) and on llama-server; finding the binary.

The llama-server half is marked ``server`` and skips, saying why, when no binary is found
(``alora-chain server build`` makes one). Run it alone with ``python -m pytest -m server -n 0``.
"""

from __future__ import annotations

import os
import stat
import threading

import pytest

import alora_chain as ac
from alora_chain.backends import binary
from alora_chain.errors import (
    BackendError,
    ContextWindowExceededError,
    InvalidArgumentError,
    LlamaServerNotFoundError,
    NotSupportedError,
)

QUESTION = "Where is the Eiffel tower?"
DOCUMENTS = ["The Eiffel Tower is a wrought-iron lattice tower in Paris, France."]


def _server_binary():
    try:
        return binary.find_llama_server()
    except LlamaServerNotFoundError:
        return None


needs_server = pytest.mark.skipif(
    _server_binary() is None,
    reason="no llama-server binary: run `alora-chain server build` (or set $ALORA_CHAIN_LLAMA_SERVER)",
)
BACKENDS = ["torch", pytest.param("llama-server", marks=[pytest.mark.server, needs_server])]


@pytest.fixture(scope="module")
def server_model():
    model = ac.load_model(backend="llama-server")
    yield model
    model.close()


@pytest.fixture(params=BACKENDS)
def any_model(request, model):
    """The embedded model on each backend (the torch one is conftest's shared ``model``)."""
    return model if request.param == "torch" else request.getfixturevalue("server_model")


def _state(s: ac.Session):
    return s.token_ids, s.transcript, len(s)


def _conversation(model) -> ac.Session:
    s = ac.Session(model, system="You are a helpful assistant.")
    s.user(QUESTION)
    s.assistant("It is in Paris, France.")
    return s


# -- finding the binary (no server needed) ----------------------------------------------------------
def test_the_binary_is_found_in_the_environment_variable_then_path_then_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALORA_CHAIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv(binary.BINARY_ENV, raising=False)
    with pytest.raises(LlamaServerNotFoundError, match="alora-chain server build"):
        binary.find_llama_server()

    def executable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path

    cached = executable(binary.built_binary())
    assert binary.find_llama_server() == cached
    on_path = executable(tmp_path / "bin" / "llama-server")
    assert binary.find_llama_server() == on_path
    configured = executable(tmp_path / "elsewhere" / "server")
    monkeypatch.setenv(binary.BINARY_ENV, str(configured))
    assert binary.find_llama_server() == configured
    monkeypatch.setenv(binary.BINARY_ENV, str(tmp_path / "missing"))
    with pytest.raises(LlamaServerNotFoundError, match="not an executable"):
        binary.find_llama_server()


def test_an_unknown_backend_is_refused():
    with pytest.raises(InvalidArgumentError, match="backend must be"):
        ac.load_model(backend="vllm")


def test_the_torch_model_is_its_own_backend(model):
    assert model.backend.name == "torch" and model.backend is model.backend
    model.close()  # nothing to release in process; the model still works
    assert ac.Session(model, system="x").token_ids


def test_the_server_backend_cuts_adapter_tokens_out_of_a_slot_before_a_base_request_reuses_them(monkeypatch):
    """Bookkeeping only (no server): which requests precede a base request after an aLoRA one."""
    from alora_chain.backends.llama_server import LlamaServerBackend

    backend = LlamaServerBackend("http://127.0.0.1:9", n_slots=1, adapter_ids={"a@0": 0})
    backend.invocations["a@0"] = (7, 8)
    sent = []
    monkeypatch.setattr(backend, "_post", lambda path, body: sent.append(body["prompt"]) or {})
    history = [1, 2, 3, 4, 5]
    call = history + [7, 8, 9]  # invocation (7, 8) + one token of the call
    backend._complete(0, call, backend._adapter("a@0", call, 3))
    assert backend.slots[0].adapter_from == len(history) - 1  # llama.cpp starts one token early
    backend._complete(0, history + [6], {})  # the next turn shares the whole history: cut first
    assert sent[-2:] == [history[:-1], history + [6]]
    backend._complete(0, call, backend._adapter("a@0", call, 3))
    backend._complete(0, [1, 2, 9], {})  # diverges before the adapter's tokens: nothing to cut
    assert sent[-1] == [1, 2, 9] and len(sent) == 5
    with pytest.raises(NotSupportedError, match="repeats its invocation"):
        backend._adapter("a@0", [*call, 7, 8, 1], 6)  # the server would start at the last (7, 8)
    with pytest.raises(NotSupportedError, match="no adapter"):
        backend._adapter("b@1", call, 3)


# -- the same invariants on both backends -----------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_invoke_leaves_the_session_unchanged_and_later_turns_equal_a_fresh_session(backend, request, model):
    model = model if backend == "torch" else request.getfixturevalue("server_model")
    s = _conversation(model)
    before = _state(s)
    r = s.invoke("answerability", documents=DOCUMENTS)
    assert isinstance(r.value, bool) and 0.0 <= r.score <= 1.0
    assert s.invoke("query_rewrite").raw is not None
    assert _state(s) == before
    # a base turn after intrinsic calls reads only base keys and values (on the server: the slot is
    # cut back where the adapter started), so it generates what a fresh session generates
    s.user("And how tall is it?")
    fresh = ac.Session(model, system="You are a helpful assistant.")
    for m in s.transcript[1:]:
        getattr(fresh, m.role)(m.content)
    assert s.generate(max_new_tokens=12) == fresh.generate(max_new_tokens=12)


def test_fork_branches_are_independent(any_model):
    parent = _conversation(any_model)
    child = parent.fork()
    child.user("Tell me a joke.")
    child_reply = child.generate(max_new_tokens=8)
    parent.user("How tall is it?")
    reply = parent.generate(max_new_tokens=8)
    alone = _conversation(any_model)
    alone.user("How tall is it?")
    assert reply == alone.generate(max_new_tokens=8)
    assert child.transcript[-1].content == child_reply and len(child.transcript) == len(parent.transcript)


def test_failed_calls_and_overflow_leave_the_session_unchanged(any_model):
    s = _conversation(any_model)
    before = _state(s)
    with pytest.raises(InvalidArgumentError):
        s.invoke("answerability")  # documents missing
    with pytest.raises(ContextWindowExceededError):
        s.user("word " * (any_model.max_context + 10))
    with pytest.raises(ContextWindowExceededError):
        s.invoke("answerability", documents=["word " * (any_model.max_context + 10)])
    assert _state(s) == before
    s.user("How tall is it?")
    assert s.generate(max_new_tokens=4)


def test_closing_a_stream_early_leaves_the_session_unchanged(any_model):
    s = _conversation(any_model)
    s.user("Count from one to twenty.")
    before = _state(s)
    stream = s.stream(max_new_tokens=32)
    next(stream)
    stream.close()
    assert _state(s) == before


# -- llama-server only ------------------------------------------------------------------------------
PARITY_ROWS = 10  # per intrinsic, from the shipped test splits


def _replay(model, row) -> ac.Session:
    s = ac.Session(model)
    for message in row.messages:
        getattr(s, message.role)(message.content)
    return s


@pytest.mark.server
@needs_server
def test_verdicts_and_greedy_tokens_agree_with_torch(model, server_model):
    """Quantised kernels (Q4_1 on the server, the same weights dequantised to fp32 in torch) differ
    slightly, and llama.cpp starts an aLoRA one token before its invocation; verdicts must agree."""
    from alora_chain.intrinsic import builtin, builtin_intrinsics_dir
    from alora_chain.training.data import load_rows

    agree = total = 0
    for name in ("answerability", "requirement_check", "groundedness", "context_relevance", "certainty"):
        spec = builtin(name)
        for row in load_rows(builtin_intrinsics_dir() / name / "test.jsonl", spec)[:PARITY_ROWS]:
            on_torch = _replay(model, row).invoke(spec, **row.arguments)
            on_server = _replay(server_model, row).invoke(spec, **row.arguments)
            agree += on_torch.value == on_server.value if name != "certainty" else (
                abs(on_torch.value - on_server.value) < 0.1
            )
            total += 1
    assert agree / total >= 0.95, f"{agree} of {total} verdicts agree"
    replies = [_conversation(m).user("How tall is it?").generate(max_new_tokens=6) for m in (model, server_model)]
    assert replies[0].split()[:2] == replies[1].split()[:2], replies


@pytest.mark.server
@needs_server
def test_a_server_killed_mid_call_raises_a_typed_error_and_the_next_call_restores_the_session(server_model):
    s = _conversation(server_model)
    expected = s.invoke("answerability", documents=DOCUMENTS).score
    s.user("Count from one to two hundred, one number per line.")
    before = _state(s)
    stream = s.stream(max_new_tokens=400)
    next(stream)
    server_model.process.process.kill()
    with pytest.raises(BackendError):
        list(stream)
    assert _state(s) == before
    # the next call starts the server again; every request carries the whole transcript: nothing lost
    s.undo()
    assert s.invoke("answerability", documents=DOCUMENTS).score == pytest.approx(expected, abs=1e-4)
    assert server_model.process.alive()


@pytest.mark.server
@needs_server
def test_connecting_by_url_gives_the_same_results(server_model):
    connected = ac.load_model(url=server_model.url)
    assert connected.process is None
    a = _conversation(connected).invoke("answerability", documents=DOCUMENTS)
    b = _conversation(server_model).invoke("answerability", documents=DOCUMENTS)
    assert a.value == b.value and a.score == pytest.approx(b.score, abs=1e-4)


@pytest.mark.server
@needs_server
def test_parallel_sessions_get_the_sequential_results(server_model):
    questions = [QUESTION, "What is the capital of Italy?", "Name a red fruit.", "Who wrote Hamlet?"]

    def run(question):
        s = ac.Session(server_model, system="You are terse.")
        s.user(question)
        return s.generate(max_new_tokens=8), round(s.invoke("certainty").value, 3)

    sequential = [run(q) for q in questions]
    results: dict[int, tuple] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, run(questions[i]))) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(4)] == sequential


@pytest.mark.server
@needs_server
def test_saving_keeps_the_transcript_and_refuses_the_server_cache(server_model, tmp_path):
    s = _conversation(server_model)
    with pytest.raises(NotSupportedError):
        s.save(tmp_path / "s.safetensors", include_cache=True)
    path = s.save(tmp_path / "s.safetensors")
    loaded = ac.Session.load(path, server_model)
    assert _state(loaded) == _state(s)


def test_the_server_marker_is_registered(pytestconfig):
    assert any(m.startswith("server:") for m in pytestconfig.getini("markers"))


if os.environ.get("ALORA_CHAIN_REQUIRE_SERVER") and _server_binary() is None:  # CI: a missing build is a failure
    raise RuntimeError("ALORA_CHAIN_REQUIRE_SERVER is set but no llama-server binary was found")
