"""The measured paths: aLoRA on a fork, LoRA recompute, the base-model floor, deep copy + generate, and more."""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from ..decoding import GenerationConfig, _build_trie, decode
from ..intrinsic import Intrinsic, TextOutput
from ..invocation import invocation_tokens
from ..session import Session
from .workload import TURN_TEXT


@dataclass
class Timing:
    median: float  # seconds
    runs: list[float]


def timed(fn: Callable[[], object], repeats: int, warmup: int) -> Timing:
    """Median wall time of ``fn`` over ``repeats`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return Timing(statistics.median(runs), runs)


@dataclass
class Shape:
    """How many tokens one intrinsic call computes, so every path computes the same number."""

    suffix: int  # prompt + invocation, one forward
    extra: int  # choice: trie nodes in that same forward; text: single-token steps after it
    generated: int  # text tokens produced (0 for choice)

    @property
    def tokens(self) -> int:
        return self.suffix + self.extra


def shape_of(session: Session, intrinsic: Intrinsic, arguments: dict) -> Shape:
    """Run ``intrinsic`` once through ``Session.invoke`` and read what it computed."""
    tokens = _tokens(session, intrinsic, arguments)
    suffix = len(tokens.prompt) + len(tokens.invocation)
    result = session.invoke(intrinsic, **arguments)
    if isinstance(intrinsic.output, TextOutput):  # it feeds back every generated token but the last
        steps = result.stats.new_tokens - suffix
        return Shape(suffix, steps, steps + 1)
    labels = intrinsic.label_sequences(session.model.tokenizer, session.model.end_of_turn_id)
    return Shape(suffix, len(_build_trie(labels).tokens), 0)


def _tokens(session: Session, intrinsic: Intrinsic, arguments: dict):
    return invocation_tokens(
        session.model.tokenizer, intrinsic, session.transcript, arguments, session.token_ids
    )


def floor_call(session: Session, shape: Shape) -> Callable[[], object]:
    """The base model continuing ``shape.tokens`` tokens from the session's own cache, no adapter."""
    model, cache = session.model, session._cache
    ids = session.token_ids[-1:] * shape.suffix  # the token values do not change the cost
    step_config = GenerationConfig(max_new_tokens=shape.extra + 1)
    first = ids + (ids[:1] * shape.extra if shape.generated == 0 else [])

    def call():
        fork = cache.fork()
        try:
            fork.reserve(len(first) + shape.extra + 1)
            logits = model.forward(torch.tensor([first]), fork)[0, -1]
            if shape.generated:
                for _ in decode(model, fork, logits, step_config, frozenset()):
                    pass
        finally:
            fork.release()

    return call


def deepcopy_call(session: Session, intrinsic: Intrinsic, arguments: dict, shape: Shape) -> Callable:
    """transformers' documented prefix reuse: deep-copy a DynamicCache of the history, then PEFT generate."""
    model = session.model
    adapter = intrinsic.bind(model)
    prefix = DynamicCache()
    for layer in range(len(session._cache)):
        keys, values = session._cache.key_values(layer)
        prefix.update(keys.clone(), values.clone(), layer)
    ids = torch.tensor([_tokens(session, intrinsic, arguments).all])
    new = shape.generated or 1  # a choice reads the first-token distribution of the labels

    def call():
        with model.lock, torch.inference_mode():
            model.peft.set_adapter(adapter)
            model.peft.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                **{model.cache_keyword: copy.deepcopy(prefix)},
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                output_scores=shape.generated == 0,
                return_dict_in_generate=True,
                pad_token_id=model.end_of_turn_id,
            )

    return call


def fork_cost(session: Session, suffix_tokens: int) -> dict:
    """Time of ``SessionCache.fork`` + ``release`` and the bytes a fork with a suffix adds."""
    cache = session._cache

    def fork_release():
        cache.fork().release()

    timing = timed(fork_release, repeats=200, warmup=20)
    shared = cache.nbytes_shared()
    fork = cache.fork()
    try:
        session.model.forward(torch.tensor([session.token_ids[-1:] * suffix_tokens]), fork)
        allocated = fork.nbytes_shared() - shared if fork.storage is cache.storage else fork.nbytes_shared()
    finally:
        fork.release()
    per_token = sum(
        k.shape[1] * k.shape[3] * k.element_size() * 2 for k in cache.storage.keys if k is not None
    )
    return {
        "fork_us": timing.median * 1e6,
        "allocated_bytes": allocated,
        "suffix_bytes": per_token * suffix_tokens,
        "history_bytes": per_token * len(session),
        "nbytes_shared": shared,
    }


def turn_call(session: Session, new_tokens: int) -> Callable[[], int]:
    """One conversation turn (user turn + generation), then undone so the history stays put."""

    def call():
        before = session.stats.generated_tokens
        session.user(TURN_TEXT)
        session.generate(max_new_tokens=new_tokens)
        session.undo()
        session.undo()
        return session.stats.generated_tokens - before

    return call
