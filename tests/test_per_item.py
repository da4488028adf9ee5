"""per_item intrinsics: one adapter call per list item, verdicts combined (any = max, all = min)."""

from __future__ import annotations

import math

import pytest
import yaml

import alora_chain as ac
from alora_chain.errors import IntrinsicSpecError, InvalidArgumentError

DOCS = [
    "The Ossel bridge was rebuilt in 1702 by Tobias Marr.",
    "Brimwick has 48,000 inhabitants.",
    "The Halvard Labs campus opened in 1999.",
]


def _per_item(spec: ac.Intrinsic, combine: str = "any") -> ac.Intrinsic:
    fields = spec.model_dump(by_alias=True) | {"per_item": {"argument": "documents", "combine": combine}}
    return ac.Intrinsic.model_validate(fields).with_folder(spec.folder)


def _session(model) -> ac.Session:
    return ac.Session(model, system="You are a helpful assistant.").user("Who rebuilt the bridge?")


@pytest.mark.parametrize("combine, pick", [("any", max), ("all", min)])
def test_each_item_equals_a_one_item_call_and_the_verdict_combines_them(model, choice_intrinsic, combine, pick):
    session = _session(model)
    before = list(session.token_ids)
    result = session.invoke(_per_item(choice_intrinsic, combine), documents=DOCS)
    # the items read one history in place: reused once, and the session counts one call
    assert result.stats.reused_tokens == len(before)
    assert (session.stats.invocations, session.stats.reused_tokens) == (1, len(before))
    singles = [session.invoke(choice_intrinsic, documents=[doc]).score for doc in DOCS]
    assert result.item_scores == pytest.approx(singles, abs=1e-3)  # one batched forward: float tolerance
    assert len(set(round(s, 3) for s in singles)) > 1  # the items really differ: order matters
    assert result.score == pytest.approx(pick(singles), abs=1e-3)
    assert result.value == (result.score >= 0.5)
    assert result.probabilities["answerable"] + result.probabilities["unanswerable"] == pytest.approx(1)
    assert session.token_ids == before


def test_no_items_is_decided_without_running_the_model(model, choice_intrinsic):
    session = _session(model)
    nothing = session.invoke(_per_item(choice_intrinsic, "any"), documents=[])
    assert (nothing.value, nothing.score, nothing.raw, nothing.item_scores) == (False, 0.0, "unanswerable", [])
    vacuous = session.invoke(_per_item(choice_intrinsic, "all"), documents=[])
    assert (vacuous.value, vacuous.score, vacuous.stats.new_tokens) == (True, 1.0, 0)


def test_invoke_many_runs_a_per_item_intrinsic_like_invoke(model, choice_intrinsic):
    session = _session(model)
    per_item = _per_item(choice_intrinsic)
    batched = session.invoke_many([(per_item, {"documents": DOCS}), (choice_intrinsic, {"documents": DOCS})])
    alone = [session.invoke(per_item, documents=DOCS), session.invoke(choice_intrinsic, documents=DOCS)]
    for got, want in zip(batched, alone):
        assert math.isclose(got.score, want.score, abs_tol=1e-3)
    assert batched[0].item_scores is not None and batched[1].item_scores is None


def test_bad_arguments_are_refused_before_any_item_runs(model, choice_intrinsic):
    session = _session(model)
    calls = session.stats.invocations
    with pytest.raises(InvalidArgumentError, match="must be list\\[str\\]"):
        session.invoke(_per_item(choice_intrinsic), documents="one string")
    assert session.stats.invocations == calls


@pytest.mark.parametrize(
    "change, message",
    [
        ({"per_item": {"argument": "document"}}, "must name a list\\[str\\] argument"),
        ({"per_item": {"argument": "documents", "combine": "most"}}, "combine"),
        (
            {"per_item": {"argument": "documents"}, "output": {"kind": "score"}},
            "two labels and a positive label",
        ),
        (
            {
                "per_item": {"argument": "documents"},
                "output": {"kind": "choice", "labels": ["a", "b", "c"], "positive": "a"},
            },
            "two labels and a positive label",
        ),
    ],
)
def test_a_per_item_spec_that_cannot_combine_is_refused_at_load(choice_intrinsic, tmp_path, change, message):
    spec = yaml.safe_load((choice_intrinsic.folder / "intrinsic.yaml").read_text()) | change
    (tmp_path / "intrinsic.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(IntrinsicSpecError, match=message):
        ac.Intrinsic.load(tmp_path)
