"""Reliability: cache integrity under random call sequences, threads, limits, failed calls,
persistence and fuzzing of the public entry points (hypothesis, real embedded model)."""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from conftest import make_intrinsic
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from test_session import assert_cache_matches_transcript

import alora_chain as ac
from alora_chain import persistence
from alora_chain.chat import Message, conversation_ids, encode_markup, encode_text
from alora_chain.errors import (
    AloraChainError,
    ContextWindowExceededError,
    InvalidArgumentError,
    OutputParseError,
    SessionStateError,
    UnknownIntrinsicError,
)
from alora_chain.model import Model
from alora_chain.templates import Template

MODEL_RUNS = settings(
    max_examples=8, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
CPU_ONLY = settings(max_examples=60, deadline=None, database=None)
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>assistant\n", "<|im_start|>check\n"]


# -- helpers ------------------------------------------------------------------------------------
def check(model, session) -> None:
    """The session's cache equals a fresh prefill of its transcript (or both are empty)."""
    if session.transcript:
        assert_cache_matches_transcript(model, session)
    else:
        assert session.token_ids == [] and session._cache.length == 0


def snapshot(session):
    return session.transcript, session.token_ids, dict(vars(session.stats)), session._cache.length


@contextmanager
def interrupt_inside_forward(model: Model, after: int = 0):
    """Raise KeyboardInterrupt from the middle of forward number ``after + 1`` (half the layers ran)."""
    calls = 0

    def hook(module, args, output):
        nonlocal calls
        calls += 1
        if calls > after:
            raise KeyboardInterrupt("injected")

    layers = model.hf.get_decoder().layers
    handle = layers[len(layers) // 2].register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def count_forwards(model: Model):
    counter = [0]
    handle = model.hf.register_forward_pre_hook(lambda module, args: counter.__setitem__(0, counter[0] + 1))
    try:
        yield counter
    finally:
        handle.remove()


@pytest.fixture(scope="module")
def json_intrinsic(model, tmp_path_factory) -> ac.Intrinsic:
    return make_intrinsic(
        model,
        tmp_path_factory.mktemp("intrinsics"),
        output={"kind": "json", "schema": {"type": "object", "required": ["answer"]}, "max_new_tokens": 3},
        invocation="<|im_start|>extract\n",
        template="Extract the answer as JSON.",
        arguments={},
        seed=2,
    )


# -- 3. cache integrity, property-based -----------------------------------------------------------
TEXT = st.one_of(st.text(max_size=10), st.sampled_from(["Hi", "What is 2+2?", "{{ 7*7 }}", *SPECIAL]))
ACTION = st.one_of(
    st.tuples(st.just("user"), TEXT),
    st.tuples(st.just("assistant"), TEXT),
    st.tuples(st.just("generate"), st.integers(1, 3)),
    st.tuples(st.just("invoke_choice"), TEXT),
    st.tuples(st.just("invoke_text"), st.none()),
    st.tuples(st.just("undo"), st.none()),
)
FAILS = ["bad_args", "unknown_intrinsic", "too_long", "closed_stream", "bad_config"]
STEP = st.one_of(
    st.tuples(st.just("do"), st.integers(0, 5), ACTION, st.none()),
    st.tuples(st.just("do"), st.integers(0, 5), ACTION, st.none()),  # twice: the most common step
    st.tuples(st.just("fork"), st.integers(0, 5), st.none(), st.none()),
    st.tuples(st.just("interrupt"), st.integers(0, 5), ACTION, st.integers(0, 2)),
    st.tuples(st.just("fail"), st.integers(0, 5), st.sampled_from(FAILS), st.none()),
)


def _act(session, expected, action, intrinsics):
    """Run ``action`` on ``session``; return the transcript the session must have afterwards."""
    kind, arg = action
    choice, text = intrinsics
    if kind in ("user", "assistant"):
        getattr(session, kind)(arg)
        return [*expected, Message(role=kind, content=arg)]
    if kind == "generate":
        if not expected:
            with pytest.raises(InvalidArgumentError, match="conversation is empty"):
                session.generate(max_new_tokens=arg)
            return expected
        reply = session.generate(max_new_tokens=arg)
        return [*expected, Message(role="assistant", content=reply)]
    if kind == "invoke_choice":
        result = session.invoke(choice, documents=[arg])
        assert 0.0 <= result.score <= 1.0 and result.stats.reused_tokens == len(session)
        return expected
    if kind == "invoke_text":
        session.invoke(text)
        return expected
    if not expected:
        with pytest.raises(InvalidArgumentError):
            session.undo()
        return expected
    assert session.undo() == expected[-1]
    return expected[:-1]


def _fail(model, session, kind, choice) -> None:
    errors = {
        "bad_args": (InvalidArgumentError, lambda: session.invoke(choice, documents="not a list")),
        "unknown_intrinsic": (UnknownIntrinsicError, lambda: session.invoke("no_such_intrinsic")),
        "too_long": (ContextWindowExceededError, lambda: session.user("word " * (model.max_context + 1))),
        "bad_config": (InvalidArgumentError, lambda: session.generate(max_new_tokens=0)),
    }
    if kind == "closed_stream":
        stream = session.stream(max_new_tokens=3)
        if not session.transcript:  # nothing to continue: refused on the first next(), typed
            with pytest.raises(InvalidArgumentError, match="conversation is empty"):
                next(stream)
            return
        next(stream, None)
        stream.close()
        return
    error, call = errors[kind]
    with pytest.raises(error):
        call()


@MODEL_RUNS
@given(prefix=st.lists(ACTION, min_size=1, max_size=2), steps=st.lists(STEP, min_size=3, max_size=6))
@example(  # found by CI: a stream opened on a session whose only (system) turn was undone
    prefix=[("undo", None)],
    steps=[("fail", 4, "closed_stream", None), ("fork", 2, None, None), ("do", 2, ("invoke_text", None), None)],
)
def test_random_call_sequences_keep_every_cache_equal_to_its_transcript(
    model, choice_intrinsic, text_intrinsic, prefix, steps
):
    """After every step each live session's cache equals a recompute of its transcript, so no
    fork's tokens (nor a failed call's) leak into a parent or sibling.

    Each example: a random start on one session, a fork, then random steps on random branches.
    Verified to catch a fork sharing its parent's cache, a missing rollback of failed calls,
    and a cache without copy-on-divergence.
    """
    root = ac.Session(model, system="Be brief.")
    expected = [root.transcript]
    for action in prefix:
        expected[0] = _act(root, expected[0], action, (choice_intrinsic, text_intrinsic))
    sessions = [root, root.fork()]
    expected.append(list(expected[0]))
    for step, slot, action, extra in steps:
        i = slot % len(sessions)
        s = sessions[i]
        before = snapshot(s)
        if step == "fork" and len(sessions) < 3:
            sessions.append(s.fork())
            expected.append(list(expected[i]))
        elif step == "do":
            expected[i] = _act(s, expected[i], action, (choice_intrinsic, text_intrinsic))
        elif step == "interrupt":
            try:
                with interrupt_inside_forward(model, after=extra):
                    after = _act(s, expected[i], action, (choice_intrinsic, text_intrinsic))
            except KeyboardInterrupt:
                assert snapshot(s) == before  # the failed call left the session exactly as before
            else:
                expected[i] = after
        elif step == "fail":
            _fail(model, s, action, choice_intrinsic)
            assert snapshot(s) == before
        for session, transcript in zip(sessions, expected):
            assert session.transcript == transcript
            check(model, session)


# -- 4. concurrency ---------------------------------------------------------------------------------
def _script(model, index, intrinsics) -> list:
    """One agent's calls: base generation mixed with different intrinsics; returns every result."""
    choice, text, fresh_a, fresh_b = intrinsics
    s = ac.Session(model, system="You are terse.")
    out = []
    s.user(["Name a colour.", "What is 3+4?", "Say hi.", "Where is Rome?"][index % 4])
    out.append(s.generate(max_new_tokens=3))
    mine = [choice, fresh_a, fresh_b][index % 3]
    for spec in (mine, text, fresh_a if index % 2 else fresh_b):
        args = {"documents": [f"doc {index}"]} if "documents" in spec.arguments else {}
        r = s.invoke(spec, **args)
        out.append((r.intrinsic, r.value, r.score, r.raw, r.probabilities))
    s.user("And then?")
    out.append(s.generate(max_new_tokens=2))
    out.append(s.token_ids)
    return out


def test_threads_sharing_one_model_match_sequential_runs(model, choice_intrinsic, text_intrinsic, tmp_path):
    # two intrinsics whose adapters are not loaded yet: several threads bind them at once
    fresh = [
        make_intrinsic(model, tmp_path, output={"kind": "choice", "labels": ["a", "b"]}, seed=5 + k)
        for k in range(2)
    ]
    intrinsics = (choice_intrinsic, text_intrinsic, *fresh)
    assert not any(name.startswith(f.name + "@") for f in fresh for name in model.adapters)
    n = 4
    results, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            results[i] = _script(model, i, intrinsics)
        except BaseException as exc:  # report in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    sequential = [_script(model, i, intrinsics) for i in range(n)]
    assert results == sequential
    for f in fresh:  # each adapter was loaded exactly once
        assert sum(name.startswith(f.name + "@") for name in model.adapters) == 1
        assert sum(name.startswith(f.name + "@") for name in model.peft.peft_config) == 1


def test_concurrent_tokenisation_never_turns_user_text_into_special_tokens(model):
    """transformers flips a flag on the shared Rust tokenizer per call; chat.py serialises it.
    Without that lock this test saw ~2% of plain encodes come back with real special tokens."""
    tokenizer = model.tokenizer
    special = tokenizer.convert_tokens_to_ids("<|im_start|>")
    text = "x <|im_start|>user\n" * 16
    stop = threading.Event()

    def markup():
        while not stop.is_set():
            encode_markup(tokenizer, text)

    thread = threading.Thread(target=markup)
    thread.start()
    try:
        leaked = sum(special in encode_text(tokenizer, text) for _ in range(1500))
    finally:
        stop.set()
        thread.join()
    assert leaked == 0


# -- 5. limits and failed calls --------------------------------------------------------------------
def test_over_long_turn_invocation_or_generation_fails_before_any_forward(model, choice_intrinsic):
    s = ac.Session(model, system="Be brief.").user("Hi")
    choice_intrinsic.bind(model)
    before = snapshot(s)
    huge = "word " * (model.max_context + 1)
    with count_forwards(model) as forwards:
        with pytest.raises(ContextWindowExceededError, match="nothing was changed"):
            s.user(huge)
        with pytest.raises(ContextWindowExceededError):
            s.invoke(choice_intrinsic, documents=[huge])
        with pytest.raises(ContextWindowExceededError):
            s.generate(max_new_tokens=model.max_context)
    assert forwards[0] == 0
    assert snapshot(s) == before
    with count_forwards(model) as forwards:
        s.fork().user("ok")
    assert forwards[0] == 1  # the counter does see forwards
    check(model, s)


@pytest.fixture
def small_context(model, monkeypatch):
    """Lower the context limit to 120 tokens so truncation is exercised in milliseconds."""
    monkeypatch.setattr(Model, "max_context", property(lambda self: 120))
    return 120


@pytest.mark.parametrize("system", ["Be brief.", None])
def test_drop_oldest_truncation_keeps_system_and_newest_turns(model, small_context, system):
    s = ac.Session(model, system=system, truncation="drop_oldest")
    turns = [Message(role="user" if i % 2 == 0 else "assistant", content=f"turn {i} " * 6) for i in range(8)]
    for turn in turns:
        getattr(s, turn.role)(turn.content)
        assert len(s) <= small_context
    check(model, s)
    kept = [m for m in s.transcript if m.role != "system"]
    assert kept == turns[-len(kept) :] and len(kept) < len(turns)
    if system:
        assert s.transcript[0] == Message(role="system", content=system)
    reply = s.generate(max_new_tokens=8)  # generation makes room the same way
    assert s.transcript[-1] == Message(role="assistant", content=reply) and len(s) <= small_context
    check(model, s)
    before = snapshot(s)
    with pytest.raises(ContextWindowExceededError):  # cannot fit even after dropping everything
        s.user("word " * 200)
    assert snapshot(s) == before  # the turns dropped while trying were restored
    check(model, s)


def test_default_truncation_is_an_error_and_bad_policy_is_refused(model, small_context):
    s = ac.Session(model, system="Be brief.")
    s.user("turn " * 60)
    before = snapshot(s)
    with pytest.raises(ContextWindowExceededError):
        s.user("turn " * 60)
    assert snapshot(s) == before
    with pytest.raises(InvalidArgumentError):
        ac.Session(model, truncation="drop_newest")


@pytest.mark.parametrize("where", ["user", "generate_prefill", "generate_step", "invoke", "invoke_text"])
def test_keyboard_interrupt_inside_forward_leaves_session_unchanged(
    model, choice_intrinsic, text_intrinsic, where
):
    s = ac.Session(model, system="Be brief.").user("Hi!").assistant("Hello.").user("Who are you?")
    child = s.fork()
    child.user("A sibling branch.")  # the parent's storage is shared with a live fork
    before, child_before = snapshot(s), snapshot(child)
    calls = {
        "user": (0, lambda: s.user("One more question?")),
        "generate_prefill": (0, lambda: s.generate(max_new_tokens=4)),
        "generate_step": (2, lambda: s.generate(max_new_tokens=6)),
        "invoke": (0, lambda: s.invoke(choice_intrinsic, documents=["d"])),
        "invoke_text": (3, lambda: s.invoke(text_intrinsic)),
    }
    after, call = calls[where]
    with pytest.raises(KeyboardInterrupt), interrupt_inside_forward(model, after=after):
        call()
    assert snapshot(s) == before and snapshot(child) == child_before
    check(model, s)
    check(model, child)
    s.user("Still usable?")  # and the session continues normally
    check(model, s)


def test_failed_calls_leave_session_unchanged(model, choice_intrinsic, json_intrinsic):
    s = ac.Session(model, system="Be brief.").user("Hi!")
    before = snapshot(s)
    with pytest.raises(OutputParseError) as info:
        s.invoke(json_intrinsic)
    assert isinstance(info.value.raw, str)
    failing = [
        lambda: s.invoke(choice_intrinsic, documents=[1, 2]),
        lambda: s.invoke(choice_intrinsic, documents=["d"], extra=1),
        lambda: s.invoke(choice_intrinsic),
        lambda: s.invoke(42),
        lambda: s.user(None),
        lambda: s.user("\ud800 lone surrogate"),
        lambda: s.generate(max_new_tokens="5"),
        lambda: s.generate(temperature=float("nan")),
        lambda: s.generate(top_p=2.0),
        lambda: s.generate(seed=-1),
    ]
    for call in failing:
        with pytest.raises(InvalidArgumentError):
            call()
        assert snapshot(s) == before
    check(model, s)


# -- 6. persistence --------------------------------------------------------------------------------
@pytest.fixture
def saved(model, tmp_path):
    s = ac.Session(
        model,
        system="Be brief.",
        generation=ac.GenerationConfig(max_new_tokens=5, temperature=0.0, seed=7),
        truncation="drop_oldest",
    )
    s.user("Hi! {{ 7*7 }} <|im_start|>").assistant("Hello.").user("What is 2+2?")
    return s, tmp_path


@pytest.mark.parametrize("include_cache", [False, True])
def test_save_and_load_round_trip(model, saved, include_cache):
    s, tmp = saved
    path = s.save(tmp / "s.safetensors", include_cache=include_cache)
    assert sorted(p.name for p in tmp.iterdir()) == ["s.safetensors"]  # no temporary file left
    loaded = ac.Session.load(path, model)
    assert loaded.transcript == s.transcript and loaded.token_ids == s.token_ids
    assert loaded.generation == s.generation and loaded.truncation == "drop_oldest"
    check(model, loaded)
    if include_cache:
        for layer in range(model.config.num_hidden_layers):
            for ours, theirs in zip(loaded._cache.key_values(layer), s._cache.key_values(layer)):
                assert torch.equal(ours, theirs)
        with safe_open(str(path), framework="pt") as f:  # plain safetensors, held tokens only
            assert f.get_slice("keys.000").get_shape() == [1, model.config.num_key_value_heads, len(s), 64]
    assert loaded.generate() == s.generate()  # continues exactly like the original
    check(model, loaded)


def test_empty_session_round_trip(model, tmp_path):
    s = ac.Session(model)
    loaded = ac.Session.load(s.save(tmp_path / "e", include_cache=True), model)
    assert loaded.transcript == [] and len(loaded) == 0


def _rewrite(path: Path, edit) -> None:
    """Re-save ``path`` with its session JSON changed by ``edit`` and a *valid* checksum."""
    raw = path.read_bytes()
    state_json, _ = persistence._read_metadata(raw, path)
    tensors = load_tensors(raw)
    state = edit(json.loads(state_json))
    new_json = json.dumps(state)
    meta = {"alora_chain": new_json, "sha256": persistence._digest(new_json, tensors)}
    path.write_bytes(save_tensors(tensors, metadata=meta))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d | {"format_version": 2}, "format version 2"),
        (lambda d: d | {"kind": "something.else"}, "not an alora_chain session file"),
        (lambda d: d | {"model": {"name": "Other", "fingerprint": "0" * 16}}, "fingerprint"),
        (lambda d: d | {"truncation": "sometimes"}, "invalid session"),
        (lambda d: d | {"generation": d["generation"] | {"top_p": 7.0}}, "invalid session"),
        (lambda d: d | {"token_ids": d["token_ids"][:-1]}, "does not match the saved token ids"),
        (lambda d: d | {"messages": [*d["messages"], {"role": "root", "content": "x"}]}, "invalid session"),
    ],
)
def test_version_model_and_field_mismatches_are_refused(model, saved, edit, message):
    s, tmp = saved
    path = s.save(tmp / "s.safetensors", include_cache=True)
    _rewrite(path, edit)
    with pytest.raises(SessionStateError, match=message):
        ac.Session.load(path, model)


def test_without_cache_another_model_fingerprint_is_fine(model, saved):
    s, tmp = saved
    path = s.save(tmp / "s.safetensors")
    _rewrite(path, lambda d: d | {"model": {"name": "Other", "fingerprint": "0" * 16}})
    check(model, ac.Session.load(path, model))  # recomputed from the transcript


def test_truncated_and_tampered_files_are_refused(model, saved):
    s, tmp = saved
    path = s.save(tmp / "s.safetensors", include_cache=True)
    raw = path.read_bytes()
    bad = tmp / "bad.safetensors"
    for cut in [0, 3, 8, 20, len(raw) // 3, len(raw) // 2, len(raw) - 1]:
        bad.write_bytes(raw[:cut])
        with pytest.raises(SessionStateError, match=r"truncated|not an alora_chain"):
            ac.Session.load(bad, model)
    header = 8 + int.from_bytes(raw[:8], "little")
    tampered = bytearray(raw)
    tampered[header + 1000] ^= 0x01  # one bit of one cached key
    bad.write_bytes(bytes(tampered))
    with pytest.raises(SessionStateError, match="checksum"):
        ac.Session.load(bad, model)
    bad.write_bytes(raw.replace(b"What is 2+2?", b"What is 2+3?"))  # the transcript in the header
    with pytest.raises(SessionStateError, match="checksum"):
        ac.Session.load(bad, model)
    bad.write_bytes(save_tensors({"x": torch.zeros(2)}))  # some other safetensors file
    with pytest.raises(SessionStateError, match="not an alora_chain session file"):
        ac.Session.load(bad, model)
    with pytest.raises(SessionStateError, match="cannot read"):
        ac.Session.load(tmp / "missing.safetensors", model)


def test_interrupted_save_keeps_the_previous_file(model, saved, monkeypatch):
    s, tmp = saved
    path = s.save(tmp / "s.safetensors")
    original = path.read_bytes()
    s.user("A new turn that must not half-appear.")

    def crash(fd):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(persistence.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        s.save(path, include_cache=True)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp.iterdir()) == ["s.safetensors"]
    assert ac.Session.load(path, model).transcript == s.transcript[:-1]


# -- 7. fuzzing ------------------------------------------------------------------------------------
PIECES = [
    *SPECIAL,
    "\x00",
    "\r\n",
    "\x1b[31m",
    "\u202e",
    "\ufeff",
    "\ue000",
    "\ue0000\ue001",  # the sentinel chat.py uses internally
    "\ud800",  # lone surrogate: not valid Unicode
    "{{ 7*7 }}",
    "{% raw %}",
    "🙂",
    "e\u0301",
    "",
    " ",
    "word " * 400,
]
ADVERSARIAL = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=6).map("".join),
    st.text(max_size=30),
    st.text(st.characters(max_codepoint=0x1F), max_size=20),
)


def _im_start_count(model, ids) -> int:
    return ids.count(model.tokenizer.convert_tokens_to_ids("<|im_start|>"))


@MODEL_RUNS
@given(texts=st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), ADVERSARIAL), max_size=3))
def test_fuzz_turns_keep_chat_structure(model, texts):
    s = ac.Session(model)
    for role, text in texts:
        before = snapshot(s)
        try:
            getattr(s, role)(text)
        except AloraChainError:
            assert snapshot(s) == before
    # user text never adds turn markers: one <|im_start|> per turn, plus the template's default system
    messages = s.transcript
    assert s.token_ids == conversation_ids(model.tokenizer, messages)
    default_system = bool(messages) and messages[0].role != "system"
    assert _im_start_count(model, s.token_ids) == len(messages) + default_system


@MODEL_RUNS
@given(documents=st.lists(ADVERSARIAL, min_size=1, max_size=2))
def test_fuzz_invoke_documents(model, choice_intrinsic, documents):
    s = ac.Session(model, system="Be brief.").user("Is it answerable?")
    before = snapshot(s)
    try:
        result = s.invoke(choice_intrinsic, documents=documents)
    except AloraChainError:
        pass
    else:
        assert math.isclose(sum(result.probabilities.values()), 1.0, rel_tol=1e-5)
        assert 0.0 <= result.score <= 1.0
    assert snapshot(s)[:2] == before[:2] and s._cache.length == before[3]


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)


@CPU_ONLY
@given(
    arguments=st.dictionaries(st.sampled_from(["documents", "requirement", "x", ""]), ANY_VALUE, max_size=2)
)
def test_fuzz_invoke_arguments(model, choice_intrinsic, arguments):
    s = ac.Session(model)
    try:
        s.invoke(choice_intrinsic, **arguments)
    except InvalidArgumentError:
        pass
    else:
        assert isinstance(arguments.get("documents"), list)


@CPU_ONLY
@given(
    changes=st.fixed_dictionaries(
        {}, optional={k: ANY_VALUE for k in ("max_new_tokens", "temperature", "top_p", "seed")}
    )
)
def test_fuzz_generation_settings(model, changes):
    try:
        ac.GenerationConfig().updated(**changes)
    except InvalidArgumentError:
        with pytest.raises(InvalidArgumentError):  # generate refuses them before any work
            ac.Session(model).generate(**changes)


TEMPLATE_PIECES = [
    *"{{ }} {% %} {# #} ' \" | . ( ) [ ] * ** 9 - \n".split(" "),
    *["join", "__class__", "range", "cycler", "loop.index", "documents", "raw", "endraw"],
    *[" x ", " for ", " in ", " endfor ", " if ", " endif ", " include ", " import "],
]


@CPU_ONLY
@given(source=st.lists(st.sampled_from(TEMPLATE_PIECES), max_size=12).map("".join), value=ADVERSARIAL)
def test_fuzz_templates(source, value):
    try:
        out = Template.from_string(source).render(x=value, documents=[value])
    except AloraChainError:
        return
    assert isinstance(out, str)


SPEC_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
SPEC_KEYS = st.sampled_from(
    "name base_model template invocation output arguments adapter adapter_kind kind labels schema".split()
)
BASE_SPEC = {
    "name": "fz",
    "base_model": {"name": "m", "fingerprint": "f"},
    "template": "p.jinja",
    "invocation": "<|im_start|>fz\n",
    "output": {"kind": "choice", "labels": ["a", "b"]},
}


@CPU_ONLY
@given(
    changes=st.dictionaries(SPEC_KEYS, SPEC_VALUES, max_size=3),
    raw=st.one_of(st.none(), st.binary(max_size=200), st.text(max_size=200)),
)
def test_fuzz_intrinsic_specs(changes, raw):
    import yaml

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "p.jinja").write_text("{{ documents }}")
        target = folder / "intrinsic.yaml"
        if raw is None:
            target.write_text(yaml.safe_dump(BASE_SPEC | changes))
        elif isinstance(raw, bytes):
            target.write_bytes(raw)
        else:
            target.write_text(raw, errors="surrogatepass")
        try:
            ac.Intrinsic.load(folder)
        except AloraChainError:
            pass


@MODEL_RUNS
@given(data=st.data())
def test_fuzz_session_files(model, data):
    s = ac.Session(model, system="S").user("Hi")
    with tempfile.TemporaryDirectory() as folder:
        path = s.save(Path(folder) / "s", include_cache=data.draw(st.booleans()))
        raw = bytearray(path.read_bytes())
        flips = data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=3))
        for position in flips:
            raw[position] ^= data.draw(st.integers(1, 255))
        cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw))))
        path.write_bytes(bytes(raw[:cut]))
        try:
            loaded = ac.Session.load(path, model)
        except SessionStateError:
            return
        # only a harmless change (e.g. JSON whitespace in the header padding) may load
        assert loaded.transcript == s.transcript and loaded.token_ids == s.token_ids
        check(model, loaded)


def test_saving_to_a_missing_folder_is_an_os_error(model, tmp_path):
    with pytest.raises(OSError):
        ac.Session(model).save(tmp_path / "no" / "such" / "dir" / "s")
    assert not (tmp_path / "no").exists()
    assert os.listdir(tmp_path) == []
