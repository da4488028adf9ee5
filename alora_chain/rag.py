"""RagGuard: input, relevance, answerability, groundedness and certainty checks for any RAG pipeline.

Every check is an intrinsic call on a fork of one session cache: the conversation and the
question are prefilled once, and each check only computes its own instruction and label
tokens on top. The caller's session is never changed.

Example::

    guard = RagGuard(model)
    verdict = guard.check(history, "How long does the battery last?", documents, draft=answer)
    verdict.answerable, verdict.p_answerable, verdict.grounded, verdict.certainty

    ask = guard.wrap(my_generate)            # my_generate(question, documents) -> str
    ask("How long does the battery last?", documents).text   # a refusal if unanswerable

The input checks are opt-in: ``RagGuard(model, intrinsics={"prompt_injection": "prompt_injection"})``
also drops documents that carry a prompt injection; ``"jailbreak"``, given an intrinsic of that name
(no built-in has shipped yet), refuses or flags a jailbreak turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from .chat import Message
from .errors import (
    BaseModelMismatchError,
    IntrinsicSpecError,
    InvalidArgumentError,
    UnknownIntrinsicError,
)
from .intrinsic import Intrinsic, resolve
from .model import Model
from .parsing import IntrinsicResult
from .sentences import SentenceResult, check_sentences
from .session import Session

CHECKS = ("jailbreak", "prompt_injection", "context_relevance", "answerability", "groundedness", "certainty")
# the input checks, off unless asked for: RagGuard(model, intrinsics=INPUT_CHECKS) turns both on
# (the built-in jailbreak has not shipped: name your own intrinsic for it, or leave it out)
INPUT_CHECKS: dict[str, str] = {"jailbreak": "jailbreak", "prompt_injection": "prompt_injection"}
_OFF_BY_DEFAULT = {check: None for check in INPUT_CHECKS}
DEFAULT_REFUSAL = (
    "I'm sorry, I can't answer that from the documents I have. Could you rephrase the question "
    "or point me to a source that covers it?"
)
JAILBREAK_REFUSAL = "I can't help with that: it asks me to set aside the rules I follow."

IntrinsicRef = Intrinsic | str | Path
GenerateFn = Callable[[str, list[str]], str]


class GuardVerdict(BaseModel):
    """What the guard found; a field is None when its check did not run (see ``skipped``)."""

    question: str
    documents: list[str]  # the documents checked, in input order
    relevance: list[float | None]  # P(relevant) per document, None if context_relevance did not run
    relevant_documents: list[str]  # not injected, at or above relevance_threshold, in input order
    jailbreak: bool | None = None  # the question tries to make the assistant drop its rules
    p_jailbreak: float | None = None
    injection: list[float | None] = Field(default_factory=list)  # P(injection) per document
    injected_documents: list[str] = Field(default_factory=list)  # dropped: at or above injection_threshold
    answerable: bool | None = None
    p_answerable: float | None = None
    draft: str | None = None  # the answer judged by groundedness and certainty
    grounded: bool | None = None
    p_grounded: float | None = None
    certainty: float | None = None  # P(the draft is correct)
    # judge(per_sentence=True): each sentence of the draft judged alone, and those under the threshold
    # (then grounded means every sentence is, and p_grounded is the smallest sentence P)
    sentences: list[SentenceResult] = Field(default_factory=list)
    unsupported_sentences: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)  # seconds per check, and "total"
    skipped: dict[str, str] = Field(default_factory=dict)  # check -> why it did not run
    calls: list[IntrinsicResult] = Field(default_factory=list)  # every intrinsic call, in order


class GuardedAnswer(BaseModel):
    """The outcome of a wrapped generate function."""

    text: str  # the answer, or the refusal
    refused: bool  # generate_fn was not called: see refused_for
    refused_for: Literal["unanswerable", "jailbreak"] | None = None
    flagged: bool  # the returned answer was judged ungrounded
    attempts: int  # how many times generate_fn was called
    verdict: GuardVerdict


class RagGuard:
    """A guard step: screen the input, filter retrieved documents, gate unanswerable questions, judge answers.

    ``intrinsics`` overrides the intrinsic used for a check (an object, a built-in name or
    a folder), or turns the check off with None. A check whose intrinsic is not installed
    raises, unless ``missing="skip"``: then it is recorded in ``GuardVerdict.skipped``.
    The input checks (``jailbreak``, ``prompt_injection``) are off unless named there
    (e.g. ``intrinsics={"prompt_injection": "prompt_injection"}``): a document flagged as an injection is dropped before the
    relevance check, and a jailbreak turn is refused (``on_jailbreak="refuse"``: no other check
    runs and ``wrap`` does not call the generator) or only flagged (``"flag"``).
    """

    def __init__(
        self,
        model_or_session: Model | Session,
        *,
        relevance_threshold: float = 0.5,
        answerable_threshold: float = 0.5,
        grounded_threshold: float = 0.5,
        jailbreak_threshold: float = 0.5,
        injection_threshold: float = 0.5,
        intrinsics: Mapping[str, IntrinsicRef | None] | None = None,
        missing: Literal["error", "skip"] = "error",
        refusal: str = DEFAULT_REFUSAL,
        on_jailbreak: Literal["refuse", "flag"] = "refuse",
        jailbreak_refusal: str = JAILBREAK_REFUSAL,
    ) -> None:
        for name, value in [
            ("relevance_threshold", relevance_threshold),
            ("answerable_threshold", answerable_threshold),
            ("grounded_threshold", grounded_threshold),
            ("jailbreak_threshold", jailbreak_threshold),
            ("injection_threshold", injection_threshold),
        ]:
            if not 0.0 <= value <= 1.0:
                raise InvalidArgumentError(f"{name} must be in [0, 1], got {value}")
        unknown = set(intrinsics or {}) - set(CHECKS)
        if unknown:
            raise InvalidArgumentError(f"unknown checks {sorted(unknown)}; the guard's checks are {CHECKS}")
        if missing not in ("error", "skip"):
            raise InvalidArgumentError(f"missing must be 'error' or 'skip', got {missing!r}")
        if on_jailbreak not in ("refuse", "flag"):
            raise InvalidArgumentError(f"on_jailbreak must be 'refuse' or 'flag', got {on_jailbreak!r}")
        if isinstance(model_or_session, Session):
            self.session: Session | None = model_or_session
            self.model = model_or_session.model
        elif isinstance(model_or_session, Model):
            self.session, self.model = None, model_or_session
        else:
            raise InvalidArgumentError(
                f"RagGuard needs a Model or a Session, got {type(model_or_session).__name__}"
            )
        self.relevance_threshold = relevance_threshold
        self.answerable_threshold = answerable_threshold
        self.grounded_threshold = grounded_threshold
        self.jailbreak_threshold = jailbreak_threshold
        self.injection_threshold = injection_threshold
        self.refusal = refusal
        self.on_jailbreak = on_jailbreak
        self.jailbreak_refusal = jailbreak_refusal
        self.missing = missing
        self._refs: dict[str, IntrinsicRef | None] = (
            {name: name for name in CHECKS} | _OFF_BY_DEFAULT | dict(intrinsics or {})
        )
        self._resolved: dict[str, Intrinsic | None] = {}
        self._why_missing: dict[str, str] = {}

    # -- intrinsics --------------------------------------------------------------------------
    def intrinsic(self, check: str) -> Intrinsic | None:
        """The intrinsic behind ``check``, bound to the model; None if turned off or skipped."""
        if check not in self._resolved:
            ref = self._refs[check]
            spec = None
            if ref is None:
                opt_in = f" (opt-in: intrinsics={{{check!r}: {check!r}}})" if check in INPUT_CHECKS else ""
                self._why_missing[check] = "turned off" + opt_in
            else:
                try:
                    spec = resolve(ref)
                    spec.bind(self.model)
                except (UnknownIntrinsicError, IntrinsicSpecError, BaseModelMismatchError) as exc:
                    if self.missing == "error":
                        raise
                    spec = None
                    self._why_missing[check] = f"not available: {exc}".split("\n")[0]
            self._resolved[check] = spec
        return self._resolved[check]

    def available(self) -> dict[str, str | None]:
        """Check -> None if it will run, else why not."""
        return {check: None if self.intrinsic(check) else self._why_missing[check] for check in CHECKS}

    def _invoke(
        self, session: Session, check: str, verdict: GuardVerdict, **args: Any
    ) -> IntrinsicResult | None:
        spec = self.intrinsic(check)
        if spec is None:
            verdict.skipped[check] = self._why_missing[check]
            return None
        started = time.perf_counter()
        result = session.invoke(spec, **args)
        verdict.timings[check] = verdict.timings.get(check, 0.0) + time.perf_counter() - started
        verdict.calls.append(result)
        return result

    # -- the checks --------------------------------------------------------------------------
    def session_for(self, conversation: Session | Sequence[Message | dict] | None) -> Session:
        """A fork to run checks on: of ``conversation`` if it is a Session, else a replay of it."""
        if isinstance(conversation, Session):
            return conversation.fork()
        if conversation is None:
            return self.session.fork() if self.session is not None else Session(self.model)
        fresh = Session(self.model)
        for message in conversation:
            message = message if isinstance(message, Message) else Message.model_validate(message)
            getattr(fresh, message.role)(message.content)
        return fresh

    def check(
        self,
        conversation: Session | Sequence[Message | dict] | None,
        question: str,
        documents: Sequence[str],
        draft: str | None = None,
    ) -> GuardVerdict:
        """Run every check for ``question`` after ``conversation`` (and ``draft``, if given) on one fork."""
        session = self.session_for(conversation)
        session.user(question)
        verdict = self.screen(session, documents)
        if draft is not None:
            session.assistant(draft)
            verdict = self.judge(session, verdict=verdict)
        return verdict

    def screen(self, session: Session, documents: Sequence[str]) -> GuardVerdict:
        """The input checks, the relevance of each clean document, then answerability from the relevant ones.

        ``session`` ends with the user's question; it is not changed. A jailbreak turn stops
        here when ``on_jailbreak="refuse"``. With no relevant document the question is
        unanswerable without asking the intrinsic.
        """
        question = _last(session, "user", "screen")
        documents = _strings(documents)
        started = time.perf_counter()
        verdict = GuardVerdict(question=question, documents=documents, relevance=[], relevant_documents=[])
        if self._stopped_as_jailbreak(session, verdict):
            verdict.timings["total"] = time.perf_counter() - started
            return verdict
        for document in documents:
            result = self._invoke(session, "prompt_injection", verdict, document=document)
            verdict.injection.append(None if result is None else result.score)
        injected = [p is not None and p >= self.injection_threshold for p in verdict.injection]
        verdict.injected_documents = [d for d, flagged in zip(documents, injected) if flagged]
        for document, flagged in zip(documents, injected):
            result = None if flagged else self._invoke(session, "context_relevance", verdict, document=document)
            verdict.relevance.append(None if result is None else result.score)
        verdict.relevant_documents = [
            d
            for d, p, flagged in zip(documents, verdict.relevance, injected)
            if not flagged and (p is None or p >= self.relevance_threshold)
        ]
        if not verdict.relevant_documents:
            verdict.answerable, verdict.p_answerable = False, 0.0
            verdict.skipped["answerability"] = "no relevant document, so unanswerable"
        else:
            result = self._invoke(session, "answerability", verdict, documents=verdict.relevant_documents)
            if result is not None:
                verdict.p_answerable = result.score
                verdict.answerable = result.score >= self.answerable_threshold
        verdict.timings["total"] = time.perf_counter() - started
        return verdict

    def _stopped_as_jailbreak(self, session: Session, verdict: GuardVerdict) -> bool:
        """Run the jailbreak check; True when the turn is one and the guard refuses it."""
        result = self._invoke(session, "jailbreak", verdict)
        if result is None:
            return False
        verdict.p_jailbreak = result.score
        verdict.jailbreak = result.score >= self.jailbreak_threshold
        if not (verdict.jailbreak and self.on_jailbreak == "refuse"):
            return False
        verdict.injection = [None] * len(verdict.documents)
        verdict.relevance = [None] * len(verdict.documents)
        for check in ("prompt_injection", "context_relevance", "answerability"):
            verdict.skipped[check] = "the question is a jailbreak attempt, refused"
        return True

    def judge(
        self,
        session: Session,
        documents: Sequence[str] | None = None,
        *,
        verdict: GuardVerdict | None = None,
        per_sentence: bool = False,
    ) -> GuardVerdict:
        """Groundedness and certainty of the draft that ``session`` ends with; it is not changed.

        The draft is judged against ``documents``, else the verdict's relevant documents
        (all of its documents if none was relevant). ``per_sentence`` judges each sentence of the
        draft alone instead (``verdict.sentences``, ``verdict.unsupported_sentences``; one call
        per sentence): the draft is grounded when every sentence is, ``p_grounded`` is the
        smallest sentence's. This names the unsupported sentence, and a draft that takes one
        fact from each of two documents is not failed for matching neither one alone.
        """
        draft = _last(session, "assistant", "judge")
        if verdict is None:
            if documents is None:
                raise InvalidArgumentError("judge needs documents or the verdict of screen()")
            docs = _strings(documents)
            verdict = GuardVerdict(
                question=_last_of_role(session, "user"),
                documents=docs,
                relevance=[None] * len(docs),
                relevant_documents=docs,
            )
        verdict = verdict.model_copy(deep=True)
        docs = (
            _strings(documents)
            if documents is not None
            else (verdict.relevant_documents or verdict.documents)
        )
        started = time.perf_counter()
        verdict.draft = draft
        if not docs:
            verdict.skipped["groundedness"] = "no documents to judge against"
        elif per_sentence:
            self._judge_sentences(session, verdict, docs)
        else:
            result = self._invoke(session, "groundedness", verdict, documents=docs)
            if result is not None:
                verdict.p_grounded = result.score
                verdict.grounded = result.score >= self.grounded_threshold
        result = self._invoke(session, "certainty", verdict)
        if result is not None:
            verdict.certainty = float(result.value)
        verdict.timings["total"] = verdict.timings.get("total", 0.0) + time.perf_counter() - started
        return verdict

    def _judge_sentences(self, session: Session, verdict: GuardVerdict, documents: list[str]) -> None:
        """Groundedness once per sentence; the draft is grounded when every sentence is."""
        spec = self.intrinsic("groundedness")
        if spec is None:
            verdict.skipped["groundedness"] = self._why_missing["groundedness"]
            return
        started = time.perf_counter()
        verdict.sentences = check_sentences(session, spec, documents=documents)
        verdict.calls += [sentence.result for sentence in verdict.sentences]
        verdict.unsupported_sentences = [
            sentence.text for sentence in verdict.sentences if sentence.score < self.grounded_threshold
        ]
        verdict.p_grounded = min(sentence.score for sentence in verdict.sentences)
        verdict.grounded = not verdict.unsupported_sentences
        verdict.timings["groundedness"] = time.perf_counter() - started

    # -- wrapping a pipeline ---------------------------------------------------------------------
    def wrap(
        self,
        generate_fn: GenerateFn,
        *,
        on_ungrounded: Literal["flag", "regenerate"] = "flag",
        max_attempts: int = 2,
    ) -> Callable[..., GuardedAnswer]:
        """Guard ``generate_fn(question, relevant_documents) -> str``.

        The returned ``ask(question, documents, conversation=None) -> GuardedAnswer`` refuses
        unanswerable questions without calling ``generate_fn``. An ungrounded answer is
        flagged, or with ``on_ungrounded="regenerate"`` generated again (up to
        ``max_attempts`` calls in all; use a sampling ``generate_fn``, a greedy one repeats
        itself) and the most grounded attempt is returned, flagged if still ungrounded.
        """
        if on_ungrounded not in ("flag", "regenerate"):
            raise InvalidArgumentError(f"on_ungrounded must be 'flag' or 'regenerate', got {on_ungrounded!r}")
        if max_attempts < 1:
            raise InvalidArgumentError(f"max_attempts must be >= 1, got {max_attempts}")
        budget = max_attempts if on_ungrounded == "regenerate" else 1

        def ask(
            question: str,
            documents: Sequence[str],
            conversation: Session | Sequence[Message | dict] | None = None,
        ) -> GuardedAnswer:
            asked = self.session_for(conversation)
            asked.user(question)
            screened = self.screen(asked, documents)
            if screened.jailbreak and self.on_jailbreak == "refuse":
                return GuardedAnswer(
                    text=self.jailbreak_refusal, refused=True, refused_for="jailbreak",
                    flagged=False, attempts=0, verdict=screened,
                )  # fmt: skip
            if screened.answerable is False:
                return GuardedAnswer(
                    text=self.refusal, refused=True, refused_for="unanswerable",
                    flagged=False, attempts=0, verdict=screened,
                )  # fmt: skip
            best: GuardVerdict | None = None
            attempts = 0
            while attempts < budget:
                attempts += 1
                draft = generate_fn(question, list(screened.relevant_documents))
                if not isinstance(draft, str):
                    raise InvalidArgumentError(f"generate_fn must return str, got {type(draft).__name__}")
                answered = asked.fork()
                answered.assistant(draft)
                verdict = self.judge(answered, verdict=screened)
                if best is None or (verdict.p_grounded or 0.0) > (best.p_grounded or 0.0):
                    best = verdict
                if verdict.grounded is not False:
                    break
            return GuardedAnswer(
                text=best.draft or "",
                refused=False,
                flagged=best.grounded is False,
                attempts=attempts,
                verdict=best,
            )

        return ask


def _strings(documents: Sequence[str]) -> list[str]:
    if isinstance(documents, str) or not all(isinstance(d, str) for d in documents):
        raise InvalidArgumentError("documents must be a list of strings")
    return list(documents)


def _last_of_role(session: Session, role: str) -> str:
    return next((m.content for m in reversed(session.transcript) if m.role == role), "")


def _last(session: Session, role: str, what: str) -> str:
    transcript = session.transcript
    if not transcript or transcript[-1].role != role:
        raise InvalidArgumentError(
            f"{what}() needs a session whose last turn is the {role}'s "
            f"({'question' if role == 'user' else 'draft answer'}); append it first"
        )
    return transcript[-1].content
