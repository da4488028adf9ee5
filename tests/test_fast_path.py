"""Fast path: invoke_many equals separate invokes; grouped attention equals transformers' sdpa."""

from __future__ import annotations

import pytest
import torch

import alora_chain as ac
from alora_chain.attention import NAME
from alora_chain.bench.workload import tiny_intrinsic
from alora_chain.cache import SessionCache

DOCS = {"documents": ["The Ossel bridge was rebuilt in 1702 by Tobias Marr."]}
OTHER = {"documents": ["Brimwick has 48,000 inhabitants.", "Its club plays in red."]}
CHOICE = {"kind": "choice", "labels": ["answerable", "unanswerable"], "positive": "answerable"}


@pytest.fixture(scope="module")
def many(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("many")
    return [
        tiny_intrinsic(model, root, "many_a", output=CHOICE, scale=0.2),
        tiny_intrinsic(
            model,
            root,
            "many_b",
            output={"kind": "choice", "labels": ["yes", "no", "yes indeed"]},
            invocation="<|im_start|>judge\n",
            template="Is the last answer supported?",
            seed=1,
            scale=0.2,
        ),
        tiny_intrinsic(model, root, "many_t", output={"kind": "text", "max_new_tokens": 3}, seed=2),
    ]


def test_invoke_many_equals_separate_invokes(model, many):
    a, b, text = many
    s = ac.Session(model, system="You are a helpful assistant.")
    s.user("Who rebuilt the bridge?").assistant("Tobias Marr, in 1702.").user("How many live there?")
    before = s.token_ids
    calls = [(a, DOCS), (b, DOCS), (a, OTHER), (text, DOCS), (b, OTHER)]
    batched = s.invoke_many(calls)
    separate = [s.invoke(intrinsic, **arguments) for intrinsic, arguments in calls]
    assert s.token_ids == before and len(s._cache.lengths) == len(s._cache) and s._cache.length == len(before)
    for ours, theirs in zip(batched, separate):
        assert ours.intrinsic == theirs.intrinsic and ours.raw == theirs.raw and ours.value == theirs.value
        if theirs.probabilities is not None:
            for label, p in theirs.probabilities.items():
                assert ours.probabilities[label] == pytest.approx(p, abs=1e-4)
            assert ours.stats.new_tokens == theirs.stats.new_tokens
    # the choice calls really shared one forward, and the rows kept their own adapters
    assert len({batched[i].stats.seconds for i in (0, 1, 2, 4)}) == 1
    assert batched[0].probabilities != batched[2].probabilities


def test_invoke_many_runs_a_shared_prompt_once(model, many, tmp_path):
    """Two intrinsics with the same prompt turn: it is one base forward, and the batched
    forward holds only what differs (invocations and labels)."""
    a = many[0]
    b = tiny_intrinsic(
        model,
        tmp_path,
        "many_same_prompt",
        output=CHOICE,
        invocation="<|im_start|>other\n",
        seed=5,
        scale=0.2,
    )
    s = ac.Session(model)
    s.user("Who rebuilt the bridge?")
    separate = [s.invoke(x, **DOCS) for x in (a, b)]
    widths = []
    forward = model.forward
    model.forward = lambda ids, *args, **kwargs: (
        widths.append(tuple(ids.shape)) or forward(ids, *args, **kwargs)
    )
    try:
        batched = s.invoke_many([(a, DOCS), (b, DOCS)])
    finally:
        del model.forward
    prompt = separate[0].stats.new_tokens - separate[0].stats.adapter_tokens
    assert widths[0] == (1, prompt) and widths[1][0] == 2 and widths[1][1] < prompt
    for ours, theirs in zip(batched, separate):
        for label, p in theirs.probabilities.items():
            assert ours.probabilities[label] == pytest.approx(p, abs=1e-4)


def test_flat_rows_are_refused_unless_asked(model):
    cache = SessionCache.for_model(model.config)
    with pytest.raises(ValueError, match="flat_rows"):
        model.forward(torch.zeros((2, 3), dtype=torch.long), cache)


def test_grouped_attention_matches_sdpa(model):
    """The trie-mask forward is the same under our attention and transformers' sdpa."""
    ids = torch.randint(100, 5000, (1, 60), generator=torch.Generator().manual_seed(0))
    allowed = torch.ones((20, 60), dtype=torch.bool).tril(40)
    mask = torch.zeros(allowed.shape).masked_fill_(~allowed, torch.finfo(torch.float32).min)[None, None]
    outputs = []
    assert model.hf.config._attn_implementation == NAME
    try:
        for implementation in (NAME, "sdpa"):
            model.hf.set_attn_implementation(implementation)
            cache = SessionCache.for_model(model.config)
            model.forward(ids[:, :40], cache)
            outputs.append(model.forward(ids[:, 40:], cache, attention_mask=mask, logits_to_keep=20))
    finally:
        model.hf.set_attn_implementation(NAME)
    assert torch.allclose(outputs[0], outputs[1], atol=1e-4)
