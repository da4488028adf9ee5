"""generate_with_requirements: verdicts match direct checks, thresholds force pass and repair, one commit."""

from __future__ import annotations

import pytest
from conftest import make_standin

import alora_chain as ac
from alora_chain.agent import feedback_message, generate_with_requirements
from alora_chain.errors import InvalidArgumentError

REQUIREMENTS = ["Mentions the colour.", "Is one sentence."]


@pytest.fixture(scope="module")
def checker(model, tmp_path_factory):
    return make_standin(model, tmp_path_factory.mktemp("standins"), "requirement_check", seed=3)


def asked(model) -> ac.Session:
    return ac.Session(model, system="You are terse.").user("Describe a puffin.")


def test_passing_attempt_is_committed_once_with_direct_verdicts(model, checker):
    session = asked(model)
    before = session.transcript
    result = generate_with_requirements(
        session, REQUIREMENTS, max_new_tokens=6, threshold=0.0, intrinsic=checker
    )
    assert result.satisfied and result.attempts_used == 1 and len(result.attempts) == 1
    assert session.transcript == [*before, ac.Message(role="assistant", content=result.text)]
    assert before[-1].content == "Describe a puffin."  # the instruction went to a fork only
    judged = asked(model).assistant(result.text)
    for verdict in result.verdicts:
        direct = judged.invoke(checker, requirement=verdict.requirement)
        assert verdict.score == pytest.approx(direct.score, abs=1e-4)
        assert verdict.reused_tokens == len(judged) and verdict.seconds > 0


def test_failing_requirements_use_the_whole_budget_and_keep_the_best(model, checker):
    session = asked(model)
    result = generate_with_requirements(
        session, REQUIREMENTS, max_attempts=2, max_new_tokens=6, threshold=1.0, intrinsic=checker
    )
    assert not result.satisfied and result.attempts_used == 2 and len(result.attempts) == 2
    assert all(not v.satisfied for a in result.attempts for v in a.verdicts)
    best = max(result.attempts, key=lambda a: a.mean_score)
    assert result.text == best.text and result.verdicts == best.verdicts
    assert [m.role for m in session.transcript] == ["system", "user", "assistant"]


def test_label_decides_without_threshold(model, checker):
    result = generate_with_requirements(
        asked(model), REQUIREMENTS, max_attempts=1, max_new_tokens=4, intrinsic=checker
    )
    assert result.attempts_used == 1
    for verdict in result.verdicts:  # two labels: the positive one wins iff P >= 0.5
        assert verdict.satisfied == (verdict.score >= 0.5)


def test_feedback_names_failed_and_all_requirements():
    text = feedback_message(["Be brief."], ["Be brief.", "Be kind."])
    assert "did not meet" in text and text.count("Be brief.") == 2 and "Be kind." in text


def test_bad_input_raises(model, checker, text_intrinsic):
    with pytest.raises(InvalidArgumentError, match="last user turn"):
        generate_with_requirements(ac.Session(model), REQUIREMENTS, intrinsic=checker)
    with pytest.raises(InvalidArgumentError, match="non-empty list"):
        generate_with_requirements(asked(model), [], intrinsic=checker)
    with pytest.raises(InvalidArgumentError, match="max_attempts"):
        generate_with_requirements(asked(model), REQUIREMENTS, max_attempts=0, intrinsic=checker)
    with pytest.raises(InvalidArgumentError, match="choice output"):
        generate_with_requirements(asked(model), REQUIREMENTS, intrinsic=text_intrinsic)


def test_a_jailbreak_turn_is_refused_before_generating(model, checker, tmp_path):
    jailbreak = make_standin(model, tmp_path, "jailbreak", seed=5)
    session = asked(model)
    p = session.invoke(jailbreak).score
    refused = generate_with_requirements(
        session, REQUIREMENTS, max_new_tokens=4, intrinsic=checker, jailbreak=jailbreak, jailbreak_threshold=0.0
    )
    assert refused.refused and refused.attempts_used == 0 and refused.attempts == []
    assert refused.p_jailbreak == pytest.approx(p, abs=1e-4) and not refused.satisfied
    assert session.transcript[-1] == ac.Message(role="assistant", content=refused.text)

    answered = generate_with_requirements(
        asked(model), REQUIREMENTS, max_attempts=1, max_new_tokens=4, intrinsic=checker,
        jailbreak=jailbreak, jailbreak_threshold=1.0,
    )  # fmt: skip
    assert not answered.refused and answered.attempts_used == 1
    assert answered.p_jailbreak == pytest.approx(p, abs=1e-4)
    with pytest.raises(InvalidArgumentError, match="jailbreak_threshold"):
        generate_with_requirements(asked(model), REQUIREMENTS, intrinsic=checker, jailbreak_threshold=-1)
