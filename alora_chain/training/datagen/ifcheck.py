"""The instruction checkers of IFEval and IFBench (PyPI ``if-verifiable``): their wordings and verdicts.

A verifiable requirement is ``(benchmark, instruction_id, kwargs)``, e.g.
``("ifeval", "length_constraints:number_words", {"num_words": 40, "relation": "less than"})``.
:func:`describe` gives the benchmark's own wording ("Answer with less than 40 words.") and
:func:`check` the checker's strict verdict on a reply: a fresh checker each call, as IFEval's
evaluation builds one per instruction.

Three changes keep the checkers offline and repeatable, applied once when the registries load:
- IFEval counts sentences with NLTK's punkt model, a download; pysbd (a dependency already)
  splits them instead.
- IFBench's util module downloads NLTK data when imported; the checkers used here need none,
  so the download is skipped.
- langdetect (the case checkers ask it whether a reply is English) draws at random unless
  seeded; it is seeded with 0.
"""

from __future__ import annotations

from functools import cache
from typing import Any

BENCHMARKS = ("ifeval", "ifbench")


def available() -> bool:
    """Whether ``if-verifiable`` can be imported (it is in the ``train`` extra)."""
    try:
        _registries()
    except ImportError:
        return False
    return True


@cache
def _registries() -> dict[str, dict[str, type]]:
    from unittest import mock

    import langdetect

    with mock.patch("nltk.download", lambda *args, **kwargs: True):
        from if_verifiable.ifbench import instructions_registry as ifbench
        from if_verifiable.ifeval import instructions_registry as ifeval
        from if_verifiable.ifeval import instructions_util

    instructions_util.count_sentences = count_sentences
    langdetect.DetectorFactory.seed = 0
    return {"ifeval": dict(ifeval.INSTRUCTION_DICT), "ifbench": dict(ifbench.INSTRUCTION_DICT)}


@cache
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` as IFEval's sentence counts see them here (pysbd)."""
    return [s.strip() for s in _segmenter().segment(text) if s.strip()]


def count_sentences(text: str) -> int:
    return len(sentences(text))


def ifbench_sentences(text: str) -> list[str]:
    """IFBench's own (regular-expression) sentence split, which its checkers use."""
    _registries()
    from if_verifiable.ifbench import instructions_util

    return instructions_util.split_into_sentences(text)


def checker(benchmark: str, instruction_id: str, kwargs: dict[str, Any]):
    """A fresh checker built with ``kwargs`` (every argument given: none is drawn at random)."""
    registry = _registries()[benchmark]
    if instruction_id not in registry:
        raise KeyError(f"{benchmark} has no instruction {instruction_id!r}")
    made = registry[instruction_id](instruction_id)
    made.build_description(**kwargs)
    return made


def describe(benchmark: str, instruction_id: str, kwargs: dict[str, Any]) -> str:
    """The benchmark's wording of the requirement.

    Example: ``describe("ifeval", "punctuation:no_comma", {})``
    -> "In your entire response, refrain from the use of any commas."
    """
    registry = _registries()[benchmark]
    return registry[instruction_id](instruction_id).build_description(**kwargs)


def check(benchmark: str, instruction_id: str, kwargs: dict[str, Any], reply: str) -> bool:
    """The strict verdict (IFEval's ``strict_pass``): an empty reply follows nothing."""
    return bool(reply.strip()) and bool(checker(benchmark, instruction_id, kwargs).check_following(reply))
