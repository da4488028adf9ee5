"""The token loop: greedy or sampled decoding, stop rules, and scoring candidates in one pass."""

from __future__ import annotations

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
        if self.max_new_tokens < 1:
            raise InvalidArgumentError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise InvalidArgumentError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InvalidArgumentError(f"top_p must be in (0, 1], got {self.top_p}")

    def updated(self, **changes) -> GenerationConfig:
        """A copy with the non-None ``changes`` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


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
    if not prefix:
        raise InvalidArgumentError("scoring needs at least one prefix token (the invocation)")
    trie = _build_trie(candidates)
    past, p, n = cache.length, len(prefix), len(trie.tokens)
    q = p + n
    input_ids = torch.tensor([prefix + trie.tokens], dtype=torch.long)
    positions = list(range(past, past + p)) + [past + p + d for d in trie.depths]
    allowed = torch.zeros((q, past + q), dtype=torch.bool)
    allowed[:, :past] = True
    allowed[:, past : past + p] = torch.tril(torch.ones((q, p), dtype=torch.bool))
    for node, parent in enumerate(trie.parents):
        allowed[p + node, past + p + node] = True
        while parent >= 0:
            allowed[p + node, past + p + parent] = True
            parent = trie.parents[parent]
    mask = torch.zeros(allowed.shape, dtype=model.hf.dtype)
    mask.masked_fill_(~allowed, torch.finfo(mask.dtype).min)
    # rows whose logits we need: the last prefix token and every node that has children
    has_children = sorted({parent for parent in trie.parents if parent >= 0})
    keep = [p - 1] + [p + node for node in has_children]
    row_of = {-1: 0} | {node: i + 1 for i, node in enumerate(has_children)}
    logits = model.forward(
        input_ids,
        cache,
        adapter=adapter,
        adapter_tokens=adapter_prefix_tokens + n,
        position_ids=torch.tensor([positions]),
        attention_mask=mask[None, None],
        logits_to_keep=torch.tensor(keep),
    )[0]
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    return [
        sum(float(logprobs[row_of[trie.parents[node]], trie.tokens[node]]) for node in path)
        for path in trie.paths
    ]
