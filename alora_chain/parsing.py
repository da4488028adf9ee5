"""Output parsers: label log-probabilities to choices and scores, JSON to validated data, text."""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, ConfigDict

from .errors import OutputParseError
from .intrinsic import ChoiceOutput, JsonOutput, ScoreOutput


class InvokeStats(BaseModel):
    """What one intrinsic call cost and how much of the conversation it reused."""

    model_config = ConfigDict(frozen=True)
    reused_tokens: int  # conversation tokens served from the session cache
    new_tokens: int  # tokens computed by this call (prompt + invocation + output)
    adapter_tokens: int  # of those, how many ran with the adapter
    seconds: float


class IntrinsicResult(BaseModel):
    """The typed outcome of ``Session.invoke``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    intrinsic: str
    value: Any  # bool / float / str / dict, by output kind
    score: float | None  # a probability where the intrinsic has one
    raw: str  # the text the adapter produced (the best label for choice/score)
    probabilities: dict[str, float] | None = None  # per label, for choice and score
    stats: InvokeStats
    # per_item intrinsics: each item's probability of the positive label, in argument order
    # (which document answers, which sentence is unsupported)
    item_scores: list[float] | None = None

    def __rich__(self):
        """Value, score with a bar, tokens reused and new, time (``rich.print(r)``)."""
        from .display import result_rich

        return result_rich(self)

    def _repr_html_(self) -> str:
        """The same in a Jupyter notebook."""
        from .display import result_html

        return result_html(self)

    @classmethod
    def from_verdict(
        cls, intrinsic: str, verdict: tuple, stats: InvokeStats, item_scores: list[float] | None = None
    ) -> IntrinsicResult:
        """Wrap a parser's ``(value, score, raw, probabilities)`` tuple with the call's stats."""
        value, score, raw, probabilities = verdict
        return cls(
            intrinsic=intrinsic,
            value=value,
            score=score,
            raw=raw,
            probabilities=probabilities,
            stats=stats,
            item_scores=item_scores,
        )


def softmax(logprobs: list[float]) -> list[float]:
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def combine_items(output: ChoiceOutput, item_scores: list[float], combine: str):
    """(value, score, best label, probabilities) of a per-item choice from each item's P(positive).

    ``any``: the best item decides (P = max); ``all``: the weakest does (P = min). No items:
    nothing can answer (``any`` -> 0), nothing is unsupported (``all`` -> 1).
    Example: [0.1, 0.8, 0.3] with ``any`` -> (True, 0.8, "answerable", ...).
    """
    if item_scores:
        p = max(item_scores) if combine == "any" else min(item_scores)
    else:
        p = 0.0 if combine == "any" else 1.0
    (negative,) = [label for label in output.labels if label != output.positive]
    probs = {label: (p if label == output.positive else 1 - p) for label in output.labels}
    best = output.positive if p >= 0.5 else negative
    return best == output.positive, p, best, probs


def parse_choice(output: ChoiceOutput, logprobs: list[float]) -> tuple[Any, float, str, dict[str, float]]:
    """(value, score, best label, probabilities) from each label's total log-probability.

    Example: labels [yes, no], positive yes, logprobs [-0.1, -2.4] -> (True, 0.909, "yes", ...).
    """
    probs = dict(zip(output.labels, softmax(logprobs)))
    best = max(probs, key=probs.get)
    if output.positive is None:
        return best, probs[best], best, probs
    return best == output.positive, probs[output.positive], best, probs


def parse_score(output: ScoreOutput, logprobs: list[float]) -> tuple[float, str, dict[str, float]]:
    """The expectation of the label values, e.g. digits 0..9 -> values 0..1."""
    probs = dict(zip(output.labels, softmax(logprobs)))
    value = sum(p * output.labels[label] for label, p in probs.items())
    return value, max(probs, key=probs.get), probs


def parse_json(output: JsonOutput, raw: str) -> Any:
    import jsonschema

    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise OutputParseError(f"intrinsic output is not JSON ({exc.msg} at {exc.pos})", raw=raw) from None
    try:
        jsonschema.validate(data, output.json_schema)
    except jsonschema.ValidationError as exc:
        raise OutputParseError(
            f"intrinsic output does not match its schema: {exc.message}", raw=raw
        ) from None
    return data
