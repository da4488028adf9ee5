"""Instruct, validate, repair: generate a reply, check each requirement with an intrinsic, retry on failure.

Every attempt is generated on a fork and judged on a fork holding exactly the context the
reply will be committed in (the conversation + the reply), so the verdicts describe the
committed turn. Requirement checks reuse that fork's cache: each costs only its
instruction and label tokens.

Example::

    s = Session(model).user("Describe the Scout R2.")
    result = generate_with_requirements(s, ["Mentions the battery life.", "Gives the price in euros."])
    result.text, result.satisfied, [v.score for v in result.verdicts]
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel

from .errors import InvalidArgumentError
from .intrinsic import ChoiceOutput, Intrinsic, resolve
from .rag import JAILBREAK_REFUSAL
from .session import Session


class RequirementVerdict(BaseModel):
    """One requirement's check on one attempt."""

    requirement: str
    satisfied: bool
    score: float | None  # P(satisfied)
    seconds: float = 0.0  # time of the check
    reused_tokens: int = 0  # conversation tokens the check served from the cache


class Attempt(BaseModel):
    """One generated reply and how it fared."""

    text: str
    verdicts: list[RequirementVerdict]
    seconds: float  # generation + checks

    @property
    def passed(self) -> int:
        return sum(v.satisfied for v in self.verdicts)

    @property
    def mean_score(self) -> float:
        scores = [v.score for v in self.verdicts if v.score is not None]
        return sum(scores) / len(scores) if scores else 0.0


class AgentResult(BaseModel):
    """The best attempt (committed to the session) and the history of attempts."""

    text: str
    verdicts: list[RequirementVerdict]
    satisfied: bool  # every requirement passed
    attempts_used: int
    attempts: list[Attempt]
    refused: bool = False  # the turn was judged a jailbreak attempt: text is the refusal, nothing generated
    p_jailbreak: float | None = None  # P(jailbreak) of the last user turn, when it was checked


def feedback_message(failed: list[str], requirements: list[str]) -> str:
    """The repair instruction sent after a failed attempt."""
    missed = "\n".join(f"- {r}" for r in failed)
    every = "\n".join(f"- {r}" for r in requirements)
    return (
        f"Your reply did not meet these requirements:\n{missed}\n"
        f"Answer my previous request again so that it meets all of these:\n{every}"
    )


def generate_with_requirements(
    session: Session,
    requirements: list[str],
    *,
    max_attempts: int = 3,
    max_new_tokens: int | None = None,
    instruct: bool = True,
    temperature: float | None = None,
    seed: int | None = None,
    repair_temperature: float = 0.7,
    threshold: float | None = None,
    intrinsic: Intrinsic | str | Path = "requirement_check",
    jailbreak: Intrinsic | str | Path | None = None,
    jailbreak_threshold: float = 0.5,
    refusal: str = JAILBREAK_REFUSAL,
) -> AgentResult:
    """Reply to the session's last user turn so that every requirement holds, within a budget.

    ``instruct`` states the requirements in the first attempt's user turn (on a fork; the
    transcript keeps the user's own words). A failed attempt is repaired on a fork that
    continues the conversation with the failed requirements as feedback; unless
    ``temperature`` is given, repairs sample at ``repair_temperature`` (seeded by the attempt
    number, so runs repeat), because a greedy small model often repeats itself. The best attempt
    (most requirements met, then highest mean score) is appended to ``session`` as the
    assistant turn. ``intrinsic`` is the checker (``requirement=`` argument, choice output);
    a requirement passes if its label is the positive one, or, with ``threshold``, if
    P(satisfied) >= threshold.

    ``jailbreak`` (an intrinsic with a jailbreak/benign choice; no built-in has shipped yet) checks
    the last user turn first: when
    P(jailbreak) >= ``jailbreak_threshold`` nothing is generated and ``refusal`` is committed
    as the assistant turn (``AgentResult.refused``).
    """
    if (
        not isinstance(requirements, list)
        or not requirements
        or not all(isinstance(r, str) for r in requirements)
    ):
        raise InvalidArgumentError("requirements must be a non-empty list of strings")
    if max_attempts < 1:
        raise InvalidArgumentError(f"max_attempts must be >= 1, got {max_attempts}")
    for name, value in (("threshold", threshold), ("jailbreak_threshold", jailbreak_threshold)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise InvalidArgumentError(f"{name} must be in [0, 1], got {value}")
    transcript = session.transcript
    if not transcript or transcript[-1].role != "user":
        raise InvalidArgumentError(
            "generate_with_requirements() replies to the last user turn; append one with session.user(...)"
        )
    checker = resolve(intrinsic)
    if not isinstance(checker.output, ChoiceOutput) or checker.output.positive is None:
        raise InvalidArgumentError(
            f"intrinsic {checker.name!r} cannot check requirements: it needs a choice output with a "
            "`positive` label (like requirement_check's yes/no)"
        )
    checker.bind(session.model)  # fail on a missing or mismatched adapter before generating
    p_jailbreak = None
    if jailbreak is not None:
        p_jailbreak = session.invoke(jailbreak).score  # leaves the session as it was
        if p_jailbreak >= jailbreak_threshold:
            session.assistant(refusal)
            return AgentResult(
                text=refusal, verdicts=[], satisfied=False, attempts_used=0, attempts=[],
                refused=True, p_jailbreak=p_jailbreak,
            )  # fmt: skip

    attempts: list[Attempt] = []
    writer = session.fork()
    if instruct:
        question = writer.undo().content
        rules = "\n".join(f"- {r}" for r in requirements)
        writer.user(f"{question}\n\nRequirements for your reply:\n{rules}")
    for number in range(max_attempts):
        started = time.perf_counter()
        repair = number > 0 and temperature is None
        text = writer.generate(
            max_new_tokens,
            temperature=repair_temperature if repair else temperature,
            seed=number if repair and seed is None else seed,
        )
        judged = session.fork().assistant(text)  # the context the reply will be committed in
        verdicts = []
        for requirement in requirements:
            result = judged.invoke(checker, requirement=requirement)
            verdicts.append(
                RequirementVerdict(
                    requirement=requirement,
                    satisfied=bool(result.value) if threshold is None else result.score >= threshold,
                    score=result.score,
                    seconds=result.stats.seconds,
                    reused_tokens=result.stats.reused_tokens,
                )
            )
        attempts.append(Attempt(text=text, verdicts=verdicts, seconds=time.perf_counter() - started))
        failed = [v.requirement for v in verdicts if not v.satisfied]
        if not failed or number == max_attempts - 1:
            break
        writer.user(feedback_message(failed, requirements))  # repair: continue the writer's fork
    best = max(attempts, key=lambda a: (a.passed, a.mean_score))
    session.assistant(best.text)
    return AgentResult(
        text=best.text,
        verdicts=best.verdicts,
        satisfied=best.passed == len(requirements),
        attempts_used=len(attempts),
        attempts=attempts,
        p_jailbreak=p_jailbreak,
    )
