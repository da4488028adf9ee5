"""Evaluation metrics in plain numpy: classification, calibration and text overlap.

Each function takes plain sequences and returns a float, or None where the metric is
undefined for the data (e.g. AUROC when every target has the same class).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 2000  # for paired_bootstrap_interval; cards quote it


def accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """Fraction of exact matches. Example: [a, b, b], [a, b, a] -> 0.667."""
    return float(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)]))


def macro_f1(y_true: Sequence, y_pred: Sequence) -> float:
    """Unweighted mean of per-label F1 over the labels seen in targets or predictions.

    A label never predicted has F1 0 (as in scikit-learn with ``zero_division=0``).
    Example: true [a, a, b, b], pred [a, b, b, b] -> F1(a) = 2/3, F1(b) = 0.8 -> 0.733.
    """
    true, pred = np.asarray(list(y_true), dtype=object), np.asarray(list(y_pred), dtype=object)
    scores = []
    for label in dict.fromkeys([*true, *pred]):
        tp = np.sum((pred == label) & (true == label))
        fp = np.sum((pred == label) & (true != label))
        fn = np.sum((pred != label) & (true == label))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores))


def false_positive_rate(y_true: Sequence, y_pred: Sequence, positive) -> float | None:
    """Share of the rows whose target is not ``positive`` that were predicted ``positive``.

    None when every target is positive. Example: true [a, b, b], pred [a, a, b], positive a -> 0.5.
    """
    negatives = [p for t, p in zip(y_true, y_pred, strict=True) if t != positive]
    return sum(p == positive for p in negatives) / len(negatives) if negatives else None


def auroc(y_true: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve: P(score of a random positive > that of a random negative).

    Computed from average ranks (Mann-Whitney U), so ties count one half.
    Example: true [1, 0, 1, 0], scores [0.9, 0.8, 0.4, 0.1] -> 3 of 4 pairs ordered -> 0.75.
    """
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(scores, dtype=float)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_scores = s[order]
    start = 0
    while start < len(s):  # average the ranks of tied scores
        end = start
        while end + 1 < len(s) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    u = ranks[y].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def brier(y_true: Sequence[bool], probs: Sequence[float]) -> float:
    """Mean squared error of a probability. Example: true [1, 0], probs [0.8, 0.4] -> 0.1."""
    y = np.asarray(y_true, dtype=float)
    return float(np.mean((np.asarray(probs, dtype=float) - y) ** 2))


def ece(y_true: Sequence[bool], probs: Sequence[float], bins: int = 10) -> float:
    """Expected calibration error: per equal-width bin, |mean outcome - mean probability|, weighted by size.

    Bins are ``[0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]`` for ``bins=10``.
    Example: true [1, 1, 0, 0], probs [0.9, 0.9, 0.9, 0.1] -> bin 0.9: |2/3 - 0.9| * 3/4,
    bin 0.1: |0 - 0.1| * 1/4 -> 0.2.
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(probs, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(index):
        members = index == b
        total += members.mean() * abs(y[members].mean() - p[members].mean())
    return float(total)


def normalize_text(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse whitespace (SQuAD convention).

    Example: "The Eiffel Tower!" -> "eiffel tower".
    """
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Fraction of predictions equal to the target after :func:`normalize_text`."""
    return float(
        np.mean([normalize_text(t) == normalize_text(p) for t, p in zip(y_true, y_pred, strict=True)])
    )


def token_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Mean over examples of the F1 between normalised bag-of-words of target and prediction.

    Example: "where is the eiffel tower" vs "eiffel tower location" -> P = 2/3, R = 2/4 -> 0.571.
    """
    return float(np.mean([_f1(t, p) for t, p in zip(y_true, y_pred, strict=True)]))


def _f1(target: str, prediction: str) -> float:
    truth, pred = normalize_text(target).split(), normalize_text(prediction).split()
    if not truth or not pred:
        return float(truth == pred)
    common = sum((Counter(truth) & Counter(pred)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(truth)
    return 2 * precision * recall / (precision + recall)


def paired_bootstrap_interval(
    difference: Callable[[np.ndarray], float | None],
    rows: int,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile interval of ``difference(indices)`` over resamples of ``rows`` row indices.

    ``difference`` scores two paths on the same resampled rows (paired), so the interval shows
    how much the *gap* between them depends on which test rows were drawn; with 100 rows a
    3-point gap in accuracy is often within it. Resamples where it is undefined (None: AUROC
    with one class) are dropped; None if every one is. Example: two paths right on the same
    rows but one -> the interval of (0.5 - 0.5) is (0.0, 0.0).
    """
    rng = np.random.default_rng(seed)
    draws = (difference(rng.integers(0, rows, rows)) for _ in range(resamples))
    values = [v for v in draws if v is not None]
    if not values:
        return None
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
