"""Judge the last assistant reply one sentence at a time: which sentence is unsupported?

An intrinsic such as ``groundedness`` reads the reply as the conversation's last turn. To judge
sentence by sentence, each sentence in turn is put in that place, as if it were the whole
reply, on a fork of the session cut just before the reply (``undo`` rolls the fork's cache back;
nothing before the reply is recomputed). Each sentence then costs its own tokens plus the
intrinsic's instruction and label tokens. The caller's session is never changed.

Example::

    docs = ["Marta Osei has been the chief executive of Pelling Dairy since 2019.",
            "Pelling is a village of 900 people."]
    s = Session(model).user("Who runs Pelling Dairy, and how big is Pelling?")
    s.assistant("Pelling Dairy is run by Jonas Whitlock. Pelling is a village of 900 people.")
    s.invoke("groundedness", documents=docs).score        # 0.00: the whole reply fails ...
    for sentence in check_sentences(s, "groundedness", documents=docs):
        sentence.text, sentence.score, sentence.value     # ... here: (..., 0.00, False), (..., 1.00, True)
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .errors import InvalidArgumentError
from .intrinsic import Intrinsic, resolve
from .parsing import IntrinsicResult
from .session import Session


class SentenceResult(BaseModel):
    """One sentence of the reply and the intrinsic's verdict on it alone."""

    text: str  # the sentence, without surrounding white space
    start: int  # its character offset in the reply
    value: Any  # the intrinsic's value (groundedness: True if supported)
    score: float | None  # P(positive label), e.g. P(grounded)
    result: IntrinsicResult  # the whole call, with its stats


def split_sentences(text: str) -> list[tuple[int, str]]:
    """``(offset, sentence)`` pairs; pysbd's rules keep "Dr.", "3.50" and "p.m." inside a sentence."""
    spans, searched_from = [], 0
    for piece in _segmenter().segment(text):
        sentence = piece.strip()
        if not sentence:
            continue
        start = text.index(sentence, searched_from)
        spans.append((start, sentence))
        searched_from = start + len(sentence)
    return spans


@cache
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def check_sentences(
    session: Session, intrinsic: Intrinsic | str | Path = "groundedness", **arguments: Any
) -> list[SentenceResult]:
    """Invoke ``intrinsic`` once per sentence of the last assistant reply, in reply order.

    Raises ``InvalidArgumentError`` if the session does not end with an assistant reply, or the
    reply has no text; an intrinsic's own errors (bad arguments, context window) pass through.
    A reply of one sentence (no white space around it) gives one result, equal to
    ``session.invoke(intrinsic, **arguments)``.
    """
    transcript = session.transcript
    if not transcript or transcript[-1].role != "assistant":
        raise InvalidArgumentError(
            "check_sentences judges the last assistant reply: the session must end with one"
        )
    reply = transcript[-1].content
    sentences = split_sentences(reply)
    if not sentences:
        raise InvalidArgumentError("the last assistant reply is empty: there is no sentence to judge")
    spec = resolve(intrinsic)
    work = session.fork()
    work.undo()
    results = []
    for start, sentence in sentences:
        work.assistant(sentence)
        result = work.invoke(spec, **arguments)  # an error leaves only the throwaway fork changed
        work.undo()
        results.append(
            SentenceResult(text=sentence, start=start, value=result.value, score=result.score, result=result)
        )
    return results
