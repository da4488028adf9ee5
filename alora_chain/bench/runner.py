"""Run the benchmark grid in one process: every path measured side by side on the same histories."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict

import torch

from ..model import Model
from ..session import Session
from ..training.machine import machine_facts
from .paths import deepcopy_call, floor_call, fork_cost, shape_of, timed, turn_call
from .report import BenchResults, ForkRow, LatencyRow, MultiRow, TurnRow
from .workload import SYSTEM, BenchConfig, Workload, grow_history, make_workload

# the facts BenchResults.machine holds (flat strings and numbers), and the load when it ran
_BENCH_FACTS = ("cpu", "cores", "torch_threads", "torch", "python")


def machine() -> dict:
    facts = machine_facts()
    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else None
    return {key: facts[key] for key in _BENCH_FACTS} | {"load_1min": load}


def run_bench(model: Model, config: BenchConfig, log: Callable[[str], None] = print) -> BenchResults:
    """Measure every cell of ``config``'s grid on ``model`` (fp32 CPU is the reference setting)."""
    if config.threads:
        torch.set_num_threads(config.threads)
    work = make_workload(model, config)
    results = BenchResults(machine=machine(), config=asdict(config))
    try:
        session = Session(model, system=SYSTEM)
        for index, length in enumerate(sorted(config.lengths)):
            grow_history(session, length)
            n = len(session)
            log(f"history {n} tokens")
            for name, alora, lora in (
                ("choice", work.choice, work.choice_lora),
                ("text", work.text, work.text_lora),
            ):
                results.latency.append(_latency(session, work, name, alora, lora, config, first=index == 0))
            suffix = next(r.new_tokens for r in results.latency if r.history_tokens == n)
            results.fork.append(ForkRow(history_tokens=n, **fork_cost(session, suffix)))
            generated = turn_call(session, config.turn_tokens)
            timing = timed(generated, config.repeats, config.warmup)
            results.turn.append(
                TurnRow(history_tokens=n, seconds=timing.median, generated_tokens=generated())
            )
        log(f"{max(config.ks, default=0)} intrinsics on one prefix")
        results.multi = _multi(session, work, config)
    finally:
        work.folder.cleanup()
    results.compute_ratios()
    return results


def _latency(session, work: Workload, name, alora, lora, config: BenchConfig, first: bool) -> LatencyRow:
    args = work.arguments
    shape = shape_of(session, alora, args)  # also warms the adapter up
    calls = {
        "alora": lambda: session.invoke(alora, **args),
        "lora": lambda: session.invoke(lora, **args),
        "floor": floor_call(session, shape),
        "deepcopy": deepcopy_call(session, alora, args, shape),
    }
    seconds = {}
    for path, call in calls.items():
        # a LoRA call recomputes everything and keeps no state: warm it up once, not per length
        warmup = (config.warmup if first else 0) if path == "lora" else config.warmup
        seconds[path] = timed(call, config.repeats, warmup).median
    return LatencyRow(
        intrinsic=name,
        history_tokens=len(session),
        seconds=seconds,
        new_tokens=shape.tokens,
        generated_tokens=shape.generated,
    )


def _multi(session: Session, work: Workload, config: BenchConfig) -> list[MultiRow]:
    rows = []
    for k in sorted(config.ks):
        calls = [(intrinsic, work.arguments) for intrinsic in work.many[:k]]

        def sequential(calls=calls):
            return [session.invoke(i, **a) for i, a in calls]

        def batched(calls=calls):
            return session.invoke_many(calls)

        rows.append(
            MultiRow(
                k=k,
                history_tokens=len(session),
                sequential_s=timed(sequential, config.repeats, config.warmup).median,
                batched_s=timed(batched, config.repeats, config.warmup).median,
            )
        )
    return rows
