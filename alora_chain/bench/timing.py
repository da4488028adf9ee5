"""Timing two ways of running the same calls in one process: alternating rounds, medians.

The machine's speed drifts (other jobs, a shared VM), so the two ways take turns by rounds of
all the calls rather than one after the other; each figure is the median call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext


def alternating_medians_ms(
    calls: list[Callable[[], object]], n: int, old_way: Callable[[], AbstractContextManager]
) -> tuple[float, float]:
    """Median milliseconds per call inside ``old_way()`` and outside it: (old, new).

    Example: ``alternating_medians_ms(calls, 48, lambda: peft_switch(model))`` runs the calls
    once to warm up, then 48 / len(calls) rounds, each the calls under ``old_way()`` and the
    calls as they are.
    """
    for call in calls:  # warm-up: prompt caches, allocator
        call()
    timings: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(max(1, n // len(calls))):
        for old in (True, False):
            with old_way() if old else nullcontext():
                for call in calls:
                    started = time.perf_counter()
                    call()
                    timings[old].append(time.perf_counter() - started)
    return statistics.median(timings[True]) * 1000, statistics.median(timings[False]) * 1000

