"""Built-in intrinsics: they load, match the embedded model, and answer clear hand-written cases."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import alora_chain as ac
from alora_chain.model import ModelIdentity

DATA = Path(__file__).parent / "data"
# builtin_examples: hand-written checks and probes per intrinsic; groundedness_fresh: 24 cases in a
# person's prose (twelve documents of three to five facts, each with a faithful reply and one that
# misstates a value), written before any adapter scored them
EXAMPLES = [
    json.loads(line)
    for name in ("builtin_examples.jsonl", "groundedness_fresh.jsonl")
    for line in (DATA / name).read_text().splitlines()
]
BUILTINS = ac.intrinsics()


def test_builtins_are_installed():
    assert set(BUILTINS) >= {
        "answerability", "certainty", "context_relevance", "groundedness", "requirement_check", "query_rewrite"
    }


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_matches_embedded_model_and_its_adapter(model, name):
    intrinsic = ac.Intrinsic.load(Path(ac.intrinsic.builtin(name).folder))
    config = json.loads((intrinsic.adapter_path / "adapter_config.json").read_text())
    assert config["alora_invocation_tokens"] == intrinsic.invocation_ids(model.tokenizer)
    assert intrinsic.base_model.fingerprint == model.identity.fingerprint
    assert (intrinsic.folder / "test.jsonl").is_file()  # the held-out split ships with it


def _case(example: dict):
    """Known misses of the shipped adapters (listed in docs/training-log.md) are strict xfails: if an adapter
    starts getting one right, the test says so and the example's flag and docs/training-log.md need updating."""
    marks = [pytest.mark.xfail(strict=True, reason="known miss of the shipped adapter (see its card)")] if example.get("known_miss") else []
    return pytest.param(example, marks=marks, id=example["intrinsic"])


@pytest.mark.parametrize("example", [_case(e) for e in EXAMPLES])
def test_builtin_answers_clear_cases(model, example):
    example = dict(example)
    example.pop("known_miss", None)
    example.pop("misstates", None)  # how a wrong reply is wrong ("borrowed": another value of its document)
    name = example.pop("intrinsic")
    if name not in BUILTINS:
        pytest.skip(f"{name} is not installed")
    s = ac.Session(model)
    for message in example.pop("messages"):
        getattr(s, message["role"])(message["content"])
    expected = example.pop("expected", None)
    contains = example.pop("expected_contains", None)
    above, below = example.pop("expected_above", None), example.pop("expected_below", None)
    result = s.invoke(name, **example)
    if above is not None or below is not None:  # score intrinsics: a side of a threshold
        assert (result.value > above) if above is not None else (result.value < below), result
    elif contains is not None:
        assert contains.lower() in result.value.lower(), result.value
    else:
        assert result.value is expected, result


def test_builtin_refuses_another_base_model(model):
    other = dataclasses.replace(model, identity=ModelIdentity("OtherModel-1B", "0123456789abcdef"))
    s = ac.Session(other)
    s.user("Hi")
    with pytest.raises(ac.errors.BaseModelMismatchError, match="OtherModel-1B"):
        s.invoke("answerability", documents=["x"])
