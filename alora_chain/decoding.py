"""The token loop: greedy or sampled decoding, stop rules, and scoring candidates in one pass."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch

from .errors import InvalidArgumentError


@dataclass(frozen=True)
class GenerationConfig:
    """How to pick tokens; one object passed around instead of loose keyword arguments."""

    max_new_tokens: int = 256  # hard cap on generated tokens
    temperature: float = 0.0  # 0 means greedy (argmax)
    top_p: float = 1.0  # nucleus sampling mass, used only when temperature > 0
    seed: int | None = None  # seeds the sampler so sampled replies are reproducible

    def __post_init__(self) -> None:
        _check_number("max_new_tokens", self.max_new_tokens, int)
        _check_number("temperature", self.temperature, float)
        _check_number("top_p", self.top_p, float)
        if self.seed is not None:
            _check_number("seed", self.seed, int)
        if self.max_new_tokens < 1:
            raise InvalidArgumentError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise InvalidArgumentError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InvalidArgumentError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise InvalidArgumentError(f"seed must be in [0, 2**63), got {self.seed}")

    def updated(self, **changes) -> GenerationConfig:
        """A copy with the non-None ``changes`` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _check_number(name: str, value, kind: type) -> None:
    """Reject bools, strings and NaN/inf early, with a typed error instead of a TypeError later."""
    allowed = (int,) if kind is int else (int, float)
    ok = isinstance(value, allowed) and not isinstance(value, bool)
    try:
        ok = ok and math.isfinite(value)
    except OverflowError:  # an int too large for a float
        ok = False
    if not ok:
        raise InvalidArgumentError(f"{name} must be a finite {kind.__name__}, got {value!r:.40}")


class _Sampler:
    def __init__(self, config: GenerationConfig) -> None:
        self.config = config
        self.generator = None
        if config.temperature > 0:
            self.generator = torch.Generator()
            self.generator.manual_seed(config.seed if config.seed is not None else torch.seed())

    def __call__(self, logits: torch.Tensor) -> int:  # logits: (vocab,)
        if self.generator is None:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits.float() / self.config.temperature, dim=-1)
        if self.config.top_p < 1:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < self.config.top_p
            probs = torch.zeros_like(probs).scatter_(0, order[keep], sorted_probs[keep])
        return int(torch.multinomial(probs, 1, generator=self.generator))


def decode(
    model,
    cache,
    first_logits: torch.Tensor,
    config: GenerationConfig,
    stop_ids: frozenset[int],
    *,
    adapter: str | None = None,
) -> Iterator[int]:
    """Yield tokens until a stop token or ``max_new_tokens``.

    Every yielded token except the last is fed back into ``cache`` (the last one, a stop
    token or the final token, is left for the caller to place). With an aLoRA ``adapter``
    each step's single input token lies after the invocation, so the adapter covers it.
    """
    sample = _Sampler(config)
    step = torch.empty((1, 1), dtype=torch.long)
    logits = first_logits
    for produced in range(1, config.max_new_tokens + 1):
        token = sample(logits)
        yield token
        if token in stop_ids or produced == config.max_new_tokens:
            return
        step[0, 0] = token
        logits = model.forward(step, cache, adapter=adapter, adapter_tokens=1)[0, -1]


@dataclass
class _Trie:
    tokens: list[int]  # token of each node, in input order
    parents: list[int]  # parent node index, -1 for children of the prefix
    depths: list[int]  # 0 for a first token
    paths: list[list[int]]  # node indices of each candidate


def _build_trie(candidates: list[list[int]]) -> _Trie:
    trie = _Trie([], [], [], [])
    index: dict[tuple[int, int], int] = {}
    for candidate in candidates:
        parent, path = -1, []
        for depth, token in enumerate(candidate):
            key = (parent, token)
            if key not in index:
                index[key] = len(trie.tokens)
                trie.tokens.append(token)
                trie.parents.append(parent)
                trie.depths.append(depth)
            parent = index[key]
            path.append(parent)
        trie.paths.append(path)
    return trie


def score_candidates(
    model,
    cache,
    prefix: list[int],
    candidates: list[list[int]],
    *,
    adapter: str | None,
    adapter_prefix_tokens: int = 0,
) -> list[float]:
    """Total log-probability of each candidate continuation of ``cache`` + ``prefix``, in one forward.

    Candidates are laid out as a token trie after the prefix (shared prefixes once) with an
    attention mask that lets each trie node see the cache, the prefix and its own
    ancestors only, and position ids that follow each candidate's own path. The adapter
    covers the last ``adapter_prefix_tokens`` prefix tokens (the invocation) and every node.

    Example: prefix ``[<|im_start|>, ans]``, candidates ``[[yes, <|im_end|>], [no, <|im_end|>]]``
    -> 4 trie nodes -> one forward of 6 tokens -> ``[log p(yes, end), log p(no, end)]``.
    """
    request = ScoreRequest(prefix, candidates, adapter, adapter_prefix_tokens)
    return score_candidates_many(model, cache, [request])[0]


@dataclass(frozen=True)
class ScoreRequest:
    """One row of :func:`score_candidates_many`: a prefix after the cache and its candidates."""

    prefix: list[int]  # prompt (base weights) + invocation
    candidates: list[list[int]]
    adapter: str | None
    adapter_prefix_tokens: int = 0  # how many of the last prefix tokens the adapter covers


def score_candidates_many(model, cache, requests: list[ScoreRequest]) -> list[list[float]]:
    """:func:`score_candidates` for several requests on one cache, in ONE forward.

    Each request is a row (prefix + trie), left-padded to a common width so its adapter
    tokens are the row's last ones, as PEFT's aLoRA expects; rows may use different
    adapters (PEFT mixed-adapter batch). The rows' keys are stored one after another
    behind the cache (``cache.flat_rows``) and the mask lets each row see the cache and
    its own tokens only, so the shared history is read in place, never copied per row.

    Example: 4 choice intrinsics of ~20 tokens on a 4k history -> one forward of 4 rows x 20
    tokens -> 4 lists of label log-probabilities, equal to 4 separate calls.
    """
    if any(not r.prefix for r in requests):
        raise InvalidArgumentError("scoring needs at least one prefix token (the invocation)")
    tries = [_build_trie(r.candidates) for r in requests]
    rows, past = len(requests), cache.length
    width = max(len(r.prefix) + len(t.tokens) for r, t in zip(requests, tries))
    input_ids = torch.zeros((rows, width), dtype=torch.long)
    positions = torch.full((rows, width), past, dtype=torch.long)
    allowed = torch.zeros((rows, width, past + rows * width), dtype=torch.bool)
    allowed[:, :, :past] = True
    needed: list[list[int]] = []  # per row: padded column of each logit row we read
    for i, (request, trie) in enumerate(zip(requests, tries)):
        p, n = len(request.prefix), len(trie.tokens)
        pad = width - p - n
        start = past + i * width  # key index of the row's first (padding) column
        input_ids[i, pad:] = torch.tensor(request.prefix + trie.tokens)
        positions[i, pad:] = torch.tensor(list(range(past, past + p)) + [past + p + d for d in trie.depths])
        for j in range(pad):  # padding sees only itself (never read, but must not be all -inf)
            allowed[i, j, start + j] = True
        block = allowed[i, pad:, start + pad : start + width]  # (p + n, p + n) view
        block[:, :p] = torch.tril(torch.ones((p + n, p), dtype=torch.bool))
        for node, parent in enumerate(trie.parents):
            block[p + node, p + node] = True
            while parent >= 0:
                block[p + node, p + parent] = True
                parent = trie.parents[parent]
        # logits needed: the last prefix token and every node that has children
        has_children = sorted({parent for parent in trie.parents if parent >= 0})
        needed.append([pad + p - 1] + [pad + p + node for node in has_children])
    mask = torch.zeros(allowed.shape, dtype=model.hf.dtype)
    mask.masked_fill_(~allowed, torch.finfo(mask.dtype).min)
    keep = sorted(set().union(*needed))
    column = {c: k for k, c in enumerate(keep)}
    n_adapter = [r.adapter_prefix_tokens + len(t.tokens) for r, t in zip(requests, tries)]
    batched = rows > 1
    cache.flat_rows = batched
    try:
        logits = model.forward(
            input_ids,
            cache,
            adapter=[r.adapter or "__base__" for r in requests] if batched else requests[0].adapter,
            adapter_tokens=n_adapter if batched else n_adapter[0],
            position_ids=positions,
            attention_mask=mask[:, None],
            logits_to_keep=torch.tensor(keep),
        )
    finally:
        cache.flat_rows = False
    logprobs = torch.log_softmax(logits.float(), dim=-1)  # (rows, len(keep), vocab)
    results = []
    for i, trie in enumerate(tries):
        row_of = {-1: column[needed[i][0]]} | {
            parent: column[needed[i][k + 1]]
            for k, parent in enumerate(sorted({q for q in trie.parents if q >= 0}))
        }
        results.append(
            [
                sum(float(logprobs[i, row_of[trie.parents[node]], trie.tokens[node]]) for node in path)
                for path in trie.paths
            ]
        )
    return results
